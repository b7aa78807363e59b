package commitlog

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/sluice-mq/sluice/commitlog/mmap"
)

// mappedFile is one fixed-size file of the commit log or of a consume queue,
// mapped shared into memory, with RocketMQ's three positions:
//
//	flushed <= committed <= wrote <= size
//
// wrote is where the writer appends next (in writeBuf when the file borrowed
// a transient-pool buffer, else in the mapping); committed is how much of it
// is in the file's page cache and therefore readable through the mapping;
// flushed is how much is on disk. Without a pool buffer committed moves with
// wrote. Only the single appender writes bytes and moves wrote; readers read
// the mapping below committed (an atomic load orders them after the bytes).
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

// target returns the n bytes at the write position for the appender to fill.
func (m *mappedFile) target(n int64) []byte {
	w := m.wrote.Load()
	if m.writeBuf != nil {
		return m.writeBuf[w : w+n]
	}
	return m.data[w : w+n]
}

// advance publishes n bytes filled through target.
func (m *mappedFile) advance(n int64) {
	w := m.wrote.Load() + n
	m.wrote.Store(w)
	if m.writeBuf == nil {
		m.committed.Store(w)
	}
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
	if m.pooled {
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
