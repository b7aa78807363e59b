package actors

import (
	"sync"
	"sync/atomic"
	"time"
)

// pinnedDispatcher runs an actor's mailbox turns on one long-lived
// goroutine. protoactor's default dispatcher starts a goroutine per turn;
// the writer and the send processor take a turn every few microseconds
// under load, and each new goroutine regrew the stack of the deep append
// or send path (15 % of the writer's CPU, 4 % of the broker's at 64
// waiting publishers, in the profiles).
//
// With idle > 0 the goroutine ends after idle without a turn and the next
// Schedule starts another, so a processor nobody calls holds no goroutine
// and needs no stop; with idle == 0 it lives until stop (the writer).
type pinnedDispatcher struct {
	idle    time.Duration
	work    chan func()
	done    chan struct{}
	once    sync.Once
	running atomic.Bool
}

func newPinnedDispatcher(idle time.Duration) *pinnedDispatcher {
	d := &pinnedDispatcher{idle: idle, work: make(chan func(), 1), done: make(chan struct{})}
	if idle == 0 {
		d.running.Store(true)
		go d.loop()
	}
	return d
}

func (d *pinnedDispatcher) loop() {
	var idle <-chan time.Time
	var t *time.Timer
	if d.idle > 0 {
		t = time.NewTimer(d.idle)
		defer t.Stop()
		idle = t.C
	}
	for {
		select {
		case fn := <-d.work:
			fn()
			if t != nil {
				t.Reset(d.idle)
			}
		case <-idle:
			d.running.Store(false)
			// A Schedule that saw running still true left its turn in
			// work for this goroutine: take it back unless a newer
			// Schedule has already started another goroutine.
			if len(d.work) == 0 || !d.running.CompareAndSwap(false, true) {
				return
			}
			t.Reset(d.idle)
		case <-d.done:
			return
		}
	}
}

// Schedule runs fn on the pinned goroutine, starting it if it has ended.
// The mailbox schedules at most one turn at a time, so the channel never
// holds more than one.
func (d *pinnedDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	case <-d.done:
		return
	}
	if d.running.CompareAndSwap(false, true) {
		go d.loop()
	}
}

// Throughput is how many messages a turn handles before yielding.
func (d *pinnedDispatcher) Throughput() int { return 300 }

func (d *pinnedDispatcher) stop() { d.once.Do(func() { close(d.done) }) }
