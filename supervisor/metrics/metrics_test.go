package metrics_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/metrics"
)

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + metrics.Path)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: HTTP %s", resp.Status)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

// find returns the metric of family name whose labels include all of
// labels (name, value pairs).
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("family %s missing", name)
	}
next:
	for _, m := range fam.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return m
	}
	t.Fatalf("%s%v: no such series", name, labels)
	return nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// A scrape of a real broker over HTTP shows its processors, writer and
// supervisor, the connection of a client, and the numeric runtime keys.
func TestScrapeRealBroker(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	runtime := func() map[string]string {
		return map[string]string{
			"putTps":               "12.5 10.0 9.0",
			"commitLogMaxOffset":   "1024",
			"commitLogDiskRatio":   "0.25",
			"brokerVersionDesc":    "V4_9_8",
			"commitLogDirCapacity": "Total : 10.0 GiB, Free : 5.0 GiB.",
		}
	}
	srv, err := metrics.Serve("127.0.0.1:0", b.Tree, runtime, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	// One admin request, and a connection that stays open for the scrape.
	c, err := remoting.Dial(context.Background(), b.Addr(), remoting.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.GetActorTree, nil, nil), 10*time.Second)
	if err != nil || resp.ResponseCode() != remoting.Success {
		t.Fatalf("get actor tree: %v %v", resp, err)
	}

	fams := scrape(t, srv.Addr())
	if got := value(find(t, fams, "sluice_mailbox_capacity", "processor", "send")); got != 10000 {
		t.Errorf("send capacity = %v, want 10000", got)
	}
	if got := value(find(t, fams, "sluice_max_wait_in_queue_seconds", "processor", "send")); got != 0.2 {
		t.Errorf("send max wait = %v, want 0.2 (waitTimeMillsInSendQueue)", got)
	}
	if got := value(find(t, fams, "sluice_requests_total", "processor", "admin", "outcome", "processed")); got < 1 {
		t.Errorf("admin processed = %v, want ≥ 1 after SLUICE_GET_ACTOR_TREE", got)
	}
	for _, k := range remoting.BusyKinds {
		find(t, fams, "sluice_requests_total", "processor", "send", "outcome", k.Tag())
		find(t, fams, "sluice_busy_answers_total", "kind", k.Tag())
	}
	if got := value(find(t, fams, "sluice_connections", "language", "GO")); got < 1 {
		t.Errorf("GO connections = %v, want ≥ 1", got)
	}
	find(t, fams, "sluice_broker_info", "broker_name", "broker-test", "addr", b.Addr())
	find(t, fams, "sluice_fast_failure_sweep_period_seconds")
	find(t, fams, "sluice_fast_failure_cleaned_total", "kind", "PCBUSY_CLEAN_QUEUE")

	if fams["sluice_writer_page_cache_busy"] != nil {
		if got := value(find(t, fams, "sluice_writer_page_cache_busy")); got != 0 {
			t.Errorf("idle broker reports page cache busy")
		}
		h := find(t, fams, "sluice_writer_lock_hold_seconds").GetHistogram()
		if h == nil || len(h.GetBucket()) == 0 {
			t.Errorf("writer lock hold is not a histogram with buckets: %v", h)
		}
		if got := value(find(t, fams, "sluice_writer_page_cache_busy_threshold_seconds")); got != 1 {
			t.Errorf("page cache busy threshold = %v s, want 1 (osPageCacheBusyTimeOutMills=1000)", got)
		}
	}

	for name, want := range map[string]float64{
		"sluice_runtime_putTps":             12.5,
		"sluice_runtime_commitLogMaxOffset": 1024,
		"sluice_runtime_commitLogDiskRatio": 0.25,
	} {
		if got := value(find(t, fams, name)); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"sluice_runtime_brokerVersionDesc", "sluice_runtime_commitLogDirCapacity"} {
		if fams[name] != nil {
			t.Errorf("non-numeric runtime key exported as %s", name)
		}
	}
}

func TestCloseStopsServing(t *testing.T) {
	srv, err := metrics.Serve("127.0.0.1:0", func() *tree.Snapshot { return nil }, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	scrape(t, addr) // an empty exposition is still a valid one
	if err := srv.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := http.Get("http://" + addr + metrics.Path); err == nil {
		t.Fatalf("still serving after Close")
	}
}

func syntheticSnapshot() *tree.Snapshot {
	busy := func(reject, overload uint64) map[string]uint64 {
		return map[string]uint64{"REJECTREQUEST": reject, "OVERLOAD": overload}
	}
	return &tree.Snapshot{
		BrokerName: "b1", Addr: "127.0.0.1:10911",
		Root: &tree.Node{Name: "broker", Kind: tree.KindSupervisor,
			Supervisor: &tree.SupervisorInfo{FastFailureEnable: true, SweepPeriodMillis: 10,
				LastSweep: time.Unix(1700000000, 500_000_000), Cleaned: map[string]uint64{"PCBUSY_CLEAN_QUEUE": 7},
				BusyPeriods: 2, InBusyPeriod: true},
			Children: []*tree.Node{
				{Name: "send", Kind: tree.KindProcessor, Processor: &tree.ProcessorInfo{
					Depth: 3, Capacity: 10000, OldestWaitMillis: 250, MaxWaitMillis: 200, Processed: 100, Busy: busy(5, 1)}},
				{Name: "pull", Kind: tree.KindProcessor, Processor: &tree.ProcessorInfo{
					Capacity: 100000, Processed: 9, Busy: busy(0, 2)}},
				// A duplicate name must not break the scrape.
				{Name: "pull", Kind: tree.KindProcessor, Processor: &tree.ProcessorInfo{Capacity: 1}},
				{Name: "writer", Kind: tree.KindWriter, Writer: &tree.WriterInfo{
					LockHoldMillis: 1500, PageCacheBusy: true, OSPageCacheBusyTimeOutMills: 1000,
					LockHold:             []tree.Bucket{{LeMillis: 1, Count: 10}, {LeMillis: 5, Count: 4}, {LeMillis: 1000, Count: 1}, {LeMillis: -1, Count: 2}},
					TransientPoolEnabled: true, TransientPoolFree: 0, TransientPoolTotal: 5, TransientPoolDeficient: true}},
				{Name: "listener", Kind: tree.KindListener, Children: []*tree.Node{
					{Name: "conn-1", Kind: tree.KindConnection, Connection: &tree.ConnectionInfo{Language: "GO", Inflight: 2}},
					{Name: "conn-2", Kind: tree.KindConnection, Connection: &tree.ConnectionInfo{Language: "GO", Inflight: 1}},
					{Name: "conn-3", Kind: tree.KindConnection, Connection: &tree.ConnectionInfo{}},
				}},
			}},
	}
}

func gather(t *testing.T, snap *tree.Snapshot) map[string]*dto.MetricFamily {
	t.Helper()
	reg := metrics.NewRegistry(func() *tree.Snapshot { return snap }, nil)
	list, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	fams := make(map[string]*dto.MetricFamily, len(list))
	for _, f := range list {
		fams[f.GetName()] = f
	}
	return fams
}

func TestCollectorValues(t *testing.T) {
	fams := gather(t, syntheticSnapshot())
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sluice_busy_answers_total", []string{"kind", "REJECTREQUEST"}, 5},
		{"sluice_busy_answers_total", []string{"kind", "OVERLOAD"}, 3},
		{"sluice_requests_total", []string{"processor", "send", "outcome", "processed"}, 100},
		{"sluice_requests_total", []string{"processor", "send", "outcome", "OVERLOAD"}, 1},
		{"sluice_mailbox_depth", []string{"processor", "send"}, 3},
		{"sluice_mailbox_capacity", []string{"processor", "pull"}, 100000},
		{"sluice_oldest_wait_seconds", []string{"processor", "send"}, 0.25},
		{"sluice_writer_lock_hold_current_seconds", nil, 1.5},
		{"sluice_writer_page_cache_busy", nil, 1},
		{"sluice_transient_pool_free_buffers", nil, 0},
		{"sluice_transient_pool_buffers", nil, 5},
		{"sluice_transient_pool_deficient", nil, 1},
		{"sluice_connections", []string{"language", "GO"}, 2},
		{"sluice_connections", []string{"language", "unknown"}, 1},
		{"sluice_inflight_requests", nil, 3},
		{"sluice_fast_failure_cleaned_total", []string{"kind", "PCBUSY_CLEAN_QUEUE"}, 7},
		{"sluice_fast_failure_last_sweep_timestamp_seconds", nil, 1700000000.5},
		{"sluice_busy_period_active", nil, 1},
	}
	for _, c := range checks {
		if got := value(find(t, fams, c.name, c.labels...)); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	h := find(t, fams, "sluice_writer_lock_hold_seconds").GetHistogram()
	if h.GetSampleCount() != 17 {
		t.Errorf("histogram count = %d, want 17", h.GetSampleCount())
	}
	want := map[float64]uint64{0.001: 10, 0.005: 14, 1: 15}
	got := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		got[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("cumulative buckets = %v, want %v", got, want)
	}
}

// The fixed families follow Prometheus's naming conventions. (The runtime
// gauges keep RocketMQ's camelCase key names on purpose and are left out.)
func TestMetricNamesLint(t *testing.T) {
	reg := metrics.NewRegistry(func() *tree.Snapshot { return syntheticSnapshot() }, nil)
	mfs, err := reg.Gather()
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

func TestRuntimeValues(t *testing.T) {
	info := map[string]string{
		"putTps":         "1.5 2.5 3.5",
		"brokerActive":   "true",
		"runtime":        "[ 0 days, 0 hours, 1 minutes, 2 seconds ]",
		"emptyValue":     "",
		"negative":       "-3",
		"notANumber":     "NaN",
		"weird.key-name": "4",
	}
	reg := metrics.NewRegistry(func() *tree.Snapshot { return nil }, func() map[string]string { return info })
	list, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range list {
		got[f.GetName()] = value(f.GetMetric()[0])
	}
	want := map[string]float64{
		"sluice_runtime_putTps":         1.5,
		"sluice_runtime_brokerActive":   1,
		"sluice_runtime_negative":       -3,
		"sluice_runtime_weird_key_name": 4,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("runtime gauges = %v, want %v", got, want)
	}
}

// With the broker's own runtime info, its numeric keys become gauges under
// RocketMQ's names.
func TestScrapeBrokerRuntimeInfo(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	srv, err := metrics.Serve("127.0.0.1:0", b.Tree, b.RuntimeInfo, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	fams := scrape(t, srv.Addr())
	if got := value(find(t, fams, "sluice_runtime_sendThreadPoolQueueCapacity")); got != 10000 {
		t.Errorf("sluice_runtime_sendThreadPoolQueueCapacity = %v, want 10000", got)
	}
	find(t, fams, "sluice_runtime_pageCacheLockTimeMills")
	if fams["sluice_runtime_brokerVersionDesc"] != nil {
		t.Errorf("version string exported as a gauge")
	}
}
