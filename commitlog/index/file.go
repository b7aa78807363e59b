package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/sluice-mq/sluice/commitlog/mmap"
)

// The layout (IndexHeader.java, IndexFile.java).
const (
	// HeaderSize is IndexHeader.INDEX_HEADER_SIZE.
	HeaderSize = 40
	// HashSlotSize and EntrySize are IndexFile's hashSlotSize and indexSize.
	HashSlotSize = 4
	EntrySize    = 20

	offBeginTimestamp = 0
	offEndTimestamp   = 8
	offBeginPhyOffset = 16
	offEndPhyOffset   = 24
	offHashSlotCount  = 32
	offIndexCount     = 36

	invalidIndex = 0

	// growStep is how far ahead of the writer the entries are backed by
	// disk blocks.
	growStep = 1 << 20
)

// errDamaged marks a file whose structure does not hold together.
var errDamaged = errors.New("index file damaged")

// FileSize is the length of an index file: header, slots, entries.
func FileSize(hashSlotNum, indexNum int) int64 {
	return HeaderSize + int64(hashSlotNum)*HashSlotSize + int64(indexNum)*EntrySize
}

// indexFile is one IndexFile. Its header lives in the mapping and, for
// readers on other goroutines, in the atomics below (IndexHeader's
// AtomicLongs); only the dispatcher writes either.
type indexFile struct {
	path        string
	f           *os.File
	data        []byte
	size        int64
	hashSlotNum int32
	indexNum    int32

	beginTimestamp atomic.Int64
	endTimestamp   atomic.Int64
	beginPhyOffset atomic.Int64
	endPhyOffset   atomic.Int64
	hashSlotCount  atomic.Int32
	indexCount     atomic.Int32

	// allocated (writer-owned): bytes from the start backed by disk.
	allocated int64
	// flushedCount: entries below it are on disk.
	flushedCount atomic.Int32
}

func (x *indexFile) entryOff(i int32) int64 {
	return HeaderSize + int64(x.hashSlotNum)*HashSlotSize + int64(i)*EntrySize
}

func (x *indexFile) slotOff(hash int32) int64 {
	return HeaderSize + int64(hash%x.hashSlotNum)*HashSlotSize
}

// createIndexFile makes a new file; a rolled file starts where the
// previous one ended (IndexFile's constructor with endPhyOffset and
// endTimestamp). On failure nothing is left behind.
func createIndexFile(path string, hashSlotNum, indexNum int, endPhyOffset, endTimestamp int64) (_ *indexFile, err error) {
	size := FileSize(hashSlotNum, indexNum)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create index file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if err := f.Truncate(size); err != nil {
		return nil, fmt.Errorf("create index file %s: set size %d: %w", path, size, err)
	}
	x := &indexFile{path: path, f: f, size: size, hashSlotNum: int32(hashSlotNum), indexNum: int32(indexNum)}
	x.allocated = min(size, x.entryOff(0)+growStep)
	if err := mmap.GrowFile(f, 0, x.allocated); err != nil {
		return nil, fmt.Errorf("create index file %s: %w", path, err)
	}
	if x.data, err = mmap.MapFile(f, size); err != nil {
		return nil, fmt.Errorf("create index file %s: %w", path, err)
	}
	mmap.PopulateWrite(x.data[:x.allocated])
	x.indexCount.Store(1)
	if endPhyOffset > 0 {
		x.beginPhyOffset.Store(endPhyOffset)
		x.endPhyOffset.Store(endPhyOffset)
	}
	if endTimestamp > 0 {
		x.beginTimestamp.Store(endTimestamp)
		x.endTimestamp.Store(endTimestamp)
	}
	x.writeHeader()
	return x, nil
}

// openIndexFile maps an existing file and loads its header
// (IndexHeader#load: a count below 1 reads as 1).
func openIndexFile(path string, hashSlotNum, indexNum int) (_ *indexFile, err error) {
	size := FileSize(hashSlotNum, indexNum)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open index file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open index file %s: %w", path, err)
	}
	if st.Size() != size {
		return nil, fmt.Errorf("open index file %s: %d bytes, but maxHashSlotNum=%d and maxIndexNum=%d make %d (were they changed?)",
			path, st.Size(), hashSlotNum, indexNum, size)
	}
	x := &indexFile{path: path, f: f, size: size, hashSlotNum: int32(hashSlotNum), indexNum: int32(indexNum)}
	if x.data, err = mmap.MapFile(f, size); err != nil {
		return nil, fmt.Errorf("open index file %s: %w", path, err)
	}
	be := binary.BigEndian
	x.beginTimestamp.Store(int64(be.Uint64(x.data[offBeginTimestamp:])))
	x.endTimestamp.Store(int64(be.Uint64(x.data[offEndTimestamp:])))
	x.beginPhyOffset.Store(int64(be.Uint64(x.data[offBeginPhyOffset:])))
	x.endPhyOffset.Store(int64(be.Uint64(x.data[offEndPhyOffset:])))
	x.hashSlotCount.Store(int32(be.Uint32(x.data[offHashSlotCount:])))
	n := int32(be.Uint32(x.data[offIndexCount:]))
	if n <= 0 {
		n = 1
	}
	if n > x.indexNum {
		mmap.Unmap(x.data)
		return nil, fmt.Errorf("open index file %s: indexCount %d above maxIndexNum %d: %w", path, n, indexNum, errDamaged)
	}
	x.indexCount.Store(n)
	x.flushedCount.Store(n)
	// Whatever holds entries was backed when they were written; ask for the
	// next step too, and leave it to the writer if the disk is full now.
	x.allocated = x.entryOff(n)
	if want := min(size, x.entryOff(n)+growStep); mmap.GrowFile(f, 0, want) == nil {
		x.allocated = want
	}
	if n < x.indexNum {
		// The file is still written: fault in what the writer touches.
		mmap.PopulateWrite(x.data[:x.allocated])
	}
	return x, nil
}

// writeHeader is IndexHeader#updateByteBuffer.
func (x *indexFile) writeHeader() {
	be := binary.BigEndian
	be.PutUint64(x.data[offBeginTimestamp:], uint64(x.beginTimestamp.Load()))
	be.PutUint64(x.data[offEndTimestamp:], uint64(x.endTimestamp.Load()))
	be.PutUint64(x.data[offBeginPhyOffset:], uint64(x.beginPhyOffset.Load()))
	be.PutUint64(x.data[offEndPhyOffset:], uint64(x.endPhyOffset.Load()))
	be.PutUint32(x.data[offHashSlotCount:], uint32(x.hashSlotCount.Load()))
	be.PutUint32(x.data[offIndexCount:], uint32(x.indexCount.Load()))
}

func (x *indexFile) isWriteFull() bool { return x.indexCount.Load() >= x.indexNum }

// needsGrow reports that the next entry needs disk blocks not yet backed.
func (x *indexFile) needsGrow() bool {
	c := x.indexCount.Load()
	return c < x.indexNum && x.entryOff(c)+EntrySize > x.allocated
}

// putKey is IndexFile#putKey. ok is false when the file is full; err is a
// disk that cannot back the next entries. It does not allocate.
func (x *indexFile) putKey(hash int32, phyOffset, storeTimestamp int64) (ok bool, err error) {
	count := x.indexCount.Load()
	if count >= x.indexNum {
		return false, nil
	}
	absIndexPos := x.entryOff(count)
	if absIndexPos+EntrySize > x.allocated {
		n := min(int64(growStep), x.size-x.allocated)
		if err := mmap.GrowFile(x.f, x.allocated, n); err != nil {
			return false, err
		}
		mmap.PopulateWrite(x.data[x.allocated : x.allocated+n])
		x.allocated += n
	}
	absSlotPos := x.slotOff(hash)
	slotValue := loadBE32(x.data, absSlotPos)
	if slotValue <= invalidIndex || slotValue > count {
		slotValue = invalidIndex
	}
	begin := x.beginTimestamp.Load()
	timeDiff := (storeTimestamp - begin) / 1000
	switch {
	case begin <= 0:
		timeDiff = 0
	case timeDiff > 1<<31-1:
		timeDiff = 1<<31 - 1
	case timeDiff < 0:
		timeDiff = 0
	}
	be := binary.BigEndian
	e := x.data[absIndexPos : absIndexPos+EntrySize]
	be.PutUint32(e[0:], uint32(hash))
	be.PutUint64(e[4:], uint64(phyOffset))
	be.PutUint32(e[12:], uint32(int32(timeDiff)))
	be.PutUint32(e[16:], uint32(slotValue))
	// The entry is complete before the slot names it.
	storeBE32(x.data, absSlotPos, count)
	if count <= 1 {
		x.beginPhyOffset.Store(phyOffset)
		be.PutUint64(x.data[offBeginPhyOffset:], uint64(phyOffset))
		x.beginTimestamp.Store(storeTimestamp)
		be.PutUint64(x.data[offBeginTimestamp:], uint64(storeTimestamp))
	}
	if slotValue == invalidIndex {
		be.PutUint32(x.data[offHashSlotCount:], uint32(x.hashSlotCount.Add(1)))
	}
	x.endPhyOffset.Store(phyOffset)
	be.PutUint64(x.data[offEndPhyOffset:], uint64(phyOffset))
	x.endTimestamp.Store(storeTimestamp)
	be.PutUint64(x.data[offEndTimestamp:], uint64(storeTimestamp))
	// RocketMQ writes the count into the mapping only when it flushes; here
	// it is there at once, so a killed process leaves a file whose header
	// matches its entries.
	be.PutUint32(x.data[offIndexCount:], uint32(count+1))
	x.indexCount.Store(count + 1)
	return true, nil
}

// isTimeMatched is IndexFile#isTimeMatched.
func (x *indexFile) isTimeMatched(begin, end int64) bool {
	b, e := x.beginTimestamp.Load(), x.endTimestamp.Load()
	return (begin < b && end > e) || (begin >= b && begin <= e) || (end >= b && end <= e)
}

// selectPhyOffset is IndexFile#selectPhyOffset: it appends to dst the
// offsets of the slot's entries whose hash is hash and whose time is in
// [begin, end], newest first, up to maxNum in dst. The slot is read
// before the count, so the count always covers it.
func (x *indexFile) selectPhyOffset(dst []int64, hash int32, maxNum int, begin, end int64) []int64 {
	slotValue := loadBE32(x.data, x.slotOff(hash))
	count := x.indexCount.Load()
	if slotValue <= invalidIndex || slotValue > count || count <= 1 {
		return dst
	}
	base := x.beginTimestamp.Load()
	be := binary.BigEndian
	for next := slotValue; len(dst) < maxNum; {
		e := x.data[x.entryOff(next):]
		hashRead := int32(be.Uint32(e[0:]))
		phyRead := int64(be.Uint64(e[4:]))
		timeDiff := int64(int32(be.Uint32(e[12:])))
		prev := int32(be.Uint32(e[16:]))
		if timeDiff < 0 {
			break
		}
		timeRead := base + timeDiff*1000
		if hashRead == hash && timeRead >= begin && timeRead <= end {
			dst = append(dst, phyRead)
		}
		if prev <= invalidIndex || prev > count || prev == next || timeRead < begin {
			break
		}
		next = prev
	}
	return dst
}

// entry reads entry i.
func (x *indexFile) entry(i int32) (hash int32, phy int64, timeDiff, prev int32) {
	be := binary.BigEndian
	e := x.data[x.entryOff(i):]
	return int32(be.Uint32(e[0:])), int64(be.Uint64(e[4:])), int32(be.Uint32(e[12:])), int32(be.Uint32(e[16:]))
}

// verify checks that the file's entries and slots hold together: offsets
// never go down, every link points back to an older entry of the same
// slot, every slot to an entry of its own. It reads the whole file; it is
// run only on files written since their last flush, after a crash.
func (x *indexFile) verify() error {
	count := x.indexCount.Load()
	lastPhy := int64(-1)
	for i := int32(1); i < count; i++ {
		hash, phy, diff, prev := x.entry(i)
		if hash < 0 || diff < 0 || phy < lastPhy || prev < 0 || prev >= i {
			return fmt.Errorf("%w: entry %d (hash %d, offset %d, link %d)", errDamaged, i, hash, phy, prev)
		}
		if prev > 0 {
			if ph, _, _, _ := x.entry(prev); ph%x.hashSlotNum != hash%x.hashSlotNum {
				return fmt.Errorf("%w: entry %d links to entry %d of another slot", errDamaged, i, prev)
			}
		}
		lastPhy = phy
	}
	if count > 1 && lastPhy != x.endPhyOffset.Load() {
		return fmt.Errorf("%w: last entry's offset %d, header's end offset %d", errDamaged, lastPhy, x.endPhyOffset.Load())
	}
	for s := int32(0); s < x.hashSlotNum; s++ {
		v := loadBE32(x.data, HeaderSize+int64(s)*HashSlotSize)
		if v == invalidIndex {
			continue
		}
		if v < 0 || v >= count {
			return fmt.Errorf("%w: slot %d names entry %d of %d", errDamaged, s, v, count)
		}
		if h, _, _, _ := x.entry(v); h%x.hashSlotNum != s {
			return fmt.Errorf("%w: slot %d names entry %d of slot %d", errDamaged, s, v, h%x.hashSlotNum)
		}
	}
	return nil
}

// truncate removes the entries of records at or after end, newest first,
// each giving its slot back the entry it had displaced, so the file is as
// it was before they were put. tsAt gives a record's store timestamp (the
// new end time); prevEnd* are the previous file's end, which an emptied
// file starts from again. It reports errDamaged when an entry is not where
// its slot says.
func (x *indexFile) truncate(end int64, tsAt func(int64) (int64, bool), prevEndPhy, prevEndTs int64) (removed int, err error) {
	count := x.indexCount.Load()
	for count > 1 {
		i := count - 1
		hash, phy, _, prev := x.entry(i)
		if phy < end {
			break
		}
		so := x.slotOff(hash)
		if hash < 0 || loadBE32(x.data, so) != i || prev < 0 || prev >= i {
			return removed, fmt.Errorf("%w: entry %d is not the head of its slot", errDamaged, i)
		}
		storeBE32(x.data, so, prev)
		if prev == invalidIndex {
			x.hashSlotCount.Add(-1)
		}
		clear(x.data[x.entryOff(i) : x.entryOff(i)+EntrySize])
		count--
		removed++
	}
	if removed == 0 {
		return 0, nil
	}
	x.indexCount.Store(count)
	if count <= 1 {
		x.beginPhyOffset.Store(max(prevEndPhy, 0))
		x.endPhyOffset.Store(max(prevEndPhy, 0))
		x.beginTimestamp.Store(max(prevEndTs, 0))
		x.endTimestamp.Store(max(prevEndTs, 0))
	} else {
		_, phy, diff, _ := x.entry(count - 1)
		x.endPhyOffset.Store(phy)
		ts, ok := tsAt(phy)
		if !ok {
			// The record is gone: the entry's own time, to the second.
			ts = x.beginTimestamp.Load() + int64(diff)*1000
		}
		x.endTimestamp.Store(ts)
	}
	x.writeHeader()
	x.flushedCount.Store(min(x.flushedCount.Load(), count))
	return removed, nil
}

// flush forces the header, the slots and the entries written since the
// last flush to disk (IndexFile#flush).
func (x *indexFile) flush() error {
	count := x.indexCount.Load()
	fl := x.flushedCount.Load()
	if count == fl {
		return nil
	}
	// Entries first: a slot or count on disk never names an entry that is not.
	if err := mmap.SyncRange(x.data, x.entryOff(fl), x.entryOff(count)); err != nil {
		return fmt.Errorf("flush index file %s: %w", x.path, err)
	}
	if err := mmap.SyncRange(x.data, 0, x.entryOff(0)); err != nil {
		return fmt.Errorf("flush index file %s: %w", x.path, err)
	}
	x.flushedCount.Store(count)
	return nil
}

func (x *indexFile) close() error {
	err := mmap.Unmap(x.data)
	x.data = nil
	if cerr := x.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close index file %s: %w", x.path, err)
	}
	return nil
}
