package commitlog

import (
	"sync"
	"time"
)

// GroupCommitRequest is one appended batch waiting, under SyncFlush, for the
// flush that covers it (RocketMQ's GroupCommitRequest). Its owner makes it
// once, sets Wakeup, and hands it to Append again and again; the store never
// keeps it past the Wakeup call.
type GroupCommitRequest struct {
	// Wakeup is called exactly once per Append that returned true: with
	// PutOK when a flush has covered the batch, with PutFlushDiskTimeout
	// when none did within SyncFlushTimeout of the append. It runs on the
	// group-commit service's goroutine or on its timeout watcher's, never
	// both at once, in the order the batches were appended; it must not
	// block.
	Wakeup func(PutStatus)

	nextOffset int64 // the log's end after the batch
	deadline   int64 // unix ns: the append's time plus SyncFlushTimeout
}

// groupCommit is SyncFlush's GroupCommitService. The writer no longer waits
// for it: Append queues the batch's request and returns, so the writer
// appends the next batch while the disk syncs the previous ones. The service
// flushes everything appended so far (one sync for every batch queued, and
// for whatever came before them unflushed), then wakes every request the
// flush covered; requests queued during that flush are the next flush's —
// the effect of RocketMQ's requestsWrite / requestsRead swap. The sync runs
// outside the lock-hold window, as in RocketMQ, so a slow disk shows as
// flush timeouts, not as a busy page cache.
//
// A watcher goroutine (RocketMQ's FlushDiskWatcher) wakes a request with
// PutFlushDiskTimeout as soon as its deadline passes, even while a flush is
// stuck in the kernel, so FLUSH_DISK_TIMEOUT comes after exactly
// SyncFlushTimeout. One FIFO holds the requests for both (its deadlines
// grow with it, so the watcher only ever looks at its head); whoever pops a
// request wakes it, under wakeMu, so each is woken once and all in order.
type groupCommit struct {
	s       *Store
	timeout time.Duration

	mu      sync.Mutex
	pending []*GroupCommitRequest // a ring: head at first, n entries
	first   int
	n       int

	// wakeMu is held while requests are popped and woken, so that the
	// flusher and the watcher wake them in FIFO order, one at a time.
	wakeMu sync.Mutex
	popped []*GroupCommitRequest // reused by whoever holds wakeMu

	flushWake chan struct{} // a request arrived: flush
	watchWake chan struct{} // the FIFO went from empty to not empty

	// sync is Put's own request, reused (Put is single-caller).
	sync     GroupCommitRequest
	syncDone chan PutStatus
}

func newGroupCommit(s *Store) *groupCommit {
	g := &groupCommit{
		s:         s,
		timeout:   time.Duration(s.cfg.SyncFlushTimeout) * time.Millisecond,
		pending:   make([]*GroupCommitRequest, 64),
		flushWake: make(chan struct{}, 1),
		watchWake: make(chan struct{}, 1),
		syncDone:  make(chan PutStatus, 1),
	}
	g.sync.Wakeup = func(st PutStatus) { g.syncDone <- st }
	return g
}

// submit queues r for the flush that covers nextOffset. Called under putMu,
// so that Close (which takes putMu before stopping the service) never misses
// a request: the service's last pass wakes every request queued before it.
func (g *groupCommit) submit(r *GroupCommitRequest, nextOffset int64, now time.Time) {
	r.nextOffset = nextOffset
	r.deadline = now.Add(g.timeout).UnixNano()
	g.mu.Lock()
	if g.n == len(g.pending) {
		// Callers bound how many batches they keep waiting (the writer's
		// pipeline depth), so this happens only while the ring warms up.
		grown := make([]*GroupCommitRequest, 2*len(g.pending))
		for i := 0; i < g.n; i++ {
			grown[i] = g.pending[(g.first+i)%len(g.pending)]
		}
		g.pending, g.first = grown, 0
	}
	g.pending[(g.first+g.n)%len(g.pending)] = r
	g.n++
	wasEmpty := g.n == 1
	g.mu.Unlock()
	signal(g.flushWake)
	if wasEmpty {
		signal(g.watchWake)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// popWhile moves the head requests for which keep is true into g.popped.
// Caller holds wakeMu.
func (g *groupCommit) popWhile(keep func(*GroupCommitRequest) bool) {
	g.popped = g.popped[:0]
	g.mu.Lock()
	for g.n > 0 {
		r := g.pending[g.first]
		if !keep(r) {
			break
		}
		g.pending[g.first] = nil
		g.first = (g.first + 1) % len(g.pending)
		g.n--
		g.popped = append(g.popped, r)
	}
	g.mu.Unlock()
}

// wakePopped wakes what popWhile took. Caller holds wakeMu.
func (g *groupCommit) wakePopped(st PutStatus) {
	for i, r := range g.popped {
		g.popped[i] = nil
		r.Wakeup(st)
	}
	g.popped = g.popped[:0]
}

// wakeFlushed wakes every head request the log is flushed past.
func (g *groupCommit) wakeFlushed() {
	flushed := g.s.clq.flushedWhere.Load()
	g.wakeMu.Lock()
	g.popWhile(func(r *GroupCommitRequest) bool { return r.nextOffset <= flushed })
	g.wakePopped(PutOK)
	g.wakeMu.Unlock()
}

// headDeadline is the deadline of the oldest request; false when none waits.
func (g *groupCommit) headDeadline() (int64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		return 0, false
	}
	return g.pending[g.first].deadline, true
}

func (g *groupCommit) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// run is the flusher: flush while requests wait, wake those covered.
func (g *groupCommit) run() {
	defer g.s.wg.Done()
	for {
		select {
		case <-g.flushWake:
		case <-g.s.stop:
			g.final()
			return
		}
		for g.queued() > 0 {
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
			g.wakeFlushed()
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
	g.wakeFlushed()
	g.wakeMu.Lock()
	g.popWhile(func(*GroupCommitRequest) bool { return true })
	g.wakePopped(PutFlushDiskTimeout)
	g.wakeMu.Unlock()
}

// watch is the FlushDiskWatcher: it wakes the head request with
// PutFlushDiskTimeout once its deadline has passed.
func (g *groupCommit) watch() {
	defer g.s.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		deadline, ok := g.headDeadline()
		if !ok {
			select {
			case <-g.watchWake:
				continue
			case <-g.s.stop:
				return
			}
		}
		if wait := time.Duration(deadline - time.Now().UnixNano()); wait > 0 {
			// The head may be woken by a flush meanwhile; the timer then
			// fires early for the new head, which is looked at again.
			t.Reset(wait)
			select {
			case <-t.C:
			case <-g.s.stop:
				t.Stop()
				return
			}
			continue
		}
		now := time.Now().UnixNano()
		g.wakeMu.Lock()
		g.popWhile(func(r *GroupCommitRequest) bool { return r.deadline <= now })
		g.wakePopped(PutFlushDiskTimeout)
		g.wakeMu.Unlock()
	}
}

// waitSync waits for Put's own request.
func (g *groupCommit) waitSync() PutStatus { return <-g.syncDone }
