package index

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/remoting/message"
)

func openTest(t testing.TB, dir string, slots, num int) *Service {
	t.Helper()
	clock := time.Date(2026, 12, 2, 3, 4, 5, 6e6, time.Local)
	s, err := Open(Config{Dir: dir, MaxHashSlotNum: slots, MaxIndexNum: num, Now: func() time.Time {
		clock = clock.Add(time.Millisecond)
		return clock
	}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recover(math.MaxInt64, false, 0, noTS); err != nil {
		t.Fatal(err)
	}
	return s
}

func noTS(int64) (int64, bool) { return 0, false }

func props(kv ...string) []byte {
	var b []byte
	for i := 0; i < len(kv); i += 2 {
		b = message.Append(b, kv[i], kv[i+1])
	}
	return b
}

// Known values of Java's String#hashCode.
func TestJavaHash(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int32
	}{
		{"", 0},
		{"a", 97},
		{"abc", 96354},
		{"Aa", 2112}, {"BB", 2112},
		{"polygenelubricants", math.MinInt32},
		{"\U0001F600", 0xD83D*31 + 0xDE00}, // one code point, two UTF-16 units
		{"é", 0xE9},
		{"\xff", 0xFFFD}, // not UTF-8: the replacement character, as Java decodes it
	} {
		if got := javaHash(0, []byte(c.s)); got != c.want {
			t.Errorf("javaHash(%q) = %d, want %d", c.s, got, c.want)
		}
	}
	// Math.abs(Integer.MIN_VALUE) is negative: indexKeyHashMethod gives 0.
	// "polygenelubricants" hashes to MIN_VALUE; a topic#key of the same hash:
	// topic "polygenelubrican" + "#" can't be arranged simply, so check the
	// rule on the function that applies it.
	if h := keyHash(nil, nil); h != '#' {
		t.Errorf("keyHash(\"#\") = %d", h)
	}
}

// The file RocketMQ writes, field by field (IndexHeader / IndexFile#putKey),
// for three keys in a file of 4 slots and 4 entries.
func TestLayoutByteExact(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, 4, 4)
	topic := []byte("T")
	// Entries: (key, offset, store time).
	puts := []struct {
		key string
		phy int64
		ts  int64
	}{{"k1", 100, 1_700_000_000_000}, {"k2", 250, 1_700_000_002_500}, {"k1", 400, 1_700_000_004_999}}
	for _, p := range puts {
		s.BuildIndex(topic, props(message.PropertyKeys, p.key), p.phy, p.ts, 0)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(dir)
	if len(files) != 1 || files[0].Name() != "20261202030405007" {
		t.Fatalf("files %v, want one named by its creation time, yyyyMMddHHmmssSSS", files)
	}
	got, err := os.ReadFile(filepath.Join(dir, files[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	h1 := int32(javaHash(0, []byte("T#k1")))
	h2 := int32(javaHash(0, []byte("T#k2")))
	want := make([]byte, 40+4*4+4*20)
	be := binary.BigEndian
	be.PutUint64(want[0:], 1_700_000_000_000) // beginTimestamp: first entry's
	be.PutUint64(want[8:], 1_700_000_004_999) // endTimestamp: last entry's
	be.PutUint64(want[16:], 100)              // beginPhyOffset
	be.PutUint64(want[24:], 400)              // endPhyOffset
	slotsUsed := int32(2)
	if h1%4 == h2%4 {
		slotsUsed = 1
	}
	be.PutUint32(want[32:], uint32(slotsUsed)) // hashSlotCount
	be.PutUint32(want[36:], 4)                 // indexCount: entry 0 unused
	entry := func(i int, hash int32, phy int64, diff, prev int32) {
		o := 40 + 4*4 + i*20
		be.PutUint32(want[o:], uint32(hash))
		be.PutUint64(want[o+4:], uint64(phy))
		be.PutUint32(want[o+12:], uint32(diff))
		be.PutUint32(want[o+16:], uint32(prev))
	}
	// The first entry's timeDiff is taken before beginTimestamp is set: 0.
	entry(1, h1, 100, 0, 0)
	prev2 := int32(0)
	if h2%4 == h1%4 {
		prev2 = 1
	}
	entry(2, h2, 250, 2, prev2) // 2.5 s after begin, in whole seconds
	prev3 := int32(1)
	if h2%4 == h1%4 {
		prev3 = 2
	}
	entry(3, h1, 400, 4, prev3)
	be.PutUint32(want[40+(h1%4)*4:], 3)
	if h2%4 != h1%4 {
		be.PutUint32(want[40+(h2%4)*4:], 2)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file differs from RocketMQ's layout:\n got %x\nwant %x", got, want)
	}
}

func offsets(s *Service, topic, key string, begin, end int64) []int64 {
	r := s.QueryOffset(topic, key, 64, begin, end)
	slices.Sort(r.PhyOffsets)
	return r.PhyOffsets
}

func TestCollisionsAndTimeRange(t *testing.T) {
	s := openTest(t, t.TempDir(), 2, 100) // 2 slots: every key shares a chain
	defer s.Close()
	base := int64(1_700_000_000_000)
	// "Aa" and "BB" have the same Java hash: RocketMQ cannot tell them
	// apart in the index and returns both (its client compares keys).
	s.BuildIndex([]byte("T"), props(message.PropertyKeys, "Aa"), 10, base, 0)
	s.BuildIndex([]byte("T"), props(message.PropertyKeys, "BB"), 20, base+1000, 0)
	s.BuildIndex([]byte("T"), props(message.PropertyKeys, "x y  Aa"), 30, base+5000, 0)
	s.BuildIndex([]byte("U"), props(message.PropertyKeys, "Aa"), 40, base+6000, 0)                        // another topic
	s.BuildIndex([]byte("T"), props(message.PropertyKeys, "Aa"), 50, base+7000, int32(sysFlagTxRollback)) // rolled back: skipped
	s.BuildIndex([]byte("T"), props(message.PropertyKeys, "Aa"), 60, base+8000, 0x4)                      // prepared: indexed, as Java does
	s.BuildIndex([]byte("T"), props(message.PropertyUniqClientMessageIDKeyIdx, "ID1", "KEYS", "y"), 70, base+9000, 0)
	s.BuildIndex([]byte("T"), props(message.PropertyKeys, "Aa"), 60, base+9000, 0) // already indexed: skipped

	if got := offsets(s, "T", "Aa", 0, math.MaxInt64); !slices.Equal(got, []int64{10, 20, 30, 60}) {
		t.Errorf("T#Aa: %v", got)
	}
	if got := offsets(s, "T", "x", 0, math.MaxInt64); !slices.Equal(got, []int64{30}) {
		t.Errorf("T#x: %v", got)
	}
	if got := offsets(s, "T", "y", 0, math.MaxInt64); !slices.Equal(got, []int64{30, 70}) {
		t.Errorf("T#y: %v", got)
	}
	if got := offsets(s, "T", "ID1", 0, math.MaxInt64); !slices.Equal(got, []int64{70}) {
		t.Errorf("T#ID1 (unique key): %v", got)
	}
	if got := offsets(s, "U", "Aa", 0, math.MaxInt64); !slices.Equal(got, []int64{40}) {
		t.Errorf("U#Aa: %v", got)
	}
	if got := offsets(s, "T", "nope", 0, math.MaxInt64); len(got) != 0 {
		t.Errorf("T#nope: %v", got)
	}
	// Time ranges, inclusive at both ends, to the second.
	if got := offsets(s, "T", "Aa", base+1000, base+5000); !slices.Equal(got, []int64{20, 30}) {
		t.Errorf("T#Aa in [1s, 5s]: %v", got)
	}
	if got := offsets(s, "T", "Aa", base+5001, base+7999); len(got) != 0 {
		t.Errorf("T#Aa in (5s, 8s): %v", got)
	}
	if got := offsets(s, "T", "Aa", base+8000, base+8000); !slices.Equal(got, []int64{60}) {
		t.Errorf("T#Aa at 8s: %v", got)
	}
	// maxNum counts hash matches, newest first.
	if r := s.QueryOffset("T", "Aa", 2, 0, math.MaxInt64); !slices.Equal(r.PhyOffsets, []int64{60, 30}) ||
		r.IndexLastUpdatePhyoffset != 70 || r.IndexLastUpdateTimestamp != base+9000 {
		t.Errorf("T#Aa maxNum 2: %+v", r)
	}
}

func TestRollAtMaxIndexNum(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, 8, 4) // 3 entries per file
	base := int64(1_700_000_000_000)
	for i := range 10 {
		// Two keys per record: a record's keys may straddle two files.
		s.BuildIndex([]byte("T"), props(message.PropertyKeys, "k"+strconv.Itoa(i)+" all"), int64(i)*100, base+int64(i)*1000, 0)
	}
	if st := s.Stats(); st.Files != 7 || st.Entries != 20 {
		t.Fatalf("stats %+v, want 7 files of 3 entries (20 keys)", st)
	}
	s.mu.RLock()
	f1 := s.files[1]
	s.mu.RUnlock()
	// A rolled file starts where the last ended, then takes its first entry's.
	if f1.beginPhyOffset.Load() != 100 || f1.beginTimestamp.Load() != base+1000 {
		t.Errorf("second file begins at %d/%d", f1.beginPhyOffset.Load(), f1.beginTimestamp.Load())
	}
	want := []int64{0, 100, 200, 300, 400, 500, 600, 700, 800, 900}
	if got := offsets(s, "T", "all", 0, math.MaxInt64); !slices.Equal(got, want) {
		t.Errorf("T#all across files: %v", got)
	}
	for i := range 10 {
		if got := offsets(s, "T", "k"+strconv.Itoa(i), 0, math.MaxInt64); !slices.Equal(got, []int64{int64(i) * 100}) {
			t.Errorf("T#k%d: %v", i, got)
		}
	}
	// Queries stop at the file that begins before the range.
	if got := offsets(s, "T", "all", base+8000, math.MaxInt64); !slices.Equal(got, []int64{800, 900}) {
		t.Errorf("T#all from 8s: %v", got)
	}
	// Reopened, the files read back the same.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, 8, 4)
	defer s.Close()
	if got := offsets(s, "T", "all", 0, math.MaxInt64); !slices.Equal(got, want) {
		t.Errorf("after reopening: %v", got)
	}
	// Retention: files whose last entry is below the log's new start go, never the newest.
	if n, err := s.DeleteExpiredFile(450); err != nil || n != 3 {
		t.Fatalf("deleted %d files (%v), want the 3 ending below 450 (at 100, 200, 400)", n, err)
	}
	if got := offsets(s, "T", "all", 0, math.MaxInt64); !slices.Equal(got, want[4:]) {
		t.Errorf("after retention: %v", got)
	}
	if n, _ := s.DeleteExpiredFile(math.MaxInt64); n != 3 || s.Stats().Files != 1 {
		t.Errorf("deleted %d, %d left: the newest file stays", n, s.Stats().Files)
	}
}

// Recover removes entries of records to be dispatched again so exactly
// that the file is byte for byte the one built without them.
func TestRecoverUndoesExactly(t *testing.T) {
	base := int64(1_700_000_000_000)
	ts := func(phy int64) (int64, bool) { return base + phy*10, true }
	build := func(dir string, n int) {
		s := openTest(t, dir, 16, 100)
		for i := range n {
			phy := int64(i) * 100
			tt, _ := ts(phy)
			s.BuildIndex([]byte("T"), props(message.PropertyUniqClientMessageIDKeyIdx, "u"+strconv.Itoa(i), "KEYS", "k"+strconv.Itoa(i%5)+" k"), phy, tt, 0)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	short, long := t.TempDir(), t.TempDir()
	build(short, 30)
	build(long, 60)
	for _, unclean := range []bool{false, true} {
		s, err := Open(Config{Dir: long, MaxHashSlotNum: 16, MaxIndexNum: 100}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		from, err := s.Recover(3000, unclean, 0, ts)
		if err != nil || from != 3000 {
			t.Fatalf("Recover: %d %v", from, err)
		}
		if s.LastIndexed() != 2900 {
			t.Errorf("last indexed %d", s.LastIndexed())
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadDir(short)
		b, _ := os.ReadDir(long)
		ab, _ := os.ReadFile(filepath.Join(short, a[0].Name()))
		bb, _ := os.ReadFile(filepath.Join(long, b[0].Name()))
		if !bytes.Equal(ab, bb) {
			t.Fatalf("unclean=%v: truncated file differs from the one built short", unclean)
		}
	}
	// Re-dispatch puts the rest back and queries see it.
	s, _ := Open(Config{Dir: long, MaxHashSlotNum: 16, MaxIndexNum: 100}, zerolog.Nop())
	if _, err := s.Recover(3000, false, 0, ts); err != nil {
		t.Fatal(err)
	}
	for i := 20; i < 60; i++ { // 20..29 again: skipped as already indexed
		phy := int64(i) * 100
		tt, _ := ts(phy)
		s.BuildIndex([]byte("T"), props(message.PropertyUniqClientMessageIDKeyIdx, "u"+strconv.Itoa(i), "KEYS", "k"+strconv.Itoa(i%5)+" k"), phy, tt, 0)
	}
	if got := offsets(s, "T", "k", 0, math.MaxInt64); len(got) != 60 {
		t.Errorf("T#k after re-dispatch: %d offsets, want 60 without duplicates", len(got))
	}
	s.Close()
}

// A file damaged beyond its last flush (a machine crash) is dropped and
// its records indexed again.
func TestRecoverDamagedFile(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, 16, 8) // 7 entries per file
	for i := range 10 {
		s.BuildIndex([]byte("T"), props(message.PropertyKeys, "k"), int64(i)*100, 1_700_000_000_000+int64(i), 0)
	}
	s.Close()
	files, _ := os.ReadDir(dir)
	if len(files) != 2 {
		t.Fatalf("%d files", len(files))
	}
	// Zero an entry of the second file, as pages never written back would be.
	p := filepath.Join(dir, files[1].Name())
	b, _ := os.ReadFile(p)
	clear(b[40+16*4+2*20 : 40+16*4+3*20])
	os.WriteFile(p, b, 0o644)

	s, err := Open(Config{Dir: dir, MaxHashSlotNum: 16, MaxIndexNum: 8}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	from, err := s.Recover(1000, true, 0, noTS)
	if err != nil {
		t.Fatal(err)
	}
	if from != 600 || s.LastIndexed() != 600 || s.Stats().Files != 1 {
		t.Fatalf("reindex from %d, last %d, files %d: want the damaged file dropped and indexing again after offset 600",
			from, s.LastIndexed(), s.Stats().Files)
	}
	for i := 6; i < 10; i++ {
		s.BuildIndex([]byte("T"), props(message.PropertyKeys, "k"), int64(i)*100, 1_700_000_000_000+int64(i), 0)
	}
	if got := offsets(s, "T", "k", 0, math.MaxInt64); len(got) != 10 {
		t.Errorf("after re-indexing: %v", got)
	}
}

// The dispatcher's path allocates nothing per key.
func TestBuildIndexAllocs(t *testing.T) {
	s := openTest(t, t.TempDir(), 1024, 1<<20)
	defer s.Close()
	p := props(message.PropertyUniqClientMessageIDKeyIdx, "7F0000010001000000000000000A", message.PropertyKeys, "order-1 user-2 ключ")
	topic := []byte("TopicTest")
	phy := int64(0)
	if n := testing.AllocsPerRun(1000, func() {
		s.BuildIndex(topic, p, phy, 1_700_000_000_000+phy, 0)
		phy += 100
	}); n != 0 {
		t.Fatalf("%v allocations per record", n)
	}
}

// Queries run while the dispatcher writes (run with -race).
func TestQueryWhileWriting(t *testing.T) {
	s := openTest(t, t.TempDir(), 64, 2000)
	defer s.Close()
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			got := offsets(s, "T", "k", 0, math.MaxInt64)
			for i := 1; i < len(got); i++ {
				if got[i] <= got[i-1] {
					t.Errorf("offsets out of order: %v", got)
					return
				}
			}
			s.DeleteExpiredFile(-1)
		}
	}()
	for i := range 5000 {
		s.BuildIndex([]byte("T"), props(message.PropertyKeys, "k"), int64(i)*100, 1_700_000_000_000+int64(i), 0)
	}
	close(done)
	wg.Wait()
	if got := offsets(s, "T", "k", 0, math.MaxInt64); len(got) != 64 {
		t.Errorf("%d offsets, want maxMsgsNumBatch", len(got))
	}
}

// A header no write could leave (a count beyond the file) is dropped at
// Open with the files after it, and indexed again.
func TestOpenDropsImpossibleHeader(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, 16, 8)
	for i := range 20 {
		s.BuildIndex([]byte("T"), props(message.PropertyKeys, "k"), int64(i)*100, 1_700_000_000_000+int64(i), 0)
	}
	s.Close()
	files, _ := os.ReadDir(dir)
	if len(files) != 3 {
		t.Fatalf("%d files", len(files))
	}
	p := filepath.Join(dir, files[1].Name())
	b, _ := os.ReadFile(p)
	binary.BigEndian.PutUint32(b[36:], 1<<30)
	os.WriteFile(p, b, 0o644)
	s, err := Open(Config{Dir: dir, MaxHashSlotNum: 16, MaxIndexNum: 8}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	from, err := s.Recover(2000, false, 0, noTS)
	if err != nil || from != 600 || s.Stats().Files != 1 {
		t.Fatalf("reindex from %d (%v), %d files: want the second and third files dropped, indexing again after 600", from, err, s.Stats().Files)
	}
	for i := 7; i < 20; i++ {
		s.BuildIndex([]byte("T"), props(message.PropertyKeys, "k"), int64(i)*100, 1_700_000_000_000+int64(i), 0)
	}
	if got := offsets(s, "T", "k", 0, math.MaxInt64); len(got) != 20 {
		t.Errorf("after re-indexing: %d offsets", len(got))
	}
}
