package commitlog

import (
	"encoding/binary"
	"fmt"
	"time"
)

// The dispatcher is RocketMQ's ReputMessageService: it follows the commit
// log from reputFrom up to what is readable (committed, with the pool) and,
// for every record, writes the consume-queue entry and tells the
// OnMessageArrived callback. It is the only writer of consume queues.

// OnMessageArrived registers fn, called by the dispatcher after a record's
// consume-queue entry is written, with the queue's new max offset (for long
// polling). fn runs on the dispatcher goroutine and must not block. nil
// removes it.
func (s *Store) OnMessageArrived(fn func(topic string, queueID int32, maxOffset int64)) {
	if fn == nil {
		s.arrived.Store(nil)
		return
	}
	s.arrived.Store(&fn)
}

// wake pokes a goroutine waiting on ch without blocking.
func (s *Store) wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// runDispatcher is the dispatcher goroutine.
func (s *Store) runDispatcher() {
	defer s.wg.Done()
	// The ticker only backs up the wake-ups from Put and the committer.
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if err := s.dispatch(); err != nil {
			if !s.dispatchBroken.Swap(true) {
				s.log.Error().Err(err).Int64("offset", s.reputFrom.Load()).Msg("[BUG] dispatch to consume queues stopped")
			}
		}
		select {
		case <-s.dispatchWake:
		case <-t.C:
		case <-s.stop:
			return
		}
	}
}

// dispatch indexes everything readable and returns when caught up. It is
// also run directly by Open (recovery) before any goroutine starts.
func (s *Store) dispatch() error {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	from := s.reputFrom.Load()
	for {
		if from < s.clq.minOffset() {
			from = s.clq.minOffset()
		}
		f := s.clq.findByOffset(from)
		if f == nil {
			return nil
		}
		pos := from - f.from
		readable := f.readable()
		if pos >= readable {
			if readable == f.size {
				from = f.from + f.size
				s.reputFrom.Store(from)
				continue
			}
			return nil
		}
		b := f.data[pos:readable]
		if len(b) < blankLen {
			return fmt.Errorf("dispatch at %d: %d readable bytes are not a record", from, len(b))
		}
		if binary.BigEndian.Uint32(b[offMagic:]) == MagicBlank {
			from = f.from + f.size
			s.reputFrom.Store(from)
			continue
		}
		ri, err := parseRecord(b, false)
		if err != nil {
			return fmt.Errorf("dispatch at %d: %w", from, err)
		}
		if !isTxHalfOrRollback(ri.sysFlag) {
			cq := s.cqs.findOrCreate(ri.topic, ri.queueID)
			if err := cq.put(ri.queueOffset, from, ri.size, ri.tagsCode); err != nil {
				return fmt.Errorf("dispatch at %d to %s/%d: %w", from, cq.topic, cq.queueID, err)
			}
			if fn := s.arrived.Load(); fn != nil {
				(*fn)(cq.topic, cq.queueID, ri.queueOffset+1)
			}
		}
		from += int64(ri.size)
		s.reputFrom.Store(from)
	}
}
