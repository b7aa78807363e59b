package commitlog

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
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
// failure nothing is left behind.
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
	if aerr := allocate(f, size); aerr != nil && !errors.Is(aerr, errFallocateUnsupported) {
		return nil, fmt.Errorf("create mapped file %s: %w", path, aerr)
	}
	data, err := mapFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("create mapped file %s: %w", path, err)
	}
	return &mappedFile{path: path, from: from, size: size, f: f, data: data}, nil
}

// openMappedFile maps an existing file. A file shorter than size (a crash
// during creation) is extended with zeros first; a longer one is refused.
func openMappedFile(path string, from, size int64, allocate func(*os.File, int64) error) (_ *mappedFile, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open mapped file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open mapped file %s: %w", path, err)
	}
	if st.Size() > size {
		return nil, fmt.Errorf("open mapped file %s: size %d is larger than the configured %d (was the file size changed?)", path, st.Size(), size)
	}
	if st.Size() < size {
		if aerr := allocate(f, size); aerr != nil && !errors.Is(aerr, errFallocateUnsupported) {
			return nil, fmt.Errorf("open mapped file %s: extend from %d to %d bytes: %w", path, st.Size(), size, aerr)
		}
	}
	data, err := mapFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("open mapped file %s: %w", path, err)
	}
	return &mappedFile{path: path, from: from, size: size, f: f, data: data}, nil
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

// flush forces the committed bytes not yet on disk. syncs counts the system calls.
func (m *mappedFile) flush(syncs *atomic.Int64) error {
	c, fl := m.committed.Load(), m.flushed.Load()
	if c <= fl {
		return nil
	}
	var err error
	if m.pooled {
		err = fdatasync(m.f)
	} else {
		err = syncRange(m.data, fl, c)
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
		releaseResident(m.data)
	}
	return nil
}

// zeroFrom clears the file from pos to its end and forces it, so a cut tail
// can never be read back as records.
func (m *mappedFile) zeroFrom(pos int64) error {
	clear(m.data[pos:])
	if err := syncRange(m.data, pos, m.size); err != nil {
		return fmt.Errorf("zero %s from %d: %w", m.path, pos, err)
	}
	return nil
}

// closeAndUnmap releases the mapping and the descriptor.
func (m *mappedFile) closeAndUnmap() error {
	err := unmap(m.data)
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
