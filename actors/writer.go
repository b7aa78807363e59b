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
// the request it answers and what to do with its result. Done runs on the
// writer's goroutine after the append (and, with SYNC_FLUSH, the sync that
// covers it) and must not block. Cancelled runs instead when the
// fast-failure sweep takes the job back before the writer reached it; the
// sweep has answered the request by then, so Cancelled only recycles.
type AppendJob struct {
	Put       commitlog.PutRequest
	Req       *Request
	Done      func(*AppendJob)
	Cancelled func(*AppendJob)
}

// Writer is the actor that owns the commit log's write side: it is the
// only caller of Store.Put. Each turn it drains up to maxBatch queued jobs
// and appends them in one lock-hold, so under load one Put — and with
// SYNC_FLUSH one fsync — serves many producers (group commit).
//
// Senders take a slot from Slots before handing a job over and the writer
// gives it back when the job joins a batch. A stalled writer therefore
// holds at most cap(Slots) jobs; the rest of the backlog stays in the send
// processor's mailbox, where the fast-failure sweep can answer it.
type Writer struct {
	store *commitlog.Store
	// put is store.Put; tests make it panic.
	put     func([]*commitlog.PutRequest)
	mailbox *Mailbox
	pid     *actor.PID
	slots   chan struct{}
	root    *actor.RootContext

	dispatcher *pinnedDispatcher

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
	return &Writer{store: store, put: store.Put, slots: make(chan struct{}, window)}
}

// Spawn starts the writer actor, named "writer", under parent.
func (w *Writer) Spawn(parent actor.SpawnerContext, root *actor.RootContext) (*actor.PID, error) {
	// The mailbox holds at most the window; its capacity is not what bounds it.
	w.mailbox = NewMailbox(cap(w.slots) + 1)
	w.root = root
	w.dispatcher = newPinnedDispatcher()
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

// pinnedDispatcher runs an actor's mailbox turns on one long-lived
// goroutine. protoactor's default dispatcher starts a goroutine per turn;
// the writer takes a turn every few microseconds under load, and each new
// goroutine regrew the stack of the deep append path (15 % of the writer's
// CPU in the profile).
type pinnedDispatcher struct {
	work chan func()
	done chan struct{}
	once sync.Once
}

func newPinnedDispatcher() *pinnedDispatcher {
	d := &pinnedDispatcher{work: make(chan func(), 1), done: make(chan struct{})}
	go func() {
		for {
			select {
			case fn := <-d.work:
				fn()
			case <-d.done:
				return
			}
		}
	}()
	return d
}

// Schedule runs fn on the pinned goroutine. The mailbox schedules at most
// one turn at a time, so the channel never holds more than one.
func (d *pinnedDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	case <-d.done:
	}
}

// Throughput is how many messages a turn handles before yielding.
func (d *pinnedDispatcher) Throughput() int { return 300 }

func (d *pinnedDispatcher) stop() { d.once.Do(func() { close(d.done) }) }

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
	start := time.Now()
	w.put(a.batch)
	w.holds.observe(time.Since(start))
	w.batches.Add(1)
	w.appended.Add(uint64(len(a.jobs)))
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

// lockHoldHistogram counts how long each Put took (the lock hold, plus the
// sync wait under SYNC_FLUSH).
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
