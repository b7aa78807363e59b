package main

import (
	"context"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

func TestLineFormat(t *testing.T) {
	l := line{
		at:      time.Date(2026, 3, 1, 15, 4, 5, 0, time.UTC),
		seconds: 2, sent: 90246,
		rt:       rtSummary{Avg: 1.2344, P50: 1.1, P99: 4.2, Max: 12},
		failures: [numKinds]uint64{3, 0, 1, 2, 0, 4, 5},
		retries:  6, lost: 9,
	}
	want := "15:04:05 | tps 45123 | rt ms avg 1.234 p50 1.100 p99 4.200 max 12.000 | failed REJECTREQUEST 3 OVERLOAD 0 " +
		"PC_SYNCHRONIZED 1 PCBUSY_CLEAN_QUEUE 2 TIMEOUT_CLEAN_QUEUE 0 timeout 4 other 5 | retries 6 lost 9\n"
	if got := l.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// The pattern every per-second line matches; scripts may rely on it.
var lineRE = regexp.MustCompile(`^\d\d:\d\d:\d\d \| tps \d+ \| rt ms avg [\d.]+ p50 [\d.]+ p99 [\d.]+ max [\d.]+ \| failed` +
	` REJECTREQUEST \d+ OVERLOAD \d+ PC_SYNCHRONIZED \d+ PCBUSY_CLEAN_QUEUE \d+ TIMEOUT_CLEAN_QUEUE \d+ timeout \d+ other \d+` +
	` \| retries \d+ lost \d+$`)

// Against a stub broker: the per-second lines, then the summary; with
// --json the lines go to stderr and stdout holds one document.
func TestRunReportsLinesAndSummary(t *testing.T) {
	b := brokerAnswering(t, remoting.Success, "")
	ns := nameServer(t, map[string][]byte{"BenchmarkTest": routeJSON(stubBroker{"broker-a", b.addr(), 4})})
	code, out, errOut := produce(t, "-n", ns.addr(), "-c", "500", "-w", "4", "--interval", "5ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	summaryAt := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "--- ") {
			summaryAt = i
			break
		}
		if !lineRE.MatchString(l) {
			t.Errorf("line %d does not match the format: %q", i, l)
		}
	}
	if summaryAt < 0 {
		t.Fatalf("no summary:\n%s", out)
	}
	if !strings.Contains(out, "sent 500 of 500") || !strings.Contains(out, "sent by broker broker-a 500") {
		t.Errorf("summary does not account for 500 messages:\n%s", strings.Join(lines[summaryAt:], "\n"))
	}
	if got := b.sends.Load(); got != 500 {
		t.Errorf("broker saw %d sends, want 500", got)
	}

	s := produceJSON(t, "-n", ns.addr(), "-c", "200", "-w", "4", "--async", "8")
	if s.Sent != 200 || s.Attempted != 200 || s.Lost != 0 || s.ByBroker["broker-a"] != 200 || s.Window != 8 {
		t.Errorf("summary: %+v", s)
	}
	if s.RTMillis.Max <= 0 || s.RTMillis.P50 > s.RTMillis.P99 || s.RTMillis.P99 > s.RTMillis.Max {
		t.Errorf("response times inconsistent: %+v", s.RTMillis)
	}
	for _, k := range kindNames {
		if _, ok := s.FailedAttempts[k]; !ok {
			t.Errorf("failedAttempts lacks %s", k)
		}
	}
}

// The SEND_MESSAGE header is rocketmq-client-go's, field for field.
func TestSendHeader(t *testing.T) {
	b := brokerAnswering(t, remoting.Success, "")
	ns := nameServer(t, map[string][]byte{"T1": routeJSON(stubBroker{"broker-a", b.addr(), 4})})
	produceJSON(t, "-n", ns.addr(), "-t", "T1", "-c", "1", "-w", "1", "-s", "300", "-k", "--group", "pg")
	req := b.lastSend()
	if req == nil {
		t.Fatal("no SEND_MESSAGE")
	}
	if req.Language != remoting.LangGo || len(req.Body) != 300 {
		t.Errorf("language %s, body %d bytes", req.Language, len(req.Body))
	}
	want := map[string]string{
		"producerGroup": "pg", "topic": "T1", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"sysFlag": "0", "flag": "0", "reconsumeTimes": "0", "unitMode": "false", "maxReconsumeTimes": "0", "batch": "false",
	}
	for k, v := range want {
		if got := req.Ext(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if q, err := strconv.Atoi(req.Ext("queueId")); err != nil || q < 0 || q >= 4 {
		t.Errorf("queueId %q", req.Ext("queueId"))
	}
	if ts, err := strconv.ParseInt(req.Ext("bornTimestamp"), 10, 64); err != nil || time.Since(time.UnixMilli(ts)) > time.Minute {
		t.Errorf("bornTimestamp %q", req.Ext("bornTimestamp"))
	}
	if n := req.ExtLen(); n != 13 {
		t.Errorf("%d ext fields, want 13: %v", n, req.ExtMap())
	}
	props := regexp.MustCompile("^UNIQ_KEY\x01([0-9A-F]{32})\x02WAIT\x01true\x02KEYS\x01([0-9A-F]{32})\x02$")
	m := props.FindStringSubmatch(req.Ext("properties"))
	if m == nil || m[1] != m[2] {
		t.Errorf("properties %q", req.Ext("properties"))
	}
}

// Every busy answer is counted under its own tag and retried on the other
// broker, where every message then lands.
func TestBusyAnswersRetriedOnOtherBroker(t *testing.T) {
	for _, kind := range remoting.BusyKinds {
		t.Run(kind.Tag(), func(t *testing.T) {
			busy := brokerAnswering(t, kind.Code(), kind.Remark(250, 3))
			healthy := brokerAnswering(t, remoting.Success, "")
			ns := nameServer(t, map[string][]byte{"BenchmarkTest": routeJSON(
				stubBroker{"broker-a", busy.addr(), 4}, stubBroker{"broker-b", healthy.addr(), 4})})
			s := produceJSON(t, "-n", ns.addr(), "-c", "100", "-w", "4")
			if s.Sent != 100 || s.Lost != 0 || s.ByBroker["broker-b"] != 100 || s.ByBroker["broker-a"] != 0 {
				t.Fatalf("sent %d lost %d by broker %v, want all 100 on broker-b", s.Sent, s.Lost, s.ByBroker)
			}
			n := s.FailedAttempts[kind.Tag()]
			if n == 0 || n != s.Retried || n != uint64(busy.sends.Load()) {
				t.Errorf("%s attempts %d, retried %d, busy broker saw %d: want all equal and > 0", kind.Tag(), n, s.Retried, busy.sends.Load())
			}
			if got := healthy.sends.Load(); got != 100 {
				t.Errorf("healthy broker saw %d sends, want 100", got)
			}
			for k, v := range s.FailedAttempts {
				if k != kind.Tag() && v != 0 {
					t.Errorf("failed attempts counted as %s: %d", k, v)
				}
			}
		})
	}
}

// When every broker is busy a message is tried 1 + retries times and then
// given up; other errors and timeouts are not retried.
func TestRetriesExhaustedAndNotRetried(t *testing.T) {
	a := brokerAnswering(t, remoting.SystemBusy, remoting.Overload.Remark(0, 0))
	b := brokerAnswering(t, remoting.SystemBusy, remoting.Overload.Remark(0, 0))
	ns := nameServer(t, map[string][]byte{"BenchmarkTest": routeJSON(stubBroker{"broker-a", a.addr(), 2}, stubBroker{"broker-b", b.addr(), 2})})
	code, out, errOut := produce(t, "-n", ns.addr(), "-c", "10", "-w", "2", "--retries", "2", "--json")
	if code != 1 || !strings.Contains(errOut, "no message was sent") {
		t.Errorf("exit %d, stderr %q: want 1 and a reason", code, errOut)
	}
	if got := a.sends.Load() + b.sends.Load(); got != 30 {
		t.Errorf("%d attempts, want 10 messages × 3", got)
	}
	if !strings.Contains(out, `"OVERLOAD": 30`) || !strings.Contains(out, `"lost": 10`) {
		t.Errorf("summary:\n%s", out)
	}

	illegal := brokerAnswering(t, remoting.MessageIllegal, "the message is illegal")
	ns = nameServer(t, map[string][]byte{"BenchmarkTest": routeJSON(stubBroker{"broker-a", illegal.addr(), 2})})
	code, out, _ = produce(t, "-n", ns.addr(), "-c", "5", "-w", "1", "--json")
	if code != 1 || illegal.sends.Load() != 5 || !strings.Contains(out, `"other": 5`) || !strings.Contains(out, "MESSAGE_ILLEGAL the message is illegal") {
		t.Errorf("exit %d, %d attempts, summary:\n%s", code, illegal.sends.Load(), out)
	}

	silent := startStub(t, func(*remoting.Command) *remoting.Command { return nil })
	ns = nameServer(t, map[string][]byte{"BenchmarkTest": routeJSON(stubBroker{"broker-a", silent.addr(), 2})})
	code, out, _ = produce(t, "-n", ns.addr(), "-c", "2", "-w", "2", "--timeout", "50ms", "--json")
	if code != 1 || silent.sends.Load() != 2 || !strings.Contains(out, `"timeout": 2`) {
		t.Errorf("exit %d, %d attempts, summary:\n%s", code, silent.sends.Load(), out)
	}
}

// A topic the name server does not know is sent on TBW102's route, capped
// to 4 queues per broker, as the Go client does.
func TestTopicNotExistFallsBackToTBW102(t *testing.T) {
	b := brokerAnswering(t, remoting.Success, "")
	ns := nameServer(t, map[string][]byte{"TBW102": routeJSON(stubBroker{"broker-a", b.addr(), 8})})
	s := produceJSON(t, "-n", ns.addr(), "-t", "NewTopic", "-c", "40", "-w", "1")
	if s.Sent != 40 || !s.RouteFallback {
		t.Fatalf("summary %+v", s)
	}
	if req := b.lastSend(); req.Ext("topic") != "NewTopic" {
		t.Errorf("sent to topic %q", req.Ext("topic"))
	}
	r := &router{}
	route, _ := decodeRoute(routeJSON(stubBroker{"broker-a", "x:1", 8}))
	qs := publishQueues(route, defaultTopicQueueNums)
	r.queues.Store(&qs)
	for range 16 {
		if q, _ := r.pick(""); q.queueID >= 4 {
			t.Fatalf("queue %d picked from TBW102's route", q.queueID)
		}
	}

	code, _, errOut := produce(t, "-n", nameServer(t, nil).addr(), "-t", "Nowhere", "-c", "1")
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "has no route") {
		t.Errorf("no route at all: exit %d, stderr %q", code, errOut)
	}
}

func TestDecodeRouteJavaDialect(t *testing.T) {
	body := `{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.5:10911",1:"10.0.0.6:10911"},"brokerName":"broker-b","cluster":"C"},` +
		`{"brokerAddrs":{1:"10.0.0.8:10911"},"brokerName":"broker-c","cluster":"C"},` +
		`{"brokerAddrs":{0:"10.0.0.7:10911"},"brokerName":"broker-a","cluster":"C"}],"filterServerTable":{},` +
		`"queueDatas":[{"brokerName":"broker-b","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":2},` +
		`{"brokerName":"broker-a","perm":4,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":2},` +
		`{"brokerName":"broker-c","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":2}]}`
	r, err := decodeRoute([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	qs := publishQueues(r, 0)
	// broker-a is read-only and broker-c has no master: only broker-b's.
	if len(qs) != 2 || qs[0] != (publishQueue{"broker-b", "10.0.0.5:10911", 0}) || qs[1].queueID != 1 {
		t.Fatalf("publish queues %+v", qs)
	}
	if _, err := decodeRoute([]byte(`{"brokerDatas":[`)); err == nil {
		t.Errorf("truncated route decoded")
	}
}

func TestPickAvoidsBroker(t *testing.T) {
	r := &router{}
	qs := []publishQueue{{"a", "", 0}, {"a", "", 1}, {"b", "", 0}, {"b", "", 1}}
	r.queues.Store(&qs)
	for range 10 {
		if q, _ := r.pick("a"); q.broker != "b" {
			t.Fatalf("picked %+v while avoiding a", q)
		}
	}
	only := []publishQueue{{"a", "", 0}}
	r.queues.Store(&only)
	if q, ok := r.pick("a"); !ok || q.broker != "a" {
		t.Fatalf("single broker: %+v %v", q, ok)
	}
}

func TestHistogram(t *testing.T) {
	for _, v := range []uint64{0, 1, 31, 32, 33, 63, 64, 100, 1000, 123456, 1 << 40} {
		i := bucketOf(v)
		mid := bucketMid(i)
		if d := mid - float64(v); d < -float64(v)*0.04-1 || d > float64(v)*0.04+1 {
			t.Errorf("value %d: bucket %d mid %.1f, more than 4%% off", v, i, mid)
		}
	}
	var h histogram
	for v := uint64(1); v <= 1000; v++ {
		h.record(v * 10) // 10 µs … 10 ms
	}
	s := h.drain()
	if s.Max != 10 || s.P50 < 4.8 || s.P50 > 5.2 || s.P99 < 9.6 || s.P99 > 10 || s.Avg < 5.0 || s.Avg > 5.01 {
		t.Errorf("digest %+v", s)
	}
	if s := h.drain(); s != (rtSummary{}) {
		t.Errorf("not reset: %+v", s)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"-w", "0"}, {"-s", "0"}, {"extra"}, {"--bogus"}, {"-n", ";"}} {
		if code, _, _ := produce(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// Overhead: sluice-producer against a stub broker that answers every send
// at once, to show how far it can push past a real broker. Off by default
// (it runs ~10 s); SLUICE_PRODUCER_OVERHEAD=10s go test -run Overhead -v.
func TestOverhead(t *testing.T) {
	d := os.Getenv("SLUICE_PRODUCER_OVERHEAD")
	if d == "" {
		t.Skip("set SLUICE_PRODUCER_OVERHEAD=10s to measure")
	}
	b := brokerAnswering(t, remoting.Success, "")
	ns := nameServer(t, map[string][]byte{"BenchmarkTest": routeJSON(stubBroker{"broker-a", b.addr(), 8})})
	code, out, errOut := produce(t, "-n", ns.addr(), "-w", "64", "-s", "1024", "-d", d)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	t.Logf("\n%s", out)
}

// The same load against a real broker (brokertest, store in a temp dir),
// for comparison with TestOverhead. Off by default;
// SLUICE_PRODUCER_BROKER=10s go test -run AgainstBroker -v.
func TestAgainstBroker(t *testing.T) {
	d := os.Getenv("SLUICE_PRODUCER_BROKER")
	if d == "" {
		t.Skip("set SLUICE_PRODUCER_BROKER=10s to measure")
	}
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	ns := nameServer(t, map[string][]byte{"BenchmarkTest": routeJSON(stubBroker{"broker-test", b.Addr(), 4})})
	code, out, errOut := produce(t, "-n", ns.addr(), "-w", "64", "-s", "1024", "-d", d)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	t.Logf("\n%s", out)
}

// Against a real broker: messages are stored, and with the transient
// pool exhausted (fault injection) every send is answered REJECTREQUEST,
// which is counted as such and retried.
func TestRealBroker(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	ns := nameServer(t, map[string][]byte{"BenchmarkTest": routeJSON(stubBroker{"broker-test", b.Addr(), 4})})
	s := produceJSON(t, "-n", ns.addr(), "-c", "200", "-w", "8", "-k")
	if s.Sent != 200 || s.ByBroker["broker-test"] != 200 {
		t.Fatalf("summary %+v", s)
	}

	cfg := brokertest.Config(t)
	cfg.FaultInjectionEnable = true
	cfg.FaultTransientPoolExhausted = true
	b = brokertest.Start(t, cfg, supervisor.Options{})
	ns = nameServer(t, map[string][]byte{"BenchmarkTest": routeJSON(stubBroker{"broker-test", b.Addr(), 4})})
	code, out, _ := produce(t, "-n", ns.addr(), "-c", "20", "-w", "2", "--retries", "2", "--json")
	if code != 1 || !strings.Contains(out, `"REJECTREQUEST": 60`) || !strings.Contains(out, `"retried": 40`) || !strings.Contains(out, `"lost": 20`) {
		t.Errorf("exit %d, summary:\n%s", code, out)
	}
}

// A refresh picks up a changed route; a failed one keeps the last.
func TestRouterRefresh(t *testing.T) {
	var mu sync.Mutex
	route := routeJSON(stubBroker{"broker-a", "127.0.0.1:1", 2})
	ns := startStub(t, func(req *remoting.Command) *remoting.Command {
		mu.Lock()
		defer mu.Unlock()
		if route == nil {
			return remoting.NewResponse(req, remoting.SystemError, "name server not ready")
		}
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = route
		return resp
	})
	r := &router{namesrv: []string{closedAddr(t), ns.addr()}, topic: "T", timeout: 5 * time.Second}
	ctx := context.Background()
	if err := r.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.brokers(); len(got) != 1 || got[0] != "broker-a" {
		t.Fatalf("brokers %v", got)
	}
	mu.Lock()
	route = routeJSON(stubBroker{"broker-b", "127.0.0.1:2", 2}, stubBroker{"broker-c", "127.0.0.1:3", 2})
	mu.Unlock()
	if err := r.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.brokers(); len(got) != 2 || got[0] != "broker-b" || got[1] != "broker-c" {
		t.Fatalf("brokers after change %v", got)
	}
	mu.Lock()
	route = nil
	mu.Unlock()
	if err := r.refresh(ctx); err == nil || !strings.Contains(err.Error(), "name server not ready") {
		t.Fatalf("refresh against a failing name server: %v", err)
	}
	if got := r.brokers(); len(got) != 2 {
		t.Fatalf("failed refresh lost the route: %v", got)
	}
}

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
