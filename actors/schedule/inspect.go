package schedule

import (
	"sync/atomic"

	"github.com/sluice-mq/sluice/actors/tree"
)

// latenessBounds are the lateness histogram's upper bounds in ms. A level
// is looked at every DelayForAWhile (100 ms), so that much is normal;
// more means the writer or the page cache held deliveries up.
var latenessBounds = [...]int64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000}

// latenessHistogram counts deliveries by lateness (allocation-free; read
// from any goroutine).
type latenessHistogram struct {
	counts    [len(latenessBounds) + 1]atomic.Uint64
	sumMillis atomic.Int64
}

func (h *latenessHistogram) observe(ms int64) {
	h.sumMillis.Add(ms)
	for i, b := range latenessBounds {
		if ms <= b {
			h.counts[i].Add(1)
			return
		}
	}
	h.counts[len(latenessBounds)].Add(1)
}

func (h *latenessHistogram) buckets() []tree.Bucket {
	out := make([]tree.Bucket, 0, len(h.counts))
	for i, b := range latenessBounds {
		out = append(out, tree.Bucket{LeMillis: b, Count: h.counts[i].Load()})
	}
	return append(out, tree.Bucket{LeMillis: -1, Count: h.counts[len(latenessBounds)].Load()})
}

// InspectNode describes the service for the actor tree, on the node of
// the actor that delivers its messages. Like Inspect it takes no lock a
// pass or the writer holds.
func (s *ScheduleMessageService) InspectNode(n *tree.Node) {
	n.Kind = tree.KindService
	info := &tree.ScheduleInfo{
		Levels:            make([]tree.ScheduleLevelInfo, 0, len(s.levels)),
		Lateness:          s.lateness.buckets(),
		LatenessSumMillis: float64(s.lateness.sumMillis.Load()),
	}
	for _, lv := range s.levels {
		st := lv.stats()
		info.Levels = append(info.Levels, tree.ScheduleLevelInfo{
			Level: st.Level, DelayMillis: st.Delay.Milliseconds(),
			Offset: st.Offset, MaxOffset: st.MaxOffset, Waiting: st.Waiting,
			HeadDue: st.HeadDue, NextDue: st.NextDue,
			LatenessMillis: st.LatenessMillis, LastDelivery: st.LastDelivery,
			InFlight: st.InFlight, Delivered: st.Delivered,
			Retries: st.Retries, BusyBackoffs: st.BusyBackoffs, PassedOver: st.PassedOver,
			LastError: st.LastError, RetryAt: st.RetryAt,
		})
	}
	n.Schedule = info
}
