package commitlog

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sluice-mq/sluice/commitlog/index"
)

// The message index (RocketMQ's CommitLogDispatcherBuildIndex and the
// queries of DefaultMessageStore): the dispatcher hands every record to
// commitlog/index, which keeps <root>/index. Its recovery follows the
// consume queues': entries of records the dispatcher will see again are
// removed, and a file found damaged after a crash is rebuilt from the log.

// openIndex loads the index and makes it agree with the recovered log:
// after it, every record below reputFrom is indexed and none above.
func (s *Store) openIndex(abnormal bool, cp checkpointData) error {
	idx, err := index.Open(index.Config{
		Dir:            s.cfg.indexDir(),
		MaxHashSlotNum: s.cfg.MaxHashSlotNum,
		MaxIndexNum:    s.cfg.MaxIndexNum,
		Now:            s.now,
	}, s.log)
	if err != nil {
		return err
	}
	s.idx = idx
	end := s.reputFrom.Load()
	from, err := idx.Recover(end, abnormal, cp.indexMsgTimestamp, s.storeTimestampAt)
	if err != nil {
		return err
	}
	if from < end && s.cfg.MessageIndexEnable {
		from = max(from, s.clq.minOffset())
		s.log.Warn().Int64("fromOffset", from).Int64("toOffset", end).Msg("indexing commit-log records again")
		for from < end {
			ri, at, next, kind, err := s.nextRecord(from)
			if err != nil {
				return fmt.Errorf("re-index: record at %d: %w", at, err)
			}
			if kind == recNone {
				break
			}
			if kind == recRecord {
				idx.BuildIndex(ri.topic, ri.props, at, ri.storeTS, ri.sysFlag)
			}
			from = next
		}
	}
	s.cp.index = s.flushIndex
	return nil
}

// indexRecord is the dispatcher's hook (CommitLogDispatcherBuildIndex).
func (s *Store) indexRecord(at int64, ri *recordInfo) {
	if s.idx != nil && s.cfg.MessageIndexEnable {
		s.idx.BuildIndex(ri.topic, ri.props, at, ri.storeTS, ri.sysFlag)
	}
}

// flushIndex runs with every checkpoint write (see checkpoint.index).
func (s *Store) flushIndex(clean bool) int64 {
	ts, err := s.idx.Flush(clean || s.cfg.MessageIndexSafe)
	if err != nil {
		s.log.Error().Err(err).Msg("index flush failed")
	}
	return ts
}

// storeTimestampAt reads the STORETIMESTAMP of the record at phys.
func (s *Store) storeTimestampAt(phys int64) (int64, bool) {
	f := s.clq.findByOffset(phys)
	if f == nil || phys < s.clq.minOffset() {
		return 0, false
	}
	pos := phys - f.from
	readable := f.readable()
	if pos+offSysFlag+4 > readable {
		return 0, false
	}
	rec := f.data[pos:readable]
	at := storeTimestampOffset(int32(binary.BigEndian.Uint32(rec[offSysFlag:])))
	if at+8 > len(rec) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(rec[at:])), true
}

// MaxQueryTransferBytes bounds the records one QueryMessage returns (it
// copies them): RocketMQ sends up to 64 records of up to 4 MiB each by
// zero-copy; here an answer stops before the record that would take it
// past 16 MiB, the first record being returned whatever its size.
const MaxQueryTransferBytes = 16 << 20

// QueryMessageResult is DefaultMessageStore#queryMessage's answer.
type QueryMessageResult struct {
	// Messages are whole stored records (copies), oldest first.
	Messages                 [][]byte
	BufferTotalSize          int
	IndexLastUpdateTimestamp int64
	IndexLastUpdatePhyoffset int64
}

// QueryMessage is DefaultMessageStore#queryMessage: the records indexed
// under topic#key stored in [begin, end] ms, at most maxNum (and
// maxMsgsNumBatch, 64). Records of other keys with the same hash may be
// among them, as in RocketMQ; the caller compares keys. Up to three
// passes are made, each ending before the oldest record the previous one
// found, when none of its records could be read (retention took them).
func (s *Store) QueryMessage(topic, key string, maxNum int, begin, end int64) QueryMessageResult {
	var r QueryMessageResult
	if s.idx == nil {
		return r
	}
	last := end
	for range 3 {
		q := s.idx.QueryOffset(topic, key, maxNum, begin, last)
		if len(q.PhyOffsets) == 0 {
			break
		}
		slices.Sort(q.PhyOffsets)
		r.IndexLastUpdatePhyoffset = q.IndexLastUpdatePhyoffset
		r.IndexLastUpdateTimestamp = q.IndexLastUpdateTimestamp
		for m, off := range q.PhyOffsets {
			rec, err := s.LookMessageByOffset(off)
			if err != nil {
				continue
			}
			if r.BufferTotalSize > 0 && r.BufferTotalSize+len(rec) > MaxQueryTransferBytes {
				break
			}
			if m == 0 {
				sf := int32(binary.BigEndian.Uint32(rec[offSysFlag:]))
				last = int64(binary.BigEndian.Uint64(rec[storeTimestampOffset(sf):]))
			}
			r.Messages = append(r.Messages, rec)
			r.BufferTotalSize += len(rec)
		}
		if r.BufferTotalSize > 0 || last < begin {
			break
		}
	}
	return r
}

// EarliestMessageTime is DefaultMessageStore#getEarliestMessageTime: the
// store time of the queue's first message still stored, -1 when there is
// none.
func (s *Store) EarliestMessageTime(topic string, queueID int32) int64 {
	var buf [1]QueueEntry
	for off := s.MinOffsetInQueue(topic, queueID); off < s.MaxOffsetInQueue(topic, queueID); off++ {
		es := s.ReadQueueEntries(topic, queueID, off, 1, buf[:0])
		if len(es) == 0 {
			return -1
		}
		if es[0].Size == 0 {
			continue // a hole left by a skipped corrupt region
		}
		if !s.readGuard() {
			return -1
		}
		ts, ok := s.storeTimestampAt(es[0].PhysicalOffset)
		s.readMu.RUnlock()
		if ok {
			return ts
		}
		return -1
	}
	return -1
}

// IndexStats describes the message index (runtime info, tests).
func (s *Store) IndexStats() index.Stats {
	if s.idx == nil {
		return index.Stats{}
	}
	return s.idx.Stats()
}
