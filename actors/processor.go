package actors

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/remoting"
)

// Handler executes the requests of one processor. Handle runs on the
// processor actor's goroutine, one request at a time, and must answer the
// request exactly once — now, or later from elsewhere (a held pull, a write
// waiting for the writer) — through r.Reply.
//
// Handlers know nothing of the actor they run in: request logic lives in
// the handler packages (send, pull, client, admin, namesrv) and takes only
// the request, so it can be tested with a fake one.
type Handler interface {
	Handle(r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(r *Request)

// Handle calls f.
func (f HandlerFunc) Handle(r *Request) { f(r) }

// Processor is RocketMQ's pair of a request processor and its executor: the
// request codes it serves, its bounded queue, an optional reject check that
// runs before queueing, and the wait limit the fast-failure sweep applies to
// its queue. The supervisor spawns one actor per Processor.
type Processor struct {
	// Name is the actor name ("send", "pull", …) and the label in logs,
	// metrics and the tree.
	Name string
	// Codes are the request codes routed here.
	Codes []remoting.RequestCode
	// RuntimeInfoKey is the key prefix of the queue's figures in
	// GET_BROKER_RUNTIME_INFO ("sendThreadPool" …); empty leaves it out.
	RuntimeInfoKey string
	// Capacity bounds the queue (sendThreadPoolQueueCapacity and friends).
	Capacity int
	// NewHandler builds the handler; it is called again when the actor is
	// restarted after a panic, so shared state must live outside it.
	NewHandler func() Handler
	// RejectRequest, if set, runs on the connection before the request is
	// queued; a true answer is sent at once with the returned kind
	// (SendMessageProcessor#rejectRequest).
	RejectRequest func() (remoting.BusyKind, bool)
	// MaxWaitInQueue is how long a request may wait before the sweep answers
	// it TIMEOUT_CLEAN_QUEUE; 0 exempts the queue.
	MaxWaitInQueue time.Duration
	// PageCacheSweep marks the send queue: the one the sweep empties while
	// the page cache is busy.
	PageCacheSweep bool
	// AdmissionControl, beyond RocketMQ, refuses a request at enqueue when
	// the queue's depth times its recent drain interval already exceeds
	// MaxWaitInQueue: the sweep would answer it TIMEOUT_CLEAN_QUEUE after
	// waiting MaxWaitInQueue anyway, so it gets that answer at once
	// (sendQueueAdmissionControl).
	AdmissionControl bool
	// Backpressure, beyond RocketMQ, holds back the connections that keep
	// the queue above three quarters of Capacity instead of letting it
	// overflow into OVERLOAD answers: a connection whose request is queued
	// above that mark reads its next request only once the processor has
	// taken the queue down to half its capacity, or after WaitLimit,
	// whichever comes first; after that the busy answers apply as before
	// (sendQueueBackpressure). See backpressure.go.
	Backpressure bool
	bp           backpressure
	// RunOnArrival, if set, lets a front run the processor's turn for the
	// request it has just queued on its own goroutine (the connection's
	// decoder) when the processor is idle and RunOnArrival says the
	// handler will not wait — instead of waking the processor's goroutine
	// for it. Mailbox.PostAndRun explains the gain; the turn, its queue
	// and its one-at-a-time order are the same either way. A processor
	// slowed by SetDelay never runs on arrival.
	RunOnArrival func() bool

	// waitLimit overrides MaxWaitInQueue once set at run time.
	waitLimit atomic.Pointer[time.Duration]

	mailbox *Mailbox
	pid     *actor.PID
	delay   atomic.Int64 // fault injection: nanoseconds to sleep before each request

	lastOverloadLog atomic.Int64
	// lastTake is when the processor last took a request (unix ns), and
	// takeInterval a moving average of the time between two takes while
	// requests were waiting: the inverse of the queue's drain rate. Both
	// are written only by the processor actor.
	lastTake     atomic.Int64
	lastFinish   atomic.Int64
	takeInterval atomic.Int64

	Stats ProcessorStats
}

// ProcessorStats are a processor's counters, updated with atomics so the
// tree, metrics and logs can read them from any goroutine.
type ProcessorStats struct {
	// Processed counts requests the processor has taken from its queue.
	Processed atomic.Uint64
	// RanOnArrival counts those of them whose turn ran on the goroutine
	// that queued them (RunOnArrival).
	RanOnArrival atomic.Uint64
	Panics       atomic.Uint64
	Busy         [len(remoting.BusyKinds)]atomic.Uint64
}

// CountBusy records one busy answer of kind.
func (s *ProcessorStats) CountBusy(kind remoting.BusyKind) { s.Busy[kind].Add(1) }

// Mailbox is the processor's queue; nil before the actor is spawned.
func (p *Processor) Mailbox() *Mailbox { return p.mailbox }

// PID is the processor actor; nil before it is spawned.
func (p *Processor) PID() *actor.PID { return p.pid }

// SetDelay makes the processor sleep d before each request (fault
// injection, used to slow a processor in tests and demonstrations).
func (p *Processor) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// OpenQueue creates the processor's mailbox if it has none and returns it.
// Spawn calls it; code that drives a queue without an actor (the
// fast-failure scenario tests) calls it directly.
func (p *Processor) OpenQueue() *Mailbox {
	if p.mailbox == nil {
		p.mailbox = NewMailbox(p.Capacity)
	}
	return p.mailbox
}

// processorIdle is how long a processor's goroutine waits for its next
// turn before it ends (see pinnedDispatcher): long enough to span the gaps
// of a steady load, short enough that an idle broker holds few goroutines.
const processorIdle = time.Second

// Spawn starts the processor's actor as a child of parent, with its bounded
// mailbox, its turns on one goroutine kept while requests keep coming.
func (p *Processor) Spawn(parent actor.SpawnerContext) (*actor.PID, error) {
	p.OpenQueue()
	if run := p.RunOnArrival; run != nil {
		p.mailbox.runHere = func() bool {
			if p.delay.Load() != 0 || !run() {
				return false
			}
			// Counted here, before the turn runs, not after it: the turn
			// answers the request, and a count made after the answer could
			// land after its client's next step (tests read it so).
			p.Stats.RanOnArrival.Add(1)
			return true
		}
	}
	props := actor.PropsFromProducer(func() actor.Actor {
		return &processorActor{p: p, h: p.NewHandler()}
	}, actor.WithMailbox(func() actor.Mailbox { return p.mailbox }),
		actor.WithDispatcher(newPinnedDispatcher(processorIdle)))
	pid, err := parent.SpawnNamed(props, p.Name)
	if err != nil {
		return nil, err
	}
	p.pid = pid
	return pid, nil
}

type processorActor struct {
	p *Processor
	h Handler
}

func (a *processorActor) Receive(ctx actor.Context) {
	r, ok := ctx.Message().(*Request)
	if !ok {
		return
	}
	a.p.observeTake(r, time.Now())
	a.p.releaseHeld()
	a.p.Stats.Processed.Add(1)
	if d := a.p.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	a.h.Handle(r)
	a.p.lastFinish.Store(time.Now().UnixNano())
}

// observeTake updates the drain-rate estimate. An interval counts only if
// the request arrived before the previous one was finished: then it waited,
// and the gap is time the processor spent serving, not time it sat idle.
func (p *Processor) observeTake(r *Request, now time.Time) {
	prev := p.lastTake.Swap(now.UnixNano())
	if prev == 0 || r.Arrived.UnixNano() > p.lastFinish.Load() {
		return
	}
	gap := now.UnixNano() - prev
	avg := p.takeInterval.Load()
	if avg == 0 {
		avg = gap
	}
	// Weight 1/8: a writer window makes the gaps uneven (most takes are
	// immediate, one per group commit waits for the append), so the average
	// must span a few windows.
	p.takeInterval.Store(avg + (gap-avg)/8)
}

// DrainInterval is the recent average time between two takes while requests
// wait: depth × DrainInterval predicts how long a new request would wait.
func (p *Processor) DrainInterval() time.Duration { return time.Duration(p.takeInterval.Load()) }

// WaitLimit is the queue's wait limit in force: MaxWaitInQueue until
// SetWaitLimit changes it. One atomic load.
func (p *Processor) WaitLimit() time.Duration {
	if d := p.waitLimit.Load(); d != nil {
		return *d
	}
	return p.MaxWaitInQueue
}

// SetWaitLimit changes the wait limit while the broker runs
// (UPDATE_BROKER_CONFIG waitTimeMillsIn*Queue); 0 exempts the queue.
func (p *Processor) SetWaitLimit(d time.Duration) { p.waitLimit.Store(&d) }

// admit is the predicted-wait check of AdmissionControl; it returns the
// queue depth it judged.
func (p *Processor) admit() (int, bool) {
	limit := p.WaitLimit()
	if !p.AdmissionControl || limit <= 0 {
		return 0, true
	}
	depth := p.mailbox.Len()
	if depth == 0 {
		return 0, true
	}
	// A processor stuck on its current request drains nothing: the time
	// since it took that request is then the better estimate. (An idle
	// processor that has not yet been scheduled is not stuck.)
	interval := p.DrainInterval()
	if taken := p.lastTake.Load(); taken > p.lastFinish.Load() {
		if since := time.Duration(time.Now().UnixNano() - taken); since > interval {
			interval = since
		}
	}
	return depth, time.Duration(depth)*interval <= limit
}

// refusal is the refusal a request would get now, judged before it is
// decoded: the reject check, the admission check (with the depth it
// judged), or a full queue, which TryPost would refuse OVERLOAD. A queue
// that empties between this check and the post is not waited for: the
// request was refused on the state it arrived in.
func (p *Processor) refusal() (remoting.BusyKind, int, bool) {
	if p.RejectRequest != nil {
		if kind, busy := p.RejectRequest(); busy {
			return kind, 0, true
		}
	}
	if p.mailbox == nil {
		return 0, 0, false
	}
	if depth, ok := p.admit(); !ok {
		return remoting.TimeoutCleanQueue, depth, true
	}
	if p.mailbox.Len() >= p.mailbox.Capacity() {
		return remoting.Overload, 0, true
	}
	return 0, 0, false
}

// Mux dispatches by request code; codes without an entry are answered
// REQUEST_CODE_NOT_SUPPORTED, the answer RocketMQ's default processor gives.
type Mux map[remoting.RequestCode]HandlerFunc

// Handle runs the handler registered for r's code.
func (m Mux) Handle(r *Request) {
	if h, ok := m[r.Cmd.RequestCode()]; ok {
		h(r)
		return
	}
	r.ReplyCode(remoting.RequestCodeNotSupported, NotSupportedRemark(r.Cmd.Code))
}

// NotSupportedRemark is RocketMQ's remark for an unknown request code.
func NotSupportedRemark(code int32) string {
	return " request type " + strconv.Itoa(int(code)) + " not supported"
}
