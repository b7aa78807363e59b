package commitlog

import (
	"encoding/binary"
	"fmt"
	"time"
)

// PutRequest is one batch of records for one topic queue. Consume-queue
// entries take the tags hash from each record's TAGS property, so that
// recovery rebuilds the same value from the log alone.
type PutRequest struct {
	Topic   string
	QueueID int32
	// Records holds Count consecutive records made by AppendRecord, all for
	// Topic/QueueID. They are copied; the caller may reuse the buffer once
	// Put returns. Put checks each record's framing, topic, queue and body
	// size, and that there are exactly Count of them (else PutMessageIllegal).
	Records []byte
	Count   int
	// Result is filled by Put.
	Result PutResult

	// cq is the request's consume queue while Put runs (writer only).
	cq *consumeQueue
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

// putPending marks, inside Put, a request that passed every check so far.
// It never leaves Put.
const putPending PutStatus = -1

// diskCheckEveryBytes: besides after every file the store creates or grows,
// the writer looks at the disk-used ratio after this many appended bytes
// (cheap: fstatfs on an open descriptor), so space taken by others is
// noticed long before the 10 s cleaner pass.
const diskCheckEveryBytes = 16 << 20

// Put appends every request of the batch to the commit log, in order. It
// must be called from one goroutine only (the writer): it is the log's only
// appender and owns the queues' next offsets.
//
// Put runs in three steps, and only the last is the lock-hold window that
// BeginTimeInLock reports (RocketMQ's putMessageLock section):
//
//  1. Each request's records are checked (framing, topic, queue, body
//     size, count; PutMessageIllegal otherwise).
//  2. Everything the append will need is made ready: the consume queue of
//     each request gets disk space reserved for its new entries (creating
//     its files if needed), so that every acknowledged message can be
//     indexed even if the disk fills up right after; a request whose
//     reservation fails (ENOSPC) answers PutCreateMappedFileFailed and is
//     not appended. And when the batch will roll into new commit-log files,
//     those are taken from the allocate service, or created here when it
//     has none ready.
//  3. The window: BeginTimeInLock is set, each request's records are copied
//     into the log and get consecutive queue offsets, their physical offsets
//     and the store timestamp, written in place where they land. A request
//     that does not fit in the current file's remaining space closes the
//     file with a BLANK marker and goes whole into the next one, swapped in
//     ready-made: the window does no file I/O.
//
// With SyncFlush one sync, after the window, covers every record of the
// batch; Put returns once it is done, or after SyncFlushTimeout with
// PutFlushDiskTimeout for the stored requests. The writer does not wait:
// it calls Append, which hands the sync wait to the group-commit service.
//
// Put allocates nothing in steady state (a queue's first message adds a
// table entry). Calls are serialised by a mutex, but SyncFlush's wait state
// is Put's own, so concurrent callers are not supported.
func (s *Store) Put(batch []*PutRequest) {
	if !s.Append(batch, &s.putReq) {
		return
	}
	if st := <-s.putDone; st != PutOK {
		for _, r := range batch {
			if r.Result.Status == PutOK {
				r.Result.Status = st
			}
		}
	}
}

// Append is Put without the wait for the disk: it appends the batch (steps
// 1–3 of Put) and returns. Under SyncFlush or SyncMaster, when any request
// was stored, it queues gcr with the group-commit service (and/or the
// replication wait) and returns true: gcr.Wakeup is then called exactly
// once, with PutOK when a flush and a slave cover the batch, or the failure
// status (see GroupCommitRequest), and the caller should answer the batch's
// requests then. Otherwise (ASYNC_FLUSH on a plain master, nothing stored,
// or a SyncMaster without a slave: PutSlaveNotAvailable) it returns false
// and the results are final. gcr must not be handed to Append again before its Wakeup.
// Single caller, like Put.
func (s *Store) Append(batch []*PutRequest, gcr *GroupCommitRequest) bool {
	valid := s.validateBatch(batch)
	s.putMu.Lock()
	if s.closed.Load() || s.cfg.BrokerRole == Slave || (s.diskFull.Load() && s.stillDiskFull()) {
		s.putMu.Unlock()
		for _, r := range batch {
			if r.Result.Status == putPending {
				r.Result = PutResult{Status: PutServiceNotAvailable}
			}
		}
		return false
	}
	if valid > 0 {
		s.prepareBatch(batch)
	}
	end, stored, rolled := s.appendBatch(batch)
	s.finishBatch(batch)
	waits := stored > 0 && (s.gc != nil || s.repl != nil)
	if waits {
		// Under putMu: Close cannot stop the services between the append
		// and the request they must answer.
		waits = s.submitWait(batch, gcr, end, time.Now())
	}
	s.putMu.Unlock()
	if rolled {
		s.alloc.poke()
	}
	if stored > 0 {
		s.alloc.notePrefault(s.clq.last())
		s.wake(s.dispatchWake)
		if fn := s.appended.Load(); fn != nil {
			(*fn)()
		}
	}
	return waits
}

// submitWait hands gcr to the flush stage (SyncFlush), which passes it to
// the replication stage (SyncMaster), or straight to the latter. A
// SyncMaster without a slave fit to take the batch (isSlaveOK) answers
// PutSlaveNotAvailable without waiting for one; with SyncFlush the answer
// still waits for the flush. It reports whether gcr was queued.
func (s *Store) submitWait(batch []*PutRequest, gcr *GroupCommitRequest, end int64, now time.Time) bool {
	gcr.replStatus = PutOK
	if s.repl != nil && !s.repl.slaveOK(end) {
		gcr.replStatus = PutSlaveNotAvailable
	}
	if s.gc != nil {
		s.gc.submit(gcr, len(batch), end, now)
		return true
	}
	if gcr.replStatus != PutOK {
		s.repl.unavailable.Add(1)
		for _, r := range batch {
			if r.Result.Status == PutOK {
				r.Result.Status = PutSlaveNotAvailable
			}
		}
		return false
	}
	s.repl.submit(gcr, end, now)
	return true
}

// validateBatch is step 1 of Put; it runs before any lock. It returns how
// many requests may be appended.
//
// It re-parses every record although AppendRecord built them: the records
// come from the caller's buffer, and one malformed record in the commit
// log would make the next crash recovery cut the log there, so the check
// stays, but out of the lock-hold window.
func (s *Store) validateBatch(batch []*PutRequest) (valid int) {
	for _, r := range batch {
		r.cq = nil
		if err := s.checkRecords(r); err != nil {
			r.Result = PutResult{Status: PutMessageIllegal, Err: err}
			continue
		}
		if n := int64(len(r.Records)); n+blankLen > s.cfg.MappedFileSizeCommitLog {
			r.Result = PutResult{Status: PutMessageIllegal, Err: fmt.Errorf("commitlog: batch of %d bytes does not fit in a %d-byte commit-log file", n, s.cfg.MappedFileSizeCommitLog)}
			continue
		}
		r.Result = PutResult{Status: putPending}
		valid++
	}
	return valid
}

// stillDiskFull re-reads the disk usage for a Put refused on a full disk,
// so that puts resume as soon as space is freed.
func (s *Store) stillDiskFull() bool {
	s.checkDiskSpace()
	return s.diskFull.Load()
}

// prepareBatch is step 2 of Put (see there), under putMu, outside the window.
func (s *Store) prepareBatch(batch []*PutRequest) {
	for _, r := range batch {
		if r.Result.Status != putPending {
			continue
		}
		cq := s.cqs.find(stringBytes(r.Topic), r.QueueID)
		if cq == nil {
			cq = s.cqs.findOrCreate(stringBytes(r.Topic), r.QueueID)
		}
		q0 := cq.nextOffset + cq.batchPending
		start, end := q0*CQEntrySize, (q0+int64(r.Count))*CQEntrySize
		if end > cq.reservedEnd.Load() && cq.mfq.tail() == nil {
			// A queue's first file: DeleteTopic of the topic's previous
			// queues may still be unlinking that very path.
			s.cqs.waitDeleted(r.Topic)
		}
		if err := cq.reserve(start, end); err != nil {
			r.Result = PutResult{Status: PutCreateMappedFileFailed, Err: fmt.Errorf("commitlog: %w", err)}
			continue
		}
		cq.batchPending += int64(r.Count)
		r.cq = cq
	}
	// Which new commit-log files will the batch roll into? The same
	// placement as appendOne: a request goes whole into the current file or
	// the next.
	size := s.cfg.MappedFileSizeCommitLog
	need, wrote := 0, int64(0)
	if f := s.clq.last(); f == nil || f.isFull() {
		need = 1
	} else {
		wrote = f.wrote.Load()
	}
	for _, r := range batch {
		if r.Result.Status != putPending {
			continue
		}
		if n := int64(len(r.Records)); n+blankLen > size-wrote {
			need, wrote = need+1, n
		} else {
			wrote += n
		}
	}
	if need > 0 {
		// A failure shows as PutCreateMappedFileFailed of the requests that
		// needed the missing file.
		_ = s.alloc.ensureReady(need)
	}
}

// finishBatch clears what prepareBatch left on the queues and, every
// diskCheckEveryBytes, looks at the disk.
func (s *Store) finishBatch(batch []*PutRequest) {
	for _, r := range batch {
		if r.cq != nil {
			r.cq.batchPending = 0
			r.cq = nil
		}
		if r.Result.Status == PutOK {
			s.appendedSinceCheck += int64(r.Result.WroteBytes)
		}
	}
	if s.appendedSinceCheck >= diskCheckEveryBytes {
		s.appendedSinceCheck = 0
		s.checkDiskSpace()
	}
}

// appendBatch is step 3 of Put, the lock-hold window. It returns the log's
// end offset, how many requests were stored and whether it rolled into a
// new file.
func (s *Store) appendBatch(batch []*PutRequest) (end int64, stored int, rolled bool) {
	begin := s.now()
	beginMs := begin.UnixMilli()
	s.beginTimeInLock.Store(beginMs)
	if d := s.appendStall.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	for _, r := range batch {
		if r.Result.Status != putPending {
			continue
		}
		var didRoll bool
		r.Result, didRoll = s.appendOne(r, beginMs)
		rolled = rolled || didRoll
		if r.Result.Status == PutOK {
			stored++
			s.putTimes.Add(int64(r.Result.MsgCount))
			s.putBytes.Add(int64(r.Result.WroteBytes))
		}
	}
	// Write-through: the batch's bytes go into the file now, before the
	// group commit is handed an end that its flush must cover (a flush
	// covers committed). Inside the window: a pwrite slowed by the page
	// cache is what osPageCacheBusy measures, as stores into the mapping
	// that fault are.
	s.clq.commitStage()
	done := s.now()
	s.beginTimeInLock.Store(0)
	s.lockHoldNanos.Add(int64(done.Sub(begin)))
	if cost := done.UnixMilli() - beginMs; cost > s.putMaxMs.Load() {
		s.putMaxMs.Store(cost)
		if cost > 500 {
			s.log.Warn().Int64("costMs", cost).Int("requests", len(batch)).Msg("[NOTIFYME]putMessage in lock cost time(ms) above 500")
		}
	}
	return s.clq.maxWrote(), stored, rolled
}

// appendOne stores one request (see Put). rolled says it moved to a new file.
func (s *Store) appendOne(r *PutRequest, storeTS int64) (_ PutResult, rolled bool) {
	n := int64(len(r.Records))
	f := s.clq.last()
	if f == nil || f.isFull() {
		from := int64(0)
		if f != nil {
			from = f.from + f.size
		}
		nf := s.alloc.take(from)
		if nf == nil {
			return PutResult{Status: PutCreateMappedFileFailed, Err: fmt.Errorf("commitlog: commit-log file at %d: %w", from, s.alloc.lastErr())}, false
		}
		f, rolled = nf, true
	}
	if remaining := f.size - f.wrote.Load(); n+blankLen > remaining {
		// Take the next file before closing this one, so that a failure
		// (a full disk) leaves the log exactly as it was.
		nf := s.alloc.take(f.from + f.size)
		if nf == nil {
			return PutResult{Status: PutCreateMappedFileFailed, Err: fmt.Errorf("commitlog: commit-log file at %d: %w", f.from+f.size, s.alloc.lastErr())}, rolled
		}
		// This commits f's staged bytes (write-through) before nf is
		// appended to.
		f.closeWithBlank(remaining)
		f, rolled = nf, true
	}
	phys := f.from + f.wrote.Load()
	dst := f.target(n)
	copy(dst, r.Records)
	cq := r.cq
	next := cq.nextOffset
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
	cq.nextOffset = next
	f.advance(n)
	return PutResult{
		Status:         PutOK,
		WroteOffset:    phys,
		WroteBytes:     int32(n),
		QueueOffset:    first,
		StoreTimestamp: storeTS,
		MsgCount:       r.Count,
	}, rolled
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
