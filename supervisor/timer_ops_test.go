package supervisor_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// The timer message store as operators see it, on a live broker: the
// `timer` actor in the actor tree asked over TCP (SLUICE_GET_ACTOR_TREE:
// pending, oldest due, indexing progress, deliveries, lateness), the
// sluice_timer_* metrics, and RocketMQ 5's timer keys in
// GET_BROKER_RUNTIME_INFO — all before the messages are due, and changed
// once they were delivered.
func TestTimerServiceVisibleInTreeMetricsAndRuntimeInfo(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.TimerPrecisionMs = 100
	b := brokertest.Start(t, cfg, supervisor.Options{})
	c := dial(t, b.Addr())
	const topic, n, delayMs = "TimerOps", 5, 2000
	sent := time.Now()
	for i := range n {
		props := string(message.Append(message.Append(nil,
			message.PropertyUniqClientMessageIDKeyIdx, "timer-"+strconv.Itoa(i)), message.PropertyTimerDelayMS, strconv.Itoa(delayMs)))
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, props), []byte("later")))
		if resp.ResponseCode() != remoting.Success {
			t.Fatalf("send %d: %s %q", i, resp.ResponseCode(), resp.Remark)
		}
	}
	due := sent.Add(delayMs*time.Millisecond - 100*time.Millisecond) // rounded down to the precision at most
	timerNode := func() *tree.TimerInfo {
		resp := invoke(t, c, remoting.GetActorTree, nil)
		var snap tree.Snapshot
		if resp.ResponseCode() != remoting.Success || json.Unmarshal(resp.Body, &snap) != nil || snap.Root == nil {
			t.Fatalf("SLUICE_GET_ACTOR_TREE: %s %q %s", resp.ResponseCode(), resp.Remark, resp.Body)
		}
		node := snap.Root.Find("timer")
		if node == nil || node.Timer == nil || node.Kind != tree.KindService {
			t.Fatalf("no timer service in the tree: %+v", node)
		}
		return node.Timer
	}
	runtimeInfo := func() map[string]string {
		resp := invoke(t, c, remoting.GetBrokerRuntimeInfo, nil)
		var kv struct{ Table map[string]string }
		if resp.ResponseCode() != remoting.Success || json.Unmarshal(resp.Body, &kv) != nil {
			t.Fatalf("GET_BROKER_RUNTIME_INFO: %s %q %s", resp.ResponseCode(), resp.Remark, resp.Body)
		}
		return kv.Table
	}
	checkRuntime := func(when string, congest int) {
		t.Helper()
		info := runtimeInfo()
		if info["timerCongestNum"] != strconv.Itoa(congest) || info["timerOffsetBehind"] != "0" {
			t.Fatalf("%s: timerCongestNum %q timerOffsetBehind %q, want %d and 0", when, info["timerCongestNum"], info["timerOffsetBehind"], congest)
		}
		if v, err := strconv.ParseInt(info["timerReadBehind"], 10, 64); err != nil || v < 0 {
			t.Fatalf("%s: timerReadBehind %q", when, info["timerReadBehind"])
		}
		for _, key := range []string{"timerEnqueueTps", "timerDequeueTps"} {
			if v, err := strconv.ParseFloat(info[key], 64); err != nil || v < 0 {
				t.Fatalf("%s: %s %q", when, key, info[key])
			}
		}
	}
	checkMetrics := func(when string, want map[string]float64) {
		t.Helper()
		m := scrape(t, b)
		for name, v := range want {
			if got, ok := m[name]; !ok || got != v {
				t.Fatalf("%s: %s = %v (present %v), want %v", when, name, got, ok, v)
			}
		}
	}

	// Before they are due: indexed, pending, nothing delivered.
	poll.Until(t, "the timer messages indexed", func() bool { return timerNode().Pending == n })
	ti := timerNode()
	if ti.Enqueued != n || ti.Delivered != 0 || ti.Behind != 0 || ti.QueueOffset != n || ti.MaxQueueOffset != n ||
		ti.PrecisionMs != 100 || ti.OldestDue.Before(due) || ti.OldestDueCount < 1 || ti.OldestDueCount > n ||
		ti.DiskBytes <= 0 || ti.ReadTime.IsZero() || !ti.LastDelivery.IsZero() || len(ti.Lateness) == 0 {
		t.Fatalf("timer service before its messages are due: %+v", ti)
	}
	if time.Now().After(due) {
		t.Skip("the machine is too slow: the messages fell due before they could be looked at")
	}
	checkRuntime("before delivery", n)
	checkMetrics("before delivery", map[string]float64{
		`sluice_timer_messages_pending`:                n,
		`sluice_timer_messages_behind`:                 0,
		`sluice_timer_enqueued_total`:                  n,
		`sluice_timer_deliveries_total`:                0,
		`sluice_timer_backoffs_total{reason="busy"}`:   0,
		`sluice_timer_backoffs_total{reason="failed"}`: 0,
		`sluice_timer_passed_over_total`:               0,
		`sluice_timer_delivery_lateness_seconds`:       0, // the histogram's count
		`sluice_runtime_timerCongestNum`:               n,
	})
	if m := scrape(t, b); m[`sluice_timer_oldest_due_timestamp_seconds`] < float64(due.UnixMilli())/1000 || m[`sluice_timer_log_disk_bytes`] <= 0 {
		t.Fatalf("oldest due %v, disk %v", m[`sluice_timer_oldest_due_timestamp_seconds`], m[`sluice_timer_log_disk_bytes`])
	}
	if got := b.Store().MaxOffsetInQueue(topic, 0); got != 0 {
		t.Fatalf("%s/0 holds %d messages before they are due", topic, got)
	}

	// Once delivered.
	poll.Within(t, 30*time.Second, "the timer messages delivered", func() bool { return timerNode().Delivered == n })
	poll.Until(t, "nothing in flight", func() bool { return timerNode().InFlight == 0 })
	ti = timerNode()
	var counted uint64
	for _, bk := range ti.Lateness {
		counted += bk.Count
	}
	if ti.Pending != 0 || !ti.OldestDue.IsZero() || ti.OldestDueCount != 0 || ti.LastDelivery.Before(due) ||
		ti.LatenessMillis < 0 || counted != n || ti.ReadTime.Before(due) {
		t.Fatalf("timer service after delivery: %+v", ti)
	}
	checkRuntime("after delivery", 0)
	checkMetrics("after delivery", map[string]float64{
		`sluice_timer_messages_pending`:          0,
		`sluice_timer_deliveries_total`:          n,
		`sluice_timer_overdue_seconds`:           0,
		`sluice_timer_delivery_lateness_seconds`: n,
		`sluice_runtime_timerCongestNum`:         0,
	})
	if _, ok := scrape(t, b)[`sluice_timer_oldest_due_timestamp_seconds`]; ok {
		t.Fatal("oldest due time exported with nothing pending")
	}
	// Delivered to the real topic, where a pull finds them.
	if got := b.Store().MaxOffsetInQueue(topic, 0); got != n {
		t.Fatalf("%s/0 holds %d messages, want %d", topic, got, n)
	}
}
