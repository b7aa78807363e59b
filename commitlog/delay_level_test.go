package commitlog

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestParseMessageDelayLevel(t *testing.T) {
	levels, err := ParseMessageDelayLevel(DefaultMessageDelayLevel)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute, 6 * time.Minute,
		7 * time.Minute, 8 * time.Minute, 9 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour}
	if len(levels) != len(want) {
		t.Fatalf("%d levels, want %d", len(levels), len(want))
	}
	for i := range want {
		if levels[i] != want[i] {
			t.Fatalf("level %d = %v, want %v", i+1, levels[i], want[i])
		}
	}
	for in, want := range map[string][]time.Duration{
		"2d":         {48 * time.Hour},
		"+3s 0s":     {3 * time.Second, 0},           // Long.parseLong takes a sign
		"1s 5s  ":    {time.Second, 5 * time.Second}, // split(" ") drops trailing empties
		"007m":       {7 * time.Minute},
		"1s 1s 1s 1": nil,
	} {
		got, err := ParseMessageDelayLevel(in)
		if want == nil {
			if err == nil {
				t.Errorf("%q: no error", in)
			}
			continue
		}
		if err != nil || len(got) != len(want) {
			t.Errorf("%q: %v %v", in, got, err)
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%q: level %d = %v, want %v", in, i+1, got[i], want[i])
			}
		}
	}
	// What Java's parseDelayLevel fails on (the broker does not start), and
	// what it would accept as nonsense.
	for _, in := range []string{"", " ", "1s  5s", " 1s", "1x", "s", "1.5s", "1ms", "1S", "1s\t5s", "-1s", "99999999999999999d"} {
		if _, err := ParseMessageDelayLevel(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	cfg := testConfig(t.TempDir())
	cfg.MessageDelayLevel = "1s  2s"
	if _, err := Open(cfg, testLogger(t)); err == nil {
		t.Fatal("Open accepted a malformed messageDelayLevel")
	}
}

func TestParseDelayTimeLevel(t *testing.T) {
	for in, want := range map[string]int32{"3": 3, "+3": 3, "-1": -1, "007": 7, "0": 0, "2147483647": 2147483647, "-2147483648": -2147483648} {
		if got, err := ParseDelayTimeLevel(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
		if got, err := ParseDelayTimeLevel([]byte(in)); err != nil || got != want {
			t.Errorf("%q as bytes: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "+", "-", "a", " 3", "3 ", "2147483648", "-2147483649", "99999999999999999999", "1e3"} {
		if _, err := ParseDelayTimeLevel(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	b := []byte("17")
	if n := testing.AllocsPerRun(1000, func() { _, _ = ParseDelayTimeLevel(b) }); n != 0 {
		t.Fatalf("ParseDelayTimeLevel allocates %.1f times", n)
	}
}

// scheduleMessage is message i stored the way the send path parks a
// delayed message: in SCHEDULE_TOPIC_XXXX, queue level-1, with DELAY.
func scheduleMessage(i int, qid int32, delay string) *Message {
	m := testMessage(ScheduleTopic, qid, i, 20)
	m.Properties += "DELAY\x01" + delay + "\x02REAL_TOPIC\x01Real\x02REAL_QID\x010\x02"
	return m
}

// scheduleEntries reads the tags codes of queue qid of SCHEDULE_TOPIC_XXXX.
func scheduleEntries(t *testing.T, s *Store, qid int32) []int64 {
	t.Helper()
	var out []int64
	for _, e := range s.ReadQueueEntries(ScheduleTopic, qid, 0, 1000, nil) {
		out = append(out, e.TagsCode)
	}
	return out
}

// A SCHEDULE_TOPIC_XXXX entry carries the delivery time as its tags code,
// storeTimestamp + the level's delay, as CommitLog#checkMessageAndReturnSize
// computes it: a level above the highest counts as the highest; no DELAY,
// DELAY ≤ 0 or one that is not a number keep the TAGS hash, and so does a
// DELAY on any other topic. Dispatch, crash recovery and a rebuilt queue
// all give the same value.
func TestScheduleEntryTagsCodeIsDeliveryTime(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s := openTestStore(t, cfg)
	const storeTS = 1_800_000_000_000
	s.setClock(func() time.Time { return time.UnixMilli(storeTS) })
	tagA, tagB := TagsHashCode("TagA"), TagsHashCode("TagB")
	cases := []struct {
		qid   int32
		delay string
		want  int64
	}{
		{0, "1", storeTS + 1000},
		{2, "3", storeTS + 10_000},
		{17, "18", storeTS + 2*3600_000},
		{17, "99", storeTS + 2*3600_000}, // above the max: the max
		{3, "0", tagA},
		{3, "-2", tagB},
		{3, "x", tagA}, // Java throws; the TAGS hash stands
	}
	for i, c := range cases {
		put(t, s, scheduleMessage(i, c.qid, c.delay))
	}
	other := testMessage("Plain", 0, 0, 20)
	other.Properties += "DELAY\x013\x02"
	put(t, s, other)
	settle(t, s)
	check := func(s *Store, when string) {
		t.Helper()
		got := map[int32][]int64{}
		for _, qid := range []int32{0, 2, 3, 17} {
			got[qid] = scheduleEntries(t, s, qid)
		}
		seen := map[int32]int{}
		for _, c := range cases {
			n := seen[c.qid]
			seen[c.qid]++
			if n >= len(got[c.qid]) || got[c.qid][n] != c.want {
				t.Fatalf("%s: queue %d entry %d (DELAY=%s): tags codes %v, want %d", when, c.qid, n, c.delay, got[c.qid], c.want)
			}
		}
		if e := s.ReadQueueEntries("Plain", 0, 0, 1, nil); len(e) != 1 || e[0].TagsCode != tagA {
			t.Fatalf("%s: a DELAY outside the schedule topic changed the tags code: %+v", when, e)
		}
	}
	check(s, "dispatch")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// After a crash: the consume queues are rebuilt from the checked range.
	markCrashed(t, dir)
	s2 := openTestStore(t, cfg)
	check(s2, "crash recovery")
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}

	// After a clean stop with a schedule queue file cut short: verification
	// finds it and the rebuild gives the same values.
	q17 := filepath.Join(dir, "consumequeue", ScheduleTopic, "17", fileName(0))
	if err := os.Truncate(q17, CQEntrySize); err != nil {
		t.Fatal(err)
	}
	s3, logs := openLogged(t, cfg)
	if logs.count("rebuilding consume queue") == 0 {
		t.Fatalf("the cut queue was not rebuilt:\n%s", logs.buf.String())
	}
	check(s3, "rebuild")
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}

	// A clean start with the same levels trusts the entries (verification
	// recomputes the same delivery times).
	s4, logs := openLogged(t, cfg)
	if n := logs.count("does not match the commit log"); n != 0 {
		t.Fatalf("verification rejected delivery-time entries:\n%s", logs.buf.String())
	}
	check(s4, "clean start")
	if err := s4.Close(); err != nil {
		t.Fatal(err)
	}

	// Other levels: the entries no longer match, and the rebuilt queues are
	// timed by the levels now in force.
	cfg.MessageDelayLevel = "2s 4s 6s"
	s5, _ := openLogged(t, cfg)
	if got := scheduleEntries(t, s5, 2); len(got) != 1 || got[0] != storeTS+6000 {
		t.Fatalf("queue 2 after the levels changed: %v, want [%d]", got, storeTS+6000)
	}
	if got := scheduleEntries(t, s5, 17); len(got) != 2 || got[0] != storeTS+6000 || got[1] != storeTS+6000 {
		t.Fatalf("queue 17 after the levels changed: %v, want two of %d", got, storeTS+6000)
	}
	if s5.MaxDelayLevel() != 3 || s5.ComputeDeliverTimestamp(2, 10) != 4010 || s5.ComputeDeliverTimestamp(9, 10) != 1010 {
		t.Fatalf("delay table: max %d", s5.MaxDelayLevel())
	}
}

// Dispatching a schedule record allocates nothing, like any other record.
func TestDispatchScheduleRecordAllocs(t *testing.T) {
	s := openTestStore(t, testConfig(t.TempDir()))
	r := put(t, s, scheduleMessage(0, 2, "3"))
	plain := put(t, s, testMessage("Plain", 0, 0, 20))
	settle(t, s)
	for _, at := range []int64{r.WroteOffset, plain.WroteOffset} {
		n := testing.AllocsPerRun(1000, func() {
			s.dispatchMu.Lock()
			ri, at, _, kind, err := s.nextRecord(at)
			if err != nil || kind != recRecord {
				t.Fatal(kind, err)
			}
			s.dispatchRecord(at, &ri)
			s.dispatchMu.Unlock()
		})
		if n != 0 {
			t.Fatalf("dispatching the record at %d allocates %.1f times", at, n)
		}
	}
}

// BenchmarkDispatchRecord measures the dispatcher's per-record work
// (parse, tags code or delivery time, consume-queue entry) on a record
// already indexed, so the entry write is the no-op re-dispatch:
//
//	go test -run '^$' -bench DispatchRecord -benchmem ./commitlog/
func BenchmarkDispatchRecord(b *testing.B) {
	for _, c := range []struct {
		name string
		m    *Message
	}{
		{"plain", testMessage("Plain", 0, 0, 20)},
		{"schedule", scheduleMessage(0, 2, strconv.Itoa(3))},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := openTestStore(b, testConfig(b.TempDir()))
			r := put(b, s, c.m)
			settle(b, s)
			b.ReportAllocs()
			s.dispatchMu.Lock()
			defer s.dispatchMu.Unlock()
			for b.Loop() {
				ri, at, _, _, err := s.nextRecord(r.WroteOffset)
				if err != nil {
					b.Fatal(err)
				}
				s.dispatchRecord(at, &ri)
			}
		})
	}
}
