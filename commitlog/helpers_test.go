package commitlog

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const (
	testCLFileSize = 64 << 10
	testCQFileSize = 100 * CQEntrySize
)

// testConfig is a small store in dir: 64 KiB commit-log files, 100-entry
// consume-queue files, quiet background goroutines, a disk that is 10% full.
func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.StorePathRootDir = dir
	cfg.MappedFileSizeCommitLog = testCLFileSize
	cfg.MappedFileSizeConsumeQueue = testCQFileSize
	cfg.FlushIntervalCommitLog = 20
	cfg.CommitIntervalCommitLog = 10
	cfg.FlushIntervalConsumeQueue = 50
	// Small index files (the default's are 420 MB, sparse).
	cfg.MaxHashSlotNum = 1024
	cfg.MaxIndexNum = 4096
	cfg.DiskUsage = func(string) (uint64, uint64, error) { return 10, 100, nil }
	return cfg
}

func testLogger(t testing.TB) zerolog.Logger {
	if os.Getenv("SLUICE_TEST_LOG") != "" {
		return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
	}
	return zerolog.Nop()
}

func openTestStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var (
	testBorn  = netip.MustParseAddrPort("10.1.2.3:50000")
	testStore = netip.MustParseAddrPort("192.168.0.10:10911")
)

// testMessage is message i of a topic queue: deterministic content of
// roughly bodyLen bytes.
func testMessage(topic string, qid int32, i int, bodyLen int) *Message {
	body := make([]byte, bodyLen)
	for k := range body {
		body[k] = byte('a' + (i+k)%26)
	}
	copy(body, fmt.Sprintf("m%d-", i))
	tag := "TagA"
	if i%2 == 1 {
		tag = "TagB"
	}
	return &Message{
		Topic: topic, QueueID: qid, Flag: 7, BornTimestamp: 1700000000000 + int64(i),
		BornHost: testBorn, StoreHost: testStore, Body: body,
		Properties: "TAGS\x01" + tag + "\x02KEYS\x01key" + fmt.Sprint(i) + "\x02UNIQ_KEY\x01ID" + fmt.Sprint(i) + "\x02",
	}
}

func encode(t testing.TB, msgs ...*Message) []byte {
	t.Helper()
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = AppendRecord(b, m); err != nil {
			t.Fatalf("AppendRecord: %v", err)
		}
	}
	return b
}

// put stores msgs (all for one queue) as one request and fails on a bad status.
func put(t testing.TB, s *Store, msgs ...*Message) PutResult {
	t.Helper()
	req := &PutRequest{Topic: msgs[0].Topic, QueueID: msgs[0].QueueID, Records: encode(t, msgs...), Count: len(msgs)}
	s.Put([]*PutRequest{req})
	if req.Result.Status != PutOK {
		t.Fatalf("Put: %v %v", req.Result.Status, req.Result.Err)
	}
	return req.Result
}

// settle makes everything appended readable and indexed.
func settle(t testing.TB, s *Store) {
	t.Helper()
	if s.pool != nil {
		if err := s.commitPool(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.dispatch(); err != nil {
		t.Fatal(err)
	}
}

// checkFor polls cond until it returns nil or d passes.
func checkFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", d, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// markCrashed makes the next Open treat the store as crashed.
func markCrashed(t testing.TB, dir string) {
	t.Helper()
	if err := os.WriteFile(dir+"/abort", nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// dropReadyFiles deletes the commit-log files the allocate service made
// ahead, so that the next roll has to create one.
func dropReadyFiles(t testing.TB, s *Store) {
	t.Helper()
	a := s.alloc
	a.mu.Lock()
	for a.creating {
		a.cond.Wait()
	}
	ready := a.ready
	a.ready = nil
	a.mu.Unlock()
	for _, f := range ready {
		if err := f.closeAndUnmap(); err != nil {
			t.Fatal(err)
		}
		if err := removeFile(f.path); err != nil {
			t.Fatal(err)
		}
	}
}

// readyCount is how many commit-log files the allocate service holds ready,
// once it is not creating one.
func readyCount(s *Store) int {
	a := s.alloc
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.creating {
		a.cond.Wait()
	}
	return len(a.ready)
}

// waitNextFileReady waits until the allocate service has the next
// commit-log file ready (benchmarks: the steady state between two rolls).
func waitNextFileReady(t testing.TB, s *Store) {
	t.Helper()
	checkFor(t, 30*time.Second, func() error {
		if readyCount(s) < allocateAhead {
			return errors.New("next commit-log file not ready")
		}
		return nil
	})
}
