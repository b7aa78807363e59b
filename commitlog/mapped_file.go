package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/sluice-mq/sluice/commitlog/mmap"

	"github.com/rs/zerolog"
)

// mappedFile is one fixed-size file of the commit log or of a consume queue,
// mapped shared into memory, with RocketMQ's three positions:
//
//	flushed <= committed <= wrote <= size
//
// wrote is where the writer appends next (in writeBuf when the file borrowed
// a transient-pool buffer, in the write-through stage, else in the
// mapping); committed is how much of it is in the file's page cache and
// therefore readable through the mapping; flushed is how much is on disk.
// Written straight into the mapping, committed moves with wrote. Only the
// single appender writes bytes and moves wrote; readers read the mapping
// below committed (an atomic load orders them after the bytes).
type mappedFile struct {
	path string
	from int64 // offset of byte 0 in the whole log (the file name)
	size int64
	f    *os.File
	data []byte

	wrote     atomic.Int64
	committed atomic.Int64
	flushed   atomic.Int64
	// allocated: bytes from the start known to be backed by disk blocks.
	// Commit-log files are allocated whole when created (size); consume-queue
	// files are sparse and grow in steps ahead of their writer (see
	// consumeQueue.reserve). Nothing is ever stored into the mapping at or
	// above it, so a full disk is an ENOSPC from mmap.GrowFile, never a SIGBUS.
	allocated atomic.Int64
	// prefaulted: bytes from the start whose pages the allocate service
	// has faulted in for writing ahead of the appender (see prefault).
	prefaulted atomic.Int64

	// writeBuf is the transient-pool buffer appends land in (nil without
	// one); written only by the appender, read by the commit service below
	// wrote. pooled says the file was written with pwrite and is forced with
	// fdatasync rather than msync.
	writeBuf    []byte
	pooled      bool
	bufReturned atomic.Bool

	// stage is set while the file is in write-through mode (see
	// writeStage; appender only). writeThrough says the file has been
	// written with pwrite and is forced with fdatasync; the flusher reads it.
	stage        *writeStage
	writeThrough atomic.Bool
}

// writeStage is the commit log's write-through buffer (CommitLogWriteThrough):
// appends land in buf, which holds the bytes [committed, wrote) of its
// owner, and commitStage writes them into the file with pwrite. One stage
// serves the whole log, since only the last file is appended to; a file
// that rolls commits its stage first. It is used by the appender only,
// under putMu.
type writeStage struct {
	buf   []byte
	owner *mappedFile // the file buf's bytes belong to (nil: buf is empty)
	// writeAt writes b at off in f: (*os.File).WriteAt, pwrite(2). Tests
	// inject failures.
	writeAt func(f *os.File, b []byte, off int64) (int, error)
	log     zerolog.Logger
}

// Bounds of the stage, which is heap memory. A batch is committed early once
// its stage would grow past stageCommitAt (bytes become readable in pieces,
// as they do through the mapping), so the stage holds at most that much
// plus one request; a buffer grown above stageKeepMax by one large request
// is dropped after its commit rather than kept for the next batch.
const (
	stageMinCap   = 64 << 10
	stageCommitAt = 1 << 20
	stageKeepMax  = 4 << 20
)

func newWriteStage(log zerolog.Logger) *writeStage {
	return &writeStage{writeAt: (*os.File).WriteAt, log: log}
}

// createMappedFile makes a new file of size bytes named path, reserves its
// disk space (so the mapping can never fault on ENOSPC) and maps it. On
// failure nothing is left behind. Commit-log files are made this way.
func createMappedFile(path string, from, size int64, allocate func(*os.File, int64) error) (_ *mappedFile, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create mapped file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if aerr := allocate(f, size); aerr != nil && !errors.Is(aerr, mmap.ErrFallocateUnsupported) {
		return nil, fmt.Errorf("create mapped file %s: %w", path, aerr)
	}
	data, err := mmap.MapFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("create mapped file %s: %w", path, err)
	}
	mf := &mappedFile{path: path, from: from, size: size, f: f, data: data}
	mf.allocated.Store(size)
	return mf, nil
}

// createSparseMappedFile makes a new file of size bytes that holds no disk
// blocks yet (ftruncate) and maps it: a consume-queue file, which costs what
// it holds. The caller backs each range with mmap.GrowFile before storing into
// it. On failure nothing is left behind.
func createSparseMappedFile(path string, from, size int64) (_ *mappedFile, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create mapped file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if err := f.Truncate(size); err != nil {
		return nil, fmt.Errorf("create mapped file %s: set size %d: %w", path, size, err)
	}
	data, err := mmap.MapFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("create mapped file %s: %w", path, err)
	}
	return &mappedFile{path: path, from: from, size: size, f: f, data: data}, nil
}

// openMappedFile maps an existing file of the configured size. A longer file
// is refused. A shorter one (a crash while it was being created, or damage:
// an operator's truncate, a bad disk) cannot be mapped as it is, since
// touching the mapping past the end of the file is a SIGBUS; fixShort is
// called to bring it to size (or to refuse) and the length found is
// returned as have, so that the caller says so and checks what the file
// holds instead of trusting it. have == size for a file of the right length.
func openMappedFile(path string, from, size int64, fixShort func(f *os.File, from, have int64) error) (_ *mappedFile, have int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("open mapped file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("open mapped file %s: %w", path, err)
	}
	have = st.Size()
	if have > size {
		return nil, 0, fmt.Errorf("open mapped file %s: size %d is larger than the configured %d (was the file size changed?)", path, have, size)
	}
	if have < size {
		if err := fixShort(f, from, have); err != nil {
			return nil, 0, fmt.Errorf("open mapped file %s: bring %d bytes to the configured %d: %w", path, have, size, err)
		}
	}
	data, err := mmap.MapFile(f, size)
	if err != nil {
		return nil, 0, fmt.Errorf("open mapped file %s: %w", path, err)
	}
	return &mappedFile{path: path, from: from, size: size, f: f, data: data}, have, nil
}

// readable is how many bytes from the start can be read through the mapping.
func (m *mappedFile) readable() int64 { return m.committed.Load() }

// isFull reports that the appender has nothing more to put in this file.
func (m *mappedFile) isFull() bool { return m.wrote.Load() == m.size }

// target returns the n bytes at the write position for the appender to
// fill, all of them (they are not zeroed: a pool buffer keeps its last
// file's bytes). In write-through mode they are at the end of the stage.
func (m *mappedFile) target(n int64) []byte {
	if m.stage != nil {
		return m.stageTarget(int(n))
	}
	w := m.wrote.Load()
	if m.writeBuf != nil {
		return m.writeBuf[w : w+n]
	}
	return m.data[w : w+n]
}

// stageTarget is target in write-through mode.
func (m *mappedFile) stageTarget(n int) []byte {
	st := m.stage
	if st.owner != m {
		// Another file's bytes are still staged (a file filled to its end
		// without a roll, which the appenders commit anyway): they go to
		// that file first.
		if st.owner != nil {
			st.owner.commitStage()
		}
		st.owner = m
	}
	l := len(st.buf)
	if l > 0 && l+n > stageCommitAt {
		m.commitStage()
		if m.stage == nil { // the pwrite failed: mapping mode from here on
			return m.target(int64(n))
		}
		st.owner = m
		l = 0
	}
	if cap(st.buf)-l < n {
		nb := make([]byte, l, max(2*cap(st.buf), l+n, stageMinCap))
		copy(nb, st.buf)
		st.buf = nb
	}
	st.buf = st.buf[:l+n]
	return st.buf[l:]
}

// advance publishes n bytes filled through target. Staged bytes become
// readable only at commitStage.
func (m *mappedFile) advance(n int64) {
	w := m.wrote.Load() + n
	m.wrote.Store(w)
	if m.writeBuf == nil && m.stage == nil {
		m.committed.Store(w)
	}
}

// commitStage writes the staged bytes into the file at committed with
// pwrite, which makes them readable through the mapping (the same page
// cache) and lets the next flush cover them. If the write fails the bytes
// are copied into the mapping instead, so an append that was made is never
// lost, and the file stays in mapping mode (a full commit-log file is
// allocated whole, so the stores cannot fault). No-op when nothing is staged.
func (m *mappedFile) commitStage() {
	st := m.stage
	if st == nil || st.owner != m {
		return
	}
	st.owner = nil
	if len(st.buf) == 0 {
		return
	}
	m.writeCommitted(st, st.buf)
	if cap(st.buf) > stageKeepMax {
		st.buf = nil
	} else {
		st.buf = st.buf[:0]
	}
}

// writeCommitted writes b, bytes already counted in wrote, at committed and
// moves committed past them: pwrite, or on its failure a copy into the
// mapping, after which the file leaves write-through mode (logged).
func (m *mappedFile) writeCommitted(st *writeStage, b []byte) {
	c := m.committed.Load()
	if _, err := st.writeAt(m.f, b, c); err != nil {
		copy(m.data[c:], b)
		m.stage = nil
		st.log.Error().Err(err).Str("file", m.path).Int64("offset", m.from+c).Int("bytes", len(b)).
			Msg("write-through pwrite failed; the bytes were stored through the mapping instead and this file stays in mapping mode (msync)")
		// The flusher may msync or fdatasync what was pwritten before
		// this: both force the file's pages in the range, however dirtied.
		m.writeThrough.Store(false)
	}
	m.committed.Store(c + int64(len(b)))
}

// appendRaw appends data as it is (a slave's AppendRaw): in write-through
// mode with one pwrite straight from data, no stage; else through target.
// It is readable on return in either mode.
func (m *mappedFile) appendRaw(data []byte) {
	st := m.stage
	if st == nil {
		copy(m.target(int64(len(data))), data)
		m.advance(int64(len(data)))
		return
	}
	m.commitStage() // nothing is staged on a slave; kept for order's sake
	m.wrote.Add(int64(len(data)))
	m.writeCommitted(st, data)
}

// closeWithBlank fills the rest of the file, remaining bytes, with a BLANK
// record (only its header is written: the body is never read, and the file
// holds zeros there, as in mapping mode) and makes everything readable.
func (m *mappedFile) closeWithBlank(remaining int64) {
	if m.stage == nil {
		blank := m.target(remaining)
		binary.BigEndian.PutUint32(blank[offTotalSize:], uint32(remaining))
		binary.BigEndian.PutUint32(blank[offMagic:], MagicBlank)
		m.advance(remaining)
		return
	}
	hdr := m.target(blankLen)
	binary.BigEndian.PutUint32(hdr[offTotalSize:], uint32(remaining))
	binary.BigEndian.PutUint32(hdr[offMagic:], MagicBlank)
	m.advance(blankLen)
	m.commitStage()
	// Nothing is staged now, in either mode.
	w := m.wrote.Load() + remaining - blankLen
	m.wrote.Store(w)
	m.committed.Store(w)
}

// enterWriteThrough puts the file, which must have nothing staged or
// uncommitted (a file just taken, or the last one loaded), in write-through
// mode with stage st.
func (m *mappedFile) enterWriteThrough(st *writeStage) {
	m.stage = st
	m.writeThrough.Store(true)
}

// setPositions sets all three positions, for recovery and loading.
func (m *mappedFile) setPositions(pos int64) {
	m.wrote.Store(pos)
	m.committed.Store(pos)
	m.flushed.Store(pos)
}

// commit writes the pool buffer's new bytes into the file and hands the
// buffer back once the file is complete. It reports whether it returned it.
func (m *mappedFile) commit(pool *transientStorePool) (returned bool, err error) {
	if m.writeBuf == nil || m.bufReturned.Load() {
		return false, nil
	}
	w, c := m.wrote.Load(), m.committed.Load()
	if w > c {
		if _, err := m.f.WriteAt(m.writeBuf[c:w], c); err != nil {
			return false, fmt.Errorf("commit %s [%d,%d): %w", m.path, c, w, err)
		}
		m.committed.Store(w)
	}
	if w == m.size {
		m.bufReturned.Store(true)
		pool.give(m.writeBuf)
		return true, nil
	}
	return false, nil
}

// flush forces the committed bytes not yet on disk. syncs counts the
// system calls, syncNs adds up their time (either may be nil).
func (m *mappedFile) flush(syncs, syncNs *atomic.Int64) error {
	c, fl := m.committed.Load(), m.flushed.Load()
	if c <= fl {
		return nil
	}
	var err error
	if syncNs != nil {
		start := time.Now()
		defer func() { syncNs.Add(int64(time.Since(start))) }()
	}
	if m.pooled || m.writeThrough.Load() {
		// fdatasync also writes back pages dirtied through the mapping, so
		// a file that left or entered write-through mode is covered.
		err = mmap.Fdatasync(m.f)
	} else {
		err = mmap.SyncRange(m.data, fl, c)
	}
	if syncs != nil {
		syncs.Add(1)
	}
	if err != nil {
		return fmt.Errorf("flush %s: %w", m.path, err)
	}
	m.flushed.Store(c)
	if c == m.size {
		// Full and durable: nothing more will be written here.
		mmap.ReleaseResident(m.data)
	}
	return nil
}

// zeroFrom clears the file from pos to the end of its allocated part and
// forces it, so a cut tail can never be read back as records or entries.
// Beyond allocated there is nothing to clear (a hole reads as zeros), and
// storing there could fault on a full disk.
func (m *mappedFile) zeroFrom(pos int64) error {
	end := m.allocated.Load()
	if pos >= end {
		return nil
	}
	clear(m.data[pos:end])
	if err := mmap.SyncRange(m.data, pos, end); err != nil {
		return fmt.Errorf("zero %s from %d: %w", m.path, pos, err)
	}
	return nil
}

// closeAndUnmap releases the mapping and the descriptor.
func (m *mappedFile) closeAndUnmap() error {
	err := mmap.Unmap(m.data)
	if cerr := m.f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close mapped file %s: %w", m.path, err)
	}
	return nil
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("delete %s: %w", path, err)
	}
	return nil
}
