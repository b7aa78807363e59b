package mmap

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MapFile maps size bytes of f shared and read-write.
func MapFile(f *os.File, size int64) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s (%d bytes): %w", f.Name(), size, err)
	}
	return b, nil
}

// Unmap releases a mapping made by MapFile or MapAnon.
func Unmap(b []byte) error {
	if b == nil {
		return nil
	}
	return unix.Munmap(b)
}

// SyncRange forces b (a sub-slice of a file mapping) to disk. msync needs a
// page-aligned start, so the caller passes the whole mapping and a range.
func SyncRange(mapping []byte, from, to int64) error {
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

// Fdatasync forces f's data (written with pwrite) to disk.
func Fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("Fdatasync %s: %w", f.Name(), err)
		}
		return nil
	}
}

// AdviseWillNeed hints that a file about to be written will be touched soon,
// so the kernel can populate page tables ahead of the writer (RocketMQ warms
// new files for the same reason). Only a hint: errors are ignored.
func AdviseWillNeed(b []byte) { _ = unix.Madvise(b, unix.MADV_WILLNEED) }

// ReleaseResident drops b's pages from this process's resident set. For a
// shared file mapping whose bytes are on disk this loses nothing — the page
// cache keeps them and a later read faults them back in — but without it
// every page ever written or read stays counted in the broker's RSS, which
// would grow with the size of the log. Only a hint: errors are ignored.
func ReleaseResident(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTNEED) }

// ErrFallocateUnsupported marks the fallback to ftruncate.
var ErrFallocateUnsupported = errors.New("fallocate not supported")

// AllocateFile reserves size bytes of disk for f so that later stores into
// its mapping can never hit ENOSPC (which would kill the process with
// SIGBUS). When the file system has no fallocate (EOPNOTSUPP, ENOSYS) the
// file is extended with ftruncate instead and the error
// ErrFallocateUnsupported is returned along with a usable file; such a file
// is sparse, and a full disk would then SIGBUS the writer.
func AllocateFile(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		if terr := f.Truncate(size); terr != nil {
			return fmt.Errorf("ftruncate %s to %d: %w", f.Name(), size, terr)
		}
		return ErrFallocateUnsupported
	}
	return fmt.Errorf("fallocate %s (%d bytes): %w", f.Name(), size, err)
}

// GrowFile backs [off, off+n) of f with disk blocks, keeping its size, so
// that stores into that range of its mapping cannot fault. It is how
// consume-queue files, which are sparse, grow ahead of their writer. A full
// disk is an error (wrapping ENOSPC) here, never a SIGBUS later. Without
// fallocate the range is written with zeros through pwrite, which allocates
// the blocks just as well and reports ENOSPC the same way.
func GrowFile(f *os.File, off, n int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, off, n)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("fallocate %s [%d,%d): %w", f.Name(), off, off+n, err)
	}
	zeros := make([]byte, min(n, 64<<10))
	for done := int64(0); done < n; {
		k := min(n-done, int64(len(zeros)))
		if _, err := f.WriteAt(zeros[:k], off+done); err != nil {
			return fmt.Errorf("extend %s [%d,%d) with zeros: %w", f.Name(), off, off+n, err)
		}
		done += k
	}
	return nil
}

// LastDataEnd is where the last data (non-hole) region of f ends, found with
// SEEK_DATA/SEEK_HOLE, capped at size. Scanning a sparse file must stop
// there: on tmpfs even reading a hole through a shared mapping allocates a
// page, which on a full file system is a SIGBUS. Regions that are allocated
// but never written may count as holes; they hold no entries either. A file
// system without SEEK_DATA reports the whole file as data.
//
// Only tmpfs needs it, and only tmpfs gets it: on disk file systems reading
// a hole through a mapping maps the zero page, and SEEK_DATA there is not
// to be trusted for pages stored through a shared mapping into a
// fallocated (unwritten) extent and not yet written back — after a SIGKILL
// it reported such entries as a hole, and a consume queue lost them (the
// real-process crash test, cmd/sluice). Elsewhere the whole file is data.
func LastDataEnd(f *os.File, size int64) (int64, error) {
	fd := int(f.Fd())
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		return size, nil
	}
	end, off := int64(0), int64(0)
	for off < size {
		d, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if errors.Is(err, unix.EINVAL) {
			return size, nil
		}
		if err != nil {
			return 0, fmt.Errorf("seek data in %s: %w", f.Name(), err)
		}
		h, err := unix.Seek(fd, d, unix.SEEK_HOLE)
		if err != nil {
			return 0, fmt.Errorf("seek hole in %s: %w", f.Name(), err)
		}
		end, off = h, h
	}
	return min(end, size), nil
}

// WarmMapping faults every page of a new commit-log file's mapping in for
// writing before the writer gets there (RocketMQ's warmMappedFile, run by
// the allocate service with warmMapedFileEnable). It asks the kernel to do
// it (MADV_POPULATE_WRITE, Linux 5.14) and falls back to storing a zero in
// each page. With syncEvery > 0 (SYNC_FLUSH) the warmed pages are forced to
// disk every syncEvery pages, as RocketMQ does, so that the zeros do not
// pile up as dirty pages for a later group commit to wait behind. The file
// must be fully allocated.
func WarmMapping(data []byte, syncEvery int) error {
	pg := os.Getpagesize()
	step := len(data)
	if syncEvery > 0 {
		step = syncEvery * pg
	}
	for from := 0; from < len(data); from += step {
		to := min(from+step, len(data))
		if err := unix.Madvise(data[from:to], unix.MADV_POPULATE_WRITE); err != nil {
			for i := from; i < to; i += pg {
				data[i] = 0
			}
		}
		if syncEvery > 0 {
			if err := SyncRange(data, int64(from), int64(to)); err != nil {
				return fmt.Errorf("warm: %w", err)
			}
		}
	}
	return nil
}

// PopulateWrite faults b's pages in for writing (MADV_POPULATE_WRITE,
// Linux 5.14) without changing their contents: the appender's first store
// into each page then costs no page fault. It reports whether the kernel
// did it; older kernels refuse and the pages stay cold.
func PopulateWrite(b []byte) bool { return unix.Madvise(b, unix.MADV_POPULATE_WRITE) == nil }

// MapAnon allocates size bytes outside the Go heap (anonymous private mapping).
func MapAnon(size int64) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("anonymous mmap of %d bytes: %w", size, err)
	}
	return b, nil
}

// LockMemory pins b in RAM.
func LockMemory(b []byte) error { return unix.Mlock(b) }

// UnlockMemory undoes LockMemory.
func UnlockMemory(b []byte) error { return unix.Munlock(b) }

// MemlockLimit returns the current RLIMIT_MEMLOCK soft limit in bytes
// (unix.RLIM_INFINITY when unlimited).
func MemlockLimit() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}

// StatfsUsage is the default Config.DiskUsage for other paths than the
// commit-log directory.
func StatfsUsage(path string) (used, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return statfsFigures(&st)
}

// FstatfsUsage is StatfsUsage through an open descriptor of the directory:
// the append path asks it every few MiB, and unlike statfs(2) on a path it
// allocates nothing.
func FstatfsUsage(dir *os.File) (used, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(dir.Fd()), &st); err != nil {
		return 0, 0, fmt.Errorf("fstatfs %s: %w", dir.Name(), err)
	}
	return statfsFigures(&st)
}

// statfsFigures is the used space and the space the broker can fill:
// used plus what is available to it, not the file system's size, so that
// blocks reserved for root count as full, as RocketMQ's
// UtilAll#getDiskPartitionSpaceUsedPercent has it (used / (used + usable)).
func statfsFigures(st *unix.Statfs_t) (used, total uint64, err error) {
	bs := uint64(st.Bsize)
	used = (st.Blocks - st.Bfree) * bs
	return used, used + st.Bavail*bs, nil
}

// LockDir takes an exclusive flock on path so that two processes never open
// the same store.
func LockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s (is another broker using this store?): %w", path, err)
	}
	return f, nil
}

// SyncDir makes a directory entry change (create, rename, unlink) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
