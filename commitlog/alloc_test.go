package commitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/sluice-mq/sluice/commitlog/mmap"

	"github.com/sluice-mq/sluice/supervisor/brokertest/disk"
)

// An idle queue holding one message costs kilobytes of disk, not a
// 6 MB consume-queue file, and stays the configured length on disk.
func TestIdleQueueDiskCost(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MappedFileSizeConsumeQueue = 300_000 * CQEntrySize // RocketMQ's default
	s := openTestStore(t, cfg)
	const topics = 10
	for i := 0; i < topics; i++ {
		put(t, s, testMessage(fmt.Sprintf("Idle%d", i), 0, 0, 4))
	}
	settle(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < topics; i++ {
		qdir := filepath.Join(dir, "consumequeue", fmt.Sprintf("Idle%d", i), "0")
		if got := disk.Bytes(t, qdir); got >= 1<<20 || got == 0 {
			t.Fatalf("queue with one message takes %d bytes of disk", got)
		}
		st, err := os.Stat(filepath.Join(qdir, fileName(0)))
		if err != nil || st.Size() != cfg.MappedFileSizeConsumeQueue {
			t.Fatalf("file length %v %v", st, err)
		}
	}
	t.Logf("disk per idle topic with one message: %d bytes", disk.Bytes(t, filepath.Join(dir, "consumequeue"))/topics)
	s2 := openTestStore(t, cfg)
	for i := 0; i < topics; i++ {
		if r := s2.GetMessage(fmt.Sprintf("Idle%d", i), 0, 0, 1, nil); r.Status != Found {
			t.Fatal(r.Status)
		}
	}
}

// The lock-hold window covers the append only: a roll inside Put swaps in a
// file made beforehand, and a new queue's files are made before the window
// too. Checked structurally: every file the store allocates (commit log and
// consume queue) is allocated while BeginTimeInLock is 0, whether the
// allocate service had the next file ready or the writer had to make it.
func TestRollDoesNoFileIOInsideLockHold(t *testing.T) {
	s := openTestStore(t, testConfig(t.TempDir()))
	var calls, inWindow atomic.Int64
	watch := func() {
		calls.Add(1)
		if s.BeginTimeInLock() != 0 {
			inWindow.Add(1)
		}
	}
	s.clq.setAllocate(func(f *os.File, size int64) error { watch(); return mmap.AllocateFile(f, size) })
	s.cqs.setGrow(func(f *os.File, off, n int64) error { watch(); return mmap.GrowFile(f, off, n) })
	rollOnce := func(topic string) {
		t.Helper()
		files := s.clq.count()
		for i := 0; s.clq.count() == files; i++ {
			if i > 200 {
				t.Fatal("no roll")
			}
			// Every request of the batch for a new queue, two of them rolling.
			var batch []*PutRequest
			for k := 0; k < 3; k++ {
				m := testMessage(fmt.Sprintf("%s%d-%d", topic, i, k), 0, i, 9000)
				batch = append(batch, &PutRequest{Topic: m.Topic, QueueID: 0, Records: encode(t, m), Count: 1})
			}
			s.Put(batch)
			for _, r := range batch {
				if r.Result.Status != PutOK {
					t.Fatal(r.Result.Status, r.Result.Err)
				}
			}
		}
	}
	// The allocate service has the next file ready: the roll only swaps it in.
	checkFor(t, 5e9, func() error {
		if readyCount(s) != 1 {
			return errors.New("next file not ready")
		}
		return nil
	})
	rollOnce("Ready")
	checkFor(t, 5e9, func() error {
		if readyCount(s) != 1 {
			return errors.New("allocate service did not make the next file")
		}
		return nil
	})
	// No file ready: the writer makes it, before the window.
	dropReadyFiles(t, s)
	rollOnce("Cold")
	if calls.Load() < 3 {
		t.Fatalf("the hook saw %d allocations; it is not watching", calls.Load())
	}
	if n := inWindow.Load(); n != 0 {
		t.Fatalf("%d of %d file allocations happened inside the lock-hold window", n, calls.Load())
	}
}

// With warmMapedFileEnable the allocate service prefaults new files; puts
// and reads across rolls are unaffected.
func TestWarmMappedFiles(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.WarmMapedFileEnable = true
	cfg.FlushDiskType = SyncFlush
	cfg.FlushLeastPagesWhenWarmMapedFile = 4
	s := openTestStore(t, cfg)
	for i := 0; i < 150; i++ {
		put(t, s, testMessage("Warm", 0, i, 1000))
	}
	settle(t, s)
	if s.clq.count() < 2 {
		t.Fatal("no roll")
	}
	if got := readAll(t, s, "Warm", 0); len(got) != 150 {
		t.Fatalf("read %d", len(got))
	}
}

// DeleteTopic holds the writer's lock only to take the queues out: while
// it waits to remove the files, puts go on; records of the old topic are
// not indexed into the topic created again, whose offsets start at 0.
func TestDeleteTopicOutsideWriterLock(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, testConfig(dir))
	put(t, s, testMessage("Del", 0, 0, 10))
	settle(t, s)
	// Hold the dispatcher: old records pile up behind it, and DeleteTopic
	// has to wait for it after taking the queues out.
	s.dispatchMu.Lock()
	for i := 1; i < 4; i++ {
		put(t, s, testMessage("Del", 0, i, 10))
	}
	done := make(chan error, 1)
	go func() { done <- s.DeleteTopic("Del") }()
	checkFor(t, 5e9, func() error {
		if s.cqs.find([]byte("Del"), 0) != nil {
			return errors.New("queues not taken out yet")
		}
		return nil
	})
	if !s.putMu.TryLock() {
		t.Fatal("DeleteTopic holds the writer's lock while waiting to remove files")
	}
	s.putMu.Unlock()
	put(t, s, testMessage("Other", 0, 0, 10)) // the writer is not blocked
	if _, err := os.Stat(filepath.Join(dir, "consumequeue", "Del", "0", fileName(0))); err != nil {
		t.Fatalf("files removed before the dispatcher let go: %v", err)
	}
	// A put of the topic created again waits for the old files to go.
	again := make(chan PutResult, 1)
	go func() { again <- putOne(t, s, testMessage("Del", 0, 100, 10)).Result }()
	s.dispatchMu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := <-again; r.Status != PutOK || r.QueueOffset != 0 {
		t.Fatalf("put to the recreated topic: %+v", r)
	}
	settle(t, s)
	r := s.GetMessage("Del", 0, 0, 10, nil)
	if r.MsgCount != 1 || r.MaxOffset != 1 {
		t.Fatalf("recreated topic holds %d messages (max %d), want only the new one", r.MsgCount, r.MaxOffset)
	}
	if m, _ := DecodeRecord(r.Messages[0]); string(m.Body[:5]) != "m100-" {
		t.Fatalf("recreated topic serves %q", m.Body)
	}
}
