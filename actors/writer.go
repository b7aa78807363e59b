package actors

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// AppendJob is one send handed to the writer: a pre-encoded PutRequest,
// the request it answers and what to do with its result. Done runs once the
// append is done — under ASYNC_FLUSH on the writer's goroutine right after
// it, under SYNC_FLUSH on the group-commit service's once the flush that
// covers it has completed (or its FLUSH_DISK_TIMEOUT deadline passed) —
// one job at a time, in append order, and must not block. Cancelled runs instead when the
// fast-failure sweep takes the job back before the writer reached it; the
// sweep has answered the request by then, so Cancelled only recycles.
type AppendJob struct {
	Put       commitlog.PutRequest
	Req       *Request
	Done      func(*AppendJob)
	Cancelled func(*AppendJob)
}

// Writer is the actor that owns the commit log's write side: it is the
// only caller of Store.Append. Each turn it drains up to maxBatch queued
// jobs and appends them in one lock-hold, so under load one append — and
// with SYNC_FLUSH one sync — serves many producers (group commit).
//
// With SYNC_FLUSH the writer does not wait for the sync: it hands the
// appended batch to the store's group-commit service and goes on with the
// next, so appends continue while the disk syncs; the service answers the
// batch's jobs when the flush covering them completes. At most
// maxPendingJobs jobs (and maxPendingBytes of their records) wait so;
// past that the writer waits for the oldest, which holds the backlog in
// the mailboxes where the fast-failure sweep can answer it.
//
// Senders take a slot from Slots before handing a job over and the writer
// gives it back when the job joins a batch. A stalled writer therefore
// holds at most cap(Slots) jobs; the rest of the backlog stays in the send
// processor's mailbox, where the fast-failure sweep can answer it.
type Writer struct {
	store *commitlog.Store
	// put is store.Append; tests make it panic.
	put     func([]*commitlog.PutRequest, *commitlog.GroupCommitRequest) bool
	mailbox *Mailbox
	pid     *actor.PID
	slots   chan struct{}
	root    *actor.RootContext

	dispatcher *pinnedDispatcher

	pipe pipeline

	appended  atomic.Uint64
	batches   atomic.Uint64
	panicNext atomic.Bool // fault injection: the next append panics
	holds     lockHoldHistogram
}

// maxBatch caps one group commit so that a burst does not delay the first
// producers' answers behind an unbounded append.
const maxBatch = 256

// NewWriter returns a writer for store that accepts at most window jobs
// in flight.
func NewWriter(store *commitlog.Store, window int) *Writer {
	if window < 1 {
		window = 1
	}
	w := &Writer{store: store, slots: make(chan struct{}, window)}
	w.put = store.Append
	w.pipe.init(w)
	return w
}

// Pipelining bounds under SYNC_FLUSH: what may be appended and waiting for
// its sync. Batches are small when the writer keeps up (a few jobs each),
// so the batch count must not be what limits a sync's group: the job and
// byte bounds are, and they keep the jobs' buffers (and the requests they
// answer) from pinning much memory behind a slow disk.
const (
	maxPendingBatches = 512
	maxPendingJobs    = 4096
	maxPendingBytes   = 32 << 20
)

// flushBatch is one appended batch waiting for its group commit.
type flushBatch struct {
	w     *Writer
	jobs  []*AppendJob
	bytes int64
	gcr   commitlog.GroupCommitRequest
}

// pipeline is the writer's pool of flushBatches and the bytes they hold.
type pipeline struct {
	mu      sync.Mutex
	cond    sync.Cond
	free    []*flushBatch
	bytes   int64
	jobs    int
	waiting int // batches handed to the group-commit service
	// The bounds (maxPending*; tests lower them).
	maxJobs  int
	maxBytes int64
}

func (p *pipeline) init(w *Writer) {
	p.cond.L = &p.mu
	p.maxJobs, p.maxBytes = maxPendingJobs, maxPendingBytes
	for i := 0; i < maxPendingBatches; i++ {
		b := &flushBatch{w: w}
		b.gcr.Wakeup = b.wakeup
		p.free = append(p.free, b)
	}
}

// acquire takes a free batch, waiting while the pipeline is full.
func (p *pipeline) acquire() *flushBatch {
	p.mu.Lock()
	for len(p.free) == 0 || (p.waiting > 0 && (p.bytes >= p.maxBytes || p.jobs >= p.maxJobs)) {
		p.cond.Wait()
	}
	b := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.mu.Unlock()
	return b
}

// release gives b back; handed says it was waiting for a sync.
func (p *pipeline) release(b *flushBatch, handed bool) {
	n := len(b.jobs)
	clear(b.jobs)
	b.jobs = b.jobs[:0]
	p.mu.Lock()
	if handed {
		p.waiting--
		p.bytes -= b.bytes
		p.jobs -= n
	}
	b.bytes = 0
	p.free = append(p.free, b)
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *pipeline) handed(b *flushBatch) {
	p.mu.Lock()
	p.waiting++
	p.bytes += b.bytes
	p.jobs += len(b.jobs)
	p.mu.Unlock()
}

// Pending is how many appended batches, and jobs, wait for their sync.
func (w *Writer) Pending() (batches, jobs int) {
	w.pipe.mu.Lock()
	defer w.pipe.mu.Unlock()
	return w.pipe.waiting, w.pipe.jobs
}

// wakeup is the group commit's answer for the batch: every job gets its
// result (FLUSH_DISK_TIMEOUT for a stored one the sync did not cover in
// time, FLUSH_SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE under SYNC_MASTER) and its Done, in order. It runs on the store's group-commit
// goroutine, where a panicking Done must not take the process down: its
// request is answered SYSTEM_ERROR and the rest of the batch goes on.
func (b *flushBatch) wakeup(st commitlog.PutStatus) {
	for _, j := range b.jobs {
		if st != commitlog.PutOK && j.Put.Result.Status == commitlog.PutOK {
			// FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT or SLAVE_NOT_AVAILABLE.
			j.Put.Result.Status = st
		}
		runDone(j)
	}
	b.w.pipe.release(b, true)
}

func runDone(j *AppendJob) {
	defer func() {
		if r := recover(); r != nil && j.Req != nil {
			j.Req.ReplyCode(remoting.SystemError, fmt.Sprintf("commit-log append answered with a panic: %v", r))
		}
	}()
	j.Done(j)
}

// Spawn starts the writer actor, named "writer", under parent.
func (w *Writer) Spawn(parent actor.SpawnerContext, root *actor.RootContext) (*actor.PID, error) {
	// The mailbox holds at most the window; its capacity is not what bounds it.
	w.mailbox = NewMailbox(cap(w.slots) + 1)
	w.root = root
	w.dispatcher = newPinnedDispatcher(0)
	props := actor.PropsFromProducer(func() actor.Actor { return &writerActor{w: w} },
		actor.WithMailbox(func() actor.Mailbox { return w.mailbox }),
		actor.WithDispatcher(w.dispatcher))
	pid, err := parent.SpawnNamed(props, "writer")
	if err != nil {
		w.dispatcher.stop()
		return nil, err
	}
	w.pid = pid
	return pid, nil
}

// Stop ends the writer's goroutine; call it after the actor has stopped.
func (w *Writer) Stop() {
	if w.dispatcher != nil {
		w.dispatcher.stop()
	}
}

// Submit hands job to the writer, waiting for a free slot; it returns false
// if stop closes first.
func (w *Writer) Submit(job *AppendJob, stop <-chan struct{}) bool {
	select {
	case w.slots <- struct{}{}:
	case <-stop:
		return false
	}
	w.root.Send(w.pid, job)
	return true
}

// HasRoom says whether Submit would find a free slot now without waiting.
// Another submitter may take it first, and then Submit waits for the
// writer to take up its next job (slots come back as jobs join a batch).
// A stalled writer leaves its jobs holding their slots, so once the window
// is full behind a stall HasRoom says no.
func (w *Writer) HasRoom() bool { return len(w.slots) < cap(w.slots) }

// TakeQueued removes the job at the head of the writer's queue, one the
// writer has not started, and returns it with the number of jobs left; nil
// when the queue is empty. The fast-failure sweep uses it while the page
// cache is busy: the jobs behind a stalled append would otherwise wait out
// the stall, past the client's timeout, out of the sweep's reach. The
// caller answers job.Req and must call Release.
func (w *Writer) TakeQueued() (*AppendJob, int) {
	if w.mailbox == nil {
		return nil, 0
	}
	// A job without a request (benchmarks, internal appends) has nobody to
	// answer; it stays for the writer.
	head, _, left := w.mailbox.takeHead(func(m any) bool { j, ok := m.(*AppendJob); return ok && j.Req != nil })
	if head == nil {
		return nil, left
	}
	return head.(*AppendJob), left
}

// Release gives back the slot of a job taken with TakeQueued.
func (w *Writer) Release(job *AppendJob) {
	<-w.slots
	if job.Cancelled != nil {
		job.Cancelled(job)
	}
}

// PanicNextAppend makes the writer's next append panic (fault injection:
// shows that every send it had taken is still answered).
func (w *Writer) PanicNextAppend() { w.panicNext.Store(true) }

// Store is the store the writer appends to.
func (w *Writer) Store() *commitlog.Store { return w.store }

type writerActor struct {
	w     *Writer
	jobs  []*AppendJob
	batch []*commitlog.PutRequest
	cur   *flushBatch // the batch's group-commit state, until handed over
	// done counts the jobs of the current batch whose Done has returned;
	// inDone is true while jobs[done]'s Done runs. A panic in the turn
	// leaves the rest to failTaken.
	done   int
	inDone bool
}

func (a *writerActor) Receive(ctx actor.Context) {
	first, ok := ctx.Message().(*AppendJob)
	if !ok {
		return
	}
	w := a.w
	a.jobs = append(a.jobs[:0], first)
	// Before taking more: while the pipeline is full, the jobs behind stay
	// in the mailbox, in the fast-failure sweep's reach.
	a.cur = w.pipe.acquire()
	for len(a.jobs) < maxBatch {
		next, ok := w.mailbox.TryPop().(*AppendJob)
		if !ok {
			break
		}
		a.jobs = append(a.jobs, next)
	}
	a.batch = a.batch[:0]
	for _, j := range a.jobs {
		<-w.slots
		a.batch = append(a.batch, &j.Put)
	}
	a.done, a.inDone = 0, false
	// The jobs taken above are out of the mailbox: if the append panics
	// no one else would answer them, and protoactor restarts the writer
	// with only what is still queued.
	defer a.failTaken()
	if w.panicNext.Load() && w.panicNext.CompareAndSwap(true, false) {
		panic("fault injection: writer panic")
	}
	// The batch is given its jobs before the append: once Append has
	// queued it, the group commit may answer it at any moment.
	b := a.cur
	for _, j := range a.jobs {
		b.jobs = append(b.jobs, j)
		b.bytes += int64(len(j.Put.Records))
	}
	w.pipe.handed(b)
	start := time.Now()
	waits := w.put(a.batch, &b.gcr)
	w.holds.observe(time.Since(start))
	w.batches.Add(1)
	w.appended.Add(uint64(len(a.jobs)))
	a.cur = nil
	if waits {
		// The group commit answers them now; nothing here may touch them.
		clear(a.jobs)
		clear(a.batch)
		a.jobs = a.jobs[:0]
		return
	}
	w.pipe.release(b, true)
	for i, j := range a.jobs {
		a.inDone = true
		j.Done(j)
		a.inDone = false
		a.done = i + 1
		a.jobs[i] = nil
		a.batch[i] = nil
	}
	a.jobs = a.jobs[:0]
}

// failTaken runs at the end of every turn; after a panic it gives every
// job of the batch not yet done the store's failure (PutUnknownError, so
// a send is answered SYSTEM_ERROR) through its own Done — which answers
// and recycles it — and passes the panic on, so that the supervisor logs
// it and restarts the writer. A job whose own Done panicked is answered
// directly and not recycled, since it may be half way through both.
func (a *writerActor) failTaken() {
	if len(a.jobs) == 0 {
		return
	}
	reason := recover()
	if reason == nil {
		return
	}
	if a.cur != nil {
		// The panic came before the append queued the batch with the
		// group commit (nothing after that point can panic).
		a.w.pipe.release(a.cur, len(a.cur.jobs) > 0)
		a.cur = nil
	}
	err := fmt.Errorf("commit-log append failed: writer panicked: %v", reason)
	for i := a.done; i < len(a.jobs); i++ {
		j := a.jobs[i]
		a.jobs[i] = nil
		if i == a.done && a.inDone {
			if j.Req != nil {
				j.Req.ReplyCode(remoting.SystemError, err.Error())
			}
			continue
		}
		j.Put.Result = commitlog.PutResult{Status: commitlog.PutUnknownError, Err: err}
		a.failOne(j)
	}
	a.jobs = a.jobs[:0]
	panic(reason)
}

// failOne runs j.Done for a failed append; a Done that panics again must
// not keep the rest of the batch from their answers.
func (a *writerActor) failOne(j *AppendJob) {
	defer func() {
		if r := recover(); r != nil && j.Req != nil {
			j.Req.ReplyCode(remoting.SystemError, fmt.Sprintf("commit-log append failed: %v", r))
		}
	}()
	j.Done(j)
}

// Inspect describes the writer for the tree: the lock-hold state every busy
// answer is derived from.
func (w *Writer) Inspect(n *tree.Node) {
	n.Kind = tree.KindWriter
	s := w.store
	free, total := s.TransientPoolStats()
	info := &tree.WriterInfo{
		BeginTimeInLock:        s.BeginTimeInLock(),
		LockHoldMillis:         s.LockTimeMills(),
		PageCacheBusy:          s.IsOSPageCacheBusy(),
		TransientPoolEnabled:   total > 0,
		TransientPoolFree:      free,
		TransientPoolTotal:     total,
		TransientPoolDeficient: s.IsTransientStorePoolDeficient(),
		Appended:               w.appended.Load(),
		Batches:                w.batches.Load(),
		LockHold:               w.holds.buckets(),
		LockHoldSumMillis:      float64(w.holds.sumNanos.Load()) / 1e6,
	}
	if w.mailbox != nil {
		info.Depth = w.mailbox.UserMessageCount()
	}
	n.Writer = info
}

// lockHoldBounds are the histogram's upper bounds in milliseconds; the
// interesting line is osPageCacheBusyTimeOutMills (1000 by default).
var lockHoldBounds = [...]int64{1, 5, 10, 50, 100, 500, 1000, 5000}

// lockHoldHistogram counts how long each append took (the lock hold and the
// checks and preparation around it; never the sync, which is pipelined).
type lockHoldHistogram struct {
	counts   [len(lockHoldBounds) + 1]atomic.Uint64
	sumNanos atomic.Int64
}

func (h *lockHoldHistogram) observe(d time.Duration) {
	h.sumNanos.Add(int64(d))
	ms := d.Milliseconds()
	for i, b := range lockHoldBounds {
		if ms <= b {
			h.counts[i].Add(1)
			return
		}
	}
	h.counts[len(lockHoldBounds)].Add(1)
}

func (h *lockHoldHistogram) buckets() []tree.Bucket {
	out := make([]tree.Bucket, 0, len(h.counts))
	for i, b := range lockHoldBounds {
		out = append(out, tree.Bucket{LeMillis: b, Count: h.counts[i].Load()})
	}
	return append(out, tree.Bucket{LeMillis: -1, Count: h.counts[len(lockHoldBounds)].Load()})
}
