package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-mq/sluice/commitlog/mmap"

	"github.com/rs/zerolog"
)

// consumeQueue is the index of one topic's queue: entry n (20 bytes at byte
// n*20 of the queue) holds the commit-log offset, size and tags hash code of
// the message with queue offset n. Only the dispatcher appends (and recovery
// truncates); readers read entries below the last file's write position.
//
// Its files are sparse: each is created at full length without disk blocks
// and backed in growing steps ahead of the entries (reserve), so an idle
// queue costs a few KiB, not a whole file, and no store into a mapping can
// hit a hole on a full disk.
type consumeQueue struct {
	topic   string
	queueID int32
	mfq     *mappedFileQueue
	t       *consumeQueueTable
	// minLogic is the byte offset of the first entry whose message still
	// exists in the commit log (RocketMQ minLogicOffset).
	minLogic atomic.Int64

	// growMu serialises reserve, which both the writer (before appending)
	// and the dispatcher (before writing an entry) call. reservedEnd caches
	// the queue byte offset below which every position is backed; 0 makes
	// the next reserve recompute it from the files.
	growMu      sync.Mutex
	reservedEnd atomic.Int64

	// removed: DeleteTopic took the queue out of the table.
	removed atomic.Bool

	// Writer-owned (Put, and Open before it starts): the queue offset the
	// next message gets, and how many offsets earlier requests of the batch
	// being prepared have already reserved.
	nextOffset   int64
	batchPending int64

	// Dispatcher-owned (under dispatchMu): while stallFrom >= 0 an entry
	// could not be written; records of this queue from that commit-log
	// offset on are retried without holding up other queues. pendingMax is
	// one past the highest queue offset seen in the log meanwhile.
	stallFrom  int64
	pendingMax int64

	// damagedAt (Open only, -1 when not): the queue byte offset from which
	// the queue is known to be damaged (a short file, a bad entry, or a
	// rebuild marker left on disk); verification rebuilds from there.
	// markers are the marker files that record it (see markDamaged).
	damagedAt int64
	markers   []string
}

// rebuildMarkerPrefix names the empty file that records, in a queue's
// directory, that the queue must be rebuilt from the commit log from the
// queue byte offset in the rest of its name. It is made before a damaged
// queue is touched and removed once the rebuilt entries are on disk, so
// that a failed Open or a crash in between cannot lose the damage: the
// repair itself gives a short file its length back, after which nothing
// else would tell.
const rebuildMarkerPrefix = "rebuild-from-"

// readMarkers picks up the markers a previous Open left.
func (cq *consumeQueue) readMarkers() error {
	entries, err := os.ReadDir(cq.mfq.dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", cq.mfq.dir, err)
	}
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), rebuildMarkerPrefix)
		if !ok {
			continue
		}
		at, err := strconv.ParseInt(name, 10, 64)
		if err != nil || at < 0 {
			cq.t.log.Warn().Str("file", filepath.Join(cq.mfq.dir, e.Name())).Msg("ignoring a rebuild marker without an offset")
			continue
		}
		cq.markers = append(cq.markers, filepath.Join(cq.mfq.dir, e.Name()))
		if cq.damagedAt < 0 || at < cq.damagedAt {
			cq.damagedAt = at
		}
	}
	if len(cq.markers) > 0 {
		cq.t.log.Warn().Str("dir", cq.mfq.dir).Int64("fromQueueOffset", cq.damagedAt/CQEntrySize).
			Msg("a rebuild of this consume queue was not finished; it is done again")
	}
	return nil
}

// markDamaged records on disk, before anything is changed, that the queue
// must be rebuilt from queue byte offset at (Open only).
func (cq *consumeQueue) markDamaged(at int64) error {
	if cq.damagedAt >= 0 && cq.damagedAt <= at && len(cq.markers) > 0 {
		return nil
	}
	if err := os.MkdirAll(cq.mfq.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", cq.mfq.dir, err)
	}
	path := filepath.Join(cq.mfq.dir, rebuildMarkerPrefix+fileName(at))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("consume queue %s/%d needs a rebuild, but its marker cannot be written: %w", cq.topic, cq.queueID, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := mmap.SyncDir(cq.mfq.dir); err != nil {
		return err
	}
	cq.markers = append(cq.markers, path)
	if cq.damagedAt < 0 || at < cq.damagedAt {
		cq.damagedAt = at
	}
	return nil
}

// finishRebuild forces the rebuilt entries to disk and then removes the
// markers (Open only).
func (cq *consumeQueue) finishRebuild() error {
	if err := cq.mfq.flush(); err != nil {
		return fmt.Errorf("flush rebuilt consume queue %s/%d: %w", cq.topic, cq.queueID, err)
	}
	for _, m := range cq.markers {
		if err := removeFile(m); err != nil {
			return err
		}
	}
	cq.markers = nil
	cq.damagedAt = -1
	return mmap.SyncDir(cq.mfq.dir)
}

// cqEntry is one decoded consume-queue entry.
type cqEntry struct {
	phys     int64
	size     int32
	tagsCode int64
}

func readEntry(b []byte) cqEntry {
	return cqEntry{
		phys:     int64(binary.BigEndian.Uint64(b)),
		size:     int32(binary.BigEndian.Uint32(b[8:])),
		tagsCode: int64(binary.BigEndian.Uint64(b[12:])),
	}
}

// maxOffset is the queue offset the next message gets (entries so far).
func (cq *consumeQueue) maxOffset() int64 { return cq.mfq.maxReadable() / CQEntrySize }

// minOffset is the first queue offset still readable.
func (cq *consumeQueue) minOffset() int64 { return cq.minLogic.Load() / CQEntrySize }

// entryAt reads the entry for queue offset n; ok is false when it is not
// (or no longer) stored.
func (cq *consumeQueue) entryAt(n int64) (cqEntry, bool) {
	pos := n * CQEntrySize
	f := cq.mfq.findByOffset(pos)
	if f == nil {
		return cqEntry{}, false
	}
	p := pos - f.from
	if p+CQEntrySize > f.readable() {
		return cqEntry{}, false
	}
	return readEntry(f.data[p:]), true
}

// entriesFrom returns the readable entries from queue offset n to the end of
// the file holding n (RocketMQ getIndexBuffer), or nil.
func (cq *consumeQueue) entriesFrom(n int64) []byte {
	pos := n * CQEntrySize
	f := cq.mfq.findByOffset(pos)
	if f == nil {
		return nil
	}
	p, r := pos-f.from, f.readable()
	if p >= r {
		return nil
	}
	return f.data[p:r]
}

// put stores the entry for queue offset n. Dispatch normally appends exactly
// at the end; an entry already present (a re-dispatch) is left alone, and a
// gap (records lost to a skipped corrupt region) is left as zero entries,
// which readers skip. The space was normally reserved by Put before the
// record was appended; reserving again here is a no-op then, and covers
// the records recovery re-dispatches.
func (cq *consumeQueue) put(n, phys int64, size int32, tagsCode int64) error {
	target := n * CQEntrySize
	q := cq.mfq
	if last := q.last(); last != nil && target < last.from+last.wrote.Load() {
		return nil
	}
	if err := cq.reserve(target, target+CQEntrySize); err != nil {
		return err
	}
	last := q.last()
	for target >= last.from+last.size {
		// Past this file: it is complete (reserve backed all of it), and the
		// next one was created ahead.
		last.wrote.Store(last.size)
		last.committed.Store(last.size)
		next := q.promote(last.from + last.size)
		if next == nil {
			return fmt.Errorf("consume queue %s/%d: no file at %d after reserving it", cq.topic, cq.queueID, last.from+last.size)
		}
		last = next
	}
	p := target - last.from
	b := last.data[p : p+CQEntrySize]
	binary.BigEndian.PutUint64(b, uint64(phys))
	binary.BigEndian.PutUint32(b[8:], uint32(size))
	binary.BigEndian.PutUint64(b[12:], uint64(tagsCode))
	// Publishing the position last orders the entry's bytes before it for readers.
	last.wrote.Store(p + CQEntrySize)
	last.committed.Store(p + CQEntrySize)
	return nil
}

// Consume-queue files are backed in steps that double from cqGrowMin up to
// cqGrowMax, in whole pages: a queue that holds one entry costs cqGrowMin
// of disk, a busy one calls fallocate about a dozen times per 6 MB file.
const (
	cqGrowMin  = 4 << 10
	cqGrowMax  = 1 << 20
	cqGrowPage = 4 << 10
)

// reserve makes sure the queue's byte range [start, end) can be written:
// the files holding it exist (the first one as the queue's file, later ones
// ahead of it) and are backed by disk blocks up to end. start only matters
// for a queue without files: its first file is the one holding start.
// Allocation-free when the space is already there (one atomic load). A full
// disk is an error wrapping ENOSPC; what was reserved before stays.
func (cq *consumeQueue) reserve(start, end int64) error {
	if end <= cq.reservedEnd.Load() {
		return nil
	}
	cq.growMu.Lock()
	defer cq.growMu.Unlock()
	if end <= cq.reservedEnd.Load() {
		return nil
	}
	q := cq.mfq
	fs := q.fileSize
	f := q.tail()
	if f == nil {
		var err error
		if f, err = q.createSparse(start-start%fs, false); err != nil {
			return fmt.Errorf("consume queue %s/%d: %w", cq.topic, cq.queueID, err)
		}
		cq.minLogic.Store(start)
	}
	for {
		if need := min(end-f.from, fs); need > f.allocated.Load() {
			if err := cq.grow(f, need); err != nil {
				return err
			}
		}
		if end <= f.from+fs {
			break
		}
		nf, err := q.createSparse(f.from+fs, true)
		if err != nil {
			return fmt.Errorf("consume queue %s/%d: %w", cq.topic, cq.queueID, err)
		}
		f = nf
	}
	cq.reservedEnd.Store(f.from + f.allocated.Load())
	return nil
}

// grow backs f up to at least need bytes, by the next step.
func (cq *consumeQueue) grow(f *mappedFile, need int64) error {
	have := f.allocated.Load()
	step := min(max(have, cqGrowMin), cqGrowMax)
	to := min(max(need, have+step), f.size)
	if to%cqGrowPage != 0 {
		to = min(to+cqGrowPage-to%cqGrowPage, f.size)
	}
	growFn := mmap.GrowFile
	if cq.t != nil {
		growFn = cq.t.growFunc()
	}
	if err := growFn(f.f, have, to-have); err != nil {
		return fmt.Errorf("consume queue %s/%d: back %s up to %d bytes: %w", cq.topic, cq.queueID, f.path, to, err)
	}
	f.allocated.Store(to)
	if cq.t != nil && cq.t.afterGrow != nil {
		cq.t.afterGrow()
	}
	return nil
}

// load maps the queue's files and recovers its positions. A file found
// shorter than the configured size is never silently zero-extended: its
// length is restored (sparse, no disk blocks), it and any later file are
// logged, the later ones deleted, and damagedAt marks where Open's
// verification must rebuild the queue from the commit log.
func (cq *consumeQueue) load() error {
	q := cq.mfq
	cq.damagedAt = -1
	if err := cq.readMarkers(); err != nil {
		return err
	}
	shorts, err := q.load(func(f *os.File, from, have int64) error {
		if err := cq.markDamaged(from + have - have%CQEntrySize); err != nil {
			return err
		}
		return f.Truncate(q.fileSize)
	})
	if err != nil {
		return err
	}
	for i, f := range q.files {
		end, err := mmap.LastDataEnd(f.f, f.size)
		if err != nil {
			return fmt.Errorf("consume queue %s/%d: %w", cq.topic, cq.queueID, err)
		}
		f.allocated.Store(end)
		if len(shorts) > 0 && shorts[0].index == i {
			f.allocated.Store(min(end, shorts[0].have))
		}
	}
	if len(shorts) > 0 {
		sh := shorts[0]
		f := q.files[sh.index]
		cq.t.log.Warn().Str("file", f.path).Int64("length", sh.have).Int64("configured", q.fileSize).
			Msg("consume-queue file is shorter than configured (truncated?); its length is restored and the queue is rebuilt from the commit log from there")
		for _, g := range q.files[sh.index+1:] {
			cq.t.log.Warn().Str("file", g.path).Msg("deleting a consume-queue file after a short one; it is rebuilt from the commit log")
			if err := g.closeAndUnmap(); err != nil {
				return err
			}
			if err := removeFile(g.path); err != nil {
				return err
			}
		}
		clear(q.files[sh.index+1:])
		q.files = q.files[:sh.index+1]
	}
	return cq.recoverPositions()
}

// recoverPositions sets each loaded file's position from its content: the
// write position is after the last non-empty entry, and trailing files with
// no entries are deleted (the first file is always kept). Only the backed
// part of a file is scanned.
func (cq *consumeQueue) recoverPositions() error {
	q := cq.mfq
	q.mu.Lock()
	defer q.mu.Unlock()
	cq.reservedEnd.Store(0)
	for len(q.files) > 0 {
		f := q.files[len(q.files)-1]
		pos := lastEntryEnd(f.data[:f.allocated.Load()])
		if cq.damagedAt >= f.from && cq.damagedAt < f.from+f.size {
			pos = min(pos, cq.damagedAt-f.from)
		}
		if pos > 0 || len(q.files) == 1 {
			f.setPositions(pos)
			break
		}
		q.files = q.files[:len(q.files)-1]
		f.closeAndUnmap()
		if err := os.Remove(f.path); err != nil {
			return fmt.Errorf("delete empty consume-queue file %s: %w", f.path, err)
		}
	}
	if len(q.files) > 0 {
		cq.minLogic.Store(q.files[0].from)
	}
	return nil
}

// lastEntryEnd is the byte position after the last entry with a non-zero size.
func lastEntryEnd(data []byte) int64 {
	for p := len(data) - len(data)%CQEntrySize - CQEntrySize; p >= 0; p -= CQEntrySize {
		if binary.BigEndian.Uint32(data[p+8:]) != 0 {
			return int64(p + CQEntrySize)
		}
	}
	return 0
}

// truncateFrom removes every entry pointing at or beyond commit-log offset
// phys, so dispatch can rebuild them (recovery only). It returns the queue
// byte offset of the first entry removed, -1 for none.
func (cq *consumeQueue) truncateFrom(phys int64) (int64, error) {
	return cq.truncateWhere(keepBelow(phys))
}

// truncateAt removes every entry at queue byte offset pos or later
// (verification only).
func (cq *consumeQueue) truncateAt(at int64) error {
	_, err := cq.truncateWhere(func(pos int64, e cqEntry) bool { return pos < at })
	return err
}

// cutPoint is the queue byte offset of the first entry truncateWhere(keep)
// would remove, -1 for none; it changes nothing.
func (cq *consumeQueue) cutPoint(keep func(pos int64, e cqEntry) bool) int64 {
	q := cq.mfq
	q.mu.RLock()
	defer q.mu.RUnlock()
	cut := int64(-1)
	for i := len(q.files) - 1; i >= 0; i-- {
		f := q.files[i]
		for pos := f.wrote.Load(); pos > 0; pos -= CQEntrySize {
			if keep(f.from+pos-CQEntrySize, readEntry(f.data[pos-CQEntrySize:])) {
				return cut
			}
			cut = f.from + pos - CQEntrySize
		}
	}
	return cut
}

// keepBelow is truncateFrom's rule: keep entries of records before phys.
func keepBelow(phys int64) func(int64, cqEntry) bool {
	return func(_ int64, e cqEntry) bool { return e.size != 0 && e.phys < phys }
}

// truncateWhere walks back from the end and removes entries until keep
// says to keep one (pos is its queue byte offset). Removed entries are
// zeroed; files left with none are deleted, the first one excepted. It
// returns the queue byte offset of the first entry removed, -1 for none.
func (cq *consumeQueue) truncateWhere(keep func(pos int64, e cqEntry) bool) (removedFrom int64, err error) {
	q := cq.mfq
	q.mu.Lock()
	defer q.mu.Unlock()
	cq.reservedEnd.Store(0)
	removedFrom = -1
	defer func() {
		// Flushing resumes from the new end (entries below it were flushed,
		// or are zeroed and forced).
		if n := len(q.files); n > 0 && removedFrom >= 0 {
			last := q.files[n-1]
			q.flushedWhere.Store(min(q.flushedWhere.Load(), last.from+last.wrote.Load()))
		}
	}()
	for len(q.files) > 0 {
		f := q.files[len(q.files)-1]
		pos := f.wrote.Load()
		for pos > 0 {
			if keep(f.from+pos-CQEntrySize, readEntry(f.data[pos-CQEntrySize:])) {
				break
			}
			pos -= CQEntrySize
		}
		if pos < f.wrote.Load() {
			if err := f.zeroFrom(pos); err != nil {
				return removedFrom, err
			}
			f.setPositions(pos)
			removedFrom = f.from + pos
		}
		if pos > 0 || len(q.files) == 1 {
			return removedFrom, nil
		}
		q.files = q.files[:len(q.files)-1]
		f.closeAndUnmap()
		if err := os.Remove(f.path); err != nil {
			return removedFrom, fmt.Errorf("delete consume-queue file %s: %w", f.path, err)
		}
		removedFrom = f.from
		if prev := q.files[len(q.files)-1]; prev.wrote.Load() < prev.size {
			// The previous file was full before; it still is.
			prev.setPositions(prev.size)
		}
	}
	return removedFrom, nil
}

// correctMinOffset moves minLogic to the first entry whose message is at or
// after the commit log's minimum offset (RocketMQ correctMinOffset).
func (cq *consumeQueue) correctMinOffset(minPhys int64) {
	q := cq.mfq
	for i := 0; ; i++ {
		f := q.at(i)
		if f == nil {
			return
		}
		r := f.readable()
		start := int64(0)
		if cur := cq.minLogic.Load(); cur > f.from {
			start = cur - f.from
		}
		for p := start; p+CQEntrySize <= r; p += CQEntrySize {
			e := readEntry(f.data[p:])
			if e.size != 0 && e.phys >= minPhys {
				cq.minLogic.Store(f.from + p)
				return
			}
		}
		if r < f.size {
			cq.minLogic.Store(f.from + r)
			return
		}
	}
}

// deleteExpired removes leading files whose last entry points before the
// commit log's minimum offset, never the last file.
func (cq *consumeQueue) deleteExpired(minPhys int64, now time.Time) int {
	q := cq.mfq
	n := 0
	for i := 0; ; i++ {
		f := q.at(i)
		if f == nil || i == q.count()-1 {
			break
		}
		r := f.readable()
		if r < CQEntrySize {
			break
		}
		if e := readEntry(f.data[r-CQEntrySize:]); e.phys+int64(e.size) > minPhys {
			break
		}
		n++
	}
	deleted := q.deleteFirst(n, now)
	cq.correctMinOffset(minPhys)
	return deleted
}

// cqKey names one consume queue.
type cqKey struct {
	topic   string
	queueID int32
}

// consumeQueueTable holds every consume queue, created on first Put (or
// on first dispatch during recovery).
type consumeQueueTable struct {
	dir      string
	fileSize int64
	log      zerolog.Logger
	grave    *graveyard
	syncs    *atomic.Int64
	// growFn backs consume-queue file ranges (mmap.GrowFile; tests inject ENOSPC).
	growFn atomic.Pointer[func(*os.File, int64, int64) error]
	// afterGrow runs after a file took more disk (the disk-ratio check).
	afterGrow func()

	mu     sync.RWMutex
	topics map[string]map[int32]*consumeQueue
	// deleting: topics whose files DeleteTopic is removing; closed when done.
	deleting map[string]chan struct{}
}

func (t *consumeQueueTable) setGrow(fn func(*os.File, int64, int64) error) { t.growFn.Store(&fn) }

func (t *consumeQueueTable) growFunc() func(*os.File, int64, int64) error {
	if fn := t.growFn.Load(); fn != nil {
		return *fn
	}
	return mmap.GrowFile
}

func (t *consumeQueueTable) newQueue(topic string, queueID int32) *consumeQueue {
	dir := filepath.Join(t.dir, topic, strconv.Itoa(int(queueID)))
	mfq := newMappedFileQueue(dir, t.fileSize, t.log, t.grave)
	mfq.syncs = t.syncs
	return &consumeQueue{topic: topic, queueID: queueID, mfq: mfq, t: t, stallFrom: -1, damagedAt: -1}
}

// load maps every queue found under dir.
func (t *consumeQueueTable) load() error {
	t.topics = map[string]map[int32]*consumeQueue{}
	t.deleting = map[string]chan struct{}{}
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", t.dir, err)
	}
	topics, err := os.ReadDir(t.dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", t.dir, err)
	}
	for _, td := range topics {
		if !td.IsDir() {
			continue
		}
		qdirs, err := os.ReadDir(filepath.Join(t.dir, td.Name()))
		if err != nil {
			return fmt.Errorf("list %s: %w", filepath.Join(t.dir, td.Name()), err)
		}
		for _, qd := range qdirs {
			qid, err := strconv.ParseInt(qd.Name(), 10, 32)
			if !qd.IsDir() || err != nil {
				continue
			}
			cq := t.newQueue(td.Name(), int32(qid))
			// Registered before loading so that a failure unmaps what was mapped.
			if t.topics[cq.topic] == nil {
				t.topics[cq.topic] = map[int32]*consumeQueue{}
			}
			t.topics[cq.topic][cq.queueID] = cq
			if err := cq.load(); err != nil {
				return err
			}
		}
	}
	return nil
}

// find returns the queue or nil. It does not allocate.
func (t *consumeQueueTable) find(topic []byte, queueID int32) *consumeQueue {
	t.mu.RLock()
	cq := t.topics[string(topic)][queueID]
	t.mu.RUnlock()
	return cq
}

// findOrCreate is find, creating the queue (in memory; files come with the
// first reserve) when missing.
func (t *consumeQueueTable) findOrCreate(topic []byte, queueID int32) *consumeQueue {
	if cq := t.find(topic, queueID); cq != nil {
		return cq
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	qs := t.topics[string(topic)]
	if qs == nil {
		qs = map[int32]*consumeQueue{}
		t.topics[string(topic)] = qs
	}
	cq := qs[queueID]
	if cq == nil {
		cq = t.newQueue(string(topic), queueID)
		qs[queueID] = cq
	}
	return cq
}

// all returns every queue (a snapshot).
func (t *consumeQueueTable) all() []*consumeQueue {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []*consumeQueue
	for _, qs := range t.topics {
		for _, cq := range qs {
			out = append(out, cq)
		}
	}
	return out
}

// detachTopic takes a topic's queues out of the table, so that new puts
// start new queues, and marks the topic as being deleted until
// finishDelete. No file I/O: DeleteTopic calls it under the writer's lock.
func (t *consumeQueueTable) detachTopic(topic string) []*consumeQueue {
	t.mu.Lock()
	defer t.mu.Unlock()
	qs := t.topics[topic]
	delete(t.topics, topic)
	if _, ok := t.deleting[topic]; !ok {
		t.deleting[topic] = make(chan struct{})
	}
	out := make([]*consumeQueue, 0, len(qs))
	for _, cq := range qs {
		cq.removed.Store(true)
		out = append(out, cq)
	}
	return out
}

// removeFiles deletes the files and directories of detached queues. Their
// mappings outlive the unlink by MappedFileDestroyGrace, for readers still
// holding slices. A directory that is not empty (a put of the recreated
// topic got there first) is left.
func (t *consumeQueueTable) removeFiles(topic string, qs []*consumeQueue, now time.Time) error {
	var errs []error
	for _, cq := range qs {
		for _, f := range cq.mfq.detachAll() {
			errs = append(errs, removeFile(f.path))
			t.grave.bury(f, now)
		}
		if err := os.Remove(cq.mfq.dir); err != nil && !os.IsNotExist(err) {
			t.log.Warn().Err(err).Str("dir", cq.mfq.dir).Msg("consume-queue directory of a deleted topic left in place")
		}
	}
	if err := os.Remove(filepath.Join(t.dir, topic)); err != nil && !os.IsNotExist(err) {
		t.log.Warn().Err(err).Str("topic", topic).Msg("consume-queue directory of a deleted topic left in place")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete consume queues of %s: %w", topic, err)
	}
	return nil
}

// finishDelete ends what detachTopic started.
func (t *consumeQueueTable) finishDelete(topic string) {
	t.mu.Lock()
	ch := t.deleting[topic]
	delete(t.deleting, topic)
	t.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// waitDeleted waits until no DeleteTopic of topic is removing files, so a
// queue of the recreated topic does not create a file under a path that is
// about to be unlinked. Only a put racing the deletion of its own topic
// ever waits, and only for the unlinks.
func (t *consumeQueueTable) waitDeleted(topic string) {
	t.mu.RLock()
	ch := t.deleting[topic]
	t.mu.RUnlock()
	if ch != nil {
		<-ch
	}
}
