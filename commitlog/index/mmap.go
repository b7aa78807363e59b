package index

// The package's system calls (mmap, msync, fallocate), in one place.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

func mapFile(f *os.File, size int64) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s (%d bytes): %w", f.Name(), size, err)
	}
	return b, nil
}

func unmap(b []byte) error {
	if b == nil {
		return nil
	}
	return unix.Munmap(b)
}

// syncRange forces mapping[from:to] to disk (msync wants a page-aligned start).
func syncRange(mapping []byte, from, to int64) error {
	if to <= from {
		return nil
	}
	pg := int64(os.Getpagesize())
	start := from &^ (pg - 1)
	if err := unix.Msync(mapping[start:to], unix.MS_SYNC); err != nil {
		return fmt.Errorf("msync [%d,%d): %w", start, to, err)
	}
	return nil
}

// allocate backs [off, off+n) of f with disk blocks. Without fallocate the
// range is written with zeros, which allocates as well and reports ENOSPC
// the same way.
func allocate(f *os.File, off, n int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, off, n)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("fallocate %s [%d,+%d): %w", f.Name(), off, n, err)
	}
	zero := make([]byte, 64<<10)
	for done := int64(0); done < n; {
		k := min(int64(len(zero)), n-done)
		if _, err := f.WriteAt(zero[:k], off+done); err != nil {
			return fmt.Errorf("allocate %s [%d,+%d): %w", f.Name(), off, n, err)
		}
		done += k
	}
	return nil
}

// populate faults b's pages in, writable, in one call
// (MADV_POPULATE_WRITE, Linux 5.14): the slots are written at random, and
// without it each first write to a page of a fresh file is a page fault in
// which the file system does its block bookkeeping — microseconds per key
// until every slot page has been touched. Only a hint: a kernel without
// it just takes the faults later.
func populate(b []byte) { _ = unix.Madvise(b, unix.MADV_POPULATE_WRITE) }

// The hash slots are published with atomic 32-bit stores so that a query
// on another goroutine reads either the old or the new value, never a torn
// one, and sees the entry written before it. The file is big-endian; the
// machine's word order is converted on the way.

func slotPtr(b []byte, off int64) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

func storeBE32(b []byte, off int64, v int32) {
	var w [4]byte
	binary.BigEndian.PutUint32(w[:], uint32(v))
	atomic.StoreUint32(slotPtr(b, off), binary.NativeEndian.Uint32(w[:]))
}

func loadBE32(b []byte, off int64) int32 {
	var w [4]byte
	binary.NativeEndian.PutUint32(w[:], atomic.LoadUint32(slotPtr(b, off)))
	return int32(binary.BigEndian.Uint32(w[:]))
}
