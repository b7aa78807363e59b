package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/commitlog"
)

// syncJob is a job whose Done reports its status on a channel.
func syncJob(t *testing.T, qid int32) (*AppendJob, chan commitlog.PutStatus) {
	done := make(chan commitlog.PutStatus, 1)
	return &AppendJob{
		Put:  commitlog.PutRequest{Topic: benchTopic, QueueID: qid, Records: benchRecord(t, qid), Count: 1},
		Done: func(j *AppendJob) { done <- j.Put.Result.Status },
	}, done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// With SYNC_FLUSH the writer goes on appending while the disk syncs: a
// second job is appended while the first one's sync has not returned, and
// both are answered PutOK by the flush that covers them.
func TestWriterSyncFlushAppendsWhileDiskSyncs(t *testing.T) {
	cfg := benchStoreConfig(t.TempDir())
	cfg.FlushDiskType = commitlog.SyncFlush
	w := benchWriter(t, cfg)
	store := w.Store()
	store.SetFlushHold(true)
	defer store.SetFlushHold(false)
	stop := make(chan struct{})

	a, aDone := syncJob(t, 0)
	if !w.Submit(a, stop) {
		t.Fatal("submit a")
	}
	waitFor(t, "a to be appended and waiting for its sync", func() bool { b, _ := w.Pending(); return b == 1 })
	b, bDone := syncJob(t, 1)
	if !w.Submit(b, stop) {
		t.Fatal("submit b")
	}
	waitFor(t, "b to be appended behind a's sync", func() bool { return w.appended.Load() == 2 })
	select {
	case st := <-aDone:
		t.Fatalf("a answered %v while its sync is held", st)
	case st := <-bDone:
		t.Fatalf("b answered %v while its sync is held", st)
	default:
	}
	if got, _ := w.Pending(); got != 2 {
		t.Fatalf("%d batches wait for a sync, want 2", got)
	}
	store.SetFlushHold(false)
	for name, c := range map[string]chan commitlog.PutStatus{"a": aDone, "b": bDone} {
		if st := <-c; st != commitlog.PutOK {
			t.Errorf("%s: %v, want PutOK", name, st)
		}
	}
	waitFor(t, "the pipeline to empty", func() bool { b, j := w.Pending(); return b == 0 && j == 0 })
}

// FLUSH_DISK_TIMEOUT is given by the deadline, not by the flush: jobs
// whose sync never returns are answered PutFlushDiskTimeout (a late flush
// would have made them PutOK), each exactly once, and the writer keeps
// appending meanwhile, bounded by its pipeline: past the bound it waits
// for the timeouts to free room.
func TestWriterSyncFlushTimeoutWhileDiskHangs(t *testing.T) {
	cfg := benchStoreConfig(t.TempDir())
	cfg.FlushDiskType = commitlog.SyncFlush
	cfg.SyncFlushTimeout = 100
	w := benchWriter(t, cfg)
	const bound = 4
	w.pipe.maxJobs = bound
	store := w.Store()
	store.SetFlushHold(true)
	defer store.SetFlushHold(false)
	stop := make(chan struct{})

	const jobs = 5 * bound
	var mu sync.Mutex
	answers := map[int][]commitlog.PutStatus{}
	var wg sync.WaitGroup
	for i := 0; i < jobs; i++ {
		j, done := syncJob(t, int32(i%4))
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := <-done
			mu.Lock()
			answers[i] = append(answers[i], st)
			mu.Unlock()
		}()
		if !w.Submit(j, stop) {
			t.Fatal("submit")
		}
		// A batch starts below the bound and holds at most what was
		// queued behind it.
		if _, p := w.Pending(); p > bound-1+benchWindow() {
			t.Fatalf("%d jobs wait for a sync, over the bound %d", p, bound)
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for i := 0; i < jobs; i++ {
		if got := answers[i]; len(got) != 1 || got[0] != commitlog.PutFlushDiskTimeout {
			t.Errorf("job %d: %v, want exactly one PutFlushDiskTimeout", i, got)
		}
	}
}

// A Done that panics on the group-commit goroutine answers its own request
// and leaves the rest of the batch and the store working.
func TestWriterSyncFlushDonePanicIsContained(t *testing.T) {
	cfg := benchStoreConfig(t.TempDir())
	cfg.FlushDiskType = commitlog.SyncFlush
	w := benchWriter(t, cfg)
	stop := make(chan struct{})
	bad := &AppendJob{
		Put:  commitlog.PutRequest{Topic: benchTopic, QueueID: 0, Records: benchRecord(t, 0), Count: 1},
		Done: func(*AppendJob) { panic("answer on fire") },
	}
	if !w.Submit(bad, stop) {
		t.Fatal("submit")
	}
	good, done := syncJob(t, 1)
	if !w.Submit(good, stop) {
		t.Fatal("submit")
	}
	if st := <-done; st != commitlog.PutOK {
		t.Fatalf("job after the panicking one: %v", st)
	}
}
