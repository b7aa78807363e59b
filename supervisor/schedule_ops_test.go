package supervisor_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
	"github.com/sluice-mq/sluice/supervisor/metrics"
)

// The schedule service as operators see it, on a live broker: the
// `schedule` actor in the tree (per level: waiting, next due, lateness,
// deliveries), the sluice_schedule_* metrics, and RocketMQ's
// scheduleMessageOffset_<level> keys in GET_BROKER_RUNTIME_INFO asked over
// TCP — all before the messages are due, and changed once they were
// delivered.
func TestScheduleServiceVisibleInTreeMetricsAndRuntimeInfo(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Store.MessageDelayLevel = "1s 2s 3s"
	b := brokertest.Start(t, cfg, supervisor.Options{})
	c := dial(t, b.Addr())
	const n = 5
	sent := time.Now()
	for i := range n {
		props := string(message.Append(message.Append(nil,
			message.PropertyUniqClientMessageIDKeyIdx, "sched-"+strconv.Itoa(i)), message.PropertyDelayTimeLevel, "2"))
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("SchedOps", 0, props), []byte("later")))
		if resp.ResponseCode() != remoting.Success {
			t.Fatalf("send %d: %s %q", i, resp.ResponseCode(), resp.Remark)
		}
	}
	runtimeInfo := func() map[string]string {
		resp := invoke(t, c, remoting.GetBrokerRuntimeInfo, nil)
		var kv struct{ Table map[string]string }
		if resp.ResponseCode() != remoting.Success || json.Unmarshal(resp.Body, &kv) != nil {
			t.Fatalf("GET_BROKER_RUNTIME_INFO: %s %q %s", resp.ResponseCode(), resp.Remark, resp.Body)
		}
		return kv.Table
	}
	level2 := func() tree.ScheduleLevelInfo {
		node := b.Tree().Root.Find("schedule")
		if node == nil || node.Schedule == nil || node.Kind != tree.KindService || len(node.Schedule.Levels) != 3 {
			t.Fatalf("no schedule service in the tree: %+v", node)
		}
		return node.Schedule.Levels[1]
	}

	// Before they are due.
	poll.Until(t, "the messages parked in level 2", func() bool { return level2().Waiting == n })
	lv := level2()
	poll.Until(t, "a pass that saw them", func() bool { lv = level2(); return !lv.NextDue.IsZero() })
	if lv.Level != 2 || lv.DelayMillis != 2000 || lv.Delivered != 0 || lv.Offset != 0 || lv.MaxOffset != n ||
		lv.NextDue.Before(sent.Add(2*time.Second-50*time.Millisecond)) || lv.HeadDue.IsZero() {
		t.Fatalf("level 2 before its messages are due: %+v", lv)
	}
	info := runtimeInfo()
	if got := info["scheduleMessageOffset_2"]; got != "0,"+strconv.Itoa(n) {
		t.Fatalf("scheduleMessageOffset_2 = %q, want \"0,%d\"", got, n)
	}
	if _, ok := info["scheduleMessageOffset_1"]; ok {
		t.Fatalf("scheduleMessageOffset_1 listed for a level that never held a message: %v", info)
	}
	for name, want := range map[string]float64{
		`sluice_schedule_messages_waiting{level="2"}`:             n,
		`sluice_schedule_deliveries_total{level="2"}`:             0,
		`sluice_schedule_level_delay_seconds{level="2"}`:          2,
		`sluice_schedule_backoffs_total{level="2",reason="busy"}`: 0,
		`sluice_schedule_delivery_lateness_seconds`:               0,
	} {
		if got, ok := scrape(t, b)[name]; !ok || got != want {
			t.Fatalf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}

	// Once delivered.
	poll.Within(t, 30*time.Second, "level 2 delivered", func() bool { return level2().Delivered == n })
	lv = level2()
	if lv.Waiting != 0 || lv.Offset != n || lv.LastDelivery.Before(sent.Add(2*time.Second-50*time.Millisecond)) ||
		!lv.HeadDue.IsZero() || lv.LatenessMillis < 0 {
		t.Fatalf("level 2 after delivery: %+v", lv)
	}
	if got := runtimeInfo()["scheduleMessageOffset_2"]; got != strconv.Itoa(n)+","+strconv.Itoa(n) {
		t.Fatalf("scheduleMessageOffset_2 = %q after delivery, want \"%d,%d\"", got, n, n)
	}
	m := scrape(t, b)
	for name, want := range map[string]float64{
		`sluice_schedule_messages_waiting{level="2"}`: 0,
		`sluice_schedule_deliveries_total{level="2"}`: n,
		`sluice_schedule_overdue_seconds{level="2"}`:  0,
		`sluice_schedule_delivery_lateness_seconds`:   n, // the histogram's count
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Fatalf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	// Delivered to the real topic, where a pull finds them.
	poll.Within(t, 10*time.Second, "dispatch", func() bool { return b.Store().MaxOffsetInQueue("SchedOps", 0) >= n })
	if got := b.Store().MaxOffsetInQueue("SchedOps", 0); got != n {
		t.Fatalf("SchedOps/0 holds %d messages, want %d", got, n)
	}
}

// scrape gathers the broker's metrics as name{labels} → value (a
// histogram's count under its bare name).
func scrape(t *testing.T, b *brokertest.Broker) map[string]float64 {
	t.Helper()
	mfs, err := metrics.NewRegistry(b.Tree, b.RuntimeInfo).Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName() + labelString(m.GetLabel())
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func labelString(ls []*dto.LabelPair) string {
	if len(ls) == 0 {
		return ""
	}
	s := "{"
	for i, l := range ls {
		if i > 0 {
			s += ","
		}
		s += l.GetName() + "=" + strconv.Quote(l.GetValue())
	}
	return s + "}"
}
