package commitlog

import "time"

// flushCommitLog forces the committed part of the commit log to disk. The
// async flusher, the group-commit service and Close call it; flushMu keeps
// them from walking flushedWhere at the same time.
func (s *Store) flushCommitLog() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if hold := s.flushHold.Load(); hold != nil {
		select {
		case <-*hold:
		case <-s.stop:
		}
	}
	return s.clq.flush()
}

// SetFlushHold makes every commit-log flush wait, before its sync, until
// it is called again with false (or the store closes): a disk that does
// not answer. For tests and demos of SYNC_FLUSH's pipeline and timeouts.
func (s *Store) SetFlushHold(on bool) {
	if on {
		c := make(chan struct{})
		s.flushHold.CompareAndSwap(nil, &c) // already held: stays held
		return
	}
	if c := s.flushHold.Swap(nil); c != nil {
		close(*c)
	}
}

// runFlushEvery flushes the commit log every period until the store
// stops: ASYNC_FLUSH's FlushRealTimeService (every FlushIntervalCommitLog),
// and a SYNC_FLUSH slave's flush of the HA client's appends (every 10 ms,
// as RocketMQ's GroupCommitService flushes when it has no request).
func (s *Store) runFlushEvery(period time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.flushCommitLog(); err != nil {
				s.log.Error().Err(err).Msg("commit log flush failed")
			}
		case <-s.stop:
			return
		}
	}
}

// runCommitRealTime is the transient pool's CommitRealTimeService: every
// CommitIntervalCommitLog, write the pool buffers' new bytes into their
// files (which makes them readable) and wake the dispatcher.
func (s *Store) runCommitRealTime() {
	defer s.wg.Done()
	t := time.NewTicker(time.Duration(s.cfg.CommitIntervalCommitLog) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.commitPool(); err != nil {
				s.log.Error().Err(err).Msg("transient store pool commit failed")
			}
		case <-s.stop:
			return
		}
	}
}

// commitPool commits pool bytes; serialised with Close's final commit.
func (s *Store) commitPool() error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	progressed, err := s.clq.commit()
	if progressed {
		s.wake(s.dispatchWake)
	}
	return err
}

// flushConsumeQueues forces every consume queue, then records in the
// checkpoint what is now durable. The indexed position (the dispatch
// position, held back by a queue a full disk stalled) is read before the
// queues are flushed, so every entry below it is covered.
func (s *Store) flushConsumeQueues(clean bool) error {
	s.cqFlushMu.Lock()
	defer s.cqFlushMu.Unlock()
	cqFlushed := s.indexedUpTo()
	s.cqs.mu.RLock()
	var firstErr error
	for _, qs := range s.cqs.topics {
		for _, cq := range qs {
			if err := cq.mfq.flush(); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	s.cqs.mu.RUnlock()
	if firstErr != nil {
		return firstErr
	}
	return s.cp.write(checkpointData{
		physFlushed: s.clq.flushedWhere.Load(),
		cqFlushed:   cqFlushed,
		writtenAtMs: s.nowMillis(),
		clean:       clean,
	})
}

// runFlushConsumeQueue is FlushConsumeQueueService: flush the consume queues
// and write the checkpoint every FlushIntervalConsumeQueue.
func (s *Store) runFlushConsumeQueue() {
	defer s.wg.Done()
	t := time.NewTicker(time.Duration(s.cfg.FlushIntervalConsumeQueue) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.flushConsumeQueues(false); err != nil {
				s.log.Error().Err(err).Msg("consume queue flush / checkpoint failed")
			}
		case <-s.stop:
			return
		}
	}
}
