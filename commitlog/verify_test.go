package commitlog

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cqFixture is a closed store whose queue "Rec"/0 spans several
// consume-queue files (testCQFileSize holds 100 entries).
func cqFixture(t *testing.T, n int) fixture {
	t.Helper()
	return buildFixture(t, n, 200)
}

func cqFilePath(dir string, entry int64) string {
	start := entry * CQEntrySize / testCQFileSize * testCQFileSize
	return filepath.Join(dir, "consumequeue", "Rec", "0", fileName(start))
}

// openLogged opens the store in dir and returns it with its log.
func openLogged(t *testing.T, cfg Config) (*Store, *logBuffer) {
	t.Helper()
	var logs logBuffer
	s, err := Open(cfg, logs.logger())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &logs
}

// A consume-queue file cut short after a clean stop (an operator's
// truncate, a bad disk) is found at the next start and the queue rebuilt
// from the commit log; after a crash likewise. Nothing acknowledged is
// hidden and no queue offset is handed out twice.
func TestShortConsumeQueueRebuiltAtEveryStart(t *testing.T) {
	const n = 300
	fx := cqFixture(t, n)
	for _, c := range []struct {
		name   string
		entry  int64 // the file holding this entry is cut
		keep   int64 // to this many bytes
		crash  bool
		damage string // what the log must say
	}{
		{"last file, mid-entry", 250, 1030, false, "shorter than configured"},
		{"last file, empty", 250, 0, false, "shorter than configured"},
		{"middle file", 150, 400, false, "shorter than configured"},
		{"first file, after a crash", 10, 60, true, "shorter than configured"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, fx.dir, dir)
			if err := os.Truncate(cqFilePath(dir, c.entry), c.keep); err != nil {
				t.Fatal(err)
			}
			if c.crash {
				markCrashed(t, dir)
			}
			s, logs := openLogged(t, testConfig(dir))
			if logs.count(c.damage) == 0 || logs.count("rebuilding consume queue") == 0 {
				t.Fatalf("damage not reported:\n%s", logs.buf.String())
			}
			fx.checkRecords(t, s, n)
			if st, err := os.Stat(cqFilePath(dir, c.entry)); err != nil || st.Size() != testCQFileSize {
				t.Fatalf("file length not restored: %v %v", st, err)
			}
			if r := put(t, s, testMessage("Rec", 0, n, 20)); r.QueueOffset != n {
				t.Fatalf("next put got queue offset %d, want %d", r.QueueOffset, n)
			}
		})
	}
}

// An entry that does not match the record it points at (another record,
// another size, another tags code) is found at a clean start, the queue is
// cut there and rebuilt.
func TestInconsistentConsumeQueueEntryRebuilt(t *testing.T) {
	const n = 250
	fx := cqFixture(t, n)
	patch := func(name string, entry int64, off int, value func(e cqEntry) []byte) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, fx.dir, dir)
			path := cqFilePath(dir, entry)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			pos := entry * CQEntrySize % testCQFileSize
			patchFile(t, path, pos+int64(off), value(readEntry(b[pos:])))
			s, logs := openLogged(t, testConfig(dir))
			if logs.count("does not match the commit log") == 0 {
				t.Fatalf("inconsistency not reported:\n%s", logs.buf.String())
			}
			fx.checkRecords(t, s, n)
		})
	}
	be := binary.BigEndian
	patch("points at another record", n-1, 0, func(cqEntry) []byte {
		return be.AppendUint64(nil, uint64(fx.results[10].WroteOffset))
	})
	patch("wrong size", n-3, 8, func(e cqEntry) []byte { return be.AppendUint32(nil, uint32(e.size-1)) })
	patch("wrong tags code", n-5, 12, func(e cqEntry) []byte { return be.AppendUint64(nil, uint64(e.tagsCode+1)) })
	patch("garbage past the end of the log", n-1, 0, func(cqEntry) []byte { return be.AppendUint64(nil, 1<<40) })
}

// What cannot be rebuilt stops the store from opening, naming the file.
func TestConsumeQueueLongerThanConfiguredRefused(t *testing.T) {
	fx := cqFixture(t, 120)
	path := cqFilePath(fx.dir, 110)
	if err := os.Truncate(path, testCQFileSize+20); err != nil {
		t.Fatal(err)
	}
	_, err := Open(testConfig(fx.dir), testLogger(t))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open: %v", err)
	}
}

// A commit-log file cut short after a clean stop loses records the
// checkpoint says were flushed: Open refuses, naming the file, unless told
// to open without them. It never just zero-extends the file and trusts the
// checkpoint.
func TestShortCommitLogAfterCleanStopRefused(t *testing.T) {
	fx := buildFixture(t, 70, 900)
	last := fx.results[69]
	path, off := fx.filePath(fx.dir, last.WroteOffset)
	if err := os.Truncate(path, off+10); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyDir(t, fx.dir, dir)
	_, err := Open(testConfig(fx.dir), testLogger(t))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open: %v", err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != off+10 {
		t.Fatalf("the refused Open changed the file: %v %v", st, err)
	}
	cfg := testConfig(dir)
	cfg.SkipCorruptedFiles = true
	s := openTestStore(t, cfg)
	fx.checkRecords(t, s, 69)
}

// After a crash a commit-log file cut short in the middle of the log is
// damage followed by good data: Open refuses (CorruptionError) and gives
// the file its length back, so that the next attempt refuses too instead
// of reading the zeros it was extended with as the end of the log.
func TestShortCommitLogMidLogAfterCrashRefusedEveryTime(t *testing.T) {
	fx := buildFixture(t, 150, 1000)
	path, _ := fx.filePath(fx.dir, 0)
	if err := os.Truncate(path, testCLFileSize/2); err != nil {
		t.Fatal(err)
	}
	markCrashed(t, fx.dir)
	for attempt := 0; attempt < 2; attempt++ {
		_, err := Open(testConfig(fx.dir), testLogger(t))
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.File != path {
			t.Fatalf("attempt %d: Open: %v", attempt, err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() != testCLFileSize/2 {
			t.Fatalf("attempt %d: length not given back: %v %v", attempt, st, err)
		}
	}
}
