package timer

import "github.com/sluice-mq/sluice/actors/tree"

// InspectNode describes the service for the actor tree, on the node of the
// timer actor. The tree is built on other goroutines while a Tick runs, so
// it reads what Inspect reads: the figures under s.mu, which is held only
// to copy or bump them (never across a writer submit, a wait or the timer
// log; Tick's own lock is not taken), so a snapshot neither races with a
// pass nor waits for one.
func (s *TimerMessageStore) InspectNode(n *tree.Node) {
	n.Kind = tree.KindService
	st := s.Inspect()
	n.Timer = &tree.TimerInfo{
		PrecisionMs: st.PrecisionMs, MaxDelaySec: st.MaxDelaySec,
		Pending: st.Pending, Behind: st.Behind, QueueOffset: st.QueueOffset, MaxQueueOffset: st.MaxQueueOffset,
		ReadTime: st.ReadTime, OldestDue: st.OldestDue, OldestDueCount: st.OldestDueCount,
		LatenessMillis: st.LatenessMillis, LastDelivery: st.LastDelivery, InFlight: st.InFlight,
		Enqueued: st.Enqueued, Delivered: st.Delivered, Rolled: st.Rolled, PassedOver: st.PassedOver,
		Retries: st.Retries, BusyBackoffs: st.BusyBackoffs,
		EnqueueTps: st.EnqueueTps, DequeueTps: st.DequeueTps,
		DiskBytes: st.DiskBytes, Checkpoint: st.Checkpoint,
		LastError: st.LastError, RetryAt: st.RetryAt,
		Lateness: st.Lateness, LatenessSumMillis: st.LatenessSumMillis,
	}
}
