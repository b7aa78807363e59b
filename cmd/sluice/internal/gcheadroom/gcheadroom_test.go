package gcheadroom

import (
	"runtime"
	"runtime/debug"
	"testing"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		headroom, live, roots uint64
		want                  int
	}{
		{32 * mib, 8 * mib, 0, 400},       // goal 8 + 32
		{32 * mib, 7 * mib, 1 * mib, 400}, // stacks and globals count with the heap
		{32 * mib, 40 * mib, 0, 100},      // a large live heap: GOGC=100's goal
		{32 * mib, 0, 0, 800},             // before the first collection: the minimum heap is the headroom
		{32 * mib, 1 * mib, 0, 800},       // an idle broker: the same, not 3200 % of 4 MiB
		{1 * mib, 2 * mib, 0, 100},        // a headroom under the minimum heap: Go's default
		{64 * mib, 16 * mib, 16 * mib, 200},
	} {
		if got := Percent(c.headroom, c.live, c.roots); got != c.want {
			t.Errorf("Percent(%d MiB, live %d MiB, roots %d MiB) = %d, want %d",
				c.headroom/mib, c.live/mib, c.roots/mib, got, c.want)
		}
	}
}

// Step sets the runtime's GOGC from the last collection's live heap, and
// changes it only when a collection has run since.
func TestStepSetsGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	live := make([]byte, 2*mib) // a small live heap, under the headroom
	runtime.GC()
	tu := New(64 * mib)
	p := tu.Step()
	if p <= basePercent {
		t.Fatalf("Step with a live heap of ~2 MiB and 64 MiB of headroom set %d %%, want more than %d", p, basePercent)
	}
	if got := debug.SetGCPercent(p); got != p {
		t.Fatalf("runtime GOGC %d after Step returned %d", got, p)
	}
	// No collection since: nothing changes, whatever the heap holds now.
	debug.SetGCPercent(123)
	if tu.Step() != p {
		t.Fatal("Step changed its percent without a collection")
	}
	if got := debug.SetGCPercent(p); got != 123 {
		t.Fatalf("Step set GOGC %d without a collection", got)
	}
	// A large live heap brings it back to 100. (Never touched, it costs
	// no memory, but it is live heap all the same.)
	big := make([]byte, 256*mib)
	runtime.GC()
	if got := tu.Step(); got != basePercent {
		t.Fatalf("Step with a live heap of ~256 MiB set %d %%, want %d", got, basePercent)
	}
	runtime.KeepAlive(live)
	runtime.KeepAlive(big)
}

// Start applies the headroom at once and its stop function restores Go's
// default.
func TestStartStop(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GC()
	stop := Start(256 * mib)
	if got := debug.SetGCPercent(-1); got <= basePercent {
		debug.SetGCPercent(got)
		stop()
		t.Fatalf("GOGC %d after Start with 256 MiB of headroom, want more than %d", got, basePercent)
	} else {
		debug.SetGCPercent(got)
	}
	stop()
	if got := debug.SetGCPercent(100); got != basePercent {
		t.Fatalf("GOGC %d after stop, want %d", got, basePercent)
	}
}
