package commitlog

import (
	"errors"
	"fmt"
	"sync"
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
type allocateService struct {
	s    *Store
	q    *mappedFileQueue
	wake chan struct{}

	mu       sync.Mutex
	cond     sync.Cond // signalled when creating goes back to false
	ready    []*mappedFile
	creating bool  // a file is being created (by either goroutine) outside mu
	err      error // the last creation failure, cleared by a success
}

// allocateAhead is how many commit-log files are kept ready.
const allocateAhead = 1

func newAllocateService(s *Store) *allocateService {
	a := &allocateService{s: s, q: s.clq, wake: make(chan struct{}, 1)}
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
		case <-a.s.stop:
			return
		}
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
	return 0
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
		if werr := warmMapping(mf.data, syncEvery); werr != nil {
			a.s.log.Warn().Err(werr).Str("file", mf.path).Msg("warming the new commit-log file failed; it is used cold")
		}
	} else if err == nil {
		adviseWillNeed(mf.data)
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
