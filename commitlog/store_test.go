package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/commitlog/mmap"
	"golang.org/x/sys/unix"
)

func TestRollWithBlank(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, testConfig(dir))
	var results []PutResult
	for i := 0; i < 200; i++ { // ~1.1 KiB each: about 3.4 files
		results = append(results, put(t, s, testMessage("Roll", 0, i, 1000)))
	}
	settle(t, s)
	// Four files in the log, and on disk also the next one the allocate
	// service made ahead.
	ready := readyCount(s) // waits for a creation in progress
	names, _ := os.ReadDir(filepath.Join(dir, "commitlog"))
	if s.clq.count() != 4 || len(names) != 4+ready || names[0].Name() != "00000000000000000000" || names[1].Name() != "00000000000000065536" {
		t.Fatalf("files %v, %d in the log", names, s.clq.count())
	}
	for i, r := range results {
		fileStart := r.WroteOffset / testCLFileSize * testCLFileSize
		if r.WroteOffset+int64(r.WroteBytes) > fileStart+testCLFileSize {
			t.Fatalf("record %d crosses a file boundary", i)
		}
		if r.QueueOffset != int64(i) {
			t.Fatalf("record %d queue offset %d", i, r.QueueOffset)
		}
		if i > 0 && r.WroteOffset != results[i-1].WroteOffset+int64(results[i-1].WroteBytes) {
			// the previous file must end with a BLANK covering the gap
			prev := results[i-1]
			end := prev.WroteOffset + int64(prev.WroteBytes)
			if r.WroteOffset%testCLFileSize != 0 {
				t.Fatalf("record %d at %d does not start a file", i, r.WroteOffset)
			}
			f := s.clq.findByOffset(end)
			pos := end - f.from
			if binary.BigEndian.Uint32(f.data[pos+4:]) != MagicBlank || int64(binary.BigEndian.Uint32(f.data[pos:])) != testCLFileSize-pos {
				t.Fatalf("no BLANK at %d", end)
			}
		}
		rec, err := s.LookMessageByOffset(r.WroteOffset)
		if err != nil || int32(len(rec)) != r.WroteBytes {
			t.Fatalf("LookMessageByOffset(%d): %v len %d", r.WroteOffset, err, len(rec))
		}
		if int64(binary.BigEndian.Uint64(rec[offPhysOffset:])) != r.WroteOffset {
			t.Fatalf("record %d physical offset field", i)
		}
	}
	if s.MaxPhyOffset() != results[199].WroteOffset+int64(results[199].WroteBytes) || s.MinPhyOffset() != 0 {
		t.Fatalf("min %d max %d", s.MinPhyOffset(), s.MaxPhyOffset())
	}
	if _, err := s.LookMessageByOffset(s.MaxPhyOffset()); !errors.Is(err, ErrOffsetNotFound) {
		t.Fatalf("read past end: %v", err)
	}
	// The queue spans three consume-queue files of 100 entries.
	if got := s.GetMessage("Roll", 0, 150, 100, nil); got.Status != Found || got.MsgCount != 50 || got.NextBeginOffset != 200 {
		t.Fatalf("read from second CQ file: %v %d %d", got.Status, got.MsgCount, got.NextBeginOffset)
	}
}

func TestBatchOffsetsAndNoSpan(t *testing.T) {
	s := openTestStore(t, testConfig(t.TempDir()))
	put(t, s, testMessage("B", 1, 0, 60000)) // leaves ~5 KiB in file 0
	var msgs []*Message
	for i := 0; i < 10; i++ {
		msgs = append(msgs, testMessage("B", 1, i+1, 1000))
	}
	other := &PutRequest{Topic: "B", QueueID: 2, Records: encode(t, testMessage("B", 2, 0, 10)), Count: 1}
	batch := &PutRequest{Topic: "B", QueueID: 1, Records: encode(t, msgs...), Count: 10}
	s.Put([]*PutRequest{batch, other})
	r := batch.Result
	if r.Status != PutOK || r.QueueOffset != 1 || r.MsgCount != 10 || r.WroteOffset != testCLFileSize {
		t.Fatalf("batch result %+v (must start the second file)", r)
	}
	if other.Result.Status != PutOK || other.Result.QueueOffset != 0 || other.Result.WroteOffset != r.WroteOffset+int64(r.WroteBytes) {
		t.Fatalf("second request %+v", other.Result)
	}
	if other.Result.StoreTimestamp != r.StoreTimestamp {
		t.Fatal("one Put, one store timestamp")
	}
	settle(t, s)
	got := s.GetMessage("B", 1, 1, 32, nil)
	if got.MsgCount != 10 {
		t.Fatalf("got %d", got.MsgCount)
	}
	for i, m := range got.Messages {
		if q := int64(binary.BigEndian.Uint64(m[offQueueOffset:])); q != int64(i+1) {
			t.Fatalf("msg %d queue offset %d", i, q)
		}
	}
	// Malformed requests.
	bad := []*PutRequest{
		{Topic: "B", QueueID: 1, Records: encode(t, msgs[0]), Count: 2},
		{Topic: "Other", QueueID: 1, Records: encode(t, msgs[0]), Count: 1},
		{Topic: "B", QueueID: 1, Records: encode(t, msgs[0])[:50], Count: 1},
		{Topic: "B", QueueID: 1, Records: encode(t, testMessage("B", 1, 0, 70000)), Count: 1},
	}
	s.Put(bad)
	for i, b := range bad {
		if b.Result.Status != PutMessageIllegal || b.Result.Err == nil {
			t.Errorf("bad request %d: %v", i, b.Result.Status)
		}
	}
	// Body over MaxMessageSize.
	s.cfg.MaxMessageSize = 100
	big := &PutRequest{Topic: "B", QueueID: 1, Records: encode(t, testMessage("B", 1, 0, 101)), Count: 1}
	s.Put([]*PutRequest{big})
	if big.Result.Status != PutMessageIllegal || !errors.Is(big.Result.Err, ErrMessageTooLarge) {
		t.Fatalf("big: %v %v", big.Result.Status, big.Result.Err)
	}
}

func TestGetMessageStatuses(t *testing.T) {
	s := openTestStore(t, testConfig(t.TempDir()))
	for i := 0; i < 5; i++ {
		put(t, s, testMessage("G", 0, i, 100))
	}
	settle(t, s)
	tagA := TagsHashCode("TagA")
	onlyA := func(c int64) bool { return c == tagA }
	never := func(int64) bool { return false }
	cases := []struct {
		name   string
		topic  string
		offset int64
		filter func(int64) bool
		status GetStatus
		next   int64
		count  int
	}{
		{"unknown queue", "Nope", 3, nil, NoMessageInQueue, 0, 0},
		{"found", "G", 1, nil, Found, 5, 4},
		{"filtered", "G", 0, onlyA, Found, 5, 3},
		{"no match", "G", 0, never, NoMatchedMessage, 5, 0},
		{"overflow one", "G", 5, nil, OffsetOverflowOne, 5, 0},
		{"overflow badly", "G", 9, nil, OffsetOverflowBadly, 5, 0},
	}
	for _, c := range cases {
		r := s.GetMessage(c.topic, 0, c.offset, 32, c.filter)
		if r.Status != c.status || r.NextBeginOffset != c.next || r.MsgCount != c.count {
			t.Errorf("%s: got %v next %d count %d, want %v next %d count %d", c.name, r.Status, r.NextBeginOffset, r.MsgCount, c.status, c.next, c.count)
		}
	}
	if r := s.GetMessage("G", 0, 0, 2, nil); r.MsgCount != 2 || r.NextBeginOffset != 2 || r.MinOffset != 0 || r.MaxOffset != 5 {
		t.Errorf("maxMsgNums: %+v", r)
	}
	cq := s.cqs.find([]byte("G"), 0)
	cq.minLogic.Store(2 * CQEntrySize)
	if r := s.GetMessage("G", 0, 1, 32, nil); r.Status != OffsetTooSmall || r.NextBeginOffset != 2 {
		t.Errorf("too small: %v %d", r.Status, r.NextBeginOffset)
	}
	cq.minLogic.Store(0)
	for _, st := range []GetStatus{Found, NoMatchedMessage, MessageWasRemoving, OffsetOverflowOne, OffsetFoundNull, OffsetTooSmall, OffsetOverflowBadly, NoMessageInQueue} {
		if st.String() == "" || st.String()[0] == 'G' {
			t.Errorf("status %d has no name", st)
		}
	}
}

func TestGetMessageWasRemoving(t *testing.T) {
	s := openTestStore(t, testConfig(t.TempDir()))
	for i := 0; i < 150; i++ { // ~112 per commit-log file; 100 per consume-queue file
		put(t, s, testMessage("W", 0, i, 450))
	}
	settle(t, s)
	if err := s.flushCommitLog(); err != nil {
		t.Fatal(err)
	}
	s.clq.deleteFirst(1, time.Now()) // the index still points into it
	r := s.GetMessage("W", 0, 0, 32, nil)
	if r.Status != MessageWasRemoving || r.NextBeginOffset != 100 || r.MsgCount != 0 {
		t.Fatalf("removing: %v next %d", r.Status, r.NextBeginOffset)
	}
	if r := s.GetMessage("W", 0, 100, 100, nil); r.Status != Found || r.MsgCount < 30 {
		t.Fatalf("after the hole: %v %d", r.Status, r.MsgCount)
	}
}

func TestGetMessageByteCap(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MappedFileSizeCommitLog = 1 << 20
	s := openTestStore(t, cfg)
	for i := 0; i < 40; i++ {
		put(t, s, testMessage("Cap", 0, i, 10_000))
	}
	settle(t, s)
	r := s.GetMessage("Cap", 0, 0, 64, nil)
	if r.BufferTotalSize > MaxTransferBytes || r.MsgCount < 20 || r.MsgCount == 40 || r.NextBeginOffset != int64(r.MsgCount) {
		t.Fatalf("count %d bytes %d next %d", r.MsgCount, r.BufferTotalSize, r.NextBeginOffset)
	}
}

func TestConsumeQueueOffsetsAndTime(t *testing.T) {
	s := openTestStore(t, testConfig(t.TempDir()))
	var clock atomic.Int64
	clock.Store(1_000_000)
	s.setClock(func() time.Time { return time.UnixMilli(clock.Load()) })
	for i := 0; i < 250; i++ {
		clock.Add(10)
		put(t, s, testMessage("Time", 4, i, 20))
	}
	settle(t, s)
	if s.MaxOffsetInQueue("Time", 4) != 250 || s.MinOffsetInQueue("Time", 4) != 0 || s.MaxOffsetInQueue("Time", 5) != 0 {
		t.Fatalf("max %d min %d", s.MaxOffsetInQueue("Time", 4), s.MinOffsetInQueue("Time", 4))
	}
	// message i stored at 1_000_010 + 10*i
	for _, c := range []struct{ ts, want int64 }{
		{0, 0}, {1_000_010, 0}, {1_000_011, 1}, {1_000_020, 1}, {1_001_010, 100}, {1_002_500, 249}, {1_002_501, 250}, {9_999_999, 250},
	} {
		if got := s.OffsetByTimestamp("Time", 4, c.ts); got != c.want {
			t.Errorf("OffsetByTimestamp(%d) = %d, want %d", c.ts, got, c.want)
		}
	}
	e, ok := s.cqs.find([]byte("Time"), 4).entryAt(120)
	r := s.GetMessage("Time", 4, 120, 1, nil)
	if !ok || r.MsgCount != 1 || int64(binary.BigEndian.Uint64(r.Messages[0][offPhysOffset:])) != e.phys || e.tagsCode != TagsHashCode("TagA") {
		t.Fatalf("entry 120: %+v ok %v", e, ok)
	}
}

func TestOnMessageArrivedAndDeleteTopic(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, testConfig(dir))
	var mu sync.Mutex
	seen := map[string]int64{}
	s.OnMessageArrived(func(topic string, q int32, max, _ int64) {
		mu.Lock()
		seen[fmt.Sprintf("%s/%d", topic, q)] = max
		mu.Unlock()
	})
	put(t, s, testMessage("Arr", 1, 0, 5), testMessage("Arr", 1, 1, 5))
	checkFor(t, 2*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if seen["Arr/1"] != 2 {
			return fmt.Errorf("seen %v", seen)
		}
		return nil
	})
	if err := s.DeleteTopic("Arr"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "consumequeue", "Arr")); !os.IsNotExist(err) {
		t.Fatalf("consume queue dir still there: %v", err)
	}
	if r := s.GetMessage("Arr", 1, 0, 1, nil); r.Status != NoMessageInQueue {
		t.Fatal(r.Status)
	}
	if r := put(t, s, testMessage("Arr", 1, 0, 5)); r.QueueOffset != 0 {
		t.Fatalf("offsets restart at 0, got %d", r.QueueOffset)
	}
}

func TestSyncFlushGroupCommit(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.FlushDiskType = SyncFlush
	cfg.MappedFileSizeCommitLog = 1 << 20
	s := openTestStore(t, cfg)
	put(t, s, testMessage("S", 0, 0, 100)) // creates the file
	var batch []*PutRequest
	for i := 0; i < 64; i++ {
		batch = append(batch, &PutRequest{Topic: "S", QueueID: int32(i % 4), Records: encode(t, testMessage("S", int32(i%4), i, 1024)), Count: 1})
	}
	before := s.syncs.Load()
	s.Put(batch)
	if n := s.syncs.Load() - before; n != 1 {
		t.Fatalf("%d syncs for a batch of 64, want 1", n)
	}
	for i, r := range batch {
		if r.Result.Status != PutOK {
			t.Fatalf("request %d: %v", i, r.Result.Status)
		}
	}
	if s.clq.flushedWhere.Load() != s.clq.maxWrote() {
		t.Fatalf("flushed %d of %d", s.clq.flushedWhere.Load(), s.clq.maxWrote())
	}
	// A batch of 64 records in one request: also one sync.
	var msgs []*Message
	for i := 0; i < 64; i++ {
		msgs = append(msgs, testMessage("S", 9, i, 1024))
	}
	before = s.syncs.Load()
	put(t, s, msgs...)
	if n := s.syncs.Load() - before; n != 1 {
		t.Fatalf("%d syncs for one request of 64", n)
	}
}

func TestSyncFlushTimeout(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.FlushDiskType = SyncFlush
	cfg.SyncFlushTimeout = 50
	s := openTestStore(t, cfg)
	s.flushMu.Lock() // a disk that never answers
	req := &PutRequest{Topic: "S", QueueID: 0, Records: encode(t, testMessage("S", 0, 0, 10)), Count: 1}
	s.Put([]*PutRequest{req})
	s.flushMu.Unlock()
	if req.Result.Status != PutFlushDiskTimeout {
		t.Fatalf("status %v", req.Result.Status)
	}
	if put(t, s, testMessage("S", 0, 1, 10)).QueueOffset != 1 {
		t.Fatal("next put")
	}
}

func TestLockHoldAndPageCacheBusy(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.OSPageCacheBusyTimeOutMills = 50
	s := openTestStore(t, cfg)
	if s.IsOSPageCacheBusy() || s.BeginTimeInLock() != 0 || s.LockTimeMills() != 0 || s.CheckStoreStatus() != PutOK {
		t.Fatal("idle store looks busy")
	}
	s.SetAppendStall(400 * time.Millisecond)
	done := make(chan PutResult)
	go func() {
		req := &PutRequest{Topic: "L", QueueID: 0, Records: encode(t, testMessage("L", 0, 0, 10)), Count: 1}
		s.Put([]*PutRequest{req})
		done <- req.Result
	}()
	checkFor(t, 2*time.Second, func() error {
		if !s.IsOSPageCacheBusy() || s.CheckStoreStatus() != PutOSPageCacheBusy || s.LockTimeMills() <= 50 || s.BeginTimeInLock() == 0 {
			return errors.New("not busy yet")
		}
		return nil
	})
	if v := s.RuntimeInfo()["pageCacheLockTimeMills"]; v == "0" {
		t.Error("runtime info lock time is 0 during a stall")
	}
	if r := <-done; r.Status != PutOK {
		t.Fatal(r.Status)
	}
	if s.IsOSPageCacheBusy() || s.BeginTimeInLock() != 0 {
		t.Fatal("still busy after the put")
	}
	s.SetAppendStall(0)
	if s.IsTransientStorePoolDeficient() {
		t.Fatal("deficient without a pool")
	}
	s.SetPoolExhausted(true)
	if !s.IsTransientStorePoolDeficient() {
		t.Fatal("SetPoolExhausted ignored")
	}
}

func TestPutZeroAllocs(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MappedFileSizeCommitLog = 64 << 20
	cfg.MappedFileSizeConsumeQueue = 300_000 * CQEntrySize
	cfg.FlushIntervalCommitLog = 3_600_000
	cfg.FlushIntervalConsumeQueue = 3_600_000
	s := openTestStore(t, cfg)
	rec := encode(t, testMessage("Z", 0, 0, 1024))
	req := &PutRequest{Topic: "Z", QueueID: 0, Records: rec, Count: 1}
	batch := []*PutRequest{req}
	s.Put(batch)
	settle(t, s)
	allocs := testing.AllocsPerRun(2000, func() {
		s.Put(batch)
		if req.Result.Status != PutOK {
			t.Fatal(req.Result.Status)
		}
	})
	if allocs != 0 {
		t.Fatalf("Put allocates %.2f times per call", allocs)
	}
}

func TestDiskFullRefusesPuts(t *testing.T) {
	cfg := testConfig(t.TempDir())
	var used atomic.Uint64
	used.Store(50)
	cfg.DiskUsage = func(string) (uint64, uint64, error) { return used.Load(), 100, nil }
	s := openTestStore(t, cfg)
	put(t, s, testMessage("D", 0, 0, 10))
	settle(t, s)
	used.Store(80)
	s.checkDiskSpace()
	req := &PutRequest{Topic: "D", QueueID: 0, Records: encode(t, testMessage("D", 0, 1, 10)), Count: 1}
	s.Put([]*PutRequest{req})
	if req.Result.Status != PutServiceNotAvailable || s.CheckStoreStatus() != PutServiceNotAvailable {
		t.Fatalf("put on a full disk: %v", req.Result.Status)
	}
	if r := s.GetMessage("D", 0, 0, 1, nil); r.Status != Found {
		t.Fatalf("read on a full disk: %v", r.Status)
	}
	used.Store(70)
	s.checkDiskSpace()
	put(t, s, testMessage("D", 0, 1, 10))
}

func TestCreateFileENOSPC(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, testConfig(dir))
	var first []PutResult
	for i := 0; i < 50; i++ {
		first = append(first, put(t, s, testMessage("E", 0, i, 1100)))
	}
	s.clq.setAllocate(func(f *os.File, size int64) error { return fmt.Errorf("fallocate: %w", unix.ENOSPC) })
	dropReadyFiles(t, s) // the allocate service made the next file before the disk "filled"
	var failed bool
	for i := 50; i < 70 && !failed; i++ {
		req := &PutRequest{Topic: "E", QueueID: 0, Records: encode(t, testMessage("E", 0, i, 1100)), Count: 1}
		s.Put([]*PutRequest{req})
		switch req.Result.Status {
		case PutOK:
			first = append(first, req.Result)
		case PutCreateMappedFileFailed:
			failed = true
			if !errors.Is(req.Result.Err, unix.ENOSPC) {
				t.Fatalf("err %v", req.Result.Err)
			}
		default:
			t.Fatal(req.Result.Status)
		}
	}
	if !failed {
		t.Fatal("never needed a new file")
	}
	if names, _ := os.ReadDir(filepath.Join(dir, "commitlog")); len(names) != 1 {
		t.Fatalf("a half-created file was left: %v", names)
	}
	s.clq.setAllocate(mmap.AllocateFile)
	r := put(t, s, testMessage("E", 0, len(first), 1100))
	if r.QueueOffset != int64(len(first)) || r.WroteOffset != testCLFileSize {
		t.Fatalf("after space came back: %+v", r)
	}
	settle(t, s)
	got := s.GetMessage("E", 0, 0, 100, nil)
	if got.MsgCount != len(first)+1 {
		t.Fatalf("%d messages", got.MsgCount)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.FileReservedTime = 72
	cfg.DeleteWhen = "04;05"
	s := openTestStore(t, cfg)
	for i := 0; i < 240; i++ { // ~4.1 files; 2.4 CQ files
		put(t, s, testMessage("R", 0, i, 1000))
	}
	settle(t, s)
	if err := s.flushCommitLog(); err != nil {
		t.Fatal(err)
	}
	four := time.Date(2026, 1, 1, 4, 30, 0, 0, time.Local)
	noon := time.Date(2026, 1, 1, 12, 0, 0, 0, time.Local)
	old := four.Add(-100 * time.Hour)
	for _, name := range []string{"00000000000000000000", "00000000000000065536"} {
		if err := os.Chtimes(filepath.Join(dir, "commitlog", name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.cleanOnce(noon); n != 0 {
		t.Fatalf("deleted %d files outside deleteWhen", n)
	}
	if n := s.cleanOnce(four); n != 2 {
		t.Fatalf("deleted %d files, want 2", n)
	}
	if s.MinPhyOffset() != 2*testCLFileSize {
		t.Fatalf("min phy %d", s.MinPhyOffset())
	}
	min := s.MinOffsetInQueue("R", 0)
	e, _ := s.cqs.find([]byte("R"), 0).entryAt(min)
	if e.phys < 2*testCLFileSize || min < 100 {
		t.Fatalf("min offset %d points at %d", min, e.phys)
	}
	if r := s.GetMessage("R", 0, 0, 1, nil); r.Status != OffsetTooSmall || r.NextBeginOffset != min {
		t.Fatalf("old offset: %v %d", r.Status, r.NextBeginOffset)
	}
	if r := s.GetMessage("R", 0, min, 1, nil); r.Status != Found {
		t.Fatalf("min offset: %v", r.Status)
	}
	if _, err := os.Stat(filepath.Join(dir, "consumequeue", "R", "0", "00000000000000000000")); !os.IsNotExist(err) {
		t.Fatalf("first consume-queue file kept: %v", err)
	}
	// A full disk deletes expired files at any hour; never the current one.
	for _, f := range s.clq.files {
		os.Chtimes(f.path, old, old)
	}
	s.setDiskUsage(func(string) (uint64, uint64, error) { return 90, 100, nil })
	s.cleanOnce(noon)
	if s.clq.count() != 1 {
		t.Fatalf("%d files left", s.clq.count())
	}
	// Reopen: the store starts from the retained files.
	s.setDiskUsage(func(string) (uint64, uint64, error) { return 10, 100, nil })
	maxPhy := s.MaxPhyOffset()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTestStore(t, cfg)
	if s2.MinPhyOffset() != s2.clq.first().from || s2.MaxPhyOffset() != maxPhy || s2.MaxOffsetInQueue("R", 0) != 240 {
		t.Fatalf("reopened: min %d max %d maxq %d", s2.MinPhyOffset(), s2.MaxPhyOffset(), s2.MaxOffsetInQueue("R", 0))
	}
	if r := s2.GetMessage("R", 0, 239, 1, nil); r.Status != Found {
		t.Fatal(r.Status)
	}
}

func TestConfigDefaults(t *testing.T) {
	if d := DefaultConfig(); d.WarmMapedFileEnable || d.FlushLeastPagesWhenWarmMapedFile != 4096 {
		t.Fatalf("RocketMQ's defaults: warmMapedFileEnable=false, flushLeastPagesWhenWarmMapedFile=4096, got %v %d", d.WarmMapedFileEnable, d.FlushLeastPagesWhenWarmMapedFile)
	}
	bad := testConfig(t.TempDir())
	bad.MappedFileSizeConsumeQueue = 1001
	if _, err := Open(bad, testLogger(t)); err == nil {
		t.Fatal("CQ size not a multiple of 20 accepted")
	}
	if !bytes.Contains([]byte(PutOSPageCacheBusy.String()), []byte("OS_PAGE")) {
		t.Fatal(PutOSPageCacheBusy.String())
	}
}

func TestSecondOpenRefused(t *testing.T) {
	cfg := testConfig(t.TempDir())
	openTestStore(t, cfg)
	if _, err := Open(cfg, testLogger(t)); err == nil {
		t.Fatal("second Open of one store succeeded")
	}
}

func TestRuntimeInfoKeys(t *testing.T) {
	s := openTestStore(t, testConfig(t.TempDir()))
	r := put(t, s, testMessage("I", 0, 0, 10))
	settle(t, s)
	info := s.RuntimeInfo()
	for _, k := range []string{"commitLogMinOffset", "commitLogMaxOffset", "pageCacheLockTimeMills", "remainTransientStoreBufferNumbs",
		"remainHowManyDataToFlush", "remainHowManyDataToCommit", "commitLogDirCapacity", "commitLogDiskRatio",
		"putMessageTimesTotal", "putMessageSizeTotal", "putMessageEntireTimeMax", "dispatchBehindBytes"} {
		if _, ok := info[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
	if info["commitLogMaxOffset"] != fmt.Sprint(r.WroteBytes) || info["putMessageTimesTotal"] != "1" || info["dispatchBehindBytes"] != "0" || info["commitLogDiskRatio"] != "0.1000" {
		t.Errorf("%v", info)
	}
}

// TestSyncFlushGatherAnswersEachOnce: closed-loop producers, each waiting
// for its answer before its next append (the shape the flusher's gather
// waits for): every append is answered exactly once, PutOK, only once the
// log is flushed past it, and the gather's request count is back to zero
// at the end (a count left over would make later flushes wait for
// producers that never come).
func TestSyncFlushGatherAnswersEachOnce(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.FlushDiskType = SyncFlush
	cfg.MappedFileSizeCommitLog = 1 << 20
	s := openTestStore(t, cfg)
	const producers, rounds = 16, 40
	var appendMu sync.Mutex // Append has a single caller
	var wg sync.WaitGroup
	errs := make(chan error, producers*(rounds+1)) // never blocks a Wakeup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answered := make(chan PutStatus, 2)
			gcr := &GroupCommitRequest{}
			gcr.Wakeup = func(st PutStatus) {
				// nextOffset was set before the request was queued.
				if fl := s.clq.flushedWhere.Load(); st == PutOK && fl < gcr.nextOffset {
					errs <- fmt.Errorf("answered PutOK with the log flushed to %d, before the batch's end %d", fl, gcr.nextOffset)
				}
				answered <- st
			}
			req := &PutRequest{Topic: "G", QueueID: int32(p % 4), Records: encode(t, testMessage("G", int32(p%4), p, 200)), Count: 1}
			for r := 0; r < rounds; r++ {
				req.Result = PutResult{}
				appendMu.Lock()
				waits := s.Append([]*PutRequest{req}, gcr)
				appendMu.Unlock()
				if !waits {
					errs <- fmt.Errorf("append did not wait: %v", req.Result.Status)
					return
				}
				if st := <-answered; st != PutOK {
					errs <- fmt.Errorf("round %d answered %v", r, st)
					return
				}
				if len(answered) != 0 {
					errs <- fmt.Errorf("round %d answered twice", r)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := s.gc.queuedPuts.Load(); n != 0 {
		t.Fatalf("group commit counts %d queued requests with none queued", n)
	}
	if _, ok := s.RuntimeInfo()["groupCommitGatherCount"]; !ok {
		t.Fatal("runtime info lacks groupCommitGatherCount")
	}
}
