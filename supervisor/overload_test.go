package supervisor_test

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// TestOverload offers a broker with a slowed writer far more sends than it
// can store, for SLUICE_OVERLOAD_SECONDS per run, and checks what every
// sender sees: exactly one answer per request, none later than the send
// queue's limit allows, and a resident set that does not grow with the
// overload. Runs: a short baseline without a stall, then a 50 ms and a
// 1500 ms append stall (the second past osPageCacheBusyTimeOutMills, so the
// page-cache answers fire), each with sendQueueAdmissionControl off and on.
//
//	SLUICE_OVERLOAD_SECONDS=30 go test -run TestOverload -v -timeout 30m ./supervisor/
//
// SLUICE_OVERLOAD_INFLIGHT (default 32) is how many requests each of the
// 512 senders keeps outstanding: 512 × 32 = 16384 in flight, more than the
// send queue (10000) and the writer (its window plus the batch it is
// appending) hold together, so the queue stays full and OVERLOAD is
// answered too.
func TestOverload(t *testing.T) {
	v := os.Getenv("SLUICE_OVERLOAD_SECONDS")
	if v == "" {
		t.Skip("slow; set SLUICE_OVERLOAD_SECONDS (e.g. 30)")
	}
	secs, err := strconv.Atoi(v)
	if err != nil || secs < 1 {
		t.Fatalf("SLUICE_OVERLOAD_SECONDS=%q", v)
	}
	inflight := 32
	if v := os.Getenv("SLUICE_OVERLOAD_INFLIGHT"); v != "" {
		if inflight, err = strconv.Atoi(v); err != nil || inflight < 1 {
			t.Fatalf("SLUICE_OVERLOAD_INFLIGHT=%q", v)
		}
	}
	dur := time.Duration(secs) * time.Second
	var results []*overloadRun
	baseline := &overloadRun{name: "baseline (no stall)", stall: 0, dur: min(dur, 5*time.Second), inflight: inflight}
	t.Run("baseline", func(t *testing.T) { baseline.run(t); results = append(results, baseline) })
	for _, stall := range []time.Duration{50 * time.Millisecond, 1500 * time.Millisecond} {
		for _, adm := range []bool{false, true} {
			r := &overloadRun{name: fmt.Sprintf("stall=%s admission=%v", stall, adm), stall: stall, admission: adm, dur: dur, inflight: inflight}
			t.Run(fmt.Sprintf("stall=%dms/admission=%v", stall.Milliseconds(), adm), func(t *testing.T) {
				r.run(t)
				results = append(results, r)
				r.check(t, baseline)
			})
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%-34s %-20s %9s %7s %9s %9s %9s %17s\n", "run", "answer", "count", "share", "p50 ms", "p99 ms", "max ms", "queue p50/p99 ms")
	for _, r := range results {
		r.table(&sb)
	}
	t.Log(sb.String())
}

const (
	overloadSenders = 512
	overloadConns   = 8
	overloadTopic   = "OverloadTopic"
	overloadQueues  = 4
	// overloadSlack is the time allowed beyond the queue's limit and the
	// sweep period for what is not queueing: the processor, the
	// connection, the client, a loaded machine.
	overloadSlack = 2 * time.Second
)

// Answer kinds; the busy kinds are indexed by remoting.BusyKind.
const (
	ansSuccess   = len(remoting.BusyKinds) + iota // SUCCESS
	ansAdmitted                                   // TIMEOUT_CLEAN_QUEUE at enqueue (admission control, period 0)
	ansOther                                      // any other response code
	ansTransport                                  // connection error
	ansTimeout                                    // no answer within the per-request timeout
	numAnswers
)

func answerName(k int) string {
	switch k {
	case ansSuccess:
		return "SUCCESS"
	case ansAdmitted:
		return "TIMEOUT_CLEAN_QUEUE@0"
	case ansOther:
		return "other code"
	case ansTransport:
		return "transport error"
	case ansTimeout:
		return "TIMEOUT (none)"
	}
	return remoting.BusyKinds[k].Tag()
}

type overloadRun struct {
	name      string
	stall     time.Duration
	admission bool
	dur       time.Duration
	inflight  int

	sent     atomic.Int64
	answered atomic.Int64
	rtt      [numAnswers]latHist
	queued   [numAnswers]latHist // period in queue, from clean-queue remarks
	others   sync.Map            // response code → *atomic.Int64
	firstErr atomic.Pointer[string]

	elapsed    time.Duration
	unanswered int64
	brokerBusy [len(remoting.BusyKinds)]uint64
	processed  uint64
	memStart   procMem
	memPeak    procMem // peak of each field over the run
	anonHalves [2]int64
	limit      time.Duration
	sweep      time.Duration
}

var periodInQueue = regexp.MustCompile(`period in queue: (\d+)ms`)

func (r *overloadRun) record(resp *remoting.Command, err error, took time.Duration) {
	k := ansOther
	switch {
	case err != nil && errors.Is(err, remoting.ErrTimeout):
		k = ansTimeout
	case err != nil:
		k = ansTransport
		s := err.Error()
		r.firstErr.CompareAndSwap(nil, &s)
	case resp.ResponseCode() == remoting.Success:
		k = ansSuccess
	default:
		if bk, ok := remoting.ParseBusyTag(resp.Remark); ok {
			k = int(bk)
			if bk == remoting.PCBusyCleanQueue || bk == remoting.TimeoutCleanQueue {
				if m := periodInQueue.FindStringSubmatch(resp.Remark); m != nil {
					n, _ := strconv.ParseInt(m[1], 10, 64)
					if bk == remoting.TimeoutCleanQueue && n == 0 {
						// Refused at enqueue by admission control: the
						// sweep's answers have waited the queue's limit.
						k = ansAdmitted
					} else {
						r.queued[k].add(time.Duration(n) * time.Millisecond)
					}
				}
			}
		} else {
			c, _ := r.others.LoadOrStore(resp.ResponseCode().String()+" "+resp.Remark, new(atomic.Int64))
			c.(*atomic.Int64).Add(1)
		}
	}
	r.rtt[k].add(took)
	r.answered.Add(1)
}

func (r *overloadRun) run(t *testing.T) {
	debug.FreeOSMemory()
	cfg := brokertest.Config(t)
	cfg.FaultInjectionEnable = true
	cfg.SendQueueAdmissionControl = r.admission
	cfg.Store.MappedFileSizeCommitLog = 64 << 20
	r.limit = time.Duration(cfg.WaitTimeMillsInSendQueue) * time.Millisecond
	r.sweep = time.Duration(cfg.BrokerFastFailurePeriodMillis) * time.Millisecond
	b := brokertest.Start(t, cfg, supervisor.Options{})
	admin := dial(t, b.Addr())
	body := make([]byte, 1024)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	reqs := make([]*remoting.Command, overloadQueues)
	for q := range reqs {
		reqs[q] = remoting.NewRequest(remoting.SendMessage, sendHeader(overloadTopic, q, "TAGS\x01TagA\x02"), body)
		if resp := invokeCmd(t, admin, reqs[q]); resp.ResponseCode() != remoting.Success {
			t.Fatalf("warm-up send: %s %q", resp.ResponseCode(), resp.Remark)
		}
	}
	if r.stall > 0 {
		setFault(t, admin, map[string]string{"appendStallMillis": strconv.FormatInt(r.stall.Milliseconds(), 10)})
	}
	clients := make([]*remoting.Client, overloadConns)
	for i := range clients {
		clients[i] = dial(t, b.Addr())
	}
	sp := sendProcessor(b)
	var busy0 [len(remoting.BusyKinds)]uint64
	for i := range busy0 {
		busy0[i] = sp.Stats.Busy[i].Load()
	}
	processed0 := sp.Stats.Processed.Load()

	stopMem := make(chan struct{})
	memDone := make(chan struct{})
	r.memStart = readProcMem(t)
	start := time.Now()
	go func() { // sample the resident set every 100 ms
		defer close(memDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopMem:
				return
			case <-tick.C:
			}
			m := readProcMem(t)
			r.memPeak.rss = max(r.memPeak.rss, m.rss)
			r.memPeak.anon = max(r.memPeak.anon, m.anon)
			r.memPeak.file = max(r.memPeak.file, m.file)
			half := 0
			if time.Since(start) > r.dur/2 {
				half = 1
			}
			r.anonHalves[half] = max(r.anonHalves[half], m.anon)
		}
	}()

	deadline := start.Add(r.dur)
	var wg sync.WaitGroup
	var unanswered atomic.Int64
	for s := 0; s < overloadSenders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, req := clients[s%overloadConns], reqs[s%overloadQueues]
			slots := make(chan struct{}, r.inflight)
			for time.Now().Before(deadline) {
				slots <- struct{}{}
				r.sent.Add(1)
				sentAt := time.Now()
				err := c.InvokeAsync(req, 10*time.Second, func(resp *remoting.Command, err error) {
					r.record(resp, err, time.Since(sentAt))
					<-slots
				})
				if err != nil {
					r.record(nil, err, time.Since(sentAt))
					<-slots
				}
			}
			// Wait for every outstanding answer: the 10 s timeout ends
			// each wait, so 15 s is plenty.
			drain := time.NewTimer(15 * time.Second)
			defer drain.Stop()
			for i := 0; i < r.inflight; i++ {
				select {
				case slots <- struct{}{}:
				case <-drain.C:
					unanswered.Add(int64(r.inflight - i))
					return
				}
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	close(stopMem)
	<-memDone
	r.unanswered = unanswered.Load()
	for i := range r.brokerBusy {
		r.brokerBusy[i] = sp.Stats.Busy[i].Load() - busy0[i]
	}
	r.processed = sp.Stats.Processed.Load() - processed0
	if r.stall > 0 {
		setFault(t, admin, map[string]string{"appendStallMillis": "0"})
	}
	r.others.Range(func(k, v any) bool {
		t.Logf("other answer %q: %d", k, v.(*atomic.Int64).Load())
		return true
	})
	if p := r.firstErr.Load(); p != nil {
		t.Logf("first transport error: %s", *p)
	}
}

// successBound is the longest a stored send may take: its time in the
// queue (limit + one sweep period), then up to three writer stalls — the
// processor blocked in Submit until the batch in progress ends, the batch
// the send then waits behind in the writer's window, and its own — plus
// the slack. (For stalls past osPageCacheBusyTimeOutMills the sweep also
// answers sends waiting in the writer's window, so stored sends there
// mostly take one stall.)
func (r *overloadRun) successBound() time.Duration {
	return r.limit + r.sweep + 3*r.stall + overloadSlack
}

// busyBound is the longest a busy answer may take: the queue's limit and
// one sweep period, plus the slack. None waits for an append to finish;
// a PCBUSY_CLEAN_QUEUE for a send the sweep took from the writer's window
// has also spent up to osPageCacheBusyTimeOutMills (1 s) in the processor
// and the window, which the 2 s slack covers.
func (r *overloadRun) busyBound() time.Duration { return r.limit + r.sweep + overloadSlack }

func (r *overloadRun) check(t *testing.T, baseline *overloadRun) {
	t.Helper()
	sent, answered := r.sent.Load(), r.answered.Load()
	if sent != answered || r.unanswered != 0 {
		t.Errorf("sent %d requests, %d answered, %d still outstanding after the drain", sent, answered, r.unanswered)
	}
	if n := r.rtt[ansTimeout].count(); n != 0 {
		t.Errorf("%d requests got no answer within 10 s", n)
	}
	if n := r.rtt[ansTransport].count(); n != 0 {
		t.Errorf("%d requests failed with a transport error", n)
	}
	for _, k := range remoting.BusyKinds {
		got := r.rtt[k].count()
		if k == remoting.TimeoutCleanQueue {
			got += r.rtt[ansAdmitted].count()
		}
		if want := r.brokerBusy[k]; got != want {
			t.Errorf("%s: the senders saw %d, the broker counted %d", k.Tag(), got, want)
		}
		if m := r.rtt[k].max(); m > r.busyBound() {
			t.Errorf("%s answered after %s, bound %s (limit %s + sweep %s + slack %s)", k.Tag(), m, r.busyBound(), r.limit, r.sweep, overloadSlack)
		}
	}
	if m := r.rtt[ansAdmitted].max(); m > r.busyBound() {
		t.Errorf("admission control answered after %s, bound %s", m, r.busyBound())
	}
	if m := r.rtt[ansSuccess].max(); m > r.successBound() {
		t.Errorf("a send was stored after %s, bound %s (limit %s + sweep %s + 3 × stall %s + slack %s)", m, r.successBound(), r.limit, r.sweep, r.stall, overloadSlack)
	}
	// Memory: the overload holds at most the queue and the requests in
	// flight, so anonymous memory must not keep growing through the run,
	// nor go far past the baseline's (whose load is the same, unthrottled).
	// File-backed pages (the commit log's mapping) follow what was stored.
	if r.anonHalves[1] > r.anonHalves[0]*3/2+64<<10 {
		t.Errorf("RssAnon grew through the run: peak %d MiB in the first half, %d MiB in the second", r.anonHalves[0]>>10, r.anonHalves[1]>>10)
	}
	if bound := baseline.memPeak.anon + 512<<10; r.memPeak.anon > bound {
		t.Errorf("peak RssAnon %d MiB is over the baseline's %d MiB + 512 MiB", r.memPeak.anon>>10, baseline.memPeak.anon>>10)
	}
}

func (r *overloadRun) table(sb *strings.Builder) {
	answered := r.answered.Load()
	secs := r.elapsed.Seconds()
	fmt.Fprintf(sb, "%-34s offered %.0f req/s, stored %.0f msgs/s, sent %d, answered %d, unanswered %d; VmRSS %d→%d MiB (RssAnon %d→%d, RssFile %d→%d)\n",
		r.name, float64(r.sent.Load())/secs, float64(r.rtt[ansSuccess].count())/secs, r.sent.Load(), answered, r.unanswered,
		r.memStart.rss>>10, r.memPeak.rss>>10, r.memStart.anon>>10, r.memPeak.anon>>10, r.memStart.file>>10, r.memPeak.file>>10)
	for k := 0; k < numAnswers; k++ {
		h := &r.rtt[k]
		n := h.count()
		if n == 0 {
			continue
		}
		q := "-"
		if r.queued[k].count() > 0 {
			q = fmt.Sprintf("%.0f/%.0f", durMillis(r.queued[k].quantile(0.5)), durMillis(r.queued[k].quantile(0.99)))
		}
		fmt.Fprintf(sb, "%-34s %-20s %9d %6.2f%% %9.1f %9.1f %9.1f %17s\n", "", answerName(k), n, 100*float64(n)/float64(answered),
			durMillis(h.quantile(0.5)), durMillis(h.quantile(0.99)), durMillis(h.max()), q)
	}
}

// latHist is a log-linear histogram of durations (1 µs to ~70 min, 32
// buckets per power of two, so quantiles are within about 3%), safe for
// concurrent adds.
type latHist struct {
	buckets [42 * 32]atomic.Uint64
	n       atomic.Uint64
	maxNs   atomic.Int64
}

func latBucket(us int64) int {
	if us < 32 {
		return int(max(us, 0))
	}
	e := 63 - bits.LeadingZeros64(uint64(us)) // us in [2^e, 2^(e+1))
	sub := int(us>>(e-5)) & 31
	return min((e-4)*32+sub, 42*32-1)
}

// latBucketUpper is the upper end of bucket i in µs.
func latBucketUpper(i int) int64 {
	if i < 32 {
		return int64(i) + 1
	}
	e := i/32 + 4
	sub := int64(i % 32)
	return (32 + sub + 1) << (e - 5)
}

func (h *latHist) add(d time.Duration) {
	h.buckets[latBucket(d.Microseconds())].Add(1)
	h.n.Add(1)
	for {
		m := h.maxNs.Load()
		if int64(d) <= m || h.maxNs.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *latHist) count() uint64      { return h.n.Load() }
func (h *latHist) max() time.Duration { return time.Duration(h.maxNs.Load()) }

func (h *latHist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			return min(time.Duration(latBucketUpper(i))*time.Microsecond, h.max())
		}
	}
	return h.max()
}

// procMem is the memory part of /proc/self/status, in KiB.
type procMem struct{ rss, anon, file int64 }

func readProcMem(t *testing.T) procMem {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Error(err)
		return procMem{}
	}
	defer f.Close()
	var m procMem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.rss = kb
		case "RssAnon":
			m.anon = kb
		case "RssFile":
			m.file = kb
		}
	}
	return m
}
