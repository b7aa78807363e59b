package supervisor_test

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

const flowTopic = "FlowTopic"

// flowCluster starts a name server and a broker with fault injection on,
// and a Go producer that does not retry, so each answer reaches the test
// as the broker gave it.
func flowCluster(t *testing.T, mutate func(*supervisor.Config)) (*brokertest.Broker, rocketmq.Producer, *remoting.Client) {
	t.Helper()
	ns, b := startCluster(t, func(c *supervisor.Config) {
		c.FaultInjectionEnable = true
		if mutate != nil {
			mutate(c)
		}
	})
	p := newProducer(t, ns.Addr(), producer.WithRetry(0))
	sendN(t, p, flowTopic, "warmup-", 0, 1) // creates the topic
	return b, p, dial(t, b.Addr())
}

func setFault(t *testing.T, admin *remoting.Client, ext map[string]string) {
	t.Helper()
	resp := invoke(t, admin, remoting.SetFault, ext)
	if resp.ResponseCode() != remoting.Success {
		t.Fatalf("set fault %v: %s %q", ext, resp.ResponseCode(), resp.Remark)
	}
}

type asyncResult struct {
	err  error
	sent time.Time
	rtt  time.Duration
}

// sendAsync sends one message and delivers its outcome on the channel.
func sendAsync(t *testing.T, p rocketmq.Producer, body string) <-chan asyncResult {
	t.Helper()
	ch := make(chan asyncResult, 1)
	start := time.Now()
	err := p.SendAsync(context.Background(), func(_ context.Context, _ *primitive.SendResult, err error) {
		ch <- asyncResult{err: err, sent: start, rtt: time.Since(start)}
	}, primitive.NewMessage(flowTopic, []byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func sendProcessor(b *brokertest.Broker) *actors.Processor {
	p, _ := b.Routes().Lookup(remoting.SendMessage)
	return p
}

func wantBusy(t *testing.T, err error, code int, remark string) {
	t.Helper()
	want := "CODE: " + strconv.Itoa(code) + ", DESC: " + remark
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got error %v, want %q", err, want)
	}
}

var cleanQueueRemark = regexp.MustCompile(`^CODE: 2, DESC: \[(PCBUSY|TIMEOUT)_CLEAN_QUEUE\]broker busy, start flow control for a while, period in queue: (\d+)ms, size of queue: (\d+)$`)

// parseCleanQueue returns the kind, period and size of a clean-queue answer.
func parseCleanQueue(t *testing.T, err error) (string, time.Duration, int) {
	t.Helper()
	if err == nil {
		t.Fatal("send succeeded, want a clean-queue answer")
	}
	msg := err.Error()
	if i := strings.Index(msg, "CODE: "); i >= 0 {
		msg = msg[i:]
	}
	m := cleanQueueRemark.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not a clean-queue answer: %v", err)
	}
	ms, _ := strconv.Atoi(m[2])
	size, _ := strconv.Atoi(m[3])
	return m[1], time.Duration(ms) * time.Millisecond, size
}

// REJECTREQUEST: a send arriving while an append has held the writer for
// more than osPageCacheBusyTimeOutMills is refused before it is queued.
func TestFlowRejectRequestPageCacheBusy(t *testing.T) {
	b, p, admin := flowCluster(t, nil)
	// 2 s: past the 1 s busy threshold, inside the Go client's 3 s timeout.
	setFault(t, admin, map[string]string{"appendStallMillis": "2000"})
	first := sendAsync(t, p, "stalled")
	poll.Until(t, "", func() bool { return b.Store().LockTimeMills() > 1100 })
	_, err := p.SendSync(context.Background(), primitive.NewMessage(flowTopic, []byte("refused")))
	wantBusy(t, err, 2, "[REJECTREQUEST]system busy, start flow control for a while")
	setFault(t, admin, map[string]string{"appendStallMillis": "0"})
	if r := <-first; r.err != nil {
		t.Fatalf("the stalled send itself: %v", r.err)
	}
	if n := sendProcessor(b).Stats.Busy[remoting.RejectRequest].Load(); n != 1 {
		t.Fatalf("REJECTREQUEST counted %d times", n)
	}
}

// REJECTREQUEST also when the transient store pool has no free buffer.
func TestFlowRejectRequestPoolDeficient(t *testing.T) {
	b, p, admin := flowCluster(t, nil)
	setFault(t, admin, map[string]string{"transientPoolExhausted": "true"})
	_, err := p.SendSync(context.Background(), primitive.NewMessage(flowTopic, []byte("refused")))
	wantBusy(t, err, 2, "[REJECTREQUEST]system busy, start flow control for a while")
	setFault(t, admin, map[string]string{"transientPoolExhausted": "false"})
	sendN(t, p, flowTopic, "after-", 0, 1)
	// The refusal was timed from its read to its write, inside the broker.
	if n := b.BusyAnswerLatency().Count(); n != 1 {
		t.Fatalf("%d busy answers timed, want 1", n)
	}
	// It was refused from its head, before its header was decoded.
	if n := b.RefusalLatency().Count(); n != 1 {
		t.Fatalf("%d refusals on arrival timed, want 1", n)
	}
}

// OVERLOAD: the send queue is full.
func TestFlowOverload(t *testing.T) {
	b, p, admin := flowCluster(t, func(c *supervisor.Config) {
		c.SendThreadPoolQueueCapacity = 2
		c.WaitTimeMillsInSendQueue = 60000
	})
	setFault(t, admin, map[string]string{"processorDelayMillis": "2000", "processor": "send"})
	held := []<-chan asyncResult{sendAsync(t, p, "in-processor")}
	poll.Until(t, "", func() bool { return sendProcessor(b).Stats.Processed.Load() >= 2 })
	held = append(held, sendAsync(t, p, "queued-1"), sendAsync(t, p, "queued-2"))
	poll.Until(t, "", func() bool { return sendProcessor(b).Mailbox().Len() == 2 })
	_, err := p.SendSync(context.Background(), primitive.NewMessage(flowTopic, []byte("overflow")))
	wantBusy(t, err, 2, "[OVERLOAD]system busy, start flow control for a while")
	if n := b.RefusalLatency().Count(); n != 1 {
		t.Fatalf("%d refusals on arrival (the full queue seen from the head), want 1", n)
	}
	setFault(t, admin, map[string]string{"processorDelayMillis": "0", "processor": "send"})
	for _, ch := range held {
		if r := <-ch; r.err != nil {
			t.Fatalf("queued send: %v", r.err)
		}
	}
}

// PC_SYNCHRONIZED and PCBUSY_CLEAN_QUEUE: sends queued before the page
// cache turned busy. The one the processor has taken meets the store's
// re-check (PC_SYNCHRONIZED, code 1 as in RocketMQ 4.9); those still in
// the queue are cleaned by the sweep, each reporting its own time in the
// queue and the queue's size after its removal.
func TestFlowPCSynchronizedAndPCBusyCleanQueue(t *testing.T) {
	b, p, admin := flowCluster(t, func(c *supervisor.Config) { c.WaitTimeMillsInSendQueue = 60000 })
	sp := sendProcessor(b)
	setFault(t, admin, map[string]string{"processorDelayMillis": "1500", "processor": "send", "appendStallMillis": "2500"})
	stalled := sendAsync(t, p, "stalled")
	poll.Until(t, "", func() bool { return b.Store().BeginTimeInLock() != 0 })
	processed := sp.Stats.Processed.Load()
	synced := sendAsync(t, p, "re-checked")
	poll.Until(t, "", func() bool { return sp.Stats.Processed.Load() == processed+1 })
	var queued []<-chan asyncResult
	for i := 0; i < 3; i++ {
		queued = append(queued, sendAsync(t, p, "queued-"+strconv.Itoa(i)))
		poll.Until(t, "", func() bool { return sp.Mailbox().Len() == i+1 })
	}
	if b.Store().IsOSPageCacheBusy() {
		t.Skip("the machine is too slow for this test's timing: page cache already busy while queueing")
	}

	for i, ch := range queued {
		r := <-ch
		kind, period, size := parseCleanQueue(t, r.err)
		if kind != "PCBUSY" {
			t.Fatalf("queued send %d: %v, want PCBUSY_CLEAN_QUEUE", i, r.err)
		}
		if size != len(queued)-1-i {
			t.Fatalf("queued send %d: size of queue %d, want %d", i, size, len(queued)-1-i)
		}
		// The period is the time spent in the queue: under the whole round
		// trip, and at least the time until the page cache turned busy.
		if period > r.rtt || period < 100*time.Millisecond {
			t.Fatalf("queued send %d: period in queue %s, round trip %s", i, period, r.rtt)
		}
	}
	r := <-synced
	wantBusy(t, r.err, 1, "[PC_SYNCHRONIZED]broker busy, start flow control for a while")
	setFault(t, admin, map[string]string{"processorDelayMillis": "0", "processor": "send", "appendStallMillis": "0"})
	// The stalled send itself (1.5 s in the processor, 2.5 s in the writer)
	// outlives the Go client's 3 s timeout; the broker still stores it.
	<-stalled
	if sp.Stats.Busy[remoting.PCSynchronized].Load() != 1 || sp.Stats.Busy[remoting.PCBusyCleanQueue].Load() != 3 {
		t.Fatalf("counters: PC_SYNCHRONIZED %d, PCBUSY_CLEAN_QUEUE %d", sp.Stats.Busy[remoting.PCSynchronized].Load(), sp.Stats.Busy[remoting.PCBusyCleanQueue].Load())
	}
	poll.Until(t, "", func() bool { return b.Logs.Count("busy period ended") == 1 })
}

// TIMEOUT_CLEAN_QUEUE: a send that waited in the queue past
// waitTimeMillsInSendQueue is answered by the sweep, never executed.
func TestFlowTimeoutCleanQueue(t *testing.T) {
	b, p, admin := flowCluster(t, nil)
	sp := sendProcessor(b)
	setFault(t, admin, map[string]string{"processorDelayMillis": "1000", "processor": "send"})
	processed := sp.Stats.Processed.Load()
	held := sendAsync(t, p, "in-processor")
	poll.Until(t, "", func() bool { return sp.Stats.Processed.Load() == processed+1 })
	r := <-sendAsync(t, p, "waits")
	kind, period, size := parseCleanQueue(t, r.err)
	if kind != "TIMEOUT" || size != 0 {
		t.Fatalf("got %s size %d: %v", kind, size, r.err)
	}
	// At least the limit, at most the whole round trip.
	if period < 200*time.Millisecond || period > r.rtt {
		t.Fatalf("period in queue %s, limit 200ms, round trip %s", period, r.rtt)
	}
	setFault(t, admin, map[string]string{"processorDelayMillis": "0", "processor": "send"})
	if r := <-held; r.err != nil {
		t.Fatal(r.err)
	}
	if sp.Stats.Processed.Load() != processed+1 {
		t.Fatalf("the cleaned send was executed too")
	}
}

// Admission by predicted wait answers TIMEOUT_CLEAN_QUEUE at once, with
// period 0, once depth × the queue's drain interval exceeds its limit.
func TestFlowAdmissionControl(t *testing.T) {
	b, p, admin := flowCluster(t, func(c *supervisor.Config) {
		c.SendQueueAdmissionControl = true
		c.WaitTimeMillsInSendQueue = 1000
	})
	sp := sendProcessor(b)
	setFault(t, admin, map[string]string{"processorDelayMillis": "700", "processor": "send"})
	// Teach the queue its drain rate: two sends at once, served 700 ms
	// apart.
	processed := sp.Stats.Processed.Load()
	var teach []<-chan asyncResult
	for i := 0; i < 2; i++ {
		teach = append(teach, sendAsync(t, p, "teach-"+strconv.Itoa(i)))
	}
	poll.Until(t, "", func() bool {
		return sp.Stats.Processed.Load() == processed+2 && sp.DrainInterval() > 500*time.Millisecond
	})
	for _, ch := range teach {
		<-ch
	}
	processed = sp.Stats.Processed.Load()
	held := sendAsync(t, p, "in-processor")
	poll.Until(t, "", func() bool { return sp.Stats.Processed.Load() == processed+1 })
	// One waiting request predicts about 700 ms, two about 1400 ms: over the
	// 1 s limit.
	queued := []<-chan asyncResult{sendAsync(t, p, "queued-1")}
	poll.Until(t, "", func() bool { return sp.Mailbox().Len() == 1 })
	queued = append(queued, sendAsync(t, p, "queued-2"))
	poll.Until(t, "", func() bool { return sp.Mailbox().Len() == 2 })
	_, err := p.SendSync(context.Background(), primitive.NewMessage(flowTopic, []byte("predicted")))
	kind, period, size := parseCleanQueue(t, err)
	if kind != "TIMEOUT" || period != 0 || size != 2 {
		t.Fatalf("got %s period %s size %d", kind, period, size)
	}
	setFault(t, admin, map[string]string{"processorDelayMillis": "0", "processor": "send"})
	<-held
	for _, q := range queued {
		<-q
	}
}

// Sends already handed to the writer, waiting behind a stalled append, are
// answered PCBUSY_CLEAN_QUEUE too once the page cache is busy, instead of
// waiting out the stall past the client's timeout.
func TestFlowPCBusyCleansWriterQueue(t *testing.T) {
	b, p, admin := flowCluster(t, nil)
	setFault(t, admin, map[string]string{"appendStallMillis": "2500"})
	stalled := sendAsync(t, p, "stalled")
	poll.Until(t, "", func() bool { return b.Store().BeginTimeInLock() != 0 })
	var waiting []<-chan asyncResult
	for i := 0; i < 2; i++ {
		waiting = append(waiting, sendAsync(t, p, "behind-"+strconv.Itoa(i)))
	}
	// The Go client may put async sends on the wire in any order, so only
	// the set of sizes is known: one per position left behind.
	sizes := map[int]bool{}
	for i, ch := range waiting {
		r := <-ch
		kind, period, size := parseCleanQueue(t, r.err)
		if kind != "PCBUSY" || period > r.rtt {
			t.Fatalf("send %d behind the stall: %v (period %s, round trip %s)", i, r.err, period, r.rtt)
		}
		sizes[size] = true
	}
	if !sizes[0] || !sizes[1] {
		t.Fatalf("sizes of queue %v, want 1 and 0", sizes)
	}
	setFault(t, admin, map[string]string{"appendStallMillis": "0"})
	if r := <-stalled; r.err != nil {
		t.Fatalf("stalled send: %v", r.err)
	}
	sendN(t, p, flowTopic, "after-", 0, 3)
}

// sendQueueBackpressure: a producer that keeps far more sends in flight
// than the send queue holds. Without backpressure the queue overflows and
// the overflow is answered OVERLOAD; with it the connection is not read
// while the queue is above three quarters of its capacity, so every send
// waits in TCP instead and is stored, and no busy answer is given.
func TestFlowBackpressure(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run("backpressure="+strconv.FormatBool(on), func(t *testing.T) {
			b, p, admin := flowCluster(t, func(c *supervisor.Config) {
				c.SendThreadPoolQueueCapacity = 8
				c.WaitTimeMillsInSendQueue = 60000
				c.SendQueueBackpressure = on
			})
			sp := sendProcessor(b)
			setFault(t, admin, map[string]string{"processorDelayMillis": "10", "processor": "send"})
			const n = 48
			results := make([]<-chan asyncResult, n)
			for i := range results {
				results[i] = sendAsync(t, p, "bp-"+strconv.Itoa(i))
			}
			var ok, overload int
			for _, ch := range results {
				switch r := <-ch; {
				case r.err == nil:
					ok++
				case strings.Contains(r.err.Error(), "[OVERLOAD]"):
					overload++
				default:
					t.Errorf("send: %v", r.err)
				}
			}
			_, held, timedOut := sp.HeldReads()
			t.Logf("stored %d, OVERLOAD %d, reads held %d (%d at the wait limit)", ok, overload, held, timedOut)
			if !on {
				if overload == 0 || held != 0 {
					t.Fatalf("without backpressure: %d OVERLOAD answers, %d reads held; want some, none", overload, held)
				}
				return
			}
			if ok != n || held == 0 || timedOut != 0 {
				t.Fatalf("with backpressure: %d of %d stored, %d reads held, %d at the wait limit", ok, n, held, timedOut)
			}
			for _, k := range remoting.BusyKinds {
				if c := sp.Stats.Busy[k].Load(); c != 0 {
					t.Fatalf("%d %s answers with backpressure", c, k.Tag())
				}
			}
		})
	}
}

// A held connection waits at most the queue's wait limit: with the send
// processor stuck, it reads on after waitTimeMillsInSendQueue and its
// sends get the busy answers they would without backpressure (here the
// sweep's TIMEOUT_CLEAN_QUEUE, and OVERLOAD once the queue is full), each
// exactly once; the sends queued before are stored once the processor
// moves again.
func TestFlowBackpressureWaitLimit(t *testing.T) {
	b, p, admin := flowCluster(t, func(c *supervisor.Config) {
		c.SendThreadPoolQueueCapacity = 4
		c.WaitTimeMillsInSendQueue = 300
		c.SendQueueBackpressure = true
	})
	sp := sendProcessor(b)
	// Within the client's 3 s timeout: the send the processor holds is
	// stored when the delay ends.
	setFault(t, admin, map[string]string{"processorDelayMillis": "1500", "processor": "send"})
	const n = 12
	results := make([]<-chan asyncResult, n)
	for i := range results {
		results[i] = sendAsync(t, p, "stuck-"+strconv.Itoa(i))
	}
	poll.Until(t, "", func() bool { _, _, timedOut := sp.HeldReads(); return timedOut > 0 })
	setFault(t, admin, map[string]string{"processorDelayMillis": "0", "processor": "send"})
	var ok, busy int
	for _, ch := range results {
		switch r := <-ch; {
		case r.err == nil:
			ok++
		case strings.Contains(r.err.Error(), "CODE: 2, DESC: [OVERLOAD]") || strings.Contains(r.err.Error(), "CODE: 2, DESC: [TIMEOUT_CLEAN_QUEUE]"):
			busy++
		default:
			t.Errorf("send: %v", r.err)
		}
	}
	_, held, timedOut := sp.HeldReads()
	t.Logf("stored %d, busy %d, reads held %d (%d at the wait limit)", ok, busy, held, timedOut)
	if ok == 0 || busy == 0 || ok+busy != n {
		t.Fatalf("%d stored and %d busy of %d sends", ok, busy, n)
	}
}

// A send that finds the send processor idle runs on its connection's
// decoder goroutine (Processor.RunOnArrival); one that finds it slowed
// (the processor delay fault) or busy waits in its queue for the
// processor's goroutine, as before. Either way each send is answered once
// and stored.
func TestFlowSendRunsOnArrivalWhenIdle(t *testing.T) {
	b, p, admin := flowCluster(t, nil)
	sp := sendProcessor(b)
	ran0, done0 := sp.Stats.RanOnArrival.Load(), sp.Stats.Processed.Load()
	const idle = 20
	sendN(t, p, flowTopic, "idle-", 0, idle) // one at a time: the processor is idle for each
	// Nearly all: under the full suite's load one in twenty once went to
	// the processor's goroutine (the check found the processor or the
	// writer's slots not free); none would if the feature were off.
	ran, done := sp.Stats.RanOnArrival.Load()-ran0, sp.Stats.Processed.Load()-done0
	t.Logf("%d sends one at a time: %d processed, %d of them on arrival", idle, done, ran)
	if done != idle || ran < idle*3/4 {
		t.Fatalf("%d sends one at a time: %d processed, %d of them on arrival; want nearly all on arrival", idle, done, ran)
	}

	setFault(t, admin, map[string]string{"processorDelayMillis": "5", "processor": "send"})
	ran1 := sp.Stats.RanOnArrival.Load()
	const slowed = 16
	results := make([]<-chan asyncResult, slowed)
	for i := range results {
		results[i] = sendAsync(t, p, "slowed-"+strconv.Itoa(i))
	}
	for _, ch := range results {
		if r := <-ch; r.err != nil {
			t.Fatalf("send to a slowed processor: %v", r.err)
		}
	}
	if ran := sp.Stats.RanOnArrival.Load() - ran1; ran != 0 {
		t.Fatalf("%d sends ran on arrival while the processor was slowed", ran)
	}
	setFault(t, admin, map[string]string{"processorDelayMillis": "0", "processor": "send"})

	c := dial(t, b.Addr())
	var bodies []string
	for q := 0; q < 4; q++ {
		bodies = append(bodies, pullAll(t, c, flowTopic, q)...)
	}
	for _, want := range []string{"idle-0", "idle-19", "slowed-0", "slowed-15"} {
		if !slices.Contains(bodies, want) {
			t.Fatalf("%q not pulled (pulled %d messages)", want, len(bodies))
		}
	}
	if len(bodies) != 1+idle+slowed {
		t.Fatalf("pulled %d messages, want %d", len(bodies), 1+idle+slowed)
	}
}
