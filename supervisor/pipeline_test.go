package supervisor_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// Request codes private to these tests.
const (
	codeBlock remoting.RequestCode = 9001
	codeEcho  remoting.RequestCode = 9002
	codePanic remoting.RequestCode = 9003
)

func dial(t testing.TB, addr string) *remoting.Client {
	t.Helper()
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func invoke(t testing.TB, c *remoting.Client, code remoting.RequestCode, ext map[string]string) *remoting.Command {
	t.Helper()
	resp, err := c.Invoke(context.Background(), remoting.NewRequest(code, ext, nil), 10*time.Second)
	if err != nil {
		t.Fatalf("invoke %s: %v", code, err)
	}
	return resp
}

func echoProcessor() *actors.Processor {
	return &actors.Processor{
		Name: "test-echo", Codes: []remoting.RequestCode{codeEcho}, Capacity: 100,
		NewHandler: func() actors.Handler {
			return actors.HandlerFunc(func(r *actors.Request) {
				resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
				resp.Body = r.Cmd.Body
				r.Reply(resp)
			})
		},
	}
}

func TestUnknownRequestCode(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	c := dial(t, b.Addr())
	resp := invoke(t, c, 7777, nil)
	if resp.ResponseCode() != remoting.RequestCodeNotSupported || resp.Remark != " request type 7777 not supported" {
		t.Fatalf("got %s %q, want REQUEST_CODE_NOT_SUPPORTED naming the code", resp.ResponseCode(), resp.Remark)
	}
	if !resp.IsResponse() {
		t.Fatalf("response flag bit not set: %d", resp.Flag)
	}
}

// A full mailbox answers OVERLOAD at once, while the same connection keeps
// getting answers for codes routed elsewhere; the queued requests are
// executed once the processor frees up.
func TestFullMailboxAnswersOverloadWithoutStallingConnection(t *testing.T) {
	release := make(chan struct{})
	block := &actors.Processor{
		Name: "test-block", Codes: []remoting.RequestCode{codeBlock}, Capacity: 2,
		NewHandler: func() actors.Handler {
			return actors.HandlerFunc(func(r *actors.Request) {
				<-release
				r.ReplyCode(remoting.Success, "done")
			})
		},
	}
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{Processors: []*actors.Processor{block, echoProcessor()}})
	c := dial(t, b.Addr())

	type result struct {
		resp *remoting.Command
		err  error
	}
	results := make(chan result, 16)
	send := func() {
		go func() {
			resp, err := c.Invoke(context.Background(), remoting.NewRequest(codeBlock, nil, nil), 20*time.Second)
			results <- result{resp, err}
		}()
	}
	// One request is taken by the processor and blocks it; wait until it is
	// in hand so the next two fill the queue exactly.
	send()
	poll.Until(t, "", func() bool { return block.Stats.Processed.Load() == 1 })
	send()
	send()
	poll.Until(t, "", func() bool { return block.Mailbox().Len() == 2 })

	for i := 0; i < 5; i++ {
		resp := invoke(t, c, codeBlock, nil)
		if resp.ResponseCode() != remoting.SystemBusy || resp.Remark != "[OVERLOAD]system busy, start flow control for a while" {
			t.Fatalf("request beyond capacity: got %s %q, want SYSTEM_BUSY OVERLOAD", resp.ResponseCode(), resp.Remark)
		}
		echo := invoke(t, c, codeEcho, map[string]string{"i": "x"})
		if echo.ResponseCode() != remoting.Success {
			t.Fatalf("echo on the same connection while test-block is full: %s %q", echo.ResponseCode(), echo.Remark)
		}
	}
	if got := block.Stats.Busy[remoting.Overload].Load(); got != 5 {
		t.Fatalf("overload counter = %d, want 5", got)
	}
	poll.Until(t, "", func() bool {
		return b.Logs.Count("too many requests and system thread pool busy, RejectedExecutionException") == 1
	})

	close(release)
	for i := 0; i < 3; i++ {
		r := <-results
		if r.err != nil || r.resp.ResponseCode() != remoting.Success {
			t.Fatalf("queued request: %v %+v", r.err, r.resp)
		}
	}
}

// A panicking processor answers SYSTEM_ERROR for the request that caused
// the panic, is restarted, and loses none of the requests queued behind it.
func TestPanickingProcessorIsRestarted(t *testing.T) {
	gate := make(chan struct{})
	var starts sync.Map
	proc := &actors.Processor{
		Name: "test-panic", Codes: []remoting.RequestCode{codePanic}, Capacity: 100,
		NewHandler: func() actors.Handler {
			return actors.HandlerFunc(func(r *actors.Request) {
				if r.Cmd.Ext("wait") == "true" {
					<-gate
				}
				if r.Cmd.Ext("panic") == "true" {
					panic("boom: " + r.Cmd.Ext("id"))
				}
				starts.Store(r.Cmd.Ext("id"), true)
				r.ReplyCode(remoting.Success, "ok "+r.Cmd.Ext("id"))
			})
		},
	}
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{Processors: []*actors.Processor{proc}})
	c := dial(t, b.Addr())

	var wg sync.WaitGroup
	answers := make([]*remoting.Command, 6)
	do := func(i int, ext map[string]string) {
		defer wg.Done()
		resp, err := c.Invoke(context.Background(), remoting.NewRequest(codePanic, ext, nil), 10*time.Second)
		if err != nil {
			t.Errorf("request %d: %v", i, err)
			return
		}
		answers[i] = resp
	}
	// 0 holds the processor; 1 panics; 2..5 are queued behind it.
	wg.Add(1)
	go do(0, map[string]string{"id": "0", "wait": "true"})
	poll.Until(t, "", func() bool { return proc.Stats.Processed.Load() == 1 })
	wg.Add(1)
	go do(1, map[string]string{"id": "1", "panic": "true"})
	poll.Until(t, "", func() bool { return proc.Mailbox().Len() == 1 })
	for i := 2; i < 6; i++ {
		wg.Add(1)
		go do(i, map[string]string{"id": string(rune('0' + i))})
	}
	poll.Until(t, "", func() bool { return proc.Mailbox().Len() == 5 })
	close(gate)
	wg.Wait()

	if answers[1] == nil || answers[1].ResponseCode() != remoting.SystemError || !strings.Contains(answers[1].Remark, "boom: 1") {
		t.Fatalf("panicking request: got %+v, want SYSTEM_ERROR naming the panic", answers[1])
	}
	for _, i := range []int{0, 2, 3, 4, 5} {
		if answers[i] == nil || answers[i].ResponseCode() != remoting.Success {
			t.Fatalf("request %d after the panic: got %+v", i, answers[i])
		}
	}
	if proc.Stats.Panics.Load() != 1 {
		t.Fatalf("panics = %d", proc.Stats.Panics.Load())
	}
	if n := b.Logs.Count("actor panicked; restarting it"); n != 1 {
		t.Fatalf("panic logged %d times, want once", n)
	}
	if !strings.Contains(b.Logs.String(), "pipeline_test.go") {
		t.Fatalf("panic log has no stack:\n%s", b.Logs.String())
	}
	// And it keeps serving.
	if resp := invoke(t, c, codePanic, map[string]string{"id": "7"}); resp.ResponseCode() != remoting.Success {
		t.Fatalf("after restart: %s", resp.ResponseCode())
	}
}

// Malformed frames close only the offending connection, with one log line
// each; the broker and other connections are unaffected.
func TestMalformedFramesCloseOnlyThatConnection(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.RemotingFrameMaxLength = 1 << 20
	b := brokertest.Start(t, cfg, supervisor.Options{Processors: []*actors.Processor{echoProcessor()}})
	healthy := dial(t, b.Addr())

	frame := func(length int32, rest []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(length))
		return append(out, rest...)
	}
	header := func(serialize byte, headerLen int) []byte {
		return binary.BigEndian.AppendUint32(nil, uint32(serialize)<<24|uint32(headerLen))
	}
	badJSON := []byte(`{"code":10,"opaque":`)
	cases := map[string][]byte{
		"length zero":             frame(0, nil),
		"negative length":         frame(-5, nil),
		"above the maximum":       frame(1<<20+1, nil),
		"header beyond frame":     frame(8, append(header(0, 100), 1, 2, 3, 4)),
		"bad JSON":                frame(int32(4+len(badJSON)), append(header(0, len(badJSON)), badJSON...)),
		"unknown serialize type":  frame(6, append(header(7, 2), '{', '}')),
		"truncated binary header": frame(9, append(header(1, 5), 0, 10, 9, 1, 1)),
		"truncated stream":        frame(100, append(header(0, 2), '{', '}')),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			before := b.Logs.Count("closing connection")
			nc, err := net.Dial("tcp", b.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write(raw); err != nil {
				t.Fatal(err)
			}
			if name == "truncated stream" {
				nc.(*net.TCPConn).CloseWrite()
			}
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadAll(nc); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				t.Fatalf("want the broker to close the connection, got %v", err)
			}
			poll.Until(t, "", func() bool { return b.Logs.Count("closing connection") == before+1 })
			if resp := invoke(t, healthy, codeEcho, nil); resp.ResponseCode() != remoting.Success {
				t.Fatalf("healthy connection after %s: %s", name, resp.ResponseCode())
			}
		})
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// Each request waits in queue at most its queue's limit plus a sweep
// period: the sweep answers TIMEOUT_CLEAN_QUEUE with the time waited and
// the queue's remaining size, and the processor never runs those requests.
func TestTimeoutCleanQueue(t *testing.T) {
	release := make(chan struct{})
	var ran sync.Map
	proc := &actors.Processor{
		Name: "test-slow", Codes: []remoting.RequestCode{codeBlock}, Capacity: 100, MaxWaitInQueue: 100 * time.Millisecond,
		NewHandler: func() actors.Handler {
			return actors.HandlerFunc(func(r *actors.Request) {
				ran.Store(r.Cmd.Ext("id"), true)
				if r.Cmd.Ext("id") == "0" {
					<-release
				}
				r.ReplyCode(remoting.Success, "")
			})
		},
	}
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{Processors: []*actors.Processor{proc}})
	c := dial(t, b.Addr())
	first := make(chan *remoting.Command, 1)
	go func() {
		resp, _ := c.Invoke(context.Background(), remoting.NewRequest(codeBlock, map[string]string{"id": "0"}, nil), 10*time.Second)
		first <- resp
	}()
	poll.Until(t, "", func() bool { return proc.Stats.Processed.Load() == 1 })
	var wg sync.WaitGroup
	got := make([]*remoting.Command, 3)
	sent := make([]time.Time, 3)
	for i := range got {
		wg.Add(1)
		sent[i] = time.Now()
		go func(i int) {
			defer wg.Done()
			got[i], _ = c.Invoke(context.Background(), remoting.NewRequest(codeBlock, map[string]string{"id": string(rune('1' + i))}, nil), 10*time.Second)
		}(i)
		poll.Until(t, "", func() bool { return proc.Mailbox().Len() == i+1 })
	}
	wg.Wait()
	close(release)
	<-first
	for i, resp := range got {
		if resp == nil || resp.ResponseCode() != remoting.SystemBusy || !strings.HasPrefix(resp.Remark, "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: ") {
			t.Fatalf("request %d: %+v", i, resp)
		}
		wantSize := "size of queue: " + string(rune('0'+2-i))
		if !strings.HasSuffix(resp.Remark, wantSize) {
			t.Fatalf("request %d remark %q, want %q", i, resp.Remark, wantSize)
		}
		if _, executed := ran.Load(string(rune('1' + i))); executed {
			t.Fatalf("request %d was answered by the sweep and executed too", i)
		}
	}
}

// The tree is read from the actor system: every processor with its
// capacity, the listener and each connection.
func TestActorTree(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	c := dial(t, b.Addr())
	resp := invoke(t, c, remoting.GetActorTree, nil)
	if resp.ResponseCode() != remoting.Success {
		t.Fatalf("%s %q", resp.ResponseCode(), resp.Remark)
	}
	var snap tree.Snapshot
	if err := json.Unmarshal(resp.Body, &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Root == nil || snap.Root.Kind != tree.KindSupervisor || snap.Root.Supervisor.SweepPeriodMillis != 10 {
		t.Fatalf("root: %+v", snap.Root)
	}
	want := map[string]int{"send": 10000, "pull": 100000, "heartbeat": 50000, "admin": 10000, "consumerManage": 1000000}
	for name, capacity := range want {
		n := snap.Root.Find(name)
		if n == nil || n.Processor == nil || n.Processor.Capacity != capacity {
			t.Fatalf("processor %s: %+v", name, n)
		}
	}
	conns := 0
	snap.Root.Walk(func(n *tree.Node, _ int) {
		if n.Kind == tree.KindConnection {
			conns++
			if n.Connection.Language != "GO" {
				t.Errorf("connection language %q", n.Connection.Language)
			}
		}
	})
	if conns != 1 {
		t.Fatalf("%d connections in the tree, want 1", conns)
	}
}

// A connection on which nothing arrives for serverChannelMaxIdleTimeSeconds
// is closed, as RocketMQ closes idle channels.
func TestIdleConnectionIsClosed(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.ServerChannelMaxIdleTimeSeconds = 1
	b := brokertest.Start(t, cfg, supervisor.Options{})
	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(nc); err != nil && !isReset(err) {
		t.Fatalf("want the broker to close the idle connection, got %v", err)
	}
	poll.Until(t, "", func() bool { return strings.Contains(b.Logs.String(), "connection idle") })
}

// A start that fails part way (here: the metrics port is taken) undoes
// everything it started, so the same store opens again at once.
func TestFailedStartReleasesEverything(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := brokertest.Config(t)
	cfg.MetricsPromExporterPort = busy.Addr().(*net.TCPAddr).Port
	if b, err := supervisor.Start(cfg, supervisor.Options{}); err == nil {
		b.Shutdown(context.Background())
		t.Fatal("start succeeded with the metrics port taken")
	}
	cfg.MetricsPromExporterPort = 0
	b := brokertest.Start(t, cfg, supervisor.Options{})
	if resp := invoke(t, dial(t, b.Addr()), 7777, nil); resp.ResponseCode() != remoting.RequestCodeNotSupported {
		t.Fatalf("after a failed start: %s", resp.ResponseCode())
	}
}
