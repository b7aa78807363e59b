package commitlog

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/sluice-mq/sluice/commitlog/mmap"

	"golang.org/x/sys/unix"
)

// transientStorePool is RocketMQ's TransientStorePool: size buffers of one
// commit-log file each, outside the Go heap and locked in RAM. A new
// commit-log file borrows one; appends land in it, the commit service copies
// the new bytes into the file, and the buffer comes back once the whole file
// is committed. Reads never touch it: they see the file's mapping, i.e. only
// committed bytes.
type transientStorePool struct {
	bufSize int64
	total   int

	mu   sync.Mutex
	free [][]byte // LIFO: a just-returned buffer is warm
	all  [][]byte
}

// newTransientStorePool maps and mlocks n buffers of size bytes. A failed
// mlock is an error naming the limit, never a silent fallback to unlocked
// memory: an operator who enabled the pool asked for pinned buffers.
func newTransientStorePool(n int, size int64) (*transientStorePool, error) {
	p := &transientStorePool{bufSize: size, total: n}
	for i := 0; i < n; i++ {
		b, err := mmap.MapAnon(size)
		if err != nil {
			p.destroy()
			return nil, fmt.Errorf("transient store pool: buffer %d of %d: %w", i+1, n, err)
		}
		if err := mmap.LockMemory(b); err != nil {
			_ = mmap.Unmap(b)
			p.destroy()
			limit, lerr := mmap.MemlockLimit()
			if lerr != nil {
				limit = 0
			}
			return nil, mlockError(err, limit, int64(n)*size, i, n, size)
		}
		p.all = append(p.all, b)
		p.free = append(p.free, b)
	}
	return p, nil
}

// mlockError explains a failed mlock: what was wanted, the limit in force and
// the three ways to raise it.
func mlockError(err error, limit uint64, want int64, done, n int, bufSize int64) error {
	lim := "unlimited"
	if limit != unix.RLIM_INFINITY {
		lim = strconv.FormatUint(limit, 10) + " bytes"
	}
	return fmt.Errorf("transient store pool: mlock of buffer %d of %d failed: %w; "+
		"transientStorePoolEnable=true needs %d bytes locked (transientStorePoolSize=%d x mappedFileSizeCommitLog=%d) "+
		"but RLIMIT_MEMLOCK is %s; raise it with `ulimit -l unlimited` (or a value >= %d KiB) in the broker's shell, "+
		"LimitMEMLOCK=infinity in its systemd unit, or give the process CAP_IPC_LOCK; "+
		"or set transientStorePoolEnable=false",
		done+1, n, err, want, n, bufSize, lim, (want+1023)/1024)
}

// take borrows a buffer, or returns nil when none is free.
func (p *transientStorePool) take() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return nil
	}
	b := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return b
}

// give returns a buffer. Its old bytes are left: the next file overwrites
// them from position 0 and only bytes below the write position are committed.
func (p *transientStorePool) give(b []byte) {
	p.mu.Lock()
	p.free = append(p.free, b)
	p.mu.Unlock()
}

// available is RocketMQ's availableBufferNums.
func (p *transientStorePool) available() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}

// destroy unlocks and unmaps every buffer; files still holding one must be
// done with it.
func (p *transientStorePool) destroy() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.all {
		_ = mmap.UnlockMemory(b)
		_ = mmap.Unmap(b)
	}
	p.all, p.free = nil, nil
}
