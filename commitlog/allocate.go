package commitlog

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/sluice-mq/sluice/commitlog/mmap"
)

// allocateService is RocketMQ's AllocateMappedFileService: it creates the
// next commit-log file (mkdir, create, fallocate of the whole file, mmap,
// directory fsync and, with warmMapedFileEnable, prefaulting every page)
// on its own goroutine before the writer needs it, so that a roll inside
// Put's lock-hold window only swaps in a file that is ready.
//
// It keeps allocateAhead files ready (RocketMQ keeps next and next-next;
// one is enough here because the writer also asks for what a batch needs
// before entering the window, see ensureReady). Its files are not part of
// the log until take hands them to the writer: readers, the flusher and
// recovery never see them, and Close deletes the unused ones, as RocketMQ
// does at shutdown.
//
// It also keeps the pages just ahead of the appender faulted in for writing
// (prefault): on a virtual machine a first store into a page of a fresh
// file mapping costs a page fault of tens of microseconds, which made
// appends into the mapping five times slower than a copy into warm memory.
// Only prefaultAhead bytes are kept ready, not the whole file as
// warmMapedFileEnable does, so the zero-filled dirty pages waiting for the
// appender stay few and are never synced by a flush (flushes sync only the
// range written). The appender pokes it every prefaultStep bytes.
type allocateService struct {
	s    *Store
	q    *mappedFileQueue
	wake chan struct{}
	// prefaultWake: the appender moved on; prefaultOff: disabled (the
	// kernel refused MADV_POPULATE_WRITE).
	prefaultWake chan struct{}
	prefaultOff  atomic.Bool

	mu       sync.Mutex
	cond     sync.Cond // signalled when creating goes back to false
	ready    []*mappedFile
	creating bool  // a file is being created (by either goroutine) outside mu
	err      error // the last creation failure, cleared by a success
	// base is where an empty log's first file starts (0, or the offset a
	// slave starts following its master from: rebase).
	base int64
}

// allocateAhead is how many commit-log files are kept ready.
const allocateAhead = 1

func newAllocateService(s *Store) *allocateService {
	a := &allocateService{s: s, q: s.clq, wake: make(chan struct{}, 1), prefaultWake: make(chan struct{}, 1)}
	a.cond.L = &a.mu
	return a
}

// run is the service goroutine: on each wake-up it tops the ready files up.
// A failed creation (a full disk) is not retried in a loop: the next roll
// wakes it again, and the writer tries for itself when it needs a file.
func (a *allocateService) run() {
	defer a.s.wg.Done()
	for {
		select {
		case <-a.wake:
		case <-a.prefaultWake:
			a.prefaultLast()
			continue
		case <-a.s.stop:
			return
		}
		a.prefaultLast()
		a.mu.Lock()
		for !a.creating && len(a.ready) < allocateAhead {
			if a.createLocked() != nil {
				break
			}
		}
		a.mu.Unlock()
	}
}

// nextFromLocked is where the next file to create starts.
func (a *allocateService) nextFromLocked() int64 {
	if n := len(a.ready); n > 0 {
		return a.ready[n-1].from + a.q.fileSize
	}
	if f := a.q.last(); f != nil {
		return f.from + f.size
	}
	return a.base
}

// rebase makes from the start of the next file the log takes: an empty
// slave's log starts where its master's stream does. Ready files that
// start elsewhere are deleted (an empty log only has the one at 0).
func (a *allocateService) rebase(from int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.creating {
		a.cond.Wait()
	}
	if a.q.last() == nil {
		a.base = from
	}
	if len(a.ready) == 0 || a.ready[0].from == from {
		return
	}
	for _, f := range a.ready {
		if err := f.closeAndUnmap(); err != nil {
			a.s.log.Warn().Err(err).Str("file", f.path).Msg("closing an unused commit-log file")
		}
		if err := removeFile(f.path); err != nil {
			a.s.log.Warn().Err(err).Str("file", f.path).Msg("removing an unused commit-log file")
		}
	}
	a.ready = a.ready[:0]
}

// createLocked creates one file with mu released during the I/O and adds it
// to ready. Called with mu held and creating false.
func (a *allocateService) createLocked() error {
	a.creating = true
	from := a.nextFromLocked()
	a.mu.Unlock()
	mf, err := a.q.createFull(from)
	if err == nil && a.s.cfg.WarmMapedFileEnable {
		syncEvery := 0
		if a.s.cfg.FlushDiskType == SyncFlush {
			syncEvery = a.s.cfg.FlushLeastPagesWhenWarmMapedFile
		}
		if werr := mmap.WarmMapping(mf.data, syncEvery); werr != nil {
			a.s.log.Warn().Err(werr).Str("file", mf.path).Msg("warming the new commit-log file failed; it is used cold")
		}
	} else if err == nil {
		mmap.AdviseWillNeed(mf.data)
		a.prefault(mf)
	}
	// The new file took a whole file of disk: the moment to look at the ratio.
	a.s.checkDiskSpace()
	a.mu.Lock()
	a.creating = false
	a.cond.Broadcast()
	if err != nil {
		if a.err == nil {
			a.s.log.Error().Err(err).Int64("offset", from).Msg("cannot create the next commit-log file; puts that need it fail until space is freed")
		}
		a.err = err
		return err
	}
	if a.err != nil {
		a.s.log.Info().Int64("offset", from).Msg("next commit-log file created again")
	}
	a.err = nil
	a.ready = append(a.ready, mf)
	return nil
}

// Prefault window: how far ahead of the appender pages are faulted in,
// and how often (in appended bytes) the appender asks for more.
const (
	prefaultAhead = 8 << 20
	prefaultStep  = 1 << 20
)

// prefault faults in mf's pages up to prefaultAhead past its write
// position, within its allocated part (a store above it could fault on a
// full disk). Pool-backed files and, in write-through mode, every file are
// written by pwrite, not through the mapping: faulting their pages in for
// writing would only dirty zero pages for fdatasync to write back. (A file
// that falls back from write-through to the mapping goes without.)
// Service goroutine only.
func (a *allocateService) prefault(mf *mappedFile) {
	if mf == nil || mf.writeBuf != nil || a.q.stage != nil || a.prefaultOff.Load() {
		return
	}
	pg := int64(os.Getpagesize())
	to := min(mf.wrote.Load()+prefaultAhead, mf.allocated.Load(), mf.size) &^ (pg - 1)
	from := max(mf.prefaulted.Load(), mf.wrote.Load()&^(pg-1))
	if to <= from {
		return
	}
	if !mmap.PopulateWrite(mf.data[from:to]) {
		a.prefaultOff.Store(true)
		return
	}
	mf.prefaulted.Store(to)
}

// prefaultLast prefaults the file the appender is in. The file cannot be
// unmapped meanwhile: only files before the last are ever deleted, and
// Close waits for this goroutine first.
func (a *allocateService) prefaultLast() { a.prefault(a.q.last()) }

// notePrefault is the appender's check after an append to mf: a poke when
// it has come within prefaultAhead-prefaultStep of the prefaulted end.
func (a *allocateService) notePrefault(mf *mappedFile) {
	if mf == nil || a.q.stage != nil || a.prefaultOff.Load() {
		return
	}
	if p := mf.prefaulted.Load(); mf.wrote.Load()+prefaultAhead-prefaultStep > p && p < min(mf.allocated.Load(), mf.size)&^int64(os.Getpagesize()-1) {
		a.s.wake(a.prefaultWake)
	}
}

// poke wakes the service without blocking.
func (a *allocateService) poke() { a.s.wake(a.wake) }

// ensureReady makes sure n files are ready, waiting for one being created
// and creating the rest itself. The writer calls it before its lock-hold
// window for the files a batch will roll into, so that the roll never does
// file I/O inside the window. It returns the creation error when fewer than
// n could be made (the requests that need them then fail).
func (a *allocateService) ensureReady(n int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		for a.creating {
			a.cond.Wait()
		}
		if len(a.ready) >= n {
			return nil
		}
		if err := a.createLocked(); err != nil {
			return err
		}
	}
}

// take makes the ready file starting at from the last file of the log and
// returns it, or returns nil when none is ready. It never waits for a
// creation and does no file I/O. The file joins the log under mu, so the
// service always finds it in one place or the other and never makes it
// twice.
func (a *allocateService) take(from int64) *mappedFile {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.ready) == 0 || a.ready[0].from != from {
		return nil
	}
	mf := a.ready[0]
	a.ready = append(a.ready[:0], a.ready[1:]...)
	a.q.appendFile(mf)
	return mf
}

// lastErr is the error of the last failed creation, for a Put that found no
// file ready.
func (a *allocateService) lastErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	return errors.New("no commit-log file ready")
}

// discard deletes the ready files; the goroutine must have stopped.
func (a *allocateService) discard() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for _, f := range a.ready {
		errs = append(errs, f.closeAndUnmap(), removeFile(f.path))
	}
	a.ready = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete pre-created commit-log files: %w", err)
	}
	return nil
}
