package transaction

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting/message"
)

// Recover rebuilds what the service keeps in memory from the store and the
// consumer offsets, before the broker takes requests (it only reads; the op
// records it finds missing are written by Start):
//
//  1. the progress of the half and op queues (group CID_RMQ_SYS_TRANS, or
//     the queues' first offsets);
//  2. the copies ahead of the half queue's progress and the originals they
//     keep alive, which set the decision table's floor;
//  3. every decision on an original at or above the floor, from the op
//     records stored after that original;
//  4. commits stored without their op record (a crash between the two):
//     the commit log is read from the scan point the last op record names
//     to its end, and each commit found there of an original still
//     undecided is recorded, its op record written by Start.
//
// Originals behind the progress that are still undecided and kept alive by
// no copy were discarded (or skipped) by an earlier check: they are closed.
func (s *Service) Recover() error {
	began := time.Now()
	st := s.store
	halfMin, halfMax := st.MinOffsetInQueue(HalfTopic, 0), st.MaxOffsetInQueue(HalfTopic, 0)
	halfBase := halfMin
	if off, ok := s.meta.Offsets.QueryOffset(ConsumerGroup, HalfTopic, 0); ok {
		halfBase = min(max(off, halfMin), halfMax)
	}
	opMin, opMax := st.MinOffsetInQueue(OpTopic, 0), st.MaxOffsetInQueue(OpTopic, 0)
	opBase := opMin
	if off, ok := s.meta.Offsets.QueryOffset(ConsumerGroup, OpTopic, 0); ok {
		opBase = min(max(off, opMin), opMax)
	}

	// 2. Copies ahead of the progress: the oldest original they keep alive
	// sets the floor.
	floor, copies := halfBase, 0
	alive := make(map[int64]struct{})
	if err := s.eachHalf(halfBase, halfMax, func(m *commitlog.StoredMessage) {
		if o := originOf(m); o != m.QueueOffset {
			copies++
			floor = min(floor, o)
			if len(alive) < maxReputs {
				alive[o] = struct{}{}
			}
		}
	}); err != nil {
		return err
	}
	floor = max(floor, halfMin, halfMax-maxTracked)
	s.table.init(floor)
	// Every copy from the floor on is no original; those ahead of the
	// progress keep theirs tracked.
	if err := s.eachHalf(floor, halfMax, func(m *commitlog.StoredMessage) {
		if o := originOf(m); o != m.QueueOffset {
			if m.QueueOffset >= halfBase && o >= floor {
				s.table.addReput(m.QueueOffset, o)
			} else {
				s.table.set(m.QueueOffset, closed)
			}
		}
	}); err != nil {
		return err
	}

	// 3. Decisions, from the first op record stored after the floor's
	// original (a decision on an original comes after it).
	fromPhys := s.halfPhys(floor, halfMax)
	opFrom := s.firstOpAtOrAfter(opMin, opMax, fromPhys)
	lastScan, lastOpPhys := int64(-1), int64(-1)
	ops := 0
	for j := opFrom; j < opMax; {
		res := st.GetMessage(OpTopic, 0, j, 32, nil)
		if res.Status != commitlog.Found {
			if res.NextBeginOffset <= j {
				break
			}
			j = res.NextBeginOffset
			continue
		}
		for _, rec := range res.Messages {
			m, err := commitlog.DecodeRecord(rec)
			if err != nil {
				return fmt.Errorf("transactions: op record at %d: %w", j, err)
			}
			j = m.QueueOffset + 1
			ops++
			lastOpPhys = m.PhysicalOffset
			if v, ok := message.Lookup(m.Properties, PropertyScanFrom); ok {
				if w, err := strconv.ParseInt(v, 10, 64); err == nil {
					lastScan = w
				}
			}
			c, err := strconv.ParseInt(string(m.Body), 10, 64)
			if err != nil || c < 0 {
				continue // a scan-point record, or not ours
			}
			origin := c
			if v, ok := message.Lookup(m.Properties, message.PropertyTransactionPreparedQOffset); ok {
				if o, err := strconv.ParseInt(v, 10, 64); err == nil && o >= 0 && o <= c {
					origin = o
				}
			}
			kind := closed // an op record of unknown kind: ended, somehow
			switch message.Get(m.Properties, PropertyDecision) {
			case strconv.Itoa(int(TransactionCommitType)):
				kind = committed
			case strconv.Itoa(int(TransactionRollbackType)):
				kind = rolledBack
			}
			s.table.set(origin, kind)
		}
		j = max(j, res.NextBeginOffset)
	}

	// 4. Commits without their op record. One of an original at or above
	// the floor lies after that original, so after fromPhys too.
	scanFrom := max(lastScan, fromPhys)
	repairs, scanned, err := s.scanCommits(scanFrom)
	if err != nil {
		return err
	}
	s.repairs = repairs

	// Originals behind the progress, still undecided, with no copy ahead:
	// an earlier check discarded them.
	for o := floor; o < halfBase; o++ {
		if st, _ := s.table.get(o); st == undecided {
			if _, ok := alive[o]; !ok {
				s.table.set(o, closed)
			}
		}
	}

	s.halfBase.Store(halfBase)
	s.opBase.Store(opBase)
	s.lastOpPhys.Store(lastOpPhys)
	if _, ok := s.meta.Offsets.QueryOffset(ConsumerGroup, HalfTopic, 0); !ok && halfMax > 0 {
		s.meta.Offsets.CommitOffset(ConsumerGroup, HalfTopic, 0, halfBase)
	}
	if halfMax == 0 && opMax == 0 {
		s.lastScan.Store(-1) // never used: nothing to keep near
	} else {
		s.lastScan.Store(max(lastScan, scanFrom))
	}
	s.ready.Store(true)
	s.log.Info().Int64("halfOffset", halfBase).Int64("halfMaxOffset", halfMax).Int64("opOffset", opBase).
		Int64("opMaxOffset", opMax).Int64("trackedFrom", floor).Int("copiesAhead", copies).Int("opRecordsRead", ops).
		Int64("pending", s.table.pending(halfMax)).Int64("commitLogScannedBytes", scanned).Int("opRecordsMissing", len(repairs)).
		Dur("took", time.Since(began)).Msg("transactions recovered")
	return nil
}

// eachHalf calls fn for every half message in [from, to).
func (s *Service) eachHalf(from, to int64, fn func(*commitlog.StoredMessage)) error {
	for i := from; i < to; {
		res := s.store.GetMessage(HalfTopic, 0, i, 32, nil)
		if res.Status != commitlog.Found {
			if res.NextBeginOffset <= i {
				return nil
			}
			i = res.NextBeginOffset
			continue
		}
		for _, rec := range res.Messages {
			m, err := commitlog.DecodeRecord(rec)
			if err != nil {
				return fmt.Errorf("transactions: half message at %d: %w", i, err)
			}
			if m.QueueOffset >= to {
				return nil
			}
			fn(&m)
			i = m.QueueOffset + 1
		}
		i = max(i, res.NextBeginOffset)
	}
	return nil
}

// halfPhys is the commit-log offset of the half message at queue offset o,
// or of the first one after it still stored; the log's end when none is.
func (s *Service) halfPhys(o, halfMax int64) int64 {
	for o < halfMax {
		res := s.store.GetMessage(HalfTopic, 0, o, 1, nil)
		if res.Status == commitlog.Found && len(res.Messages) > 0 {
			return recPhys(res.Messages[0])
		}
		if res.NextBeginOffset <= o {
			break
		}
		o = res.NextBeginOffset
	}
	return s.store.MaxPhyOffset()
}

func recPhys(rec []byte) int64 { return int64(binary.BigEndian.Uint64(rec[recPhysOffset:])) }

// firstOpAtOrAfter finds the first op record at or after commit-log offset
// phys by bisection over the op queue (its entries are in log order). An
// entry that cannot be read counts as before phys: reading an op record
// too many is harmless.
func (s *Service) firstOpAtOrAfter(lo, hi, phys int64) int64 {
	for lo < hi {
		mid := lo + (hi-lo)/2
		res := s.store.GetMessage(OpTopic, 0, mid, 1, nil)
		if res.Status == commitlog.Found && len(res.Messages) > 0 && recPhys(res.Messages[0]) >= phys {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// scanCommits reads the commit log from `from` to its end for commits
// (sysFlag TRANSACTION_COMMIT_TYPE) whose original is tracked and still
// undecided: their op record was never stored. They are recorded as
// committed and returned, to have their op records written.
func (s *Service) scanCommits(from int64) ([]*decision, int64, error) {
	end := s.store.MaxPhyOffset()
	from = max(from, s.store.MinPhyOffset())
	fileSize := s.cfg.MappedFileSizeCommitLog
	var out []*decision
	p := from
	for p < end {
		rec, err := s.store.LookMessageByOffset(p)
		if err != nil {
			// The end-of-file marker (or what a crash left behind it): the
			// next record starts the next file.
			p = (p/fileSize + 1) * fileSize
			continue
		}
		size := int64(binary.BigEndian.Uint32(rec))
		if size <= 0 {
			p = (p/fileSize + 1) * fileSize
			continue
		}
		sysFlag := int32(binary.BigEndian.Uint32(rec[recSysFlag:]))
		if sysFlag&transactionTypeMask == TransactionCommitType {
			if d := s.commitWithoutOp(rec, p); d != nil {
				out = append(out, d)
			}
		}
		p += size
	}
	return out, max(0, end-from), nil
}

// commitWithoutOp returns the repair for the commit at phys if its
// original has no decision yet.
func (s *Service) commitWithoutOp(rec []byte, phys int64) *decision {
	c, err := commitlog.DecodeRecord(rec)
	if err != nil {
		return nil
	}
	hrec, err := s.store.LookMessageByOffset(c.PreparedTransactionOffset)
	if err != nil {
		return nil
	}
	half, err := commitlog.DecodeRecord(hrec)
	if err != nil || half.Topic != HalfTopic {
		return nil
	}
	o := originOf(&half)
	if st, tracked := s.table.get(o); !tracked || st != undecided {
		return nil
	}
	s.table.set(o, committed)
	s.log.Warn().Int64("halfOffset", half.QueueOffset).Int64("originalOffset", o).Int64("commitOffset", phys).
		Str("topic", c.Topic).Msg("a commit without its op record (the broker stopped in between): recorded, op record rewritten")
	d := s.getDecision()
	d.origin, d.copy, d.kind, d.phys, d.lb, d.halfPhys = o, half.QueueOffset, committed, phys, phys, half.PhysicalOffset
	s.fl.addCommit(d)
	return d
}
