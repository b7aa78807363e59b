package commitlog

import (
	"sync"
	"sync/atomic"
	"time"
)

// GroupCommitRequest is one appended batch waiting, under SyncFlush and/or
// SyncMaster, for the flush and the slave acknowledgement that cover it
// (RocketMQ's GroupCommitRequest, used by both GroupCommitService and
// GroupTransferService). Its owner makes it once, sets Wakeup, and hands it
// to Append again and again; the store never keeps it past the Wakeup call.
type GroupCommitRequest struct {
	// Wakeup is called exactly once per Append that returned true: with
	// PutOK when a flush (SyncFlush) and a slave's acknowledgement
	// (SyncMaster) have covered the batch; with PutFlushDiskTimeout when
	// no flush did within SyncFlushTimeout of the append; with
	// PutFlushSlaveTimeout when no slave acknowledged it in that time, or
	// PutSlaveNotAvailable when no slave was fit to (the slave's status
	// wins when both fail, as RocketMQ's asyncPutMessage combines them).
	// It runs on a waiter's goroutine or on its timeout watcher's, never
	// two at once, in the order the batches were appended; it must not
	// block.
	Wakeup func(PutStatus)

	nextOffset int64 // the log's end after the batch
	deadline   int64 // unix ns: the append's time plus SyncFlushTimeout
	// flushStatus is the flush stage's answer, carried into the
	// replication stage; replStatus is preset to PutSlaveNotAvailable when
	// Append found no slave fit (replication.go).
	flushStatus PutStatus
	replStatus  PutStatus
	puts        int64 // the batch's requests (the flush stage counts them)
}

// waitFIFO is the queue design shared by the flush wait (GroupCommitService)
// and the slave wait (GroupTransferService): appended batches wait, in
// append order, for one offset — the flushed position, or the offset a
// slave has acknowledged — to pass their end. Whoever moves that offset
// calls wakeReached; a watcher goroutine (RocketMQ's FlushDiskWatcher)
// answers the head with the stage's timeout status as soon as its
// deadline passes, even while the offset is stuck. Deadlines grow with the
// FIFO, so the watcher only ever looks at its head; whoever pops a request
// passes it on, under wakeMu, so each is passed once and all in order.
type waitFIFO struct {
	timedOut PutStatus // the stage's status for a request past its deadline
	// deliver passes a popped request on (to its Wakeup, or to the next
	// stage) with the stage's status. Called under wakeMu.
	deliver func(r *GroupCommitRequest, st PutStatus)
	// done reports whether r needs no more waiting besides the offset
	// (nil: only the offset counts).
	done func(r *GroupCommitRequest) bool

	mu      sync.Mutex
	pending []*GroupCommitRequest // a ring: head at first, n entries
	first   int
	n       int

	// wakeMu is held while requests are popped and passed on, so that the
	// stage's goroutines pass them in FIFO order, one at a time.
	wakeMu sync.Mutex
	popped []*GroupCommitRequest // reused by whoever holds wakeMu

	watchWake chan struct{} // the FIFO went from empty to not empty
}

func (w *waitFIFO) init(timedOut PutStatus, deliver func(*GroupCommitRequest, PutStatus)) {
	w.timedOut = timedOut
	w.deliver = deliver
	w.pending = make([]*GroupCommitRequest, 64)
	w.watchWake = make(chan struct{}, 1)
}

// push queues r, whose nextOffset and deadline are set, and returns how
// many are queued now.
func (w *waitFIFO) push(r *GroupCommitRequest) int {
	w.mu.Lock()
	if w.n == len(w.pending) {
		// Callers bound how many batches they keep waiting (the writer's
		// pipeline depth), so this happens only while the ring warms up.
		grown := make([]*GroupCommitRequest, 2*len(w.pending))
		for i := 0; i < w.n; i++ {
			grown[i] = w.pending[(w.first+i)%len(w.pending)]
		}
		w.pending, w.first = grown, 0
	}
	w.pending[(w.first+w.n)%len(w.pending)] = r
	w.n++
	n := w.n
	w.mu.Unlock()
	if n == 1 {
		signal(w.watchWake)
	}
	return n
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// popWhile moves the head requests for which keep is true into w.popped.
// Caller holds wakeMu.
func (w *waitFIFO) popWhile(keep func(*GroupCommitRequest) bool) {
	w.popped = w.popped[:0]
	w.mu.Lock()
	for w.n > 0 {
		r := w.pending[w.first]
		if !keep(r) {
			break
		}
		w.pending[w.first] = nil
		w.first = (w.first + 1) % len(w.pending)
		w.n--
		w.popped = append(w.popped, r)
	}
	w.mu.Unlock()
}

// passPopped passes on what popWhile took. Caller holds wakeMu.
func (w *waitFIFO) passPopped(st PutStatus) {
	for i, r := range w.popped {
		w.popped[i] = nil
		w.deliver(r, st)
	}
	w.popped = w.popped[:0]
}

// wakeReached passes on, PutOK, every head request the stage's offset has
// reached (or that needs no waiting, per done), and returns how many.
func (w *waitFIFO) wakeReached(reached int64) int {
	w.wakeMu.Lock()
	w.popWhile(func(r *GroupCommitRequest) bool {
		return r.nextOffset <= reached || (w.done != nil && w.done(r))
	})
	n := len(w.popped)
	w.passPopped(PutOK)
	w.wakeMu.Unlock()
	return n
}

// wakeAll passes on every request still queued: PutOK if reached, else the
// stage's timeout status (the stage's last pass at Close).
func (w *waitFIFO) wakeAll(reached int64) {
	w.wakeReached(reached)
	w.wakeMu.Lock()
	w.popWhile(func(*GroupCommitRequest) bool { return true })
	w.passPopped(w.timedOut)
	w.wakeMu.Unlock()
}

// headDeadline is the deadline of the oldest request; false when none waits.
func (w *waitFIFO) headDeadline() (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 {
		return 0, false
	}
	return w.pending[w.first].deadline, true
}

func (w *waitFIFO) queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// watch is the stage's watcher: it passes the head request on with the
// stage's timeout status once its deadline has passed. It returns when
// stop is closed.
func (w *waitFIFO) watch(stop <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		deadline, ok := w.headDeadline()
		if !ok {
			select {
			case <-w.watchWake:
				continue
			case <-stop:
				return
			}
		}
		if wait := time.Duration(deadline - time.Now().UnixNano()); wait > 0 {
			// The head may be woken meanwhile; the timer then fires early
			// for the new head, which is looked at again.
			t.Reset(wait)
			select {
			case <-t.C:
			case <-stop:
				t.Stop()
				return
			}
			continue
		}
		now := time.Now().UnixNano()
		w.wakeMu.Lock()
		w.popWhile(func(r *GroupCommitRequest) bool { return r.deadline <= now })
		w.passPopped(w.timedOut)
		w.wakeMu.Unlock()
	}
}

// groupCommit is SyncFlush's GroupCommitService. The writer no longer waits
// for it: Append queues the batch's request and returns, so the writer
// appends the next batch while the disk syncs the previous ones. The service
// flushes everything appended so far (one sync for every batch queued, and
// for whatever came before them unflushed), then wakes every request the
// flush covered; requests queued during that flush are the next flush's —
// the effect of RocketMQ's requestsWrite / requestsRead swap — which
// starts when gather says (at once, unless the producers just answered
// are expected back within a sync's time). The sync runs
// outside the lock-hold window, as in RocketMQ, so a slow disk shows as
// flush timeouts, not as a busy page cache. Its FIFO and watcher are the
// waitFIFO it shares with the replication wait.
type groupCommit struct {
	s *Store
	waitFIFO
	timeout time.Duration

	flushWake chan struct{} // a request arrived: flush
	// queuedPuts is how many PutRequests (client requests) the queued
	// batches hold, passedPuts how many it has passed on so far; the
	// writer packs the same producers into fewer or more batches from one
	// sync to the next, so gather counts requests, not batches.
	queuedPuts atomic.Int64
	passedPuts atomic.Int64
	// wantQueued is how many queued requests make submit wake the
	// flusher: 1, except while it gathers (see gather).
	wantQueued atomic.Int64
	// gathers counts the flushes gather delayed, gatherNanos their total
	// delay (RuntimeInfo: the facts behind SYNC_FLUSH throughput).
	gathers     atomic.Int64
	gatherNanos atomic.Int64
}

func newGroupCommit(s *Store) *groupCommit {
	g := &groupCommit{
		s:         s,
		timeout:   time.Duration(s.cfg.SyncFlushTimeout) * time.Millisecond,
		flushWake: make(chan struct{}, 1),
	}
	g.wantQueued.Store(1)
	g.waitFIFO.init(PutFlushDiskTimeout, s.afterFlush)
	return g
}

// afterFlush passes a request the flush stage is done with on: to the
// replication stage under SyncMaster, else to its Wakeup.
func (s *Store) afterFlush(r *GroupCommitRequest, st PutStatus) {
	s.gc.queuedPuts.Add(-r.puts)
	s.gc.passedPuts.Add(r.puts)
	if s.repl != nil {
		r.flushStatus = st
		s.repl.push(r)
		return
	}
	r.Wakeup(st)
}

// submit queues r for the flush that covers nextOffset. Called under putMu,
// so that Close (which takes putMu before stopping the service) never misses
// a request: the service's last pass wakes every request queued before it.
func (g *groupCommit) submit(r *GroupCommitRequest, puts int, nextOffset int64, now time.Time) {
	r.nextOffset = nextOffset
	r.deadline = now.Add(g.timeout).UnixNano()
	r.puts = int64(puts)
	queued := g.queuedPuts.Add(r.puts)
	g.push(r)
	if queued >= g.wantQueued.Load() {
		signal(g.flushWake)
	}
}

// wakeFlushed wakes every head request the log is flushed past and
// returns how many PutRequests they held.
func (g *groupCommit) wakeFlushed() int64 {
	before := g.passedPuts.Load()
	g.wakeReached(g.s.clq.flushedWhere.Load())
	return g.passedPuts.Load() - before
}

// maxGather bounds gather's delay whatever the syncs take: a request that
// arrived during a flush never waits more than this for the next to start.
const maxGather = 2 * time.Millisecond

// gather decides when the next flush starts, after one that took took and
// answered answered requests. Starting it at once (RocketMQ's service
// does) halves the throughput of producers that each wait for their ack:
// the ones just answered send again a round trip later, after the next
// sync has begun, and wait for the one after it — so each producer gets
// one message per two syncs (measured: 35 of 64 producers per sync). So
// the flusher waits, like PostgreSQL's commit_delay, until as many
// requests are queued as the last flush answered (they have all come
// back) or as long as the last sync took (capped at maxGather), whichever
// is first. A sync then covers every producer (measured: 63 of 64, where
// waiting half a sync covered 49-57) and costs at most one sync of extra
// latency to those that arrived during the previous one; with requests to
// spare (many in flight per producer) nothing waits.
// Not under SyncMaster: there the flush does not answer anyone, the
// slave's acknowledgement does, and nobody comes back a round trip after
// the flush. FLUSH_DISK_TIMEOUT is the watcher's and stays exact.
func (g *groupCommit) gather(answered int64, took time.Duration, timer *time.Timer) {
	if answered <= 1 || g.s.repl != nil {
		return
	}
	wait := min(took, maxGather)
	if wait <= 0 || g.queuedPuts.Load() >= answered {
		return
	}
	start := time.Now()
	g.wantQueued.Store(answered)
	defer g.wantQueued.Store(1)
	timer.Reset(wait)
	defer timer.Stop()
	for g.queuedPuts.Load() < answered {
		select {
		case <-g.flushWake:
		case <-timer.C:
			g.gathers.Add(1)
			g.gatherNanos.Add(int64(time.Since(start)))
			return
		case <-g.s.stop:
			return
		}
	}
	g.gathers.Add(1)
	g.gatherNanos.Add(int64(time.Since(start)))
}

// run is the flusher: flush while requests wait, wake those covered.
func (g *groupCommit) run() {
	defer g.s.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-g.flushWake:
		case <-g.s.stop:
			g.final()
			return
		}
		for g.queued() > 0 {
			start := time.Now()
			if err := g.s.flushCommitLog(); err != nil {
				// No wake-up: the watcher answers FLUSH_DISK_TIMEOUT at the
				// deadline. Try again at the next request or in 10 ms
				// (RocketMQ's waitForRunning(10)), not in a tight loop.
				g.s.log.Error().Err(err).Msg("group commit flush failed")
				select {
				case <-g.flushWake:
				case <-time.After(10 * time.Millisecond):
				case <-g.s.stop:
					g.final()
					return
				}
				continue
			}
			took := time.Since(start)
			g.gather(g.wakeFlushed(), took, timer)
		}
	}
}

// final is the service's last pass at Close: one more flush, then every
// request still queued is woken, PutOK if covered, else
// PutFlushDiskTimeout.
func (g *groupCommit) final() {
	if err := g.s.flushCommitLog(); err != nil {
		g.s.log.Error().Err(err).Msg("group commit flush at close failed")
	}
	g.wakeAll(g.s.clq.flushedWhere.Load())
}

// watch is the FlushDiskWatcher.
func (g *groupCommit) watch() {
	defer g.s.wg.Done()
	g.waitFIFO.watch(g.s.stop)
}
