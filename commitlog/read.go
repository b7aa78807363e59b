package commitlog

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Read limits per GetMessage, RocketMQ's in-memory transfer limits.
const (
	// MaxTransferBytes caps the bytes one GetMessage returns
	// (maxTransferBytesOnMessageInMemory, 256 KiB); the first message is
	// returned whatever its size.
	MaxTransferBytes = 256 << 10
	// minFilterScanBytes is the least consume-queue span scanned for matches
	// (RocketMQ's 16000-byte maxFilterMessageCount floor).
	minFilterScanBytes = 16000
)

// GetResult is GetMessage's answer.
type GetResult struct {
	Status GetStatus
	// NextBeginOffset is the queue offset the consumer should pull next.
	NextBeginOffset int64
	MinOffset       int64
	MaxOffset       int64
	// Messages are whole stored records, slices of the commit log's mapping
	// (not copies): read-only, valid until Close (see the package comment).
	Messages        [][]byte
	MsgCount        int
	BufferTotalSize int
	// MaxPhyOffsetPulling is the commit-log offset of the last entry the
	// read scanned (DefaultMessageStore#getMessage's maxPhyOffsetPulling):
	// how far behind the commit log's end the reader is.
	MaxPhyOffsetPulling int64
}

// readGuard holds off Close while a read touches mappings; ok is false once closed.
func (s *Store) readGuard() bool {
	s.readMu.RLock()
	if s.closed.Load() {
		s.readMu.RUnlock()
		return false
	}
	return true
}

// GetMessage reads up to maxMsgNums messages of one queue from queue offset
// offset on, as DefaultMessageStore#getMessage. filter (nil: all) is given
// each entry's tags hash code. Status and NextBeginOffset:
//
//	queue missing or empty        NoMessageInQueue     0
//	offset < min                  OffsetTooSmall       min
//	offset == max                 OffsetOverflowOne    offset
//	offset > max                  OffsetOverflowBadly  max
//	entry unreadable              OffsetFoundNull      start of the next consume-queue file
//	≥1 message                    Found                offset + entries scanned
//	all scanned filtered out      NoMatchedMessage     offset + entries scanned
//	commit-log data gone          MessageWasRemoving   offset + entries scanned
//
// A read stops at maxMsgNums messages or MaxTransferBytes, and scans at most
// max(16000, 20*maxMsgNums) bytes of consume queue. After Close it answers
// OffsetFoundNull with NextBeginOffset = offset (the consumer retries).
func (s *Store) GetMessage(topic string, queueID int32, offset int64, maxMsgNums int, filter func(tagsCode int64) bool) GetResult {
	if !s.readGuard() {
		return GetResult{Status: OffsetFoundNull, NextBeginOffset: offset}
	}
	defer s.readMu.RUnlock()
	maxMsgNums = max(maxMsgNums, 1)
	cq := s.cqs.find(stringBytes(topic), queueID)
	if cq == nil {
		return GetResult{Status: NoMessageInQueue}
	}
	r := GetResult{MinOffset: cq.minOffset(), MaxOffset: cq.maxOffset()}
	switch {
	case r.MaxOffset == 0:
		r.Status = NoMessageInQueue
		return r
	case offset < r.MinOffset:
		r.Status, r.NextBeginOffset = OffsetTooSmall, r.MinOffset
		return r
	case offset == r.MaxOffset:
		r.Status, r.NextBeginOffset = OffsetOverflowOne, offset
		return r
	case offset > r.MaxOffset:
		r.Status, r.NextBeginOffset = OffsetOverflowBadly, r.MaxOffset
		return r
	}
	entries := cq.entriesFrom(offset)
	if entries == nil {
		r.Status = OffsetFoundNull
		fs := s.cfg.MappedFileSizeConsumeQueue
		r.NextBeginOffset = (offset*CQEntrySize/fs + 1) * fs / CQEntrySize
		return r
	}
	r.Status = NoMessageInQueue
	scanLimit := max(minFilterScanBytes, maxMsgNums*CQEntrySize)
	minPhys := s.clq.minOffset()
	nextPhysFile := int64(-1)
	i := 0
	for ; i+CQEntrySize <= len(entries) && i < scanLimit; i += CQEntrySize {
		e := readEntry(entries[i:])
		if e.size == 0 { // a hole left by a skipped corrupt region
			if r.MsgCount == 0 {
				r.Status = NoMatchedMessage
			}
			continue
		}
		r.MaxPhyOffsetPulling = e.phys
		if nextPhysFile >= 0 && e.phys < nextPhysFile {
			continue
		}
		if r.MsgCount > 0 && (r.MsgCount >= maxMsgNums || r.BufferTotalSize+int(e.size) > MaxTransferBytes) {
			break
		}
		if filter != nil && !filter(e.tagsCode) {
			if r.MsgCount == 0 {
				r.Status = NoMatchedMessage
			}
			continue
		}
		msg := s.readRecord(e.phys, e.size, minPhys)
		if msg == nil {
			if r.MsgCount == 0 {
				r.Status = MessageWasRemoving
			}
			nextPhysFile = (e.phys/s.cfg.MappedFileSizeCommitLog + 1) * s.cfg.MappedFileSizeCommitLog
			continue
		}
		if r.Messages == nil {
			r.Messages = make([][]byte, 0, min(maxMsgNums, len(entries)/CQEntrySize))
		}
		r.Messages = append(r.Messages, msg)
		r.MsgCount++
		r.BufferTotalSize += len(msg)
		r.Status = Found
	}
	r.NextBeginOffset = offset + int64(i/CQEntrySize)
	return r
}

// readRecord returns the record of size bytes at phys as a slice of the
// mapping (capacity-limited, so appending to it cannot reach the file), or
// nil when it is gone or not readable.
func (s *Store) readRecord(phys int64, size int32, minPhys int64) []byte {
	if phys < minPhys {
		return nil
	}
	f := s.clq.findByOffset(phys)
	if f == nil {
		return nil
	}
	pos := phys - f.from
	end := pos + int64(size)
	if end > f.readable() {
		return nil
	}
	return f.data[pos:end:end]
}

// QueueEntry is one consume-queue entry (RocketMQ's CQ store unit).
type QueueEntry struct {
	QueueOffset    int64
	PhysicalOffset int64
	// Size is the record's size; 0 marks a hole left by a skipped corrupt
	// region, which readers pass over.
	Size int32
	// TagsCode is the TAGS hash, or for SCHEDULE_TOPIC_XXXX the delivery
	// time in ms (see delay_level.go).
	TagsCode int64
}

// ReadQueueEntries appends to dst the entries of the queue from queue
// offset from on, at most limit and within the consume-queue file holding
// from (ConsumeQueue#getIndexBuffer), and returns it. Nothing is appended
// when the queue is missing, from is outside [MinOffsetInQueue,
// MaxOffsetInQueue) or the store is closed. With a dst of enough capacity
// it does not allocate.
func (s *Store) ReadQueueEntries(topic string, queueID int32, from int64, limit int, dst []QueueEntry) []QueueEntry {
	if !s.readGuard() {
		return dst
	}
	defer s.readMu.RUnlock()
	cq := s.cqs.find(stringBytes(topic), queueID)
	if cq == nil || from < cq.minOffset() {
		return dst
	}
	entries := cq.entriesFrom(from)
	for i := 0; i+CQEntrySize <= len(entries) && limit > 0; i += CQEntrySize {
		e := readEntry(entries[i:])
		dst = append(dst, QueueEntry{QueueOffset: from + int64(i/CQEntrySize), PhysicalOffset: e.phys, Size: e.size, TagsCode: e.tagsCode})
		limit--
	}
	return dst
}

// MaxOffsetInQueue is the queue offset the next message of the queue gets
// (0 for an unknown queue).
func (s *Store) MaxOffsetInQueue(topic string, queueID int32) int64 {
	if cq := s.cqs.find(stringBytes(topic), queueID); cq != nil {
		return cq.maxOffset()
	}
	return 0
}

// MinOffsetInQueue is the first queue offset still readable (0 for an unknown queue).
func (s *Store) MinOffsetInQueue(topic string, queueID int32) int64 {
	if cq := s.cqs.find(stringBytes(topic), queueID); cq != nil {
		return cq.minOffset()
	}
	return 0
}

// OffsetByTimestamp is the first queue offset whose message was stored at or
// after ts (ms); the max offset when none was, the min offset when all were
// (SEARCH_OFFSET_BY_TIMESTAMP). Store timestamps follow the wall clock and
// are assumed not to go backwards.
func (s *Store) OffsetByTimestamp(topic string, queueID int32, ts int64) int64 {
	if !s.readGuard() {
		return 0
	}
	defer s.readMu.RUnlock()
	cq := s.cqs.find(stringBytes(topic), queueID)
	if cq == nil {
		return 0
	}
	lo, hi := cq.minOffset(), cq.maxOffset()
	minPhys := s.clq.minOffset()
	storeTS := func(n int64) (int64, bool) {
		e, ok := cq.entryAt(n)
		if !ok || e.size == 0 {
			return 0, false
		}
		rec := s.readRecord(e.phys, e.size, minPhys)
		if rec == nil {
			return 0, false
		}
		sf := int32(binary.BigEndian.Uint32(rec[offSysFlag:]))
		return int64(binary.BigEndian.Uint64(rec[storeTimestampOffset(sf):])), true
	}
	// Skip leading entries whose data is gone.
	for lo < hi {
		if _, ok := storeTS(lo); ok {
			break
		}
		lo++
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		t, ok := storeTS(mid)
		if ok && t >= ts {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// LookMessageByOffset returns a copy of the record at physical offset phyOffset.
func (s *Store) LookMessageByOffset(phyOffset int64) ([]byte, error) {
	if !s.readGuard() {
		return nil, ErrClosed
	}
	defer s.readMu.RUnlock()
	f := s.clq.findByOffset(phyOffset)
	if f == nil || phyOffset < s.clq.minOffset() {
		return nil, fmt.Errorf("%w %d", ErrOffsetNotFound, phyOffset)
	}
	pos := phyOffset - f.from
	readable := f.readable()
	if pos+8 > readable {
		return nil, fmt.Errorf("%w %d", ErrOffsetNotFound, phyOffset)
	}
	ri, err := parseRecord(f.data[pos:readable], false)
	if err != nil {
		return nil, fmt.Errorf("look message at %d: %w", phyOffset, err)
	}
	return append([]byte(nil), f.data[pos:pos+int64(ri.size)]...), nil
}

// MinPhyOffset is the commit log's first offset still stored.
func (s *Store) MinPhyOffset() int64 { return s.clq.minOffset() }

// MaxPhyOffset is the commit log's readable end (committed bytes).
func (s *Store) MaxPhyOffset() int64 { return s.clq.maxReadable() }

// RuntimeInfo reports the store's state under RocketMQ's runtime-info names
// where they exist (plus a few of Sluice's own).
func (s *Store) RuntimeInfo() map[string]string {
	i := strconv.FormatInt
	maxPhy, minPhy := s.clq.maxReadable(), s.clq.minOffset()
	wrote := s.clq.maxWrote()
	remainBuffers := "2147483647" // Integer.MAX_VALUE when the pool is off
	if s.pool != nil {
		remainBuffers = strconv.Itoa(s.pool.available())
	}
	ratio := float64(s.diskRatio.Load()) / 10000
	m := map[string]string{
		"commitLogMinOffset":              i(minPhy, 10),
		"commitLogMaxOffset":              i(maxPhy, 10),
		"pageCacheLockTimeMills":          i(s.LockTimeMills(), 10),
		"remainTransientStoreBufferNumbs": remainBuffers,
		"remainHowManyDataToFlush":        i(max(0, maxPhy-s.clq.flushedWhere.Load()), 10),
		"remainHowManyDataToCommit":       i(max(0, wrote-maxPhy), 10),
		"commitLogDirCapacity":            s.capacityString(),
		"commitLogDiskRatio":              strconv.FormatFloat(ratio, 'f', 4, 64),
		"putMessageTimesTotal":            i(s.putTimes.Load(), 10),
		"putMessageSizeTotal":             i(s.putBytes.Load(), 10),
		"putMessageEntireTimeMax":         i(s.putMaxMs.Load(), 10),
		"dispatchBehindBytes":             i(max(0, maxPhy-s.reputFrom.Load()), 10),
		"flushDiskType":                   s.cfg.FlushDiskType.String(),
		"commitLogFileCount":              strconv.Itoa(s.clq.count()),
		"diskFull":                        strconv.FormatBool(s.diskFull.Load()),
		"commitLogSyncCount":              i(s.syncs.Load(), 10),
		// Sluice's own: the commit-log syncs' total time (what a
		// SYNC_FLUSH group commit waits for), in microseconds.
		"commitLogSyncMicrosTotal": i(s.syncNs.Load()/1000, 10),
		// Sluice's own: queues whose entries a full disk keeps from being
		// written; their messages are stored and appear once space is freed.
		"dispatchStalledQueues": i(s.stalledQueues.Load(), 10),
	}
	if s.gc != nil {
		// Sluice's own: how many SYNC_FLUSH group commits waited for the
		// producers just answered to come back, and for how long in all.
		m["groupCommitGatherCount"] = i(s.gc.gathers.Load(), 10)
		m["groupCommitGatherMicrosTotal"] = i(s.gc.gatherNanos.Load()/1000, 10)
	}
	return m
}

func (s *Store) capacityString() string {
	used, total, err := s.diskUsage(s.cfg.commitLogDir())
	if err != nil || total == 0 {
		return "unknown"
	}
	const gib = 1 << 30
	return fmt.Sprintf("Total : %.1f GiB, Free : %.1f GiB.", float64(total)/gib, float64(total-used)/gib)
}
