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
// consume-queue entry is written, with the queue's new max offset and the
// record's tag code (for long polling: only pulls whose filter takes the
// tag need waking, as RocketMQ's NotifyMessageArrivingListener passes it).
// fn runs on the dispatcher goroutine and must not block. nil removes it.
func (s *Store) OnMessageArrived(fn func(topic string, queueID int32, maxOffset, tagsCode int64)) {
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

// dispatch indexes everything readable and returns when caught up, then
// retries the queues whose entries could not be written. It is also run
// directly by Open (recovery) before any goroutine starts, and by Close. Its error is a commit-log record it cannot read (a bug);
// a consume-queue write that fails (a full disk) stalls that queue only.
func (s *Store) dispatch() error {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	from := s.reputFrom.Load()
	for {
		ri, at, next, kind, err := s.nextRecord(from)
		if err != nil {
			return fmt.Errorf("dispatch at %d: %w", at, err)
		}
		if kind == recNone {
			break
		}
		if kind == recRecord {
			s.dispatchRecord(at, &ri)
		}
		from = next
		s.reputFrom.Store(from)
	}
	s.pruneBarriers(from)
	s.retryStalled(from)
	return nil
}

// What nextRecord found.
const (
	recNone   = iota // nothing (more) readable yet
	recSkip          // a BLANK marker or the end of a file: go on at next
	recRecord        // a record at at, the next one at next
)

// nextRecord reads what starts at commit-log offset from (moved up to the
// log's start if it is below); ri.tagsCode is the consume-queue entry's tags
// code. It does not allocate.
func (s *Store) nextRecord(from int64) (ri recordInfo, at, next int64, kind int, err error) {
	if lo := s.clq.minOffset(); from < lo {
		from = lo
	}
	f := s.clq.findByOffset(from)
	if f == nil {
		return ri, from, from, recNone, nil
	}
	pos := from - f.from
	readable := f.readable()
	if pos >= readable {
		if readable == f.size {
			return ri, from, f.from + f.size, recSkip, nil
		}
		return ri, from, from, recNone, nil
	}
	b := f.data[pos:readable]
	if s.cfg.BrokerRole == Slave && s.partialTail(b, f.size-pos) {
		// The master's stream cuts records anywhere: the rest comes with
		// the next transfer (RocketMQ's reput waits the same way on a slave).
		return ri, from, from, recNone, nil
	}
	if len(b) < blankLen {
		return ri, from, from, recNone, fmt.Errorf("%d readable bytes are not a record", len(b))
	}
	if binary.BigEndian.Uint32(b[offMagic:]) == MagicBlank {
		return ri, from, f.from + f.size, recSkip, nil
	}
	if ri, err = parseRecord(b, false); err != nil {
		return ri, from, from, recNone, err
	}
	// Everything that writes consume-queue entries reads records here, so
	// dispatch, catch-up and rebuild agree on a schedule entry's delivery time.
	ri.tagsCode = s.delays.cqTagsCode(&ri)
	return ri, from, from + int64(ri.size), recRecord, nil
}

// partialTail reports that b, the readable rest of a file with room bytes
// left in it, is the start of a record whose end is not there yet: fewer
// bytes than its header, or than its TOTALSIZE says.
func (s *Store) partialTail(b []byte, room int64) bool {
	if len(b) < blankLen {
		return true
	}
	size := int64(binary.BigEndian.Uint32(b[offTotalSize:]))
	magic := binary.BigEndian.Uint32(b[offMagic:])
	if magic == MagicBlank {
		return false
	}
	return magic == MagicV1 && size > int64(len(b)) && size <= room
}

// dispatchRecord writes the consume-queue entry of the record at at, and
// indexes its keys (RocketMQ's two dispatchers, the index one after).
func (s *Store) dispatchRecord(at int64, ri *recordInfo) {
	s.indexRecord(at, ri)
	if isTxHalfOrRollback(ri.sysFlag) || s.deletedBefore(ri.topic, at) {
		return
	}
	cq := s.cqs.findOrCreate(ri.topic, ri.queueID)
	if cq.stallFrom >= 0 {
		// Entries go in order: this one waits for the retry.
		cq.pendingMax = max(cq.pendingMax, ri.queueOffset+1)
		return
	}
	if err := cq.put(ri.queueOffset, at, ri.size, ri.tagsCode); err != nil {
		cq.stallFrom = at
		cq.pendingMax = max(cq.pendingMax, ri.queueOffset+1)
		s.stalled = append(s.stalled, cq)
		s.updateStallFloor()
		s.log.Error().Err(err).Str("topic", cq.topic).Int32("queueId", cq.queueID).Int64("offset", at).
			Msg("cannot write a consume-queue entry; this queue is retried until it can be, other queues go on")
		return
	}
	s.notifyArrived(cq, ri.queueOffset+1, ri.tagsCode)
}

func (s *Store) notifyArrived(cq *consumeQueue, maxOffset, tagsCode int64) {
	if fn := s.arrived.Load(); fn != nil {
		(*fn)(cq.topic, cq.queueID, maxOffset, tagsCode)
	}
}

// retryStalled gives every stalled queue another go at its records below
// upTo. A queue that still fails stops at its first record, so a stall
// costs one failed write per pass, not a rescan.
func (s *Store) retryStalled(upTo int64) {
	if len(s.stalled) == 0 {
		return
	}
	keep := s.stalled[:0]
	for _, cq := range s.stalled {
		if cq.removed.Load() {
			cq.stallFrom = -1
			continue
		}
		from := cq.stallFrom
		if !s.catchUp(cq, upTo) {
			keep = append(keep, cq)
			continue
		}
		s.log.Info().Str("topic", cq.topic).Int32("queueId", cq.queueID).Int64("fromOffset", from).
			Msg("consume queue caught up after a failed entry write")
	}
	clear(s.stalled[len(keep):])
	s.stalled = keep
	s.updateStallFloor()
}

// catchUp writes cq's entries for its records from cq.stallFrom to upTo;
// it reports whether it got there.
func (s *Store) catchUp(cq *consumeQueue, upTo int64) bool {
	for from := cq.stallFrom; from < upTo; {
		ri, at, next, kind, err := s.nextRecord(from)
		if err != nil || kind == recNone {
			return false
		}
		if kind == recRecord && !isTxHalfOrRollback(ri.sysFlag) && ri.queueID == cq.queueID && string(ri.topic) == cq.topic {
			if err := cq.put(ri.queueOffset, at, ri.size, ri.tagsCode); err != nil {
				cq.stallFrom = at
				return false
			}
			s.notifyArrived(cq, ri.queueOffset+1, ri.tagsCode)
		}
		from = next
	}
	cq.stallFrom = -1
	return true
}

// updateStallFloor publishes the lowest commit-log offset a stalled queue
// still has to index (-1 for none), for the checkpoint and retention.
func (s *Store) updateStallFloor() {
	floor := int64(-1)
	for _, cq := range s.stalled {
		if floor < 0 || cq.stallFrom < floor {
			floor = cq.stallFrom
		}
	}
	s.stallFloor.Store(floor)
	s.stalledQueues.Store(int64(len(s.stalled)))
}

// indexedUpTo is the commit-log offset below which every record has its
// consume-queue entry written: the dispatch position, held back by a
// stalled queue.
func (s *Store) indexedUpTo() int64 {
	r := s.reputFrom.Load()
	if f := s.stallFloor.Load(); f >= 0 && f < r {
		return f
	}
	return r
}

// A deletion barrier: records of a deleted topic below the commit-log end
// at the time of DeleteTopic belong to the queues it removed, and are not
// dispatched into the queues of the topic created again after it. The map
// is copied on write (deletions are rare), so the dispatcher reads it with
// one atomic load.

func (s *Store) deletedBefore(topic []byte, at int64) bool {
	m := s.barriers.Load()
	if m == nil {
		return false
	}
	end, ok := (*m)[string(topic)]
	return ok && at < end
}

func (s *Store) addBarrier(topic string, end int64) {
	s.barrierMu.Lock()
	defer s.barrierMu.Unlock()
	m := map[string]int64{topic: end}
	if old := s.barriers.Load(); old != nil {
		for k, v := range *old {
			if k != topic {
				m[k] = v
			}
		}
	}
	s.barriers.Store(&m)
}

// pruneBarriers drops the barriers dispatch has passed.
func (s *Store) pruneBarriers(upTo int64) {
	old := s.barriers.Load()
	if old == nil {
		return
	}
	passed := false
	for _, v := range *old {
		passed = passed || v <= upTo
	}
	if !passed {
		return
	}
	s.barrierMu.Lock()
	defer s.barrierMu.Unlock()
	old = s.barriers.Load()
	m := map[string]int64{}
	for k, v := range *old {
		if v > upTo {
			m[k] = v
		}
	}
	if len(m) == len(*old) {
		return
	}
	if len(m) == 0 {
		s.barriers.Store(nil)
		return
	}
	s.barriers.Store(&m)
}

// rebuildQueues writes the entries of the queues in set for the records in
// [from, to): Open's repair of consume queues found short or inconsistent.
// Other queues are not touched, so records of topics deleted long ago do
// not come back.
func (s *Store) rebuildQueues(set map[*consumeQueue]bool, from, to int64) error {
	for from < to {
		ri, at, next, kind, err := s.nextRecord(from)
		if err != nil {
			return fmt.Errorf("rebuild consume queues: record at %d: %w", at, err)
		}
		if kind == recNone {
			return nil
		}
		if kind == recRecord && !isTxHalfOrRollback(ri.sysFlag) {
			if cq := s.cqs.find(ri.topic, ri.queueID); cq != nil && set[cq] {
				if err := cq.put(ri.queueOffset, at, ri.size, ri.tagsCode); err != nil {
					return fmt.Errorf("rebuild consume queue %s/%d at commit-log offset %d: %w", cq.topic, cq.queueID, at, err)
				}
			}
		}
		from = next
	}
	return nil
}
