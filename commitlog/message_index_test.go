package commitlog

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// queryKeys returns the records QueryMessage finds for key, after the
// caller's key comparison (MQAdminImpl#queryMessage keeps only records
// whose KEYS hold the key; here testMessage's one key).
func queryKey(t testing.TB, s *Store, topic, key string) [][]byte {
	t.Helper()
	r := s.QueryMessage(topic, key, 32, 0, math.MaxInt64)
	var out [][]byte
	for _, m := range r.Messages {
		if bytes.Contains(m, []byte("KEYS\x01"+key+"\x02")) || bytes.Contains(m, []byte("UNIQ_KEY\x01"+key+"\x02")) {
			out = append(out, m)
		}
	}
	return out
}

func TestQueryMessageThroughDispatch(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, testConfig(dir))
	var results []PutResult
	for i := range 40 {
		results = append(results, put(t, s, testMessage("Idx", int32(i%2), i, 100)))
	}
	settle(t, s)
	for _, i := range []int{0, 7, 39} {
		got := queryKey(t, s, "Idx", fmt.Sprint("key", i))
		want, _ := s.LookMessageByOffset(results[i].WroteOffset)
		if len(got) != 1 || !bytes.Equal(got[0], want) {
			t.Fatalf("key%d: %d records", i, len(got))
		}
		if u := queryKey(t, s, "Idx", fmt.Sprint("ID", i)); len(u) != 1 || !bytes.Equal(u[0], want) {
			t.Fatalf("ID%d (unique key): %d records", i, len(u))
		}
	}
	r := s.QueryMessage("Idx", "key3", 32, 0, math.MaxInt64)
	if r.IndexLastUpdatePhyoffset != results[39].WroteOffset || r.IndexLastUpdateTimestamp != results[39].StoreTimestamp {
		t.Errorf("index last update %d/%d, want the last record's %d/%d", r.IndexLastUpdatePhyoffset, r.IndexLastUpdateTimestamp,
			results[39].WroteOffset, results[39].StoreTimestamp)
	}
	if got := queryKey(t, s, "Other", "key3"); len(got) != 0 {
		t.Errorf("another topic's key found: %d", len(got))
	}
	// A time range before the messages finds nothing.
	if r := s.QueryMessage("Idx", "key3", 32, 0, results[0].StoreTimestamp-1001); len(r.Messages) != 0 {
		t.Errorf("found %d before the first message", len(r.Messages))
	}
	if ts := s.EarliestMessageTime("Idx", 1); ts != results[1].StoreTimestamp {
		t.Errorf("earliest time of Idx/1: %d, want %d", ts, results[1].StoreTimestamp)
	}
	if ts := s.EarliestMessageTime("Idx", 5); ts != -1 {
		t.Errorf("earliest time of a missing queue: %d", ts)
	}
	// Reopened cleanly, the index answers the same.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, testConfig(dir))
	if got := queryKey(t, s, "Idx", "key39"); len(got) != 1 {
		t.Fatalf("after a clean restart: %d", len(got))
	}
}

func TestMessageIndexDisabled(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MessageIndexEnable = false
	s := openTestStore(t, cfg)
	put(t, s, testMessage("Idx", 0, 1, 10))
	settle(t, s)
	if got := queryKey(t, s, "Idx", "key1"); len(got) != 0 || s.IndexStats().Entries != 0 {
		t.Fatalf("indexed with messageIndexEnable=false")
	}
}

// After a crash with a torn commit-log tail, the index holds each
// surviving record once and nothing of the cut ones; records put
// afterwards are found too.
func TestIndexRecoveryAfterCrash(t *testing.T) {
	const n = 70
	fx := buildFixture(t, n, 900, true)
	for _, cut := range []int{n - 1, 40} { // the torn last record; a cut inside the first file
		dir := t.TempDir()
		copyDir(t, fx.dir, dir)
		at := fx.results[cut].WroteOffset
		path, off := fx.filePath(dir, at)
		// Zeros from the cut to the end of its file: pages never written back.
		patchFile(t, path, off, make([]byte, testCLFileSize-off))
		if at < testCLFileSize {
			// and no second file, as a crash before it existed would leave.
			os.Remove(filepath.Join(dir, "commitlog", fileName(testCLFileSize)))
		}
		markCrashed(t, dir)
		s, err := Open(testConfig(dir), testLogger(t))
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		for i := range n {
			got := queryKey(t, s, "Rec", fmt.Sprint("key", i))
			want := 0
			if i < cut {
				want = 1
			}
			if len(got) != want {
				t.Fatalf("cut %d: key%d found %d times, want %d", cut, i, len(got), want)
			}
			if want == 1 && !bytes.Equal(got[0], fx.records[i]) {
				t.Fatalf("cut %d: key%d: wrong record", cut, i)
			}
		}
		// The offsets of the cut records are reused by new ones.
		r := put(t, s, testMessage("Rec", 0, cut, 20))
		settle(t, s)
		if r.WroteOffset != at {
			t.Fatalf("cut %d: next put at %d", cut, r.WroteOffset)
		}
		if got := queryKey(t, s, "Rec", fmt.Sprint("key", cut)); len(got) != 1 {
			t.Fatalf("cut %d: the record put after recovery found %d times", cut, len(got))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Retention deletes index files whose entries are all below the log's start.
func TestIndexRetention(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxIndexNum = 21 // 10 records (2 keys each) per file
	cfg.FileReservedTime = 0
	s := openTestStore(t, cfg)
	for i := 0; ; i++ {
		put(t, s, testMessage("Ret", 0, i, 900))
		if s.clq.count() >= 4 {
			break
		}
	}
	settle(t, s)
	if err := s.flushCommitLog(); err != nil {
		t.Fatal(err)
	}
	before := s.IndexStats().Files
	s.diskFull.Store(true) // delete now, whatever the hour
	s.setDiskUsage(func(string) (uint64, uint64, error) { return 99, 100, nil })
	if s.cleanOnce(time.Now().Add(time.Hour)) == 0 {
		t.Fatal("no commit-log file deleted")
	}
	after := s.IndexStats().Files
	if after >= before || after == 0 {
		t.Fatalf("index files %d → %d: want the expired ones deleted, the newest kept", before, after)
	}
	if got := queryKey(t, s, "Ret", "key0"); len(got) != 0 {
		t.Errorf("a record retention deleted is still found")
	}
}
