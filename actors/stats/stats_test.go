package stats

import (
	"strings"
	"testing"
	"time"
)

func TestJavaDouble(t *testing.T) {
	for v, want := range map[float64]string{0: "0.0", 1: "1.0", 12.5: "12.5", 1e7: "1.0E7", 12345678.9: "1.23456789E7", 0.0001: "1.0E-4", 0.5: "0.5", 1234.0: "1234.0"} {
		if got := string(AppendJavaDouble(nil, v)); got != want {
			t.Errorf("%v: got %q want %q", v, got, want)
		}
	}
}

func TestFormatRuntime(t *testing.T) {
	d := 26*time.Hour + 3*time.Minute + 4*time.Second
	if got := FormatRuntime(d); got != "[ 1 days, 2 hours, 3 minutes, 4 seconds ]" {
		t.Fatal(got)
	}
}

// The windows follow RocketMQ: TPS over 10 s, 1 min and 10 min from the
// one-second samples; the StatsItem minute from its 10 s samples.
func TestWindows(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 23, 50, 0, 0, time.Local)
	now := t0
	m := New(func() time.Time { return now })
	// 100 messages a second for 120 s, then nothing for 10 s.
	for s := 1; s <= 130; s++ {
		if s <= 120 {
			m.PutMessage("T", true, 100, 1000)
			m.GetMessage("G", "T", true, 50, 500)
			m.GetMessage("G", "T", false, 0, 0)
		}
		now = t0.Add(time.Duration(s) * time.Second)
		m.Tick(now)
	}
	info := map[string]string{}
	m.AddRuntimeInfo(info)
	// Last 10 s: nothing; last 60 s: 50 of 60 s at 100/s; since start (130 s
	// < 10 min): 12000 in 130 s.
	tps := strings.Fields(info["putTps"])
	if len(tps) != 3 || tps[0] != "0.0" || tps[1] != "83.33333333333333" || !strings.HasPrefix(tps[2], "92.30769") {
		t.Fatalf("putTps %q", info["putTps"])
	}
	if info["msgPutTotalTodayNow"] != "12000" || info["msgGetTotalTodayNow"] != "6000" {
		t.Fatalf("totals %v", info)
	}
	// One found and one missed read a second: getTotalTps adds them.
	if got := strings.Fields(info["getTotalTps"]); got[1] != "1.6666666666666667" || strings.Fields(info["getFoundTps"])[1] != "0.8333333333333334" {
		t.Fatalf("getTotalTps %q found %q miss %q", info["getTotalTps"], info["getFoundTps"], info["getMissTps"])
	}
	it, ok := m.Item(GroupGetNums, "T@G")
	if !ok {
		t.Fatal("no GROUP_GET_NUMS item for T@G")
	}
	// The minute window spans the last 60 s of 10 s samples (t=70..130):
	// 50 s of 50 messages a second.
	if s := it.InMinute(); s.Sum != 2500 || s.Times != 50 || s.Avgpt != 50 {
		t.Fatalf("minute %+v", s)
	}
	// Crossing midnight records the morning totals (BrokerStats#record).
	now = t0.Add(11 * time.Minute)
	m.Tick(now)
	if tot := m.Totals(); tot.PutTodayMorning != 12000 || tot.PutYesterdayMorning != 0 {
		t.Fatalf("totals %+v", tot)
	}
}

// The hot path allocates nothing once a key has been seen.
func TestHotPathAllocs(t *testing.T) {
	m := New(nil)
	topic, group := string([]byte("Orders")), string([]byte("G1"))
	m.PutMessage(topic, true, 1, 100)
	m.GetMessage(group, topic, true, 1, 100)
	if n := testing.AllocsPerRun(1000, func() {
		m.PutMessage(topic, true, 1, 100)
		m.GetMessage(group, topic, true, 4, 400)
		m.GetMessage(group, topic, false, 0, 0)
	}); n != 0 {
		t.Fatalf("%v allocations per message", n)
	}
}

// A key kept by the manager does not alias the caller's bytes (the send
// handler's topic may view the request frame).
func TestKeysAreCopied(t *testing.T) {
	m := New(nil)
	b := []byte("Orders")
	m.PutMessage(unsafeView(b), true, 1, 1)
	copy(b, "XXXXXX")
	if _, ok := m.Item(TopicPutNums, "Orders"); !ok {
		t.Fatal("key aliased the caller's bytes")
	}
}

func TestSetIsBounded(t *testing.T) {
	m := New(nil)
	const limit = 100
	for _, s := range m.sets {
		s.max = limit
	}
	for i := 0; i < limit+10; i++ {
		m.PutMessage("T"+string(rune('a'+i%26))+strings.Repeat("x", i/26), true, 1, 1)
	}
	if n := len(*m.sets[TopicPutNums].items.Load()); n != limit {
		t.Fatalf("%d items", n)
	}
	if tot := m.Totals(); tot.PutTodayNow != limit+10 {
		t.Fatalf("totals %+v", tot)
	}
}

func BenchmarkPutMessage(b *testing.B) {
	m := New(nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.PutMessage("Orders", true, 1, 100)
	}
}

// Every sender counting into the same topic at once: the cost of the
// shared atomics under contention.
func BenchmarkPutMessageParallel(b *testing.B) {
	m := New(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.PutMessage("Orders", true, 1, 100)
		}
	})
}

func BenchmarkGetMessage(b *testing.B) {
	m := New(nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.GetMessage("G1", "Orders", true, 32, 32000)
	}
}
