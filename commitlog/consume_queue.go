package commitlog

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// consumeQueue is the index of one topic's queue: entry n (20 bytes at byte
// n*20 of the queue) holds the commit-log offset, size and tags hash code of
// the message with queue offset n. Only the dispatcher appends (and recovery
// truncates); readers read entries below the last file's write position.
type consumeQueue struct {
	topic   string
	queueID int32
	mfq     *mappedFileQueue
	// minLogic is the byte offset of the first entry whose message still
	// exists in the commit log (RocketMQ minLogicOffset).
	minLogic atomic.Int64
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
// which readers skip.
func (cq *consumeQueue) put(n, phys int64, size int32, tagsCode int64) error {
	target := n * CQEntrySize
	q := cq.mfq
	last := q.last()
	if last != nil && target < last.from+last.wrote.Load() {
		return nil
	}
	if last == nil {
		from := target - target%q.fileSize
		f, err := q.createFile(from)
		if err != nil {
			return err
		}
		cq.minLogic.Store(target)
		last = f
	}
	for target >= last.from+last.size {
		last.wrote.Store(last.size)
		last.committed.Store(last.size)
		f, err := q.createFile(last.from + last.size)
		if err != nil {
			return err
		}
		last = f
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

// recoverPositions sets each loaded file's position from its content: the
// write position is after the last non-empty entry, and trailing files with
// no entries are deleted (the first file is always kept).
func (cq *consumeQueue) recoverPositions() error {
	q := cq.mfq
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.files) > 0 {
		f := q.files[len(q.files)-1]
		pos := lastEntryEnd(f.data)
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
// phys, so dispatch can rebuild them (recovery only).
func (cq *consumeQueue) truncateFrom(phys int64) error {
	q := cq.mfq
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.files) > 0 {
		f := q.files[len(q.files)-1]
		pos := f.wrote.Load()
		for pos > 0 {
			e := readEntry(f.data[pos-CQEntrySize:])
			if e.size != 0 && e.phys < phys {
				break
			}
			pos -= CQEntrySize
		}
		if pos < f.wrote.Load() {
			if err := f.zeroFrom(pos); err != nil {
				return err
			}
			f.setPositions(pos)
		}
		if pos > 0 || len(q.files) == 1 {
			return nil
		}
		q.files = q.files[:len(q.files)-1]
		f.closeAndUnmap()
		if err := os.Remove(f.path); err != nil {
			return fmt.Errorf("delete consume-queue file %s: %w", f.path, err)
		}
		if prev := q.files[len(q.files)-1]; prev.wrote.Load() < prev.size {
			// The previous file was full before; it still is.
			prev.setPositions(prev.size)
		}
	}
	return nil
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

// consumeQueueTable holds every consume queue, created on first dispatch.
type consumeQueueTable struct {
	dir      string
	fileSize int64
	log      zerolog.Logger
	grave    *graveyard
	syncs    *atomic.Int64

	mu     sync.RWMutex
	topics map[string]map[int32]*consumeQueue
}

func (t *consumeQueueTable) newQueue(topic string, queueID int32) *consumeQueue {
	dir := filepath.Join(t.dir, topic, strconv.Itoa(int(queueID)))
	mfq := newMappedFileQueue(dir, t.fileSize, t.log, t.grave)
	mfq.syncs = t.syncs
	return &consumeQueue{topic: topic, queueID: queueID, mfq: mfq}
}

// load maps every queue found under dir.
func (t *consumeQueueTable) load() error {
	t.topics = map[string]map[int32]*consumeQueue{}
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
			if err := cq.mfq.load(); err != nil {
				return err
			}
			if err := cq.recoverPositions(); err != nil {
				return err
			}
			if t.topics[cq.topic] == nil {
				t.topics[cq.topic] = map[int32]*consumeQueue{}
			}
			t.topics[cq.topic][cq.queueID] = cq
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
// first entry) when missing.
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

// removeTopic drops a topic's queues and deletes their files.
func (t *consumeQueueTable) removeTopic(topic string, now time.Time) error {
	t.mu.Lock()
	qs := t.topics[topic]
	delete(t.topics, topic)
	t.mu.Unlock()
	for _, cq := range qs {
		if err := cq.mfq.removeAll(now); err != nil {
			return fmt.Errorf("delete consume queue %s/%d: %w", topic, cq.queueID, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(t.dir, topic)); err != nil {
		return fmt.Errorf("delete consume queues of %s: %w", topic, err)
	}
	return nil
}
