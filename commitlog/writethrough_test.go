package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// wtClock is a fixed store clock, so that two stores given the same puts
// write byte-identical logs.
var wtClock = time.UnixMilli(1_750_000_000_000)

// wtPutAll stores msgs in batches of up to 3 requests of 1–3 messages,
// every request for its own queue (the pattern the rng picks).
func wtPutAll(t *testing.T, s *Store, msgs []*Message, rng *rand.Rand) {
	t.Helper()
	for i := 0; i < len(msgs); {
		var batch []*PutRequest
		for r := 0; r < 1+rng.Intn(3) && i < len(msgs); r++ {
			k := min(1+rng.Intn(3), len(msgs)-i)
			group := msgs[i : i+k]
			for _, m := range group {
				m.QueueID = group[0].QueueID
			}
			batch = append(batch, &PutRequest{Topic: group[0].Topic, QueueID: group[0].QueueID, Records: encode(t, group...), Count: k})
			i += k
		}
		s.Put(batch)
		for _, r := range batch {
			if r.Result.Status != PutOK {
				t.Fatalf("Put: %v %v", r.Result.Status, r.Result.Err)
			}
		}
	}
}

// wtMessages is n messages over queues 0–2 of topic WT, sizes from rng.
func wtMessages(n, from int, rng *rand.Rand) []*Message {
	msgs := make([]*Message, n)
	for i := range msgs {
		msgs[i] = testMessage("WT", int32(rng.Intn(3)), from+i, 50+rng.Intn(3000))
	}
	return msgs
}

// wtCheckRead reads every queue of WT through GetMessage and checks that
// the bodies are those of want, in order per queue.
func wtCheckRead(t *testing.T, s *Store, want []*Message) {
	t.Helper()
	settle(t, s)
	perQueue := map[int32][]*Message{}
	for _, m := range want {
		perQueue[m.QueueID] = append(perQueue[m.QueueID], m)
	}
	for q, ms := range perQueue {
		got := readAll(t, s, "WT", q)
		if len(got) != len(ms) {
			t.Fatalf("queue %d: read %d messages, stored %d", q, len(got), len(ms))
		}
		for i, rec := range got {
			m, err := DecodeRecord(rec)
			if err != nil {
				t.Fatalf("queue %d message %d: %v", q, i, err)
			}
			if !bytes.Equal(m.Body, ms[i].Body) || m.QueueOffset != int64(i) || m.StoreTimestamp != wtClock.UnixMilli() {
				t.Fatalf("queue %d message %d: body %.12q queue offset %d, want %.12q at %d", q, i, m.Body, m.QueueOffset, ms[i].Body, i)
			}
		}
	}
}

// wtOpen opens a store in dir with the flush type, write-through on or off
// and the fixed clock, and checks that the last file is in the expected mode.
func wtOpen(t *testing.T, dir string, flush FlushDiskType, on bool) *Store {
	t.Helper()
	cfg := testConfig(dir)
	cfg.FlushDiskType = flush
	cfg.CommitLogWriteThrough = on
	s := openTestStore(t, cfg)
	s.setClock(func() time.Time { return wtClock })
	if (s.clq.stage != nil) != on {
		t.Fatalf("commitLogWriteThrough=%v: store stage %v", on, s.clq.stage != nil)
	}
	if f := s.clq.last(); f != nil && f.writeThrough.Load() != on {
		t.Fatalf("commitLogWriteThrough=%v: the last loaded file's write-through mode is %v", on, f.writeThrough.Load())
	}
	return s
}

// With write-through every message stored across file rolls reads back
// through the normal read path, before and after a clean restart and after
// a crash recovery (which checks every record), appends go on in
// write-through after a restart, and the files on disk are byte-identical
// to those the mapping path writes for the same puts.
func TestWriteThroughMatchesMapping(t *testing.T) {
	for _, flush := range []FlushDiskType{SyncFlush, AsyncFlush} {
		t.Run(flush.String(), func(t *testing.T) { testWriteThroughMatchesMapping(t, flush) })
	}
}

func testWriteThroughMatchesMapping(t *testing.T, flush FlushDiskType) {
	dirs := map[bool]string{true: t.TempDir(), false: t.TempDir()}
	for _, on := range []bool{true, false} {
		rng := rand.New(rand.NewSource(7))
		dir := dirs[on]
		s := wtOpen(t, dir, flush, on)
		msgs := wtMessages(200, 0, rng)
		wtPutAll(t, s, msgs, rng)
		if s.clq.count() < 4 {
			t.Fatalf("want several files, got %d", s.clq.count())
		}
		for i := 0; i < s.clq.count(); i++ {
			if f := s.clq.at(i); f.writeThrough.Load() != on || f.prefaulted.Load() != 0 && on {
				t.Fatalf("write-through %v: file %d has mode %v, prefaulted %d", on, i, f.writeThrough.Load(), f.prefaulted.Load())
			}
		}
		if on && (len(s.clq.stage.buf) != 0 || s.clq.stage.owner != nil) {
			t.Fatalf("after Put the stage still holds %d bytes", len(s.clq.stage.buf))
		}
		if flush == AsyncFlush { // the flusher's turn, now
			if err := s.flushCommitLog(); err != nil {
				t.Fatal(err)
			}
		}
		if s.clq.flushedWhere.Load() != s.MaxPhyOffset() || s.clq.maxReadable() != s.clq.maxWrote() {
			t.Fatalf("flushed %d, readable %d, wrote %d", s.clq.flushedWhere.Load(), s.clq.maxReadable(), s.clq.maxWrote())
		}
		wtCheckRead(t, s, msgs)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		s = wtOpen(t, dir, flush, on) // clean restart: the checkpoint is trusted
		wtCheckRead(t, s, msgs)
		more := wtMessages(60, 200, rng)
		wtPutAll(t, s, more, rng)
		msgs = append(msgs, more...)
		wtCheckRead(t, s, msgs)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		markCrashed(t, dir) // every record of the tail is checked
		s = wtOpen(t, dir, flush, on)
		wtCheckRead(t, s, msgs)
		more = wtMessages(40, 260, rng)
		wtPutAll(t, s, more, rng)
		msgs = append(msgs, more...)
		wtCheckRead(t, s, msgs)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	sameFiles(t, filepath.Join(dirs[true], "commitlog"), filepath.Join(dirs[false], "commitlog"))
}

// sameFiles fails unless the two directories hold the same files with the
// same bytes.
func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	fa, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.ReadDir(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(fa) != len(fb) || len(fa) == 0 {
		t.Fatalf("%s holds %d files, %s %d", a, len(fa), b, len(fb))
	}
	for i, f := range fa {
		if fb[i].Name() != f.Name() {
			t.Fatalf("file %d: %s vs %s", i, f.Name(), fb[i].Name())
		}
		x, err := os.ReadFile(filepath.Join(a, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			at := 0
			for at < len(x) && at < len(y) && x[at] == y[at] {
				at++
			}
			t.Fatalf("file %s differs at byte %d (lengths %d, %d)", f.Name(), at, len(x), len(y))
		}
	}
}

// A failing pwrite loses nothing: the staged bytes go into the mapping,
// the put is acknowledged once flushed, that file stays in mapping mode
// (msync), and the next file is written through again. A write that
// failed halfway is overwritten whole.
func TestWriteThroughPwriteFailureFallsBack(t *testing.T) {
	dir := t.TempDir()
	s := wtOpen(t, dir, SyncFlush, true)
	var failing atomic.Bool
	var failures atomic.Int64
	s.clq.stage.writeAt = func(f *os.File, b []byte, off int64) (int, error) {
		if failing.Load() {
			failures.Add(1)
			n, _ := f.WriteAt(b[:len(b)/2], off)
			return n, errors.New("injected EIO")
		}
		return f.WriteAt(b, off)
	}
	rng := rand.New(rand.NewSource(3))
	msgs := wtMessages(5, 0, rng)
	wtPutAll(t, s, msgs, rng)
	first := s.clq.last()
	failing.Store(true)
	bad := wtMessages(3, 5, rng)
	wtPutAll(t, s, bad, rng)
	msgs = append(msgs, bad...)
	if failures.Load() == 0 {
		t.Fatal("the injected pwrite was not called")
	}
	if f := s.clq.last(); f != first || f.writeThrough.Load() || f.stage != nil {
		t.Fatalf("after a failed pwrite the file is still in write-through mode (%v, stage %v)", f.writeThrough.Load(), f.stage != nil)
	}
	wtCheckRead(t, s, msgs)
	// Later appends into that file go through the mapping: no pwrite.
	n := failures.Load()
	mapped := wtMessages(3, 8, rng)
	wtPutAll(t, s, mapped, rng)
	msgs = append(msgs, mapped...)
	if s.clq.last() == first && failures.Load() != n {
		t.Fatal("a file in mapping mode was written with pwrite")
	}
	failing.Store(false)
	for s.clq.last() == first {
		more := wtMessages(10, len(msgs), rng)
		wtPutAll(t, s, more, rng)
		msgs = append(msgs, more...)
	}
	if f := s.clq.last(); !f.writeThrough.Load() || f.stage == nil {
		t.Fatal("the next file is not written through")
	}
	wtCheckRead(t, s, msgs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	markCrashed(t, dir)
	s = wtOpen(t, dir, SyncFlush, true)
	wtCheckRead(t, s, msgs)
}

// The stage is bounded: a batch of many small requests is committed in
// pieces of about stageCommitAt, and a buffer grown for one request larger
// than stageKeepMax is dropped after its commit.
func TestWriteThroughStageBounded(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.FlushDiskType = SyncFlush
	cfg.MappedFileSizeCommitLog = 32 << 20
	s := openTestStore(t, cfg)
	var writes atomic.Int64
	s.clq.stage.writeAt = func(f *os.File, b []byte, off int64) (int, error) {
		writes.Add(1)
		return f.WriteAt(b, off)
	}
	var batch []*PutRequest
	for i := 0; i < 4096; i++ {
		batch = append(batch, &PutRequest{Topic: "B", QueueID: 0, Records: encode(t, testMessage("B", 0, i, 900)), Count: 1})
	}
	s.Put(batch)
	for _, r := range batch {
		if r.Result.Status != PutOK {
			t.Fatal(r.Result.Status, r.Result.Err)
		}
	}
	if w, c := writes.Load(), cap(s.clq.stage.buf); w < 3 || c > 2*stageCommitAt {
		t.Fatalf("a 4 MB batch of small requests: %d pwrites, stage capacity %d", w, c)
	}
	var big []*Message
	for i := 0; i < 5; i++ {
		big = append(big, testMessage("B", 0, 5000+i, 1<<20))
	}
	put(t, s, big...)
	if c := cap(s.clq.stage.buf); c > stageKeepMax {
		t.Fatalf("stage kept %d bytes after a 5 MiB request", c)
	}
	settle(t, s)
	if got := readAll(t, s, "B", 0); len(got) != 4096+5 {
		t.Fatalf("read %d", len(got))
	}
}

// A SYNC_FLUSH slave appends the master's bytes with pwrite as well, and
// its log stays byte-identical to the master's.
func TestWriteThroughSlave(t *testing.T) {
	mcfg := testConfig(t.TempDir())
	mcfg.FlushDiskType = SyncFlush
	master := openTestStore(t, mcfg)
	scfg := testConfig(t.TempDir())
	scfg.FlushDiskType = SyncFlush
	scfg.BrokerRole = Slave
	slave := openTestStore(t, scfg)
	rng := rand.New(rand.NewSource(5))
	msgs := wtMessages(150, 0, rng)
	wtPutAll(t, master, msgs, rng)
	end := copyRaw(t, master, slave, 0, rng)
	if slave.MaxWroteOffset() != end || slave.clq.maxReadable() != end {
		t.Fatalf("slave wrote %d, readable %d, want %d", slave.MaxWroteOffset(), slave.clq.maxReadable(), end)
	}
	if f := slave.clq.last(); slave.clq.count() < 3 || !f.writeThrough.Load() {
		t.Fatalf("slave: %d files, last in write-through %v", slave.clq.count(), f.writeThrough.Load())
	}
	settle(t, slave)
	for q := int32(0); q < 3; q++ {
		if a, b := master.MaxOffsetInQueue("WT", q), slave.MaxOffsetInQueue("WT", q); a != b || a == 0 {
			t.Fatalf("queue %d: master %d entries, slave %d", q, a, b)
		}
	}
	checkFor(t, 5*time.Second, func() error {
		if fl := slave.clq.flushedWhere.Load(); fl != end {
			return fmt.Errorf("slave flushed to %d of %d", fl, end)
		}
		return nil
	})
	if err := slave.Close(); err != nil {
		t.Fatal(err)
	}
	if err := master.Close(); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, scfg.commitLogDir(), mcfg.commitLogDir())
}

// A steady-state SYNC_FLUSH Put in write-through mode allocates nothing
// (the stage is reused; the group commit's flush is counted too, since
// AllocsPerRun counts every goroutine).
func TestWriteThroughPutZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, flush := range []FlushDiskType{SyncFlush, AsyncFlush} {
		t.Run(flush.String(), func(t *testing.T) { testWriteThroughPutZeroAllocs(t, flush) })
	}
}

func testWriteThroughPutZeroAllocs(t *testing.T, flush FlushDiskType) {
	cfg := testConfig(t.TempDir())
	cfg.FlushDiskType = flush
	cfg.MappedFileSizeCommitLog = 64 << 20
	cfg.MappedFileSizeConsumeQueue = 300_000 * CQEntrySize
	cfg.FlushIntervalConsumeQueue = 3_600_000
	s := openTestStore(t, cfg)
	req := &PutRequest{Topic: "Z", QueueID: 0, Records: encode(t, testMessage("Z", 0, 0, 1024)), Count: 1}
	batch := []*PutRequest{req}
	for i := 0; i < 50; i++ {
		s.Put(batch)
	}
	settle(t, s)
	waitNextFileReady(t, s)
	if f := s.clq.last(); !f.writeThrough.Load() {
		t.Fatal("not in write-through mode")
	}
	allocs := testing.AllocsPerRun(500, func() {
		s.Put(batch)
		if req.Result.Status != PutOK {
			t.Fatal(req.Result.Status)
		}
	})
	if allocs != 0 {
		t.Fatalf("a %s Put allocates %.2f times per call", flush, allocs)
	}
}
