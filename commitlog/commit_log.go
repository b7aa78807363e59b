package commitlog

import (
	"encoding/binary"
	"fmt"
	"time"
)

// PutRequest is one batch of records for one topic queue.
type PutRequest struct {
	Topic   string
	QueueID int32
	// TagsCode is informational: consume-queue entries take the tags hash
	// from each record's TAGS property, so that recovery rebuilds the same
	// value from the log alone.
	TagsCode int64
	// Records holds Count consecutive records made by AppendRecord, all for
	// Topic/QueueID. They are copied; the caller may reuse the buffer once
	// Put returns. Put checks each record's framing, topic, queue and body
	// size, and that there are exactly Count of them (else PutMessageIllegal).
	Records []byte
	Count   int
	// Result is filled by Put.
	Result PutResult
}

// PutResult is what Put did with one PutRequest.
type PutResult struct {
	Status PutStatus
	// WroteOffset is the commit-log (physical) offset of the first record.
	WroteOffset int64
	WroteBytes  int32
	// QueueOffset is the queue offset of the first record; the others follow.
	QueueOffset int64
	// StoreTimestamp (ms) is the same for every record of one Put.
	StoreTimestamp int64
	MsgCount       int
	Err            error
}

// Put appends every request of the batch to the commit log, in order. It
// must be called from one goroutine only (the writer): it is the log's only
// appender and owns the queue-offset table.
//
// The whole batch is appended in one lock-hold: BeginTimeInLock is set once
// when it starts and cleared when the appends are done. Inside, each
// request's records get consecutive queue offsets, their physical offsets
// and the store timestamp, written in place where they land. A request that
// does not fit in the current file's remaining space closes the file with a
// BLANK marker and goes whole into a new one.
//
// With SyncFlush one sync, after the lock-hold, covers every record of the
// batch; Put returns once it is done, or after SyncFlushTimeout with
// PutFlushDiskTimeout for the stored requests.
//
// Put allocates nothing in steady state (a queue's first message adds a
// table entry). Calls are serialised by a mutex, but SyncFlush's wait state
// is the writer's own, so concurrent callers are not supported.
func (s *Store) Put(batch []*PutRequest) {
	s.putMu.Lock()
	if s.closed.Load() || s.diskFull.Load() {
		s.putMu.Unlock()
		for _, r := range batch {
			r.Result = PutResult{Status: PutServiceNotAvailable}
		}
		return
	}
	end, stored := s.appendBatch(batch)
	s.putMu.Unlock()
	if stored == 0 {
		return
	}
	s.wake(s.dispatchWake)
	if s.gc != nil && !s.gc.waitFlushed(end) {
		for _, r := range batch {
			if r.Result.Status == PutOK {
				r.Result.Status = PutFlushDiskTimeout
			}
		}
	}
}

// appendBatch is the lock-hold window. It returns the log's end offset and
// how many requests were stored.
func (s *Store) appendBatch(batch []*PutRequest) (end int64, stored int) {
	begin := s.nowMillis()
	s.beginTimeInLock.Store(begin)
	defer s.beginTimeInLock.Store(0)
	if d := s.appendStall.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	for _, r := range batch {
		r.Result = s.appendOne(r, begin)
		if r.Result.Status == PutOK {
			stored++
			s.putTimes.Add(int64(r.Result.MsgCount))
			s.putBytes.Add(int64(r.Result.WroteBytes))
		}
	}
	if cost := s.nowMillis() - begin; cost > s.putMaxMs.Load() {
		s.putMaxMs.Store(cost)
		if cost > 500 {
			s.log.Warn().Int64("costMs", cost).Int("requests", len(batch)).Msg("[NOTIFYME]putMessage in lock cost time(ms) above 500")
		}
	}
	return s.clq.maxWrote(), stored
}

// appendOne stores one request (see Put).
func (s *Store) appendOne(r *PutRequest, storeTS int64) PutResult {
	n := int64(len(r.Records))
	if err := s.checkRecords(r); err != nil {
		return PutResult{Status: PutMessageIllegal, Err: err}
	}
	if n+blankLen > s.cfg.MappedFileSizeCommitLog {
		return PutResult{Status: PutMessageIllegal, Err: fmt.Errorf("commitlog: batch of %d bytes does not fit in a %d-byte commit-log file", n, s.cfg.MappedFileSizeCommitLog)}
	}
	f := s.clq.last()
	if f == nil || f.isFull() {
		from := int64(0)
		if f != nil {
			from = f.from + f.size
		}
		nf, err := s.clq.createFile(from)
		if err != nil {
			return PutResult{Status: PutCreateMappedFileFailed, Err: err}
		}
		f = nf
	}
	if remaining := f.size - f.wrote.Load(); n+blankLen > remaining {
		// Create the next file before closing this one, so that a failure
		// (a full disk) leaves the log exactly as it was.
		nf, err := s.clq.createFile(f.from + f.size)
		if err != nil {
			return PutResult{Status: PutCreateMappedFileFailed, Err: err}
		}
		blank := f.target(remaining)
		binary.BigEndian.PutUint32(blank[offTotalSize:], uint32(remaining))
		binary.BigEndian.PutUint32(blank[offMagic:], MagicBlank)
		f.advance(remaining)
		f = nf
	}
	phys := f.from + f.wrote.Load()
	dst := f.target(n)
	copy(dst, r.Records)
	key := cqKey{r.Topic, r.QueueID}
	next := s.queueOffsets[key]
	first := next
	be := binary.BigEndian
	for pos := 0; pos < len(dst); {
		rec := dst[pos:]
		size := int(be.Uint32(rec[offTotalSize:]))
		sysFlag := int32(be.Uint32(rec[offSysFlag:]))
		if isTxHalfOrRollback(sysFlag) {
			be.PutUint64(rec[offQueueOffset:], 0)
		} else {
			be.PutUint64(rec[offQueueOffset:], uint64(next))
			next++
		}
		be.PutUint64(rec[offPhysOffset:], uint64(phys+int64(pos)))
		be.PutUint64(rec[storeTimestampOffset(sysFlag):], uint64(storeTS))
		pos += size
	}
	if next != first {
		s.queueOffsets[key] = next
	}
	f.advance(n)
	return PutResult{
		Status:         PutOK,
		WroteOffset:    phys,
		WroteBytes:     int32(n),
		QueueOffset:    first,
		StoreTimestamp: storeTS,
		MsgCount:       r.Count,
	}
}

// checkRecords walks the request's records: each must be a whole V1 record
// of this topic and queue with a body within MaxMessageSize, and there must
// be Count of them.
func (s *Store) checkRecords(r *PutRequest) error {
	be := binary.BigEndian
	b := r.Records
	count := 0
	for len(b) > 0 {
		if len(b) < recordFixedLenV4 {
			return fmt.Errorf("commitlog: record %d: %d trailing bytes are not a record", count, len(b))
		}
		size := int(be.Uint32(b[offTotalSize:]))
		if be.Uint32(b[offMagic:]) != MagicV1 || size < recordFixedLenV4 || size > len(b) {
			return fmt.Errorf("commitlog: record %d: bad magic or size %d", count, size)
		}
		ri, err := parseRecord(b[:size], false)
		if err != nil {
			return fmt.Errorf("commitlog: record %d: %w", count, err)
		}
		if ri.queueID != r.QueueID || string(ri.topic) != r.Topic {
			return fmt.Errorf("commitlog: record %d is for %q/%d, not the request's %q/%d", count, ri.topic, ri.queueID, r.Topic, r.QueueID)
		}
		if bl := recordBodyLen(b[:size], ri.sysFlag); bl > s.cfg.MaxMessageSize {
			return fmt.Errorf("commitlog: record %d: body of %d bytes is over maxMessageSize %d: %w", count, bl, s.cfg.MaxMessageSize, ErrMessageTooLarge)
		}
		b = b[size:]
		count++
	}
	if count == 0 || count != r.Count {
		return fmt.Errorf("commitlog: request says %d records, found %d", r.Count, count)
	}
	return nil
}

// recordBodyLen reads BODYLEN of a record already checked by parseRecord.
func recordBodyLen(rec []byte, sysFlag int32) int {
	p := storeTimestampOffset(sysFlag) + 8 + 8 + 12
	if sysFlag&SysFlagStoreHostV6 != 0 {
		p += 12
	}
	return int(int32(binary.BigEndian.Uint32(rec[p:])))
}
