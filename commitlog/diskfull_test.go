package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-mq/sluice/commitlog/mmap"

	"github.com/sluice-mq/sluice/supervisor/brokertest/disk"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// acked is a message Put reported stored.
type acked struct {
	topic  string
	qid    int32
	offset int64
	body   []byte
}

// putOne stores one message and returns the request (the result in it).
func putOne(t testing.TB, s *Store, m *Message) *PutRequest {
	t.Helper()
	req := &PutRequest{Topic: m.Topic, QueueID: m.QueueID, Records: encode(t, m), Count: 1}
	s.Put([]*PutRequest{req})
	return req
}

// checkAcked asserts that every acknowledged message can be consumed
// through its consume queue.
func checkAcked(t *testing.T, s *Store, msgs []acked) {
	t.Helper()
	settle(t, s)
	for _, a := range msgs {
		r := s.GetMessage(a.topic, a.qid, a.offset, 1, nil)
		if r.Status != Found {
			t.Fatalf("acknowledged %s/%d offset %d is not consumable: %v", a.topic, a.qid, a.offset, r.Status)
		}
		m, err := DecodeRecord(r.Messages[0])
		if err != nil || !bytes.Equal(m.Body, a.body) {
			t.Fatalf("acknowledged %s/%d offset %d reads back wrong: %v", a.topic, a.qid, a.offset, err)
		}
	}
}

// A real full disk (tmpfs), with the ratio limit out of the way so that
// puts run into ENOSPC itself: every acknowledged message stays
// consumable, a put whose consume queue cannot get space fails instead of
// being acknowledged, the other queues go on, and once space is freed puts
// work again in the same store. With small messages the queues' reserved
// space runs out first; with large ones the commit log does (the next file
// cannot be created).
func TestDiskFullENOSPCNeverLosesAnAck(t *testing.T) {
	for _, c := range []struct {
		name    string
		bodyLen int
	}{{"consume queue fills first", 500}, {"commit log fills first", 8000}} {
		t.Run(c.name, func(t *testing.T) { testDiskFullENOSPC(t, c.bodyLen) })
	}
}

func testDiskFullENOSPC(t *testing.T, bodyLen int) {
	dir := disk.MountTmpfs(t, 16<<20)
	cfg := testConfig(filepath.Join(dir, "store"))
	cfg.DiskUsage = nil // the real file system
	cfg.DiskMaxUsedSpaceRatio = 100
	cfg.MappedFileSizeCommitLog = 1 << 20
	cfg.MappedFileSizeConsumeQueue = 300_000 * CQEntrySize // sparse: a full 6 MB would not even fit twice
	s := openTestStore(t, cfg)
	var ok []acked
	n := 0
	putAck := func(topic string) *PutRequest {
		m := testMessage(topic, 0, n, bodyLen)
		n++
		req := putOne(t, s, m)
		if req.Result.Status == PutOK {
			ok = append(ok, acked{topic, 0, req.Result.QueueOffset, m.Body})
		}
		return req
	}
	for _, topic := range []string{"A", "B"} {
		if r := putAck(topic); r.Result.Status != PutOK {
			t.Fatal(r.Result.Status, r.Result.Err)
		}
	}
	checkFor(t, 5e9, func() error {
		if readyCount(s) != 1 {
			return errors.New("next commit-log file not made yet")
		}
		return nil
	})
	filler := disk.Fill(t, dir, 0)

	// A new topic needs a consume-queue file: refused, not acknowledged.
	if r := putAck("C"); r.Result.Status != PutCreateMappedFileFailed || !errors.Is(r.Result.Err, unix.ENOSPC) {
		t.Fatalf("put to a new topic on a full disk: %v %v", r.Result.Status, r.Result.Err)
	}
	// Existing queues go on in the space they hold, and are dispatched
	// although C failed, until their reserved space runs out.
	var failed *PutRequest
	for i := 0; i < 5000 && failed == nil; i++ {
		if r := putAck([]string{"A", "B"}[i%2]); r.Result.Status != PutOK {
			failed = r
		}
	}
	if failed == nil {
		t.Fatal("puts never failed on a full disk")
	}
	if failed.Result.Status != PutCreateMappedFileFailed || !errors.Is(failed.Result.Err, unix.ENOSPC) {
		t.Fatalf("later put: %v %v", failed.Result.Status, failed.Result.Err)
	}
	if len(ok) < 20 {
		t.Fatalf("only %d puts succeeded before the disk was full", len(ok))
	}
	t.Logf("%d puts acknowledged before the full disk stopped them: %v", len(ok), failed.Result.Err)
	checkAcked(t, s, ok)
	if v := s.RuntimeInfo()["dispatchStalledQueues"]; v != "0" {
		t.Fatalf("stalled queues %s: an acknowledged message could not be indexed", v)
	}

	// Space freed: the same store takes puts again, new topic included.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"C", "A", "B", "C"} {
		if r := putAck(topic); r.Result.Status != PutOK {
			t.Fatalf("put to %s after space was freed: %v %v", topic, r.Result.Status, r.Result.Err)
		}
	}
	checkAcked(t, s, ok)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTestStore(t, cfg)
	checkAcked(t, s2, ok)
}

// With the default diskMaxUsedSpaceRatio (75 %) on a real file system that
// fills up, puts are refused before the limit is overshot by more than the
// file whose creation crossed it, every acknowledged message is consumable,
// and puts resume without a restart once space is freed.
func TestDiskRatioCheckedOnAppendPath(t *testing.T) {
	dir := disk.MountTmpfs(t, 32<<20)
	cfg := testConfig(filepath.Join(dir, "store"))
	cfg.DiskUsage = nil
	cfg.DiskMaxUsedSpaceRatio = 75
	cfg.MappedFileSizeCommitLog = 1 << 20
	cfg.MappedFileSizeConsumeQueue = 300_000 * CQEntrySize
	s := openTestStore(t, cfg)
	used, total := disk.Used(t, dir)
	// Leave the store about 30 % of the disk to fill.
	filler := disk.Fill(t, dir, total-used-total*30/100)
	var ok []acked
	var refused *PutRequest
	for i := 0; i < 100_000 && refused == nil; i++ {
		m := testMessage(fmt.Sprintf("R%d", i%3), int32(i%2), i, 1000)
		req := putOne(t, s, m)
		switch req.Result.Status {
		case PutOK:
			ok = append(ok, acked{m.Topic, m.QueueID, req.Result.QueueOffset, m.Body})
		case PutServiceNotAvailable:
			refused = req
		default:
			t.Fatalf("put %d: %v %v", i, req.Result.Status, req.Result.Err)
		}
	}
	if refused == nil {
		t.Fatal("never refused")
	}
	used, _ = disk.Used(t, dir)
	limit := total * int64(cfg.DiskMaxUsedSpaceRatio) / 100
	if over := used - limit; over > cfg.MappedFileSizeCommitLog+cqGrowMax {
		t.Fatalf("refused at %d bytes used, %d over the %d %% limit (more than one %d-byte file)", used, over, cfg.DiskMaxUsedSpaceRatio, cfg.MappedFileSizeCommitLog)
	}
	if s.CheckStoreStatus() != PutServiceNotAvailable {
		t.Fatal("store status does not say the disk is full")
	}
	checkAcked(t, s, ok)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if s.CheckStoreStatus() != PutOK {
		t.Fatal("store status still full after space was freed")
	}
	m := testMessage("R0", 0, 0, 1000)
	if req := putOne(t, s, m); req.Result.Status != PutOK {
		t.Fatalf("put after space was freed: %v %v", req.Result.Status, req.Result.Err)
	} else {
		ok = append(ok, acked{m.Topic, m.QueueID, req.Result.QueueOffset, m.Body})
	}
	checkAcked(t, s, ok)
}

// logBuffer collects a store's log lines for a test to look at.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(substr string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), substr)
}

func (b *logBuffer) logger() zerolog.Logger { return zerolog.New(b) }

// A consume-queue write that fails in dispatch (the space was not reserved
// beforehand, as for records recovery re-dispatches) stalls that queue
// only: the others are dispatched, the failure is logged once, the queue
// catches up by itself once writes work again, and a Close meanwhile
// leaves what the next Open needs to finish the job.
func TestDispatchStallIsolatedAndRetried(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	var logs logBuffer
	s, err := Open(cfg, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put(t, s, testMessage("Ok", 0, 0, 10))
	settle(t, s)
	var failing sync.Map // dirs whose growth fails
	s.cqs.setGrow(func(f *os.File, off, n int64) error {
		if _, bad := failing.Load(filepath.Dir(f.Name())); bad {
			return fmt.Errorf("fallocate: %w", unix.ENOSPC)
		}
		return mmap.GrowFile(f, off, n)
	})
	// Hold dispatch while the stuck queue's records go in, then take its
	// reserved space away, as if it had never been reserved.
	s.dispatchMu.Lock()
	for i := 0; i < 4; i++ {
		put(t, s, testMessage("Stuck", 0, i, 10))
	}
	stuck := s.cqs.find([]byte("Stuck"), 0)
	stuck.reservedEnd.Store(0)
	stuck.mfq.last().allocated.Store(0)
	failing.Store(stuck.mfq.dir, true)
	s.dispatchMu.Unlock()
	for i := 1; i <= 3; i++ {
		put(t, s, testMessage("Ok", 0, i, 10))
		settle(t, s)
	}
	if r := s.GetMessage("Ok", 0, 0, 10, nil); r.MsgCount != 4 {
		t.Fatalf("other queue dispatched %d of 4 behind a stalled one", r.MsgCount)
	}
	if r := s.GetMessage("Stuck", 0, 0, 10, nil); r.Status != NoMessageInQueue {
		t.Fatalf("stalled queue: %v", r.Status)
	}
	if s.RuntimeInfo()["dispatchStalledQueues"] != "1" || s.indexedUpTo() >= s.reputFrom.Load() {
		t.Fatalf("stall not reported: %v, indexed %d, reput %d", s.RuntimeInfo()["dispatchStalledQueues"], s.indexedUpTo(), s.reputFrom.Load())
	}
	if n := logs.count("cannot write a consume-queue entry"); n != 1 {
		t.Fatalf("failure logged %d times, want once", n)
	}
	failing.Delete(stuck.mfq.dir)
	settle(t, s)
	if r := s.GetMessage("Stuck", 0, 0, 10, nil); r.MsgCount != 4 || r.NextBeginOffset != 4 {
		t.Fatalf("stalled queue after the retry: %v %d", r.Status, r.MsgCount)
	}
	if s.RuntimeInfo()["dispatchStalledQueues"] != "0" || logs.count("caught up") != 1 {
		t.Fatal("recovery from the stall not reported")
	}
	if r := put(t, s, testMessage("Stuck", 0, 4, 10)); r.QueueOffset != 4 {
		t.Fatalf("next offset %d", r.QueueOffset)
	}

	// Stalled at Close: the next Open (which sees an unclean stop) indexes
	// the rest.
	failing.Store(s.cqs.find([]byte("Ok"), 0).mfq.dir, true)
	okq := s.cqs.find([]byte("Ok"), 0)
	s.dispatchMu.Lock()
	put(t, s, testMessage("Ok", 0, 4, 10))
	okq.reservedEnd.Store(0)
	okq.mfq.last().allocated.Store(okq.mfq.last().wrote.Load())
	s.dispatchMu.Unlock()
	settle(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "abort")); err != nil {
		t.Fatalf("a Close with a stalled queue must not look clean: %v", err)
	}
	s2 := openTestStore(t, cfg)
	if r := s2.GetMessage("Ok", 0, 0, 10, nil); r.MsgCount != 5 {
		t.Fatalf("after reopening: %d of 5", r.MsgCount)
	}
}

// A consume queue that has to be rebuilt at start when the disk is full
// cannot be: Open refuses and names it, and opens once space is freed.
func TestRebuildImpossibleRefusesOpen(t *testing.T) {
	dir := disk.MountTmpfs(t, 16<<20)
	cfg := testConfig(filepath.Join(dir, "store"))
	cfg.DiskUsage = nil
	cfg.DiskMaxUsedSpaceRatio = 100
	s, err := Open(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 250; i++ {
		put(t, s, testMessage("Rec", 0, i, 100))
	}
	settle(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	qdir := filepath.Join(cfg.StorePathRootDir, "consumequeue", "Rec", "0")
	if err := os.Truncate(filepath.Join(qdir, fileName(2*testCQFileSize)), 0); err != nil {
		t.Fatal(err)
	}
	filler := disk.Fill(t, dir, 0)
	if _, err := Open(cfg, testLogger(t)); err == nil || !strings.Contains(err.Error(), qdir) || !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("Open with a queue to rebuild on a full disk: %v", err)
	}
	// The failed attempt gave the file its length back; the marker it left
	// is what tells the next one.
	markers, _ := filepath.Glob(filepath.Join(qdir, rebuildMarkerPrefix+"*"))
	if len(markers) != 1 {
		t.Fatalf("markers after the failed Open: %v", markers)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s2, logs := openLogged(t, cfg)
	if got := readAll(t, s2, "Rec", 0); len(got) != 250 {
		t.Fatalf("after freeing space: %d of 250", len(got))
	}
	if logs.count("was not finished") != 1 {
		t.Fatalf("unfinished rebuild not reported:\n%s", logs.buf.String())
	}
	if markers, _ := filepath.Glob(filepath.Join(qdir, rebuildMarkerPrefix+"*")); len(markers) != 0 {
		t.Fatalf("markers left after the rebuild: %v", markers)
	}
}
