package commitlog

import "time"

// groupCommit is SyncFlush's GroupCommitService: the writer hands it the
// log's end offset after a batch and waits; it flushes everything appended
// so far (one sync for all of the batch, and for whatever came before it
// unflushed) and answers with the flushed offset. The sync runs outside the
// lock-hold window, as in RocketMQ, so a slow disk shows as flush timeouts,
// not as a busy page cache.
type groupCommit struct {
	s       *Store
	req     chan int64
	done    chan int64
	timer   *time.Timer // writer-owned, reused so a wait allocates nothing
	timeout time.Duration
}

func newGroupCommit(s *Store) *groupCommit {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &groupCommit{
		s:       s,
		req:     make(chan int64, 1),
		done:    make(chan int64, 1),
		timer:   t,
		timeout: time.Duration(s.cfg.SyncFlushTimeout) * time.Millisecond,
	}
}

// waitFlushed blocks until the log is flushed up to target or the timeout
// passes (false). Writer goroutine only.
func (g *groupCommit) waitFlushed(target int64) bool {
	g.timer.Reset(g.timeout)
	defer g.timer.Stop()
	select {
	case g.req <- target:
	case <-g.timer.C:
		return false
	}
	for {
		select {
		case flushed := <-g.done:
			// An answer to an earlier, timed-out request can arrive first.
			if flushed >= target {
				return true
			}
		case <-g.timer.C:
			return false
		}
	}
}

// run serves requests until the store stops.
func (g *groupCommit) run() {
	defer g.s.wg.Done()
	for {
		select {
		case <-g.req:
			if err := g.s.flushCommitLog(); err != nil {
				g.s.log.Error().Err(err).Msg("group commit flush failed")
				continue // no answer: the writer times out with FLUSH_DISK_TIMEOUT
			}
			select {
			case g.done <- g.s.clq.flushedWhere.Load():
			case <-g.s.stop:
				return
			}
		case <-g.s.stop:
			return
		}
	}
}
