package commitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Store is the message store: one commit log, the consume queues indexing
// it, and the goroutines that flush, commit, dispatch and clean them. See
// the package comment for which methods may be called from where.
type Store struct {
	cfg         Config
	log         zerolog.Logger
	clock       atomic.Pointer[func() time.Time] // time.Now; tests swap it
	diskUsage   func(string) (uint64, uint64, error)
	deleteHours [24]bool

	lockFile *os.File
	grave    graveyard
	clq      *mappedFileQueue
	pool     *transientStorePool
	cqs      consumeQueueTable
	cp       *checkpoint
	gc       *groupCommit // SyncFlush only

	// putMu is held by Put for the whole batch (single writer: uncontended)
	// and by DeleteTopic and Close, which touch what the writer owns.
	putMu        sync.Mutex
	queueOffsets map[cqKey]int64 // topic queue → next queue offset

	beginTimeInLock atomic.Int64
	appendStall     atomic.Int64
	poolExhausted   atomic.Bool
	closed          atomic.Bool
	diskFull        atomic.Bool
	diskRatio       atomic.Int64 // percent × 100

	reputFrom      atomic.Int64
	dispatchMu     sync.Mutex
	dispatchWake   chan struct{}
	dispatchBroken atomic.Bool
	arrived        atomic.Pointer[func(string, int32, int64)]

	flushMu   sync.Mutex
	commitMu  sync.Mutex
	cqFlushMu sync.Mutex

	syncs    atomic.Int64 // commit-log sync system calls
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
		diskUsage:    cfg.DiskUsage,
		queueOffsets: map[cqKey]int64{},
		dispatchWake: make(chan struct{}, 1),
		stop:         make(chan struct{}),
	}
	s.setClock(time.Now)
	if s.diskUsage == nil {
		s.diskUsage = statfsUsage
	}
	s.deleteHours, _ = parseDeleteWhen(cfg.DeleteWhen)
	if err := s.open(); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

func (s *Store) open() error {
	root := s.cfg.StorePathRootDir
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("commitlog: create store root %s: %w", root, err)
	}
	lf, err := lockDir(filepath.Join(root, "lock"))
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
	if err := s.clq.load(); err != nil {
		return fmt.Errorf("commitlog: load commit log: %w", err)
	}
	s.cqs = consumeQueueTable{dir: s.cfg.consumeQueueDir(), fileSize: s.cfg.MappedFileSizeConsumeQueue, log: s.log, grave: &s.grave, syncs: &s.cqSyncs}
	if err := s.cqs.load(); err != nil {
		return fmt.Errorf("commitlog: load consume queues: %w", err)
	}
	if err := s.recoverCommitLog(abnormal, cpData, cpOK); err != nil {
		var ce *CorruptionError
		if errors.As(err, &ce) {
			return err
		}
		return fmt.Errorf("commitlog: recover: %w", err)
	}
	// Catch the consume queues up before taking writes: the queue-offset
	// table comes from them (RocketMQ waits for reput the same way).
	if err := s.dispatch(); err != nil {
		return fmt.Errorf("commitlog: rebuild consume queues: %w", err)
	}
	minPhys := s.clq.minOffset()
	for _, cq := range s.cqs.all() {
		cq.correctMinOffset(minPhys)
		if max := cq.maxOffset(); max > 0 {
			s.queueOffsets[cqKey{cq.topic, cq.queueID}] = max
		}
	}
	if s.cfg.TransientStorePoolEnable && !s.cfg.poolEnabled() {
		s.log.Warn().Msg("transientStorePoolEnable ignored: the pool works with ASYNC_FLUSH only (as in RocketMQ 4.9)")
	}
	if s.cfg.poolEnabled() {
		p, err := newTransientStorePool(s.cfg.TransientStorePoolSize, s.cfg.MappedFileSizeCommitLog)
		if err != nil {
			return fmt.Errorf("commitlog: %w", err)
		}
		s.pool = p
		s.clq.pool = p
	}
	if err := os.WriteFile(abortPath, nil, 0o644); err != nil {
		return fmt.Errorf("commitlog: create abort file: %w", err)
	}
	if err := syncDir(root); err != nil {
		return fmt.Errorf("commitlog: %w", err)
	}
	s.checkDiskSpace()

	s.wg.Add(4)
	go s.runDispatcher()
	go s.runFlushConsumeQueue()
	go s.runCleaner()
	if s.cfg.FlushDiskType == SyncFlush {
		s.gc = newGroupCommit(s)
		go s.gc.run()
	} else {
		go s.runFlushRealTime()
	}
	if s.pool != nil {
		s.wg.Add(1)
		go s.runCommitRealTime()
	}
	s.log.Info().Str("root", root).Str("flushDiskType", s.cfg.FlushDiskType.String()).Bool("transientStorePool", s.pool != nil).
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
	close(s.stop)
	s.wg.Wait()
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
	clean := len(errs) == 0 && !s.dispatchBroken.Load()
	if err := s.flushConsumeQueues(clean); err != nil {
		errs = append(errs, err)
		clean = false
	}
	if clean {
		if err := os.Remove(filepath.Join(s.cfg.StorePathRootDir, "abort")); err != nil {
			errs = append(errs, fmt.Errorf("remove abort file: %w", err))
		} else if err := syncDir(s.cfg.StorePathRootDir); err != nil {
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
	s.grave.sweep(time.Time{}, -1)
	if s.pool != nil {
		s.pool.destroy()
	}
	if s.cp != nil {
		errs = append(errs, s.cp.close())
	}
	if s.lockFile != nil {
		errs = append(errs, s.lockFile.Close())
	}
	return errors.Join(errs...)
}

// DeleteTopic drops the topic's consume queues and restarts its queue
// offsets at 0. Its records stay in the commit log until retention.
func (s *Store) DeleteTopic(topic string) error {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	// Index what was appended for it first, so that no late dispatch
	// re-creates the queues with the old offsets.
	if s.pool != nil {
		if err := s.commitPool(); err != nil {
			return fmt.Errorf("commitlog: delete topic %s: %w", topic, err)
		}
	}
	if err := s.dispatch(); err != nil {
		return fmt.Errorf("commitlog: delete topic %s: %w", topic, err)
	}
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	for k := range s.queueOffsets {
		if k.topic == topic {
			delete(s.queueOffsets, k)
		}
	}
	return s.cqs.removeTopic(topic, s.now())
}

// now is the store's clock (time.Now unless a test set another).
func (s *Store) now() time.Time { return (*s.clock.Load())() }

func (s *Store) setClock(f func() time.Time) { s.clock.Store(&f) }
