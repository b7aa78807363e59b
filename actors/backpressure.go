package actors

import (
	"sync"
	"sync/atomic"
	"time"
)

// backpressure is a processor's hold on the connections that fill its
// queue (Processor.Backpressure). Under overload RocketMQ answers every
// request that finds the queue full OVERLOAD; clients retry at once, and
// reading, refusing and re-reading those requests took as much of the
// broker's CPU as accepting them (with 64 producers × 256 in flight the
// accepted rate fell to 0.68 of its 16 × 256 rate). Holding the socket unread
// instead keeps the requests in the client's and the kernel's buffers,
// costs nothing per request, and the queue stays full of work.
//
// The hold is bounded: a connection waits at most the queue's WaitLimit,
// so a processor that stops taking requests (a stalled page cache) gets
// its busy answers as before, from the sweep and the queue's bound.
type backpressure struct {
	// open is closed to let every held connection go at once when the
	// queue has drained to the low mark, and replaced by the first
	// connection held after that. Letting them go together, rather than
	// one per take, costs one wake-up per connection per cycle instead of
	// one per request; each then reads on until the queue is back above
	// the high mark, so each gets its turn.
	mu      sync.Mutex
	open    chan struct{}
	waiting atomic.Int32
	// holds counts the reads held, timeouts those that ended at the wait
	// limit rather than on a release.
	holds    atomic.Uint64
	timeouts atomic.Uint64
}

// The marks, in quarters of the queue's capacity: a connection that queues
// a request at or above the high mark is held before its next read; held
// connections go on once the processor has taken the queue down to the low
// mark. The room above the high mark is for the requests of connections
// not (yet) held.
const (
	backpressureHigh = 3
	backpressureLow  = 2
)

func (p *Processor) highMark() int { return max(p.Capacity*backpressureHigh/4, 1) }
func (p *Processor) lowMark() int  { return p.Capacity * backpressureLow / 4 }

// aboveMark reports whether a connection that has just queued a request
// here should be held before its next read.
func (p *Processor) aboveMark() bool {
	return p.Backpressure && p.mailbox != nil && p.mailbox.Len() >= p.highMark()
}

// AwaitRoom is the connection's hold (remoting.ReadHold): it returns when
// the processor has taken the queue down to the low mark, after WaitLimit,
// or when done closes.
func (p *Processor) AwaitRoom(done <-chan struct{}) {
	bp := &p.bp
	if p.mailbox.Len() < p.highMark() {
		return
	}
	bp.mu.Lock()
	if bp.open == nil {
		bp.open = make(chan struct{})
	}
	open := bp.open
	bp.waiting.Add(1)
	bp.mu.Unlock()
	defer bp.waiting.Add(-1)
	// Counted as waiting before this look at the queue, so a take that
	// drains it past the low mark after the look sees this connection
	// waiting (both are sequentially consistent) and lets it go.
	if p.mailbox.Len() <= p.lowMark() {
		return
	}
	bp.holds.Add(1)
	limit := p.WaitLimit()
	if limit <= 0 {
		limit = time.Second // a queue without a wait limit still lets go
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-open:
	case <-t.C:
		bp.timeouts.Add(1)
	case <-done:
	}
}

// releaseHeld runs on the processor after each take: once the queue is
// down to the low mark every held connection goes on.
func (p *Processor) releaseHeld() {
	bp := &p.bp
	if !p.Backpressure || bp.waiting.Load() == 0 || p.mailbox.Len() > p.lowMark() {
		return
	}
	bp.mu.Lock()
	if bp.open != nil {
		close(bp.open)
		bp.open = nil
	}
	bp.mu.Unlock()
}

// HeldReads is how many connections are held now, and how many reads have
// been held and how many of those ended at the wait limit since the start.
func (p *Processor) HeldReads() (now int, held, timedOut uint64) {
	return int(p.bp.waiting.Load()), p.bp.holds.Load(), p.bp.timeouts.Load()
}
