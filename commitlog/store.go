package commitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-mq/sluice/commitlog/mmap"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/commitlog/index"
)

// Store is the message store: one commit log, the consume queues indexing
// it, and the goroutines that flush, commit, dispatch and clean them. See
// the package comment for which methods may be called from where.
type Store struct {
	cfg         Config
	log         zerolog.Logger
	clock       atomic.Pointer[func() time.Time] // time.Now; tests swap it
	diskUsageFn atomic.Pointer[func(string) (uint64, uint64, error)]
	deleteHours [24]bool
	delays      delayTable // MessageDelayLevel, parsed

	scheduleStarted atomic.Bool

	lockFile *os.File
	diskDir  *os.File       // the commit-log directory, for fstatfs
	extended []extendedFile // while Open runs
	grave    graveyard
	clq      *mappedFileQueue
	alloc    *allocateService
	pool     *transientStorePool
	cqs      consumeQueueTable
	cp       *checkpoint
	idx      *index.Service // the message index (message_index.go)
	gc       *groupCommit   // SyncFlush only
	repl     *replication   // SyncMaster only
	// putReq is Put's own wait request (SyncFlush or SyncMaster); Put is
	// single-caller.
	putReq  GroupCommitRequest
	putDone chan PutStatus

	// putMu is held by Put for the whole batch (single writer: uncontended)
	// and briefly by DeleteTopic and Close, which touch what the writer owns.
	putMu              sync.Mutex
	appendedSinceCheck int64 // writer-owned: bytes since the last disk check
	deletes            sync.WaitGroup

	beginTimeInLock atomic.Int64
	// pcBusyTimeout overrides cfg.OSPageCacheBusyTimeOutMills once set at
	// run time (0: not overridden).
	pcBusyTimeout atomic.Int64
	lockHoldNanos atomic.Int64 // total time spent in lock-hold windows
	appendStall   atomic.Int64
	poolExhausted atomic.Bool
	closed        atomic.Bool
	diskFull      atomic.Bool
	diskRatio     atomic.Int64 // percent × 100

	reputFrom      atomic.Int64
	dispatchMu     sync.Mutex
	dispatchWake   chan struct{}
	dispatchBroken atomic.Bool
	arrived        atomic.Pointer[func(string, int32, int64, int64)]
	appended       atomic.Pointer[func()] // OnAppended
	// stalled (under dispatchMu): queues whose entries could not be written;
	// stallFloor is the lowest commit-log offset they still need (-1: none).
	stalled       []*consumeQueue
	stallFloor    atomic.Int64
	stalledQueues atomic.Int64
	// barriers: topic → commit-log end when it was deleted (see reput.go).
	barriers  atomic.Pointer[map[string]int64]
	barrierMu sync.Mutex

	flushMu   sync.Mutex
	flushHold atomic.Pointer[chan struct{}] // SetFlushHold
	commitMu  sync.Mutex
	cqFlushMu sync.Mutex

	syncs    atomic.Int64 // commit-log sync system calls
	syncNs   atomic.Int64 // their total time
	cqSyncs  atomic.Int64
	putTimes atomic.Int64
	putBytes atomic.Int64
	putMaxMs atomic.Int64

	readMu sync.RWMutex // readers vs. Close's unmapping

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the store under cfg.StorePathRootDir,
// recovers it, and starts its goroutines. After an unclean stop (the abort
// file is present) it checks the end of the commit log, cuts a torn tail and
// rebuilds consume-queue entries; see CorruptionError and
// Config.SkipCorruptedFiles for damage that is not at the tail.
func Open(cfg Config, log zerolog.Logger) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Store{
		cfg:          cfg,
		log:          log.With().Str("component", "commitlog").Logger(),
		dispatchWake: make(chan struct{}, 1),
		stop:         make(chan struct{}),
	}
	s.stallFloor.Store(-1)
	s.setClock(time.Now)
	if cfg.DiskUsage != nil {
		s.setDiskUsage(cfg.DiskUsage)
	} else {
		s.setDiskUsage(mmap.StatfsUsage) // until the commit-log directory is open
	}
	s.deleteHours, _ = parseDeleteWhen(cfg.DeleteWhen)
	levels, _ := ParseMessageDelayLevel(cfg.MessageDelayLevel) // validated above
	s.delays = newDelayTable(levels)
	if err := s.open(); err != nil {
		s.release()
		s.unextend()
		return nil, err
	}
	s.extended = nil
	return s, nil
}

// extendedFile is a short commit-log file Open brought to size.
type extendedFile struct {
	path string
	have int64
}

// unextend gives short commit-log files back their length when Open fails,
// so that the next attempt finds the damage again instead of zeros that
// look like the end of the log. Best effort: the store is not open.
func (s *Store) unextend() {
	for _, e := range s.extended {
		if err := os.Truncate(e.path, e.have); err != nil {
			s.log.Error().Err(err).Str("file", e.path).Int64("length", e.have).Msg("cannot give a short commit-log file its length back")
		}
	}
}

func (s *Store) open() error {
	root := s.cfg.StorePathRootDir
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("commitlog: create store root %s: %w", root, err)
	}
	lf, err := mmap.LockDir(filepath.Join(root, "lock"))
	if err != nil {
		return fmt.Errorf("commitlog: %w", err)
	}
	s.lockFile = lf
	abortPath := filepath.Join(root, "abort")
	_, statErr := os.Stat(abortPath)
	abnormal := statErr == nil

	cp, cpData, cpOK, err := openCheckpoint(filepath.Join(root, "checkpoint"))
	if err != nil {
		return fmt.Errorf("commitlog: %w", err)
	}
	s.cp = cp

	s.clq = newMappedFileQueue(s.cfg.commitLogDir(), s.cfg.MappedFileSizeCommitLog, s.log, &s.grave)
	s.clq.syncs = &s.syncs
	s.clq.syncNs = &s.syncNs
	cleanStop := !abnormal && cpOK && cpData.clean
	clShorts, err := s.clq.load(func(f *os.File, from, have int64) error {
		if cleanStop && from+have < cpData.physFlushed && !s.cfg.SkipCorruptedFiles {
			// Refused before anything is changed, so the next attempt sees
			// the same file.
			return fmt.Errorf("commit-log file %s is %d bytes, shorter than the configured %d: records flushed before the clean stop (up to offset %d) are gone; "+
				"refusing to open without them (restore the file, or set recoverSkipCorruptedFiles=true to open without them)",
				f.Name(), have, s.cfg.MappedFileSizeCommitLog, cpData.physFlushed)
		}
		if err := s.clq.allocate(f, s.cfg.MappedFileSizeCommitLog); err != nil && !errors.Is(err, mmap.ErrFallocateUnsupported) {
			return err
		}
		s.extended = append(s.extended, extendedFile{f.Name(), have})
		return nil
	})
	if err != nil {
		return fmt.Errorf("commitlog: load commit log: %w", err)
	}
	firstShort := -1
	for _, sh := range clShorts {
		f := s.clq.at(sh.index)
		s.log.Warn().Str("file", f.path).Int64("length", sh.have).Int64("configured", f.size).
			Msg("commit-log file is shorter than configured; extended, and its records are checked before the store opens")
		if firstShort < 0 {
			firstShort = sh.index
		}
	}
	for i := 0; i < s.clq.count(); i++ {
		s.clq.at(i).allocated.Store(s.cfg.MappedFileSizeCommitLog)
	}
	if s.diskDir, err = os.Open(s.cfg.commitLogDir()); err != nil {
		return fmt.Errorf("commitlog: open commit-log directory: %w", err)
	}
	if s.cfg.DiskUsage == nil {
		d := s.diskDir
		s.setDiskUsage(func(string) (uint64, uint64, error) { return mmap.FstatfsUsage(d) })
	}
	s.cqs = consumeQueueTable{dir: s.cfg.consumeQueueDir(), fileSize: s.cfg.MappedFileSizeConsumeQueue, log: s.log, grave: &s.grave, syncs: &s.cqSyncs,
		afterGrow: func() { s.checkDiskSpace() }}
	if err := s.cqs.load(); err != nil {
		return fmt.Errorf("commitlog: load consume queues: %w", err)
	}
	if err := s.recoverCommitLog(abnormal, cpData, cpOK, firstShort); err != nil {
		var ce *CorruptionError
		if errors.As(err, &ce) {
			return err
		}
		return fmt.Errorf("commitlog: recover: %w", err)
	}
	// Consume queues are checked at every start, not only after a crash, and
	// the damaged ones rebuilt before dispatch resumes (see verify.go).
	rebuild, rebuildFrom, err := s.verifyConsumeQueues()
	if err != nil {
		return fmt.Errorf("commitlog: verify consume queues: %w", err)
	}
	if err := s.rebuildOrRefuse(rebuild, rebuildFrom); err != nil {
		return fmt.Errorf("commitlog: %w; the store cannot open until the queue can be rebuilt (free disk space and start again)", err)
	}
	// The index drops what dispatch will add again (and rebuilds a file a
	// crash damaged) before dispatch resumes.
	if err := s.openIndex(abnormal, cpData); err != nil {
		return fmt.Errorf("commitlog: message index: %w", err)
	}
	// Catch the consume queues up before taking writes: the queues' next
	// offsets come from them (RocketMQ waits for reput the same way).
	if err := s.dispatch(); err != nil {
		return fmt.Errorf("commitlog: rebuild consume queues: %w", err)
	}
	minPhys := s.clq.minOffset()
	for _, cq := range s.cqs.all() {
		cq.correctMinOffset(minPhys)
		// A queue stalled by a full disk knows from the log how far its
		// offsets went.
		cq.nextOffset = max(cq.maxOffset(), cq.pendingMax)
	}
	if s.cfg.TransientStorePoolEnable && !s.cfg.poolEnabled() {
		s.log.Warn().Msg("transientStorePoolEnable ignored: the pool works with ASYNC_FLUSH on a master only (as in RocketMQ 4.9)")
	}
	if s.cfg.poolEnabled() {
		p, err := newTransientStorePool(s.cfg.TransientStorePoolSize, s.cfg.MappedFileSizeCommitLog)
		if err != nil {
			return fmt.Errorf("commitlog: %w", err)
		}
		s.pool = p
		s.clq.pool = p
	}
	if s.cfg.writeThrough() {
		s.clq.stage = newWriteStage(s.log)
		if f := s.clq.last(); f != nil {
			// Recovery left its three positions equal: nothing is staged
			// or uncommitted, and the appender goes on in write-through.
			f.enterWriteThrough(s.clq.stage)
		}
	}
	if err := os.WriteFile(abortPath, nil, 0o644); err != nil {
		return fmt.Errorf("commitlog: create abort file: %w", err)
	}
	if err := mmap.SyncDir(root); err != nil {
		return fmt.Errorf("commitlog: %w", err)
	}
	s.checkDiskSpace()

	s.alloc = newAllocateService(s)
	s.wg.Add(5)
	go s.alloc.run()
	s.alloc.poke() // the next commit-log file, before the first roll needs it
	go s.runDispatcher()
	go s.runFlushConsumeQueue()
	go s.runCleaner()
	if s.cfg.FlushDiskType == SyncFlush {
		s.gc = newGroupCommit(s)
		s.wg.Add(1)
		go s.gc.run()
		go s.gc.watch()
	} else {
		go s.runFlushEvery(time.Duration(s.cfg.FlushIntervalCommitLog) * time.Millisecond)
	}
	if s.pool != nil {
		s.wg.Add(1)
		go s.runCommitRealTime()
	}
	if s.cfg.BrokerRole == SyncMaster {
		s.repl = newReplication(s)
		s.repl.start()
	}
	if s.cfg.BrokerRole == Slave && s.cfg.FlushDiskType == SyncFlush {
		// No Put asks the group commit to flush on a slave: the HA
		// client's appends are flushed every 10 ms, as RocketMQ's
		// GroupCommitService flushes when it has no request.
		s.wg.Add(1)
		go s.runFlushEvery(10 * time.Millisecond)
	}
	s.putDone = make(chan PutStatus, 1)
	s.putReq.Wakeup = func(st PutStatus) { s.putDone <- st }
	s.log.Info().Str("root", root).Str("flushDiskType", s.cfg.FlushDiskType.String()).Stringer("brokerRole", s.cfg.BrokerRole).Bool("transientStorePool", s.pool != nil).Bool("commitLogWriteThrough", s.clq.stage != nil).
		Bool("recoveredFromCrash", abnormal).Int64("minPhyOffset", s.clq.minOffset()).Int64("maxPhyOffset", s.clq.maxReadable()).
		Msg("store opened")
	return nil
}

// Close is a clean stop: refuse new puts, commit and flush everything, write
// a clean checkpoint, remove the abort file, unmap. Slices returned by
// GetMessage are invalid afterwards. Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	s.putMu.Lock()
	s.closed.Store(true)
	s.putMu.Unlock()
	s.deletes.Wait()
	close(s.stop)
	s.wg.Wait()
	if s.repl != nil {
		// After the flush stage's last pass, which feeds this one.
		s.repl.close()
	}
	// Wait for readers in flight; later ones see closed and touch nothing.
	s.readMu.Lock()
	defer s.readMu.Unlock()
	var errs []error
	if s.pool != nil {
		if err := s.commitPool(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.flushCommitLog(); err != nil {
		errs = append(errs, err)
	}
	if err := s.dispatch(); err != nil {
		errs = append(errs, err)
	}
	// A queue still stalled by a full disk is indexed only up to
	// stallFloor; leaving the abort file makes the next Open re-dispatch
	// from the checkpoint, which says so.
	clean := len(errs) == 0 && !s.dispatchBroken.Load() && s.stallFloor.Load() < 0
	if err := s.flushConsumeQueues(clean); err != nil {
		errs = append(errs, err)
		clean = false
	}
	if err := s.alloc.discard(); err != nil {
		errs = append(errs, err)
	}
	if clean {
		if err := os.Remove(filepath.Join(s.cfg.StorePathRootDir, "abort")); err != nil {
			errs = append(errs, fmt.Errorf("remove abort file: %w", err))
		} else if err := mmap.SyncDir(s.cfg.StorePathRootDir); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.release())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("commitlog: close: %w", err)
	}
	s.log.Info().Bool("clean", clean).Msg("store closed")
	return nil
}

// release unmaps and closes everything Open acquired.
func (s *Store) release() error {
	var errs []error
	if s.clq != nil {
		errs = append(errs, s.clq.closeAll())
	}
	for _, cq := range s.cqs.all() {
		errs = append(errs, cq.mfq.closeAll())
	}
	if s.idx != nil {
		errs = append(errs, s.idx.Close())
	}
	s.grave.sweep(time.Time{}, -1)
	if s.pool != nil {
		s.pool.destroy()
	}
	if s.cp != nil {
		errs = append(errs, s.cp.close())
	}
	if s.diskDir != nil {
		errs = append(errs, s.diskDir.Close())
	}
	if s.lockFile != nil {
		errs = append(errs, s.lockFile.Close())
	}
	return errors.Join(errs...)
}

// DeleteTopic drops the topic's consume queues and restarts its queue
// offsets at 0. Its records stay in the commit log until retention.
//
// The writer's lock is held only to take the queues out of the table (no
// file I/O): puts of the topic from then on go to new queues, and a
// barrier keeps the dispatcher from indexing the old records into them.
// The files are deleted afterwards, outside the lock.
func (s *Store) DeleteTopic(topic string) error {
	s.putMu.Lock()
	if s.closed.Load() {
		s.putMu.Unlock()
		return ErrClosed
	}
	s.deletes.Add(1)
	defer s.deletes.Done()
	qs := s.cqs.detachTopic(topic)
	s.addBarrier(topic, s.clq.maxWrote())
	s.putMu.Unlock()
	defer s.cqs.finishDelete(topic)
	// A dispatch pass that started before the barrier may still hold one of
	// the old queues; once it is over none is touched again.
	s.dispatchMu.Lock()
	s.dispatchMu.Unlock()
	if err := s.cqs.removeFiles(topic, qs, s.now()); err != nil {
		return fmt.Errorf("commitlog: delete topic %s: %w", topic, err)
	}
	return nil
}

// diskUsage is Config.DiskUsage, or fstatfs of the commit-log directory.
func (s *Store) diskUsage(path string) (used, total uint64, err error) {
	return (*s.diskUsageFn.Load())(path)
}

func (s *Store) setDiskUsage(fn func(string) (uint64, uint64, error)) { s.diskUsageFn.Store(&fn) }

// now is the store's clock (time.Now unless a test set another).
func (s *Store) now() time.Time { return (*s.clock.Load())() }

func (s *Store) setClock(f func() time.Time) { s.clock.Store(&f) }
