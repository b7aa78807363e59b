package commitlog

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// copyDir copies a closed store so one fixture serves many damaged variants.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeAt patches a commit-log file of a closed store.
func patchFile(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	dir     string
	results []PutResult
	records [][]byte // as read back before the stop
}

// readAll reads a whole queue from offset 0 (GetMessage stops at each
// consume-queue file's end).
func readAll(t testing.TB, s *Store, topic string, q int32) [][]byte {
	t.Helper()
	var out [][]byte
	for off := int64(0); ; {
		r := s.GetMessage(topic, q, off, 1000, nil)
		if r.Status != Found {
			return out
		}
		out = append(out, r.Messages...)
		off = r.NextBeginOffset
	}
}

// buildFixture stores n messages of bodyLen bytes and closes the store
// cleanly. The last message has a 20-byte body when smallLast.
func buildFixture(t testing.TB, n, bodyLen int, smallLast ...bool) fixture {
	dir := t.TempDir()
	s, err := Open(testConfig(dir), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	fx := fixture{dir: dir}
	for i := 0; i < n; i++ {
		bl := bodyLen
		if i == n-1 && len(smallLast) > 0 && smallLast[0] {
			bl = 20
		}
		fx.results = append(fx.results, put(t, s, testMessage("Rec", 0, i, bl)))
	}
	settle(t, s)
	for _, m := range readAll(t, s, "Rec", 0) {
		fx.records = append(fx.records, bytes.Clone(m))
	}
	if len(fx.records) != n {
		t.Fatalf("fixture read %d of %d", len(fx.records), n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx fixture) filePath(dir string, phys int64) (string, int64) {
	start := phys / testCLFileSize * testCLFileSize
	return filepath.Join(dir, "commitlog", fileName(start)), phys - start
}

// checkRecords verifies the first n records are intact and indexed, and
// that the queue ends there.
func (fx fixture) checkRecords(t testing.TB, s *Store, n int) {
	t.Helper()
	if got := s.MaxOffsetInQueue("Rec", 0); got != int64(n) {
		t.Fatalf("max queue offset %d, want %d", got, n)
	}
	got := readAll(t, s, "Rec", 0)
	if len(got) != n {
		t.Fatalf("read %d records, want %d", len(got), n)
	}
	for i := 0; i < n; i++ {
		if !bytes.Equal(got[i], fx.records[i]) {
			t.Fatalf("record %d differs after recovery", i)
		}
	}
}

func TestCleanRestartTrustsCheckpoint(t *testing.T) {
	fx := buildFixture(t, 150, 1000)
	if _, err := os.Stat(filepath.Join(fx.dir, "abort")); !os.IsNotExist(err) {
		t.Fatalf("abort file after clean Close: %v", err)
	}
	// Damage in an old file goes unnoticed after a clean stop: the
	// checkpoint is trusted and nothing is scanned.
	path, off := fx.filePath(fx.dir, fx.results[10].WroteOffset)
	patchFile(t, path, off+4, []byte{0, 0, 0, 0})
	s := openTestStore(t, testConfig(fx.dir))
	last := fx.results[149]
	if s.MaxPhyOffset() != last.WroteOffset+int64(last.WroteBytes) {
		t.Fatalf("max phy %d", s.MaxPhyOffset())
	}
	if s.MaxOffsetInQueue("Rec", 0) != 150 {
		t.Fatal(s.MaxOffsetInQueue("Rec", 0))
	}
	if r := put(t, s, testMessage("Rec", 0, 150, 10)); r.QueueOffset != 150 || r.WroteOffset != s.MaxPhyOffset()-int64(r.WroteBytes) {
		t.Fatalf("next put %+v", r)
	}
	if _, err := os.Stat(filepath.Join(fx.dir, "abort")); err != nil {
		t.Fatalf("no abort file while open: %v", err)
	}
}

func TestTornTailEveryByte(t *testing.T) {
	const n = 70 // two files; the last record (small, so the loop is short) is in the second
	fx := buildFixture(t, n, 900, true)
	last := fx.results[n-1]
	if last.WroteOffset < testCLFileSize {
		t.Fatal("fixture too small")
	}
	for k := 0; k < int(last.WroteBytes); k++ {
		dir := t.TempDir()
		copyDir(t, fx.dir, dir)
		path, off := fx.filePath(dir, last.WroteOffset)
		patchFile(t, path, off+int64(k), make([]byte, int(last.WroteBytes)-k))
		markCrashed(t, dir)
		s, err := Open(testConfig(dir), testLogger(t))
		if err != nil {
			t.Fatalf("torn at byte %d: Open: %v", k, err)
		}
		if s.MaxPhyOffset() != last.WroteOffset {
			t.Fatalf("torn at byte %d: end %d, want %d", k, s.MaxPhyOffset(), last.WroteOffset)
		}
		fx.checkRecords(t, s, n-1)
		if r := put(t, s, testMessage("Rec", 0, n-1, 20)); r.QueueOffset != n-1 || r.WroteOffset != last.WroteOffset {
			t.Fatalf("torn at byte %d: next put %+v", k, r)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTruncatedFileTail(t *testing.T) {
	// The file itself cut short (as a torn write through write(2) would leave it).
	fx := buildFixture(t, 70, 900)
	last := fx.results[69]
	for _, k := range []int{0, 1, 50, int(last.WroteBytes) - 1} {
		dir := t.TempDir()
		copyDir(t, fx.dir, dir)
		path, off := fx.filePath(dir, last.WroteOffset)
		if err := os.Truncate(path, off+int64(k)); err != nil {
			t.Fatal(err)
		}
		markCrashed(t, dir)
		s := openTestStore(t, testConfig(dir))
		fx.checkRecords(t, s, 69)
		if st, _ := os.Stat(path); st.Size() != testCLFileSize {
			t.Fatalf("file not extended back: %d", st.Size())
		}
	}
}

func TestCorruptCRCAtTail(t *testing.T) {
	fx := buildFixture(t, 30, 500)
	markCrashed(t, fx.dir)
	r := fx.results[29]
	path, off := fx.filePath(fx.dir, r.WroteOffset)
	patchFile(t, path, off+int64(r.WroteBytes)/2, []byte{0xFF})
	s := openTestStore(t, testConfig(fx.dir))
	fx.checkRecords(t, s, 29)
	if s.MaxPhyOffset() != r.WroteOffset {
		t.Fatalf("end %d", s.MaxPhyOffset())
	}
}

func TestCorruptMiddleRefusesOpen(t *testing.T) {
	const n = 200 // ~3.4 files
	fx := buildFixture(t, n, 1000)
	// A record in the second-to-last file, valid records after it in the same file and in the next.
	victim := -1
	for i, r := range fx.results {
		if r.WroteOffset/testCLFileSize == 2 && r.WroteOffset%testCLFileSize > 20000 {
			victim = i
			break
		}
	}
	bad := fx.results[victim]
	damage := func(dir string) {
		path, off := fx.filePath(dir, bad.WroteOffset)
		patchFile(t, path, off+200, []byte("garbage"))
		markCrashed(t, dir)
	}
	dir := t.TempDir()
	copyDir(t, fx.dir, dir)
	damage(dir)
	_, err := Open(testConfig(dir), testLogger(t))
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Offset != bad.WroteOffset || ce.GoodOffset != fx.results[victim+1].WroteOffset {
		t.Fatalf("Open: %v (want a CorruptionError at %d)", err, bad.WroteOffset)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("recoverSkipCorruptedFiles")) {
		t.Fatalf("error does not say how to proceed: %v", err)
	}
	// Refusing changed nothing: the same Open fails again.
	if _, err := Open(testConfig(dir), testLogger(t)); !errors.As(err, &ce) {
		t.Fatalf("second Open: %v", err)
	}

	cfg := testConfig(dir)
	cfg.SkipCorruptedFiles = true
	s := openTestStore(t, cfg)
	// Everything before the damage and everything in later files is served.
	firstOfNext := -1
	for i, r := range fx.results {
		if r.WroteOffset/testCLFileSize == 3 {
			firstOfNext = i
			break
		}
	}
	var want [][]byte
	want = append(want, fx.records[:victim]...)
	want = append(want, fx.records[firstOfNext:]...)
	var got [][]byte
	for off := int64(0); off < n; {
		r := s.GetMessage("Rec", 0, off, 1000, nil)
		got = append(got, r.Messages...)
		off = r.NextBeginOffset
	}
	if len(got) != len(want) {
		t.Fatalf("read %d, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d differs", i)
		}
	}
	if r := put(t, s, testMessage("Rec", 0, n, 10)); r.QueueOffset != n {
		t.Fatalf("next queue offset %d", r.QueueOffset)
	}
}

func TestRecoveryWithoutCheckpoint(t *testing.T) {
	fx := buildFixture(t, 120, 1000)
	os.Remove(filepath.Join(fx.dir, "checkpoint"))
	os.RemoveAll(filepath.Join(fx.dir, "consumequeue"))
	markCrashed(t, fx.dir)
	s := openTestStore(t, testConfig(fx.dir))
	fx.checkRecords(t, s, 120)
}
