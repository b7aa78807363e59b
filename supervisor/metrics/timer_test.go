package metrics_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/supervisor/metrics"
)

func timerSnapshot(pending int64) *tree.Snapshot {
	at := time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC)
	ti := &tree.TimerInfo{
		PrecisionMs: 100, Pending: pending, Behind: 7, InFlight: 3, Enqueued: 900, Delivered: 880, Rolled: 4, PassedOver: 2,
		Retries: 12, BusyBackoffs: 9, DiskBytes: 64 * 900,
		OldestDue: at.Add(-1500 * time.Millisecond), OldestDueCount: 5,
		Lateness:          []tree.Bucket{{LeMillis: 5, Count: 800}, {LeMillis: 100, Count: 70}, {LeMillis: -1, Count: 10}},
		LatenessSumMillis: 4400,
	}
	return &tree.Snapshot{BrokerName: "b1", Addr: "127.0.0.1:10911", TakenAt: at,
		Root: &tree.Node{Name: "broker", Kind: tree.KindSupervisor, Children: []*tree.Node{
			{Name: "timer", Kind: tree.KindService, Timer: ti},
			// A second timer node (never built) must not break the scrape.
			{Name: "timer2", Kind: tree.KindService, Timer: &tree.TimerInfo{}},
		}}}
}

// The timer node's figures become the sluice_timer_* series: gauges,
// counters (back-offs split busy / failed), the oldest due time and how
// far past it the snapshot is, and the lateness histogram in seconds.
func TestTimerCollectorValues(t *testing.T) {
	snap := timerSnapshot(20)
	fams := gather(t, snap)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sluice_timer_messages_pending", nil, 20},
		{"sluice_timer_messages_behind", nil, 7},
		{"sluice_timer_messages_in_flight", nil, 3},
		{"sluice_timer_enqueued_total", nil, 900},
		{"sluice_timer_deliveries_total", nil, 880},
		{"sluice_timer_backoffs_total", []string{"reason", "busy"}, 9},
		{"sluice_timer_backoffs_total", []string{"reason", "failed"}, 3},
		{"sluice_timer_passed_over_total", nil, 2},
		{"sluice_timer_rolled_total", nil, 4},
		{"sluice_timer_oldest_due_timestamp_seconds", nil, float64(snap.TakenAt.Add(-1500*time.Millisecond).UnixMilli()) / 1000},
		{"sluice_timer_overdue_seconds", nil, 1.5},
		{"sluice_timer_log_disk_bytes", nil, 64 * 900},
	} {
		if got := value(find(t, fams, c.name, c.labels...)); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(fams["sluice_timer_messages_pending"].GetMetric()); n != 1 {
		t.Errorf("%d pending series, want 1 (the first timer node)", n)
	}
	h := find(t, fams, "sluice_timer_delivery_lateness_seconds").GetHistogram()
	got := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		got[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	if h.GetSampleCount() != 880 || h.GetSampleSum() != 4.4 || fmt.Sprint(got) != fmt.Sprint(map[float64]uint64{0.005: 800, 0.1: 870}) {
		t.Errorf("lateness histogram: count %d sum %v buckets %v", h.GetSampleCount(), h.GetSampleSum(), got)
	}

	// Nothing pending: no oldest due time, nothing overdue.
	fams = gather(t, timerSnapshot(0))
	if _, ok := fams["sluice_timer_oldest_due_timestamp_seconds"]; ok {
		t.Error("oldest due time exported with nothing pending")
	}
	if got := value(find(t, fams, "sluice_timer_overdue_seconds")); got != 0 {
		t.Errorf("overdue %v with nothing pending", got)
	}
}

func TestTimerMetricNamesLint(t *testing.T) {
	mfs, err := metrics.NewRegistry(func() *tree.Snapshot { return timerSnapshot(20) }, nil).Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
