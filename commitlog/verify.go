package commitlog

import "math"

// Consume queues are verified at every Open, clean stop or not: a queue's
// files are only an index of the commit log, and an index that silently
// lost its tail (a file truncated by an operator, a bad disk) would hide
// acknowledged messages and hand their queue offsets out again.
//
// At load a file shorter than configured is marked (consumeQueue.load).
// Here each queue's last entries are checked against the records they
// point at: the record must be whole and readable, of the queue's topic and
// queue id, at the entry's physical offset, with the entry's size, queue
// offset and tags code. A queue with a short file or a bad entry is cut
// before the damage and rebuilt from the commit log, from the end of its
// last good entry, before dispatch resumes. When it cannot be rebuilt (the
// disk is full, a file cannot be written) Open fails and says which; the
// marker the queue's directory keeps until the rebuild is on disk makes
// the next Open do it again.

// verifyTailEntries is how many good entries at the end of a queue (after
// the last bad one) are enough to trust it.
const verifyTailEntries = 8

// What checkEntry found.
const (
	entryGood = iota
	entryBad
	entryGone // the record was deleted by retention: nothing to compare with
)

// verifyConsumeQueues checks every queue and cuts the damaged ones. It
// returns them with the commit-log offset from which to rebuild them.
func (s *Store) verifyConsumeQueues() (map[*consumeQueue]bool, int64, error) {
	set := map[*consumeQueue]bool{}
	from := int64(math.MaxInt64)
	for _, cq := range s.cqs.all() {
		rebuildFrom, damaged, err := s.verifyQueue(cq)
		if err != nil {
			return nil, 0, err
		}
		if damaged {
			set[cq] = true
			from = min(from, rebuildFrom)
		}
	}
	return set, from, nil
}

// verifyQueue checks cq's tail (see the top of the file) and, if it is
// damaged, cuts it there; rebuildFrom is the end of the last good entry
// before the cut (or the log's start). Damage known beforehand (a short
// file, a marker) is cut first, so the walk starts below it. Before a
// newly found bad entry is cut, a marker records it.
func (s *Store) verifyQueue(cq *consumeQueue) (rebuildFrom int64, damaged bool, err error) {
	if cq.damagedAt >= 0 {
		if err := cq.truncateAt(cq.damagedAt); err != nil {
			return 0, false, err
		}
		// The bytes of a short file's last, partial entry are still there.
		if f := cq.mfq.last(); f != nil {
			if err := f.zeroFrom(f.wrote.Load()); err != nil {
				return 0, false, err
			}
		}
	}
	minPhys := s.clq.minOffset()
	rebuildFrom = minPhys
	lo, n := cq.minOffset(), cq.maxOffset()
	bad := int64(-1)
	good := 0
walk:
	for i := n - 1; i >= lo && good < verifyTailEntries; i-- {
		e, ok := cq.entryAt(i)
		if !ok {
			break
		}
		if e.size == 0 {
			continue // a hole left by a skipped corrupt region
		}
		switch s.checkEntry(cq, i, e) {
		case entryGood:
			if good == 0 {
				rebuildFrom = e.phys + int64(e.size)
			}
			good++
		case entryBad:
			bad, good, rebuildFrom = i, 0, minPhys
		case entryGone:
			if good == 0 {
				rebuildFrom = minPhys
			}
			break walk
		}
	}
	if bad >= 0 {
		s.log.Warn().Str("topic", cq.topic).Int32("queueId", cq.queueID).Int64("queueOffset", bad).
			Str("dir", cq.mfq.dir).Msg("consume-queue entry does not match the commit log; the queue is cut there and rebuilt from the commit log")
		if err := cq.markDamaged(bad * CQEntrySize); err != nil {
			return 0, false, err
		}
		if err := cq.truncateAt(bad * CQEntrySize); err != nil {
			return 0, false, err
		}
	}
	if cq.damagedAt < 0 {
		return 0, false, nil
	}
	s.log.Warn().Str("topic", cq.topic).Int32("queueId", cq.queueID).Int64("fromQueueOffset", cq.maxOffset()).
		Int64("fromCommitLogOffset", rebuildFrom).Msg("rebuilding consume queue from the commit log")
	return rebuildFrom, true, nil
}

// checkEntry compares entry n of cq with the record it points at.
func (s *Store) checkEntry(cq *consumeQueue, n int64, e cqEntry) int {
	if e.phys < s.clq.minOffset() {
		return entryGone
	}
	f := s.clq.findByOffset(e.phys)
	if f == nil || e.size < recordFixedLenV4 {
		return entryBad
	}
	pos := e.phys - f.from
	end := pos + int64(e.size)
	if end > f.readable() {
		return entryBad
	}
	ri, err := parseRecord(f.data[pos:end], false)
	if err != nil || ri.size != e.size || ri.physOffset != e.phys || ri.queueOffset != n ||
		ri.queueID != cq.queueID || string(ri.topic) != cq.topic || s.delays.cqTagsCode(&ri) != e.tagsCode ||
		isTxHalfOrRollback(ri.sysFlag) {
		return entryBad
	}
	return entryGood
}

// rebuildOrRefuse runs the rebuild Open decided on; its error names the
// queue and what failed, and Open refuses to start with it.
func (s *Store) rebuildOrRefuse(set map[*consumeQueue]bool, from int64) error {
	if len(set) == 0 {
		return nil
	}
	if err := s.rebuildQueues(set, from, s.reputFrom.Load()); err != nil {
		return err
	}
	for cq := range set {
		if err := cq.finishRebuild(); err != nil {
			return err
		}
		s.log.Info().Str("topic", cq.topic).Int32("queueId", cq.queueID).Int64("maxOffset", cq.maxOffset()).
			Msg("consume queue rebuilt")
	}
	return nil
}
