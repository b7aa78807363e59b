package actors

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/commitlog"
)

// A panic inside the writer's append answers every job the writer had
// taken — they are out of its mailbox, so nobody else would — with the
// store's failure, once each, and the restarted writer serves the next.
func TestWriterPanicAnswersEveryTakenJob(t *testing.T) {
	for _, flush := range []commitlog.FlushDiskType{commitlog.AsyncFlush, commitlog.SyncFlush} {
		t.Run(flush.String(), func(t *testing.T) { testWriterPanicAnswersEveryTakenJob(t, flush) })
	}
}

func testWriterPanicAnswersEveryTakenJob(t *testing.T, flush commitlog.FlushDiskType) {
	cfg := benchStoreConfig(t.TempDir())
	cfg.FlushDiskType = flush
	w := benchWriter(t, cfg)
	store := w.store
	var turn atomic.Int32
	firstHeld := make(chan struct{})
	release := make(chan struct{})
	w.put = func(batch []*commitlog.PutRequest, gcr *commitlog.GroupCommitRequest) bool {
		switch turn.Add(1) {
		case 1: // hold the first append while the next jobs queue up
			close(firstHeld)
			<-release
		case 2:
			if len(batch) != 3 {
				t.Errorf("second batch has %d jobs, want the 3 queued", len(batch))
			}
			panic("disk on fire")
		}
		return store.Append(batch, gcr)
	}

	var mu sync.Mutex
	results := map[string][]commitlog.PutStatus{}
	var wg sync.WaitGroup
	job := func(name string) *AppendJob {
		wg.Add(1)
		return &AppendJob{
			Put: commitlog.PutRequest{Topic: benchTopic, QueueID: 0, Records: benchRecord(t, 0), Count: 1},
			Done: func(j *AppendJob) {
				mu.Lock()
				results[name] = append(results[name], j.Put.Result.Status)
				mu.Unlock()
				wg.Done()
			},
		}
	}
	stop := make(chan struct{})
	if !w.Submit(job("a"), stop) {
		t.Fatal("submit a")
	}
	<-firstHeld
	for _, name := range []string{"b", "c", "d"} {
		if !w.Submit(job(name), stop) {
			t.Fatal("submit " + name)
		}
	}
	close(release)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("jobs left unanswered: %v", results)
	}
	if !w.Submit(job("e"), stop) {
		t.Fatal("submit e")
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	want := map[string]commitlog.PutStatus{"a": commitlog.PutOK, "b": commitlog.PutUnknownError,
		"c": commitlog.PutUnknownError, "d": commitlog.PutUnknownError, "e": commitlog.PutOK}
	for name, status := range want {
		if got := results[name]; len(got) != 1 || got[0] != status {
			t.Errorf("job %s: results %v, want exactly one %v", name, got, status)
		}
	}
}
