package timer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// UnitSize is the size of one timer-log unit:
//
//	0  magic      uint32  unitMagic
//	4  flags      uint32  bit 0 roll, bit 1 dead; bits 8.. the roll count
//	8  prev       int64   position of the previous unit of the same slot, -1
//	16 slotMs     int64   the slot the unit is chained into
//	24 deliverMs  int64   when the message is due (TIMER_OUT_MS)
//	32 enqueueMs  int64   when it was indexed (math.MaxInt64: it was late)
//	40 offsetPy   int64   the parked record's commit-log offset
//	48 queueOff   int64   its offset in the timer topic's consume queue
//	56 sizePy     int32   the parked record's size
//	60 crc        uint32  CRC-32 (IEEE) of bytes 0..59
//
// Big-endian, like the rest of the store.
const UnitSize = 64

const unitMagic = 0x534C544D // "SLTM"

// Unit flags.
const (
	// FlagRoll marks a unit chained into the wheel's last slot because its
	// message is due beyond the wheel: reading it means indexing it again.
	FlagRoll = 1 << 0
	// flagDead marks a unit Open could not chain (see Open); it is never read.
	flagDead = 1 << 1
)

// Unit is one timer-log entry.
type Unit struct {
	Flags       uint32
	Rolls       uint32 // how many times the message was rolled
	Prev        int64
	SlotMs      int64
	DeliverMs   int64
	EnqueueMs   int64
	OffsetPy    int64
	QueueOffset int64
	SizePy      int32
}

// Roll reports a roll unit.
func (u *Unit) Roll() bool { return u.Flags&FlagRoll != 0 }

func (u *Unit) encode(b []byte) {
	be := binary.BigEndian
	be.PutUint32(b[0:], unitMagic)
	be.PutUint32(b[4:], u.Flags&0xff|u.Rolls<<8)
	be.PutUint64(b[8:], uint64(u.Prev))
	be.PutUint64(b[16:], uint64(u.SlotMs))
	be.PutUint64(b[24:], uint64(u.DeliverMs))
	be.PutUint64(b[32:], uint64(u.EnqueueMs))
	be.PutUint64(b[40:], uint64(u.OffsetPy))
	be.PutUint64(b[48:], uint64(u.QueueOffset))
	be.PutUint32(b[56:], uint32(u.SizePy))
	be.PutUint32(b[60:], crc32.ChecksumIEEE(b[:60]))
}

var errBadUnit = errors.New("timer: not a valid unit")

func decodeUnit(b []byte) (Unit, error) {
	be := binary.BigEndian
	if be.Uint32(b[0:]) != unitMagic || be.Uint32(b[60:]) != crc32.ChecksumIEEE(b[:60]) {
		return Unit{}, errBadUnit
	}
	f := be.Uint32(b[4:])
	return Unit{
		Flags: f & 0xff, Rolls: f >> 8,
		Prev:        int64(be.Uint64(b[8:])),
		SlotMs:      int64(be.Uint64(b[16:])),
		DeliverMs:   int64(be.Uint64(b[24:])),
		EnqueueMs:   int64(be.Uint64(b[32:])),
		OffsetPy:    int64(be.Uint64(b[40:])),
		QueueOffset: int64(be.Uint64(b[48:])),
		SizePy:      int32(be.Uint32(b[56:])),
	}, nil
}

// Write buffer and read block sizes: appends are written in one WriteAt
// per writeBufSize; a chain is read backwards a readBlockSize block at a
// time, so units written together (a slot's burst) cost one read.
const (
	writeBufSize  = 64 << 10
	readBlockSize = 64 << 10
)

// logFile is one timer-log file.
type logFile struct {
	from int64 // global position of its first byte
	f    *os.File
	size int64 // bytes written (flushed)
	// maxSlotMs is the latest slot any of its units is chained into: once
	// the wheel has read past it, the file is no longer needed.
	maxSlotMs int64
}

// TimerLog is the append-only file sequence of units.
type TimerLog struct {
	dir      string
	fileSize int64 // a multiple of UnitSize
	files    []*logFile

	flushed int64 // global position up to which units are in the files
	buf     []byte
	bufFrom int64 // global position of buf[0] (== flushed)
	// bufMaxSlot is the latest slot of the units in buf, for the file
	// they will be written to.
	bufMaxSlot int64

	block     []byte
	blockFrom int64 // global position of block[0]; -1: empty
}

func fileName(dir string, from int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d", from))
}

// openLog opens (or creates) the files of dir and calls visit for every
// valid unit in order. The first invalid unit ends the log: it and
// everything after it (a write cut short by a crash) is truncated.
func openLog(dir string, fileSize int64, visit func(pos int64, u *Unit) error) (*TimerLog, int64, error) {
	fileSize = fileSize / UnitSize * UnitSize
	if fileSize < UnitSize*16 {
		return nil, 0, fmt.Errorf("timer: file size %d is too small", fileSize)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("timer: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("timer: %w", err)
	}
	var starts []int64
	for _, e := range entries {
		n, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || len(e.Name()) != 20 || e.IsDir() {
			continue // not ours (tmp files, an operator's notes)
		}
		starts = append(starts, n)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	l := &TimerLog{dir: dir, fileSize: fileSize, blockFrom: -1}
	var truncated int64
	chunk := make([]byte, readBlockSize)
	end := false
	for i, from := range starts {
		path := fileName(dir, from)
		if end || from%fileSize != 0 || (len(l.files) > 0 && from != l.files[len(l.files)-1].from+fileSize) {
			// After a truncation point, or out of sequence: not part of the log.
			st, _ := os.Stat(path)
			if st != nil {
				truncated += st.Size()
			}
			if err := os.Remove(path); err != nil {
				return nil, 0, fmt.Errorf("timer: remove %s: %w", path, err)
			}
			continue
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0o644)
		if err != nil {
			l.close()
			return nil, 0, fmt.Errorf("timer: %w", err)
		}
		lf := &logFile{from: from, f: f, maxSlotMs: -1}
		st, err := f.Stat()
		if err != nil {
			l.close()
			return nil, 0, fmt.Errorf("timer: %w", err)
		}
		var pos int64
	scan:
		for pos < st.Size() && pos < fileSize {
			n, err := f.ReadAt(chunk, pos)
			if err != nil && !errors.Is(err, io.EOF) {
				l.close()
				return nil, 0, fmt.Errorf("timer: read %s: %w", path, err)
			}
			if n < UnitSize {
				break
			}
			for o := 0; o+UnitSize <= n; o += UnitSize {
				u, err := decodeUnit(chunk[o : o+UnitSize])
				if err != nil {
					if i == 0 && pos == 0 && o == 0 {
						l.close()
						return nil, 0, fmt.Errorf("timer: %s does not start with a Sluice timer-log unit; refusing to truncate it", path)
					}
					end = true
					break scan
				}
				if err := visit(from+pos+int64(o), &u); err != nil {
					l.close()
					return nil, 0, err
				}
				lf.maxSlotMs = max(lf.maxSlotMs, u.SlotMs)
			}
			pos += int64(n / UnitSize * UnitSize)
			if n < len(chunk) {
				break
			}
		}
		if pos < st.Size() {
			truncated += st.Size() - pos
			if err := f.Truncate(pos); err != nil {
				l.close()
				return nil, 0, fmt.Errorf("timer: truncate %s: %w", path, err)
			}
		}
		if pos < fileSize {
			end = true // the last file: appends go on here
		}
		lf.size = pos
		l.files = append(l.files, lf)
	}
	if n := len(l.files); n > 0 {
		l.flushed = l.files[n-1].from + l.files[n-1].size
	}
	l.bufFrom = l.flushed
	l.bufMaxSlot = -1
	l.buf = make([]byte, 0, writeBufSize)
	l.block = make([]byte, 0, readBlockSize)
	return l, truncated, nil
}

// End is the position the next unit gets.
func (l *TimerLog) End() int64 { return l.bufFrom + int64(len(l.buf)) }

// Flushed is the position up to which units are written to the files.
func (l *TimerLog) Flushed() int64 { return l.flushed }

// Start is the position of the first unit still stored.
func (l *TimerLog) Start() int64 {
	if len(l.files) == 0 {
		return l.flushed
	}
	return l.files[0].from
}

// append buffers u and returns its position.
func (l *TimerLog) append(u *Unit) (int64, error) {
	if len(l.buf)+UnitSize > cap(l.buf) {
		if err := l.Flush(); err != nil {
			return -1, err
		}
	}
	pos := l.End()
	n := len(l.buf)
	l.buf = l.buf[:n+UnitSize]
	u.encode(l.buf[n:])
	l.bufMaxSlot = max(l.bufMaxSlot, u.SlotMs)
	return pos, nil
}

// Flush writes the buffered units to the files.
func (l *TimerLog) Flush() error {
	for len(l.buf) > 0 {
		lf, err := l.fileFor(l.bufFrom)
		if err != nil {
			return err
		}
		off := l.bufFrom - lf.from
		n := min(int64(len(l.buf)), l.fileSize-off)
		if _, err := lf.f.WriteAt(l.buf[:n], off); err != nil {
			return fmt.Errorf("timer: write %s: %w", lf.f.Name(), err)
		}
		lf.size = off + n
		lf.maxSlotMs = max(lf.maxSlotMs, l.bufMaxSlot)
		l.buf = append(l.buf[:0], l.buf[n:]...)
		l.bufFrom += n
		l.flushed = l.bufFrom
	}
	l.bufMaxSlot = -1
	return nil
}

// fileFor returns the file holding position pos, creating the next one
// when pos is where it starts.
func (l *TimerLog) fileFor(pos int64) (*logFile, error) {
	if n := len(l.files); n > 0 {
		last := l.files[n-1]
		if pos >= last.from && pos < last.from+l.fileSize {
			return last, nil
		}
	}
	from := pos / l.fileSize * l.fileSize
	f, err := os.OpenFile(fileName(l.dir, from), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("timer: create a log file: %w", err)
	}
	lf := &logFile{from: from, f: f, maxSlotMs: -1}
	l.files = append(l.files, lf)
	return lf, nil
}

// Sync makes the written units durable (fdatasync of the files written
// since the last Sync; in practice the last one or two).
func (l *TimerLog) Sync() error {
	for i := len(l.files) - 1; i >= 0 && i >= len(l.files)-2; i-- {
		if err := l.files[i].f.Sync(); err != nil {
			return fmt.Errorf("timer: sync %s: %w", l.files[i].f.Name(), err)
		}
	}
	return nil
}

// read returns the unit at pos: from the write buffer, the read block, or
// the file (refilling the block with the readBlockSize bytes that end at
// pos's unit, since chains are read backwards).
func (l *TimerLog) read(pos int64) (Unit, error) {
	if pos < 0 || pos%UnitSize != 0 || pos+UnitSize > l.End() || pos < l.Start() {
		return Unit{}, fmt.Errorf("timer: no unit at %d (log %d..%d)", pos, l.Start(), l.End())
	}
	if pos >= l.bufFrom {
		o := pos - l.bufFrom
		return decodeUnit(l.buf[o : o+UnitSize])
	}
	if l.blockFrom < 0 || pos < l.blockFrom || pos+UnitSize > l.blockFrom+int64(len(l.block)) {
		lf := l.fileAt(pos)
		if lf == nil {
			return Unit{}, fmt.Errorf("timer: no file holds %d", pos)
		}
		end := pos + UnitSize
		from := max(lf.from, end-readBlockSize)
		l.block = l.block[:end-from]
		if _, err := lf.f.ReadAt(l.block, from-lf.from); err != nil {
			l.blockFrom = -1
			return Unit{}, fmt.Errorf("timer: read %s at %d: %w", lf.f.Name(), from-lf.from, err)
		}
		l.blockFrom = from
	}
	o := pos - l.blockFrom
	return decodeUnit(l.block[o : o+UnitSize])
}

// rewrite replaces the unit at pos (already flushed) with u.
func (l *TimerLog) rewrite(pos int64, u *Unit) error {
	if pos >= l.bufFrom {
		o := pos - l.bufFrom
		u.encode(l.buf[o : o+UnitSize])
		return nil
	}
	lf := l.fileAt(pos)
	if lf == nil {
		return fmt.Errorf("timer: no file holds %d", pos)
	}
	var b [UnitSize]byte
	u.encode(b[:])
	if _, err := lf.f.WriteAt(b[:], pos-lf.from); err != nil {
		return fmt.Errorf("timer: rewrite %s: %w", lf.f.Name(), err)
	}
	l.blockFrom = -1
	return nil
}

func (l *TimerLog) fileAt(pos int64) *logFile {
	i := sort.Search(len(l.files), func(i int) bool { return l.files[i].from+l.fileSize > pos })
	if i < len(l.files) && pos >= l.files[i].from {
		return l.files[i]
	}
	return nil
}

// deleteRead removes the leading files whose every unit is chained into a
// slot before readMs, never the file appends go to. It returns the bytes
// freed.
func (l *TimerLog) deleteRead(readMs int64) (int64, error) {
	var freed int64
	for len(l.files) > 1 && l.files[0].maxSlotMs < readMs && l.files[0].from+l.fileSize <= l.flushed {
		lf := l.files[0]
		_ = lf.f.Close()
		if err := os.Remove(lf.f.Name()); err != nil {
			return freed, fmt.Errorf("timer: remove %s: %w", lf.f.Name(), err)
		}
		freed += lf.size
		l.files = l.files[1:]
		if l.blockFrom >= 0 && l.blockFrom < lf.from+l.fileSize {
			l.blockFrom = -1
		}
	}
	return freed, nil
}

// DiskBytes is what the files hold.
func (l *TimerLog) DiskBytes() int64 {
	var n int64
	for _, f := range l.files {
		n += f.size
	}
	return n
}

func (l *TimerLog) close() error {
	var err error
	for _, f := range l.files {
		err = errors.Join(err, f.f.Close())
	}
	l.files = nil
	return err
}
