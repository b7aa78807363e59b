package timer_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors/tree"
)

// The tree is built on other goroutines while passes run: InspectNode,
// called in a loop during indexing and delivery (the race detector
// watching), never waits for a pass and always shows a consistent
// service — the lateness histogram counts exactly the deliveries, nothing
// is delivered that was not indexed — and ends showing what Inspect does.
func TestTimerInspectNodeWhileTicking(t *testing.T) {
	e := openEnv(t)
	s := e.service(e.writer)
	defer s.Stop()
	base := time.Now().UnixMilli()
	const n = 40
	for i := range n {
		e.park("m"+strconv.Itoa(i), base, base+200+int64(i%4)*100)
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var looks atomic.Int64
	var bad atomic.Pointer[tree.TimerInfo]
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			var node tree.Node
			s.InspectNode(&node)
			ti := node.Timer
			var counted uint64
			for _, bk := range ti.Lateness {
				counted += bk.Count
			}
			if node.Kind != tree.KindService || counted != ti.Delivered || ti.Delivered > ti.Enqueued ||
				ti.Pending < 0 || ti.PrecisionMs != prec {
				bad.CompareAndSwap(nil, ti)
			}
			looks.Add(1)
		}
	}()
	for now := base; now <= base+1000; now += 50 {
		tickUntil(s, now)
	}
	e.delivered(n)
	for range 100 { // the last puts' answers may still be coming back
		if st := s.Inspect(); st.InFlight == 0 && st.Delivered == n {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if ti := bad.Load(); ti != nil {
		t.Fatalf("inconsistent node while ticking: %+v", ti)
	}
	if looks.Load() == 0 {
		t.Fatal("InspectNode never ran beside the passes")
	}

	var node tree.Node
	s.InspectNode(&node)
	ti, st := node.Timer, s.Inspect()
	if ti.Enqueued != n || ti.Delivered != n || ti.Pending != 0 || ti.Behind != 0 || ti.InFlight != 0 ||
		!ti.OldestDue.IsZero() || ti.OldestDueCount != 0 || ti.LastDelivery.IsZero() || ti.DiskBytes <= 0 ||
		len(ti.Lateness) != len(st.Lateness) || ti.ReadTime != st.ReadTime || ti.QueueOffset != n || ti.MaxQueueOffset != n {
		t.Fatalf("after delivery: %+v\nInspect: %+v", ti, st)
	}
}
