package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/remoting/message"
)

// RocketMQ's defaults (MessageStoreConfig).
const (
	DefaultMaxHashSlotNum  = 5_000_000
	DefaultMaxIndexNum     = 5_000_000 * 4
	DefaultMaxMsgsNumBatch = 64

	// sysFlag transaction bits (MessageSysFlag).
	sysFlagTxMask     = 0xC
	sysFlagTxRollback = 0xC
)

// Config is the index's part of MessageStoreConfig.
type Config struct {
	// Dir is <storePathRootDir>/index.
	Dir string
	// MaxHashSlotNum (maxHashSlotNum) and MaxIndexNum (maxIndexNum) size
	// every file; changing them makes the existing files unreadable, and
	// Open says so.
	MaxHashSlotNum int
	MaxIndexNum    int
	// MaxMsgsNumBatch (maxMsgsNumBatch): most offsets one query returns.
	MaxMsgsNumBatch int
	// Now names new files (time.Now if nil).
	Now func() time.Time
}

// Service is RocketMQ's IndexService: the list of index files, the newest
// being written.
type Service struct {
	cfg Config
	log zerolog.Logger

	mu    sync.RWMutex // the file list; queries hold it while they read mappings
	files []*indexFile

	// Writer-owned (the dispatcher): the file being written, the commit-log
	// offset of the last record indexed, whether a disk error was logged
	// and until when no file is made or grown again after one (so a full
	// disk costs one system call a second, not one per key).
	cur         *indexFile
	lastIndexed int64
	diskErr     bool
	retryAt     time.Time
	// openDropped: Open found a file it could not read as an index file
	// and dropped it with the ones after it; Recover indexes them again.
	openDropped bool

	dropped atomic.Int64 // keys not indexed: disk full, no file could be made
}

// Open loads the files under cfg.Dir (IndexService#load); Recover must run
// before the first BuildIndex.
func Open(cfg Config, log zerolog.Logger) (*Service, error) {
	if cfg.MaxHashSlotNum <= 0 {
		cfg.MaxHashSlotNum = DefaultMaxHashSlotNum
	}
	if cfg.MaxIndexNum <= 0 {
		cfg.MaxIndexNum = DefaultMaxIndexNum
	}
	if cfg.MaxMsgsNumBatch <= 0 {
		cfg.MaxMsgsNumBatch = DefaultMaxMsgsNumBatch
	}
	if cfg.MaxIndexNum < 2 {
		return nil, fmt.Errorf("index: maxIndexNum %d leaves no room for an entry", cfg.MaxIndexNum)
	}
	if FileSize(cfg.MaxHashSlotNum, cfg.MaxIndexNum) > 1<<31-1 {
		// Java maps a file with one MappedByteBuffer, int-addressed.
		return nil, fmt.Errorf("index: maxHashSlotNum %d and maxIndexNum %d make files above 2 GiB", cfg.MaxHashSlotNum, cfg.MaxIndexNum)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// The store's logger names the component; every line here says "index".
	s := &Service{cfg: cfg, log: log, lastIndexed: -1}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("index: create %s: %w", cfg.Dir, err)
	}
	ents, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("index: list %s: %w", cfg.Dir, err)
	}
	// ReadDir sorts by name; names are times, so this is creation order.
	for i, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		f, err := openIndexFile(filepath.Join(cfg.Dir, e.Name()), cfg.MaxHashSlotNum, cfg.MaxIndexNum)
		if errors.Is(err, errDamaged) {
			// A header no write could have left (a machine crash): rebuilt
			// from the commit log with the files after it.
			s.log.Warn().Err(err).Int("files", len(ents)-i).Msg("index file damaged; dropped with the files after it, its records are indexed again from the commit log")
			for _, later := range ents[i:] {
				if rerr := os.Remove(filepath.Join(cfg.Dir, later.Name())); rerr != nil {
					s.closeAll()
					return nil, fmt.Errorf("index: drop damaged files: %w", rerr)
				}
			}
			s.openDropped = true
			break
		}
		if err != nil {
			s.closeAll()
			return nil, fmt.Errorf("index: %w", err)
		}
		s.files = append(s.files, f)
	}
	if n := len(s.files); n > 0 {
		s.cur = s.files[n-1]
	}
	return s, nil
}

// Recover makes the index hold entries only for records below end, the
// commit-log offset the dispatcher starts from, so that re-dispatch adds
// the rest exactly once. After an unclean stop (unclean) it first checks
// every file written to since indexMsgTimestamp (the checkpoint's: the end
// time of the newest file known to be on disk) and drops a damaged file
// with those after it. It returns the commit-log offset (a record's) from
// which records must be indexed again before dispatch goes on: end, or
// lower when entries were dropped. tsAt gives a record's store timestamp.
func (s *Service) Recover(end int64, unclean bool, indexMsgTimestamp int64, tsAt func(phy int64) (int64, bool)) (reindexFrom int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reindexFrom = end
	if s.openDropped {
		reindexFrom = -1
	}
	prevEnd := func(i int) (int64, int64) {
		if i == 0 {
			return 0, 0
		}
		return s.files[i-1].endPhyOffset.Load(), s.files[i-1].endTimestamp.Load()
	}
	drop := func(i int, why error) error {
		phy, _ := prevEnd(i)
		s.log.Warn().Err(why).Str("file", s.files[i].path).Int("files", len(s.files)-i).Int64("reindexFrom", phy).
			Msg("index file damaged; dropped with the files after it, its records are indexed again from the commit log")
		var errs []error
		for _, f := range s.files[i:] {
			errs = append(errs, f.close(), os.Remove(f.path))
		}
		clear(s.files[i:])
		s.files = s.files[:i]
		reindexFrom = min(reindexFrom, phy)
		return errors.Join(errs...)
	}
	if unclean {
		for i, f := range s.files {
			if f.endTimestamp.Load() < indexMsgTimestamp {
				continue
			}
			if verr := f.verify(); verr != nil {
				if err := drop(i, verr); err != nil {
					return 0, fmt.Errorf("index: drop damaged files: %w", err)
				}
				break
			}
		}
	}
	for i := len(s.files) - 1; i >= 0; i-- {
		f := s.files[i]
		pp, pt := prevEnd(i)
		removed, terr := f.truncate(end, tsAt, pp, pt)
		if terr != nil {
			if err := drop(i, terr); err != nil {
				return 0, fmt.Errorf("index: drop damaged files: %w", err)
			}
			continue
		}
		if removed > 0 {
			s.log.Info().Str("file", f.path).Int("entries", removed).Int64("fromOffset", end).
				Msg("index entries of records dispatched again removed")
		}
		if f.indexCount.Load() > 1 {
			break // it keeps entries, so every older file is below end
		}
		// Empty (emptied, or made just before the stop): the entries at end
		// may be in the file before it. The next key makes a new file.
		if err := errors.Join(f.close(), os.Remove(f.path)); err != nil {
			return 0, fmt.Errorf("index: %w", err)
		}
		s.files[i] = nil
		s.files = s.files[:i]
	}
	s.cur = nil
	s.lastIndexed = -1
	if n := len(s.files); n > 0 {
		s.cur = s.files[n-1]
		s.lastIndexed = s.cur.endPhyOffset.Load()
	}
	if reindexFrom < end {
		// From the last record still indexed (BuildIndex skips it), or from
		// the start of the log.
		reindexFrom = max(s.lastIndexed, 0)
	}
	return reindexFrom, nil
}

// BuildIndex is IndexService#buildIndex for the record at phyOffset:
// its UNIQ_KEY and each of its space-separated KEYS, as topic#key.
// Records already indexed (at or below the last one) and rolled-back
// transactional records are skipped. It does not allocate.
func (s *Service) BuildIndex(topic, props []byte, phyOffset, storeTimestamp int64, sysFlag int32) {
	if phyOffset <= s.lastIndexed {
		return
	}
	if sysFlag&sysFlagTxMask == sysFlagTxRollback {
		return
	}
	uniq, hasUniq := message.Lookup(props, message.PropertyUniqClientMessageIDKeyIdx)
	keys, _ := message.Lookup(props, message.PropertyKeys)
	if !hasUniq && len(keys) == 0 {
		s.lastIndexed = phyOffset
		return
	}
	f := s.writable()
	if f == nil {
		s.dropped.Add(1)
		return
	}
	s.lastIndexed = phyOffset
	if hasUniq {
		if f = s.putKey(f, keyHash(topic, uniq), phyOffset, storeTimestamp); f == nil {
			return
		}
	}
	for len(keys) > 0 {
		k := keys
		for i, c := range keys {
			if c == ' ' { // MessageConst.KEY_SEPARATOR
				k = keys[:i]
				break
			}
		}
		keys = keys[min(len(k)+1, len(keys)):]
		if len(k) == 0 {
			continue
		}
		if f = s.putKey(f, keyHash(topic, k), phyOffset, storeTimestamp); f == nil {
			return
		}
	}
}

// putKey is IndexService#putKey: a full file is followed by a new one.
func (s *Service) putKey(f *indexFile, hash int32, phyOffset, storeTimestamp int64) *indexFile {
	for {
		if s.diskErr && f.needsGrow() && s.cfg.Now().Before(s.retryAt) {
			s.dropped.Add(1)
			return f
		}
		ok, err := f.putKey(hash, phyOffset, storeTimestamp)
		if err != nil {
			s.dropped.Add(1)
			s.retryAt = s.cfg.Now().Add(time.Second)
			if !s.diskErr {
				s.diskErr = true
				s.log.Error().Err(err).Str("file", f.path).
					Msg("cannot back index entries on disk; keys are not indexed until space is freed (messages are stored and served)")
			}
			return f
		}
		if ok {
			if s.diskErr {
				s.diskErr = false
				s.log.Info().Str("file", f.path).Msg("index entries written again")
			}
			return f
		}
		s.log.Info().Str("file", f.path).Msg("index file full, creating another one")
		if f = s.writable(); f == nil {
			s.dropped.Add(1)
			return nil
		}
	}
}

// writable is IndexService#getAndCreateLastIndexFile: the file being
// written, or a new one when there is none or it is full (nil when it
// cannot be made, logged).
func (s *Service) writable() *indexFile {
	if s.cur != nil && !s.cur.isWriteFull() {
		return s.cur
	}
	if s.diskErr && s.cfg.Now().Before(s.retryAt) {
		return nil
	}
	var endPhy, endTs int64
	if s.cur != nil {
		endPhy, endTs = s.cur.endPhyOffset.Load(), s.cur.endTimestamp.Load()
	}
	now := s.cfg.Now()
	var path string
	for {
		path = filepath.Join(s.cfg.Dir, now.Format("20060102150405")+fmt.Sprintf("%03d", now.Nanosecond()/1e6))
		if _, err := os.Stat(path); os.IsNotExist(err) {
			break
		}
		now = now.Add(time.Millisecond)
	}
	f, err := createIndexFile(path, s.cfg.MaxHashSlotNum, s.cfg.MaxIndexNum, endPhy, endTs)
	if err != nil {
		s.retryAt = s.cfg.Now().Add(time.Second)
		if !s.diskErr {
			s.diskErr = true
			s.log.Error().Err(err).Msg("cannot create an index file; keys are not indexed until one can be made (retried every second)")
		}
		return nil
	}
	s.mu.Lock()
	s.files = append(s.files, f)
	s.mu.Unlock()
	s.cur = f
	return f
}

// LastIndexed is the commit-log offset of the last record indexed (-1:
// none); BuildIndex skips records at or below it.
func (s *Service) LastIndexed() int64 { return s.lastIndexed }

// QueryResult is IndexService#queryOffset's answer.
type QueryResult struct {
	PhyOffsets []int64
	// IndexLastUpdateTimestamp and IndexLastUpdatePhyoffset are the newest
	// file's end.
	IndexLastUpdateTimestamp int64
	IndexLastUpdatePhyoffset int64
}

// QueryOffset is IndexService#queryOffset: the commit-log offsets of the
// entries whose hash is topic#key's and whose time is in [begin, end],
// newest files first, at most min(maxNum, maxMsgsNumBatch). Entries of
// other keys with the same hash are included, as RocketMQ includes them
// (its clients compare the keys).
func (s *Service) QueryOffset(topic, key string, maxNum int, begin, end int64) QueryResult {
	maxNum = min(maxNum, s.cfg.MaxMsgsNumBatch)
	var r QueryResult
	if maxNum <= 0 {
		return r
	}
	hash := keyHash([]byte(topic), []byte(key))
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.files) - 1; i >= 0; i-- {
		f := s.files[i]
		if i == len(s.files)-1 {
			r.IndexLastUpdateTimestamp = f.endTimestamp.Load()
			r.IndexLastUpdatePhyoffset = f.endPhyOffset.Load()
		}
		if f.isTimeMatched(begin, end) {
			r.PhyOffsets = f.selectPhyOffset(r.PhyOffsets, hash, maxNum, begin, end)
		}
		if f.beginTimestamp.Load() < begin || len(r.PhyOffsets) >= maxNum {
			break
		}
	}
	return r
}

// Flush forces to disk the files that are full and, with all, the one
// being written too; it returns the end time of the newest file wholly on
// disk (the checkpoint's indexMsgTimestamp; 0 when none is).
func (s *Service) Flush(all bool) (indexMsgTimestamp int64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var errs []error
	for _, f := range s.files {
		if all || f.isWriteFull() {
			ts := f.endTimestamp.Load()
			n := f.indexCount.Load()
			if err := f.flush(); err != nil {
				errs = append(errs, err)
				continue
			}
			if f.flushedCount.Load() >= n {
				indexMsgTimestamp = ts
			}
		}
	}
	return indexMsgTimestamp, errors.Join(errs...)
}

// DeleteExpiredFile is IndexService#deleteExpiredFile: files (never the
// newest) whose last entry is below offset, the commit log's new start.
func (s *Service) DeleteExpiredFile(offset int64) (deleted int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(s.files)-1 && s.files[n].endPhyOffset.Load() < offset {
		n++
	}
	if n == 0 {
		return 0, nil
	}
	var errs []error
	for _, f := range s.files[:n] {
		errs = append(errs, f.close(), os.Remove(f.path))
	}
	s.files = slices.Delete(s.files, 0, n)
	s.log.Info().Int("files", n).Int64("minPhyOffset", offset).Msg("deleted expired index files")
	return n, errors.Join(errs...)
}

// Stats describes the index for runtime info.
type Stats struct {
	Files       int
	Entries     int64 // keys indexed in the files kept
	DroppedKeys int64 // keys not indexed (disk full, no file)
}

// Stats reports the index's size.
func (s *Service) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Files: len(s.files), DroppedKeys: s.dropped.Load()}
	for _, f := range s.files {
		st.Entries += int64(f.indexCount.Load() - 1)
	}
	return st
}

// Close flushes every file and unmaps it.
func (s *Service) Close() error {
	_, err := s.Flush(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(err, s.closeAll())
}

func (s *Service) closeAll() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.close())
	}
	s.files = nil
	s.cur = nil
	return errors.Join(errs...)
}
