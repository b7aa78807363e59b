package remoting

import (
	"errors"
	"testing"
	"time"
)

// pollUntil waits for cond, failing the test after the generous deadline
// every test here uses: tests assert that something happens, never how
// soon.
func pollUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(long)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// acquireAsync runs one acquire on its own goroutine and reports its
// result on the returned channel.
func acquireAsync(b *FrameBudget, g *frameGrant, n, perConn int64, done <-chan struct{}) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- b.acquire(g, n, perConn, done) }()
	return ch
}

// mustAcquire is an acquire that the rule allows at once: the test fails,
// rather than hangs, if it waits.
func mustAcquire(t *testing.T, b *FrameBudget, g *frameGrant, n, perConn int64) {
	t.Helper()
	if err := waitFor(t, acquireAsync(b, g, n, perConn, nil)); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(long):
		t.Fatal("acquire did not return")
		return nil
	}
}

func TestFrameBudgetGrantsWithinCapacity(t *testing.T) {
	b := NewFrameBudget(100)
	var g1, g2 frameGrant
	mustAcquire(t, b, &g1, 60, 100)
	mustAcquire(t, b, &g2, 40, 100)
	if b.InUse() != 100 || b.LaneHeld() {
		t.Fatalf("in use %d, lane %v; want 100 without the lane", b.InUse(), b.LaneHeld())
	}
	b.release(&g1)
	b.release(&g2)
	if b.InUse() != 0 || g1.held != 0 || g2.held != 0 {
		t.Fatalf("after release: in use %d, grants %+v %+v", b.InUse(), g1, g2)
	}
	if b.Peak() != 100 {
		t.Fatalf("peak %d, want 100", b.Peak())
	}
}

// A grant beyond the per-connection budget goes through the lane even
// when the shared budget has room, and a second such grant waits for the
// first frame to finish.
func TestFrameBudgetLaneAdmitsOneOversizeFrame(t *testing.T) {
	b := NewFrameBudget(1000)
	var big1, big2 frameGrant
	mustAcquire(t, b, &big1, 50, 10)
	if !big1.lane || !b.LaneHeld() {
		t.Fatal("a grant beyond the per-connection budget did not take the lane")
	}
	second := acquireAsync(b, &big2, 50, 10, nil)
	pollUntil(t, "the second oversize frame waits", func() bool { return b.Waiting() == 1 })
	// The lane's holder goes on growing past the capacity: nothing it
	// needs can make it wait.
	mustAcquire(t, b, &big1, 2000, 10)
	if b.InUse() != 2050 {
		t.Fatalf("in use %d, want 2050 (the lane goes past the capacity)", b.InUse())
	}
	b.release(&big1)
	if err := waitFor(t, second); err != nil {
		t.Fatal(err)
	}
	if !big2.lane || b.InUse() != 50 || b.Waiting() != 0 {
		t.Fatalf("after the first frame: lane %v, in use %d, waiting %d", big2.lane, b.InUse(), b.Waiting())
	}
}

// When the shared budget is exhausted by frames that all want more, one
// of them takes the lane, so there is always a frame that can complete.
func TestFrameBudgetExhaustedHandsTheLaneToAWaiter(t *testing.T) {
	b := NewFrameBudget(100)
	var a, c frameGrant
	mustAcquire(t, b, &a, 50, 1000)
	mustAcquire(t, b, &c, 50, 1000)
	// a wants more: the budget is full but the lane is free.
	mustAcquire(t, b, &a, 50, 1000)
	if !a.lane {
		t.Fatal("the first frame to find the budget full did not take the lane")
	}
	// c wants more too and must wait, holding what it has, until a is done.
	more := acquireAsync(b, &c, 50, 1000, nil)
	pollUntil(t, "the second frame waits", func() bool { return b.Waiting() == 1 })
	b.release(&a)
	if err := waitFor(t, more); err != nil {
		t.Fatal(err)
	}
	if c.held != 100 || b.InUse() != 100 {
		t.Fatalf("c holds %d, in use %d; want 100 and 100", c.held, b.InUse())
	}
}

func TestFrameBudgetWaitEndsWithTheConnection(t *testing.T) {
	b := NewFrameBudget(100)
	var full, lane, waiter frameGrant
	mustAcquire(t, b, &full, 100, 1000)
	mustAcquire(t, b, &lane, 10, 1000)
	if !lane.lane {
		t.Fatal("a grant beyond the full budget did not take the lane")
	}
	done := make(chan struct{})
	ch := acquireAsync(b, &waiter, 10, 1000, done)
	pollUntil(t, "the frame waits", func() bool { return b.Waiting() == 1 })
	close(done)
	if err := waitFor(t, ch); !errors.Is(err, ErrClosed) {
		t.Fatalf("err %v, want ErrClosed", err)
	}
	if b.Waiting() != 0 || waiter.held != 0 || b.InUse() != 110 {
		t.Fatalf("waiting %d, waiter holds %d, in use %d", b.Waiting(), waiter.held, b.InUse())
	}
}
