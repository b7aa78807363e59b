package actors

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestPinnedDispatcherIdleRestart: turns run one at a time on the pinned
// goroutine, the goroutine ends when idle, and a later Schedule starts it
// again, including when it races with the idle exit.
func TestPinnedDispatcherIdleRestart(t *testing.T) {
	d := newPinnedDispatcher(time.Millisecond)
	defer d.stop()
	var ran atomic.Int64
	var inTurn atomic.Int32
	turn := func() {
		if inTurn.Add(1) != 1 {
			t.Error("two turns at once")
		}
		ran.Add(1)
		inTurn.Add(-1)
	}
	const turns = 2000
	for i := 0; i < turns; i++ {
		// Like the mailbox: the next turn is scheduled once the last is done.
		want := ran.Load() + 1
		d.Schedule(turn)
		deadline := time.Now().Add(10 * time.Second)
		for ran.Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("turn %d never ran (running=%v)", i, d.running.Load())
			}
			time.Sleep(time.Duration(i%3) * 500 * time.Microsecond) // around the idle time
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.running.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the goroutine did not end when idle")
		}
		time.Sleep(time.Millisecond)
	}
	d.Schedule(turn)
	for ran.Load() < turns+1 {
		if time.Now().After(deadline) {
			t.Fatal("no turn after the idle exit")
		}
		time.Sleep(time.Millisecond)
	}
}
