package timer

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

const prec = 100

func testConfig(t *testing.T) Config {
	return Config{Dir: filepath.Join(t.TempDir(), "timerlog"), PrecisionMs: prec, Slots: 1000, FileSize: 64 * UnitSize * 16}
}

func open(t *testing.T, cfg Config, readMs int64) (*Index, Recovered) {
	t.Helper()
	ix, rec, err := Open(cfg, readMs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	return ix, rec
}

// drain reads every slot due by nowMs and returns the delivered units'
// offsets (rerolling roll units, as the service does).
func drain(t *testing.T, ix *Index, nowMs int64) []Unit {
	t.Helper()
	var out []Unit
	for ix.Due(nowMs) {
		c := ix.BeginSlot()
		for !c.Done() {
			u, err := ix.Next(&c)
			if err != nil {
				t.Fatal(err)
			}
			if u.Roll() {
				if err := ix.Reroll(u); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if ix.ReadMs()+prec < u.DeliverMs {
				t.Fatalf("unit due at %d read with slot %d: early", u.DeliverMs, ix.ReadMs())
			}
			out = append(out, u)
		}
		ix.EndSlot()
	}
	return out
}

func TestIndexDeliversEachUnitOnceInItsSlot(t *testing.T) {
	cfg := testConfig(t)
	ix, _ := open(t, cfg, 10_000)
	// Due times across the window, some late, some beyond it (rolled).
	var want = map[int64]int64{}
	for i := int64(0); i < 5000; i++ {
		due := 9_000 + i*37%250_000
		if err := ix.Add(i*100, 100, i, due, 10_000); err != nil {
			t.Fatal(err)
		}
		want[i*100] = due
	}
	if ix.Pending() != 5000 {
		t.Fatalf("pending %d", ix.Pending())
	}
	got := map[int64]bool{}
	for now := int64(10_000); now <= 400_000; now += 5_000 {
		for _, u := range drain(t, ix, now) {
			if got[u.OffsetPy] {
				t.Fatalf("offset %d delivered twice", u.OffsetPy)
			}
			got[u.OffsetPy] = true
			if u.DeliverMs != want[u.OffsetPy] {
				t.Fatalf("offset %d: due %d, want %d", u.OffsetPy, u.DeliverMs, want[u.OffsetPy])
			}
			if u.DeliverMs > 10_000+int64(cfg.Slots)*prec && u.Rolls == 0 {
				t.Fatalf("offset %d due beyond the window was never rolled", u.OffsetPy)
			}
		}
	}
	if len(got) != 5000 || ix.Pending() != 0 {
		t.Fatalf("delivered %d of 5000, pending %d", len(got), ix.Pending())
	}
}

func TestIndexRecoversPendingUnitsAfterReopen(t *testing.T) {
	cfg := testConfig(t)
	ix, _, _ := Open(cfg, 0)
	for i := int64(0); i < 3000; i++ {
		if err := ix.Add(i, 10, i, 1_000+i*10, 0); err != nil {
			t.Fatal(err)
		}
	}
	first := drain(t, ix, 11_000) // due up to 10.9 s: ~1000 units
	readMs := ix.ReadMs()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	// A clean reopen at the read time: exactly the rest.
	ix2, rec := open(t, cfg, readMs)
	if rec.Units != 3000 || rec.Live != 3000-int64(len(first)) || rec.MaxQueueOffset != 2999 {
		t.Fatalf("recovered %+v after delivering %d", rec, len(first))
	}
	rest := drain(t, ix2, 1_000_000)
	seen := map[int64]bool{}
	for _, u := range append(first, rest...) {
		if seen[u.OffsetPy] {
			t.Fatalf("offset %d twice after a clean reopen", u.OffsetPy)
		}
		seen[u.OffsetPy] = true
	}
	if len(seen) != 3000 {
		t.Fatalf("%d of 3000 delivered", len(seen))
	}
}

// A crash: the checkpoint's read time is behind what was delivered, the
// log's tail torn. Nothing is lost; what was read after the checkpoint is
// read again.
func TestIndexRecoversFromAnOldCheckpointAndATornTail(t *testing.T) {
	cfg := testConfig(t)
	ix, _, _ := Open(cfg, 0)
	for i := int64(0); i < 2000; i++ {
		if err := ix.Add(i, 10, i, 500+i*50, 0); err != nil {
			t.Fatal(err)
		}
	}
	checkpoint := int64(20_000)
	delivered := map[int64]int{}
	for _, u := range drain(t, ix, 30_000) {
		delivered[u.OffsetPy]++
	}
	if err := ix.Flush(); err != nil {
		t.Fatal(err)
	}
	// Rolls and late adds after the checkpoint, then a torn unit.
	if err := ix.Add(5000, 10, 2000, 31_000, 0); err != nil {
		t.Fatal(err)
	}
	if err := ix.Flush(); err != nil {
		t.Fatal(err)
	}
	last := ix.log.files[len(ix.log.files)-1]
	if _, err := last.f.WriteAt([]byte{0x53, 0x4c, 0x54}, last.size); err != nil {
		t.Fatal(err)
	}
	_ = ix.log.close() // no Close: a kill -9 flushes nothing more

	ix2, rec := open(t, cfg, checkpoint)
	if rec.TruncatedBytes != 3 {
		t.Fatalf("truncated %d bytes, want the torn 3", rec.TruncatedBytes)
	}
	for _, u := range drain(t, ix2, 1_000_000) {
		delivered[u.OffsetPy]++
	}
	dups := 0
	for i := int64(0); i < 2000; i++ {
		switch delivered[i] {
		case 0:
			t.Fatalf("offset %d lost", i)
		case 2:
			dups++
		}
	}
	if delivered[5000] != 1 {
		t.Fatalf("the unit added after the checkpoint delivered %d times", delivered[5000])
	}
	if dups == 0 {
		t.Fatal("nothing was read again, yet the checkpoint was behind")
	}
	t.Logf("%d delivered again after the crash", dups)
}

// The read time going back past the blank slots makes late slots collide
// with early ones; they are indexed again, not lost or mixed.
func TestIndexReindexesUnitsThatCollideAfterAnOldCheckpoint(t *testing.T) {
	cfg := testConfig(t)
	ix, _, _ := Open(cfg, 0)
	// Read far ahead, then add units near the window's end.
	drain(t, ix, 90_000)
	for i := int64(0); i < 100; i++ {
		if err := ix.Add(i, 10, i, 90_000+int64(cfg.Slots-2)*prec-i*prec, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix2, rec := open(t, cfg, 0) // the checkpoint says 0: 900 slots behind
	if rec.Reindexed == 0 || ix2.Pending() != 100 {
		t.Fatalf("recovered %+v, pending %d", rec, ix2.Pending())
	}
	got := map[int64]bool{}
	for _, u := range drain(t, ix2, 1_000_000) {
		if got[u.OffsetPy] {
			t.Fatalf("offset %d twice", u.OffsetPy)
		}
		got[u.OffsetPy] = true
	}
	if len(got) != 100 {
		t.Fatalf("%d of 100 delivered", len(got))
	}
	// Reopened again, the dead originals stay dead.
	_ = ix2.Close()
	ix3, rec3 := open(t, cfg, ix2.ReadMs())
	if rec3.Live != 0 || ix3.Pending() != 0 {
		t.Fatalf("after delivery: %+v", rec3)
	}
}

func TestIndexDeletesReadFiles(t *testing.T) {
	cfg := testConfig(t) // 1024 units a file
	ix, _ := open(t, cfg, 0)
	for i := int64(0); i < 5000; i++ {
		if err := ix.Add(i, 10, i, 1_000+i/1024*10_000, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Flush(); err != nil {
		t.Fatal(err)
	}
	before := ix.DiskBytes()
	drain(t, ix, 15_000) // the first two files' slots
	freed, err := ix.DeleteRead(ix.ReadMs())
	if err != nil {
		t.Fatal(err)
	}
	if freed != 2*1024*UnitSize || ix.DiskBytes() != before-freed {
		t.Fatalf("freed %d of %d", freed, before)
	}
	entries, _ := os.ReadDir(cfg.Dir)
	if len(entries) != 3 {
		t.Fatalf("%d files left, want 3", len(entries))
	}
	if got := drain(t, ix, 1_000_000); len(got) != 5000-2048 {
		t.Fatalf("%d delivered after the deletion", len(got))
	}
}

func TestOpenRefusesAForeignLog(t *testing.T) {
	cfg := testConfig(t)
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fileName(cfg.Dir, 0), make([]byte, 52*10), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(cfg, 0); err == nil {
		t.Fatal("a log that is not ours was opened (and would be truncated)")
	}
}

// A million units in one slot, as in the benchmark: recovery and the walk
// stay correct; the walk allocates nothing per unit.
func TestIndexManyUnitsInOneSlot(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cfg := testConfig(t)
	cfg.FileSize = 16 << 20
	ix, _, _ := Open(cfg, 0)
	const n = 300_000
	for i := int64(0); i < n; i++ {
		if err := ix.Add(i, 10, i, 5_000, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ix2, rec := open(t, cfg, 0)
	t.Logf("reopened %d units (%d bytes) in %s", n, n*UnitSize, time.Since(start))
	if rec.Live != n || ix2.SlotCount(5_000) != n {
		t.Fatalf("recovered %+v, slot %d", rec, ix2.SlotCount(5_000))
	}
	for ix2.ReadMs() < 5_000 {
		ix2.BeginSlot()
		ix2.EndSlot()
	}
	c := ix2.BeginSlot()
	if c.Num != n {
		t.Fatalf("slot holds %d", c.Num)
	}
	next := int64(n - 1)
	allocs := testing.AllocsPerRun(1000, func() {
		u, err := ix2.Next(&c)
		if err != nil || u.OffsetPy != next {
			t.Fatalf("unit %d: %+v %v", next, u, err)
		}
		next--
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per unit", allocs)
	}
	for !c.Done() {
		u, err := ix2.Next(&c)
		if err != nil || u.OffsetPy != next {
			t.Fatalf("unit %d: %+v %v", next, u, err)
		}
		next--
	}
	if next != -1 {
		t.Fatalf("walk ended at %d", next)
	}
}

// NextSlot's cache follows additions before it and the reading of it.
func TestNextSlotFollowsTheWheel(t *testing.T) {
	ix, _ := open(t, testConfig(t), 0)
	if _, _, ok := ix.NextSlot(); ok {
		t.Fatal("an empty wheel has a next slot")
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ix.Add(1, 1, 0, 5_000, 0))
	must(ix.Add(2, 1, 1, 5_050, 0))
	if ts, n, ok := ix.NextSlot(); !ok || ts != 5_000 || n != 2 {
		t.Fatalf("next %d %d %v", ts, n, ok)
	}
	must(ix.Add(3, 1, 2, 3_000, 0))
	if ts, n, _ := ix.NextSlot(); ts != 3_000 || n != 1 {
		t.Fatalf("after an earlier add: next %d %d", ts, n)
	}
	drain(t, ix, 3_100)
	if ts, n, _ := ix.NextSlot(); ts != 5_000 || n != 2 {
		t.Fatalf("after reading it: next %d %d", ts, n)
	}
	drain(t, ix, 6_000)
	if _, _, ok := ix.NextSlot(); ok || ix.Pending() != 0 {
		t.Fatal("a drained wheel has a next slot")
	}
}

// A restart with another precision or a smaller wheel re-indexes what is
// pending rather than losing it.
func TestIndexSurvivesAConfigurationChange(t *testing.T) {
	cfg := testConfig(t)
	ix, _, _ := Open(cfg, 0)
	for i := int64(0); i < 500; i++ {
		if err := ix.Add(i, 10, i, 1_000+i*170, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.PrecisionMs, cfg.Slots = 200, 100 // 20 s of wheel, 200 ms ticks
	ix2, rec := open(t, cfg, 0)
	if rec.Reindexed == 0 || ix2.Pending() != 500 {
		t.Fatalf("reopened: %+v, pending %d", rec, ix2.Pending())
	}
	got := map[int64]bool{}
	for now := int64(0); now < 200_000; now += 1_000 {
		for _, u := range func() []Unit {
			var out []Unit
			for ix2.Due(now) {
				c := ix2.BeginSlot()
				for !c.Done() {
					u, err := ix2.Next(&c)
					if err != nil {
						t.Fatal(err)
					}
					if u.Roll() {
						if err := ix2.Reroll(u); err != nil {
							t.Fatal(err)
						}
						continue
					}
					if ix2.ReadMs()+200 < u.DeliverMs {
						t.Fatalf("due %d read at slot %d", u.DeliverMs, ix2.ReadMs())
					}
					out = append(out, u)
				}
				ix2.EndSlot()
			}
			return out
		}() {
			if got[u.OffsetPy] {
				t.Fatalf("offset %d twice", u.OffsetPy)
			}
			got[u.OffsetPy] = true
		}
	}
	if len(got) != 500 {
		t.Fatalf("%d of 500 delivered", len(got))
	}
}

// A broker that never parks a timer message holds no wheel (5.5 MB at the
// default window): not after Open of an empty log, nor while the timer
// service ticks over it; the first unit makes it, and a restart with live
// units rebuilds it.
func TestWheelIsMadeAtFirstUse(t *testing.T) {
	cfg := testConfig(t)
	ix, _, err := Open(cfg, 0) // closed below, before the restart
	if err != nil {
		t.Fatal(err)
	}
	for now := int64(0); now < 10*prec; now += prec {
		if ix.Pending() == 0 {
			ix.SkipTo(now)
		}
		if _, _, ok := ix.NextSlot(); ok {
			t.Fatal("an empty log has a next slot")
		}
		_ = ix.Due(now)
	}
	if ix.wheel != nil {
		t.Fatalf("an unused index holds a wheel of %d slots", len(ix.wheel))
	}
	if err := ix.Add(1, 1, 0, 5_000, 0); err != nil {
		t.Fatal(err)
	}
	if len(ix.wheel) != cfg.Slots+BlankSlots {
		t.Fatalf("after the first unit: %d slots, want %d", len(ix.wheel), cfg.Slots+BlankSlots)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix2, rec := open(t, cfg, ix.ReadMs())
	if rec.Live != 1 || ix2.wheel == nil {
		t.Fatalf("restart: %d live, wheel made %v", rec.Live, ix2.wheel != nil)
	}
	if ts, n, ok := ix2.NextSlot(); !ok || ts != 5_000 || n != 1 {
		t.Fatalf("restart: next %d %d %v", ts, n, ok)
	}
}
