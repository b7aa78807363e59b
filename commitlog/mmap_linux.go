package commitlog

// The only file that calls unix.Mmap, Msync, Madvise, Mlock and Fallocate:
// every other file goes through these helpers, so the system-call surface
// (and its error wording) is in one place.

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f shared and read-write.
func mapFile(f *os.File, size int64) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s (%d bytes): %w", f.Name(), size, err)
	}
	return b, nil
}

// unmap releases a mapping made by mapFile or mapAnon.
func unmap(b []byte) error {
	if b == nil {
		return nil
	}
	return unix.Munmap(b)
}

// syncRange forces b (a sub-slice of a file mapping) to disk. msync needs a
// page-aligned start, so the caller passes the whole mapping and a range.
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

// fdatasync forces f's data (written with pwrite) to disk.
func fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("fdatasync %s: %w", f.Name(), err)
		}
		return nil
	}
}

// adviseWillNeed hints that a file about to be written will be touched soon,
// so the kernel can populate page tables ahead of the writer (RocketMQ warms
// new files for the same reason). Only a hint: errors are ignored.
func adviseWillNeed(b []byte) { _ = unix.Madvise(b, unix.MADV_WILLNEED) }

// releaseResident drops b's pages from this process's resident set. For a
// shared file mapping whose bytes are on disk this loses nothing — the page
// cache keeps them and a later read faults them back in — but without it
// every page ever written or read stays counted in the broker's RSS, which
// would grow with the size of the log. Only a hint: errors are ignored.
func releaseResident(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTNEED) }

// errFallocateUnsupported marks the fallback to ftruncate.
var errFallocateUnsupported = errors.New("fallocate not supported")

// allocateFile reserves size bytes of disk for f so that later stores into
// its mapping can never hit ENOSPC (which would kill the process with
// SIGBUS). When the file system has no fallocate (EOPNOTSUPP, ENOSYS) the
// file is extended with ftruncate instead and the error
// errFallocateUnsupported is returned along with a usable file; such a file
// is sparse, and a full disk would then SIGBUS the writer.
func allocateFile(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		if terr := f.Truncate(size); terr != nil {
			return fmt.Errorf("ftruncate %s to %d: %w", f.Name(), size, terr)
		}
		return errFallocateUnsupported
	}
	return fmt.Errorf("fallocate %s (%d bytes): %w", f.Name(), size, err)
}

// mapAnon allocates size bytes outside the Go heap (anonymous private mapping).
func mapAnon(size int64) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("anonymous mmap of %d bytes: %w", size, err)
	}
	return b, nil
}

// lockMemory pins b in RAM.
func lockMemory(b []byte) error { return unix.Mlock(b) }

// unlockMemory undoes lockMemory.
func unlockMemory(b []byte) error { return unix.Munlock(b) }

// memlockLimit returns the current RLIMIT_MEMLOCK soft limit in bytes
// (unix.RLIM_INFINITY when unlimited).
func memlockLimit() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}

// statfsUsage is the default Config.DiskUsage.
func statfsUsage(path string) (used, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	total = st.Blocks * uint64(st.Bsize)
	free := st.Bfree * uint64(st.Bsize)
	return total - free, total, nil
}

// lockDir takes an exclusive flock on path so that two processes never open
// the same store.
func lockDir(path string) (*os.File, error) {
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

// syncDir makes a directory entry change (create, rename, unlink) durable.
func syncDir(dir string) error {
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
