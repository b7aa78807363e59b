package commitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-mq/sluice/commitlog/mmap"

	"github.com/rs/zerolog"
)

// fileName is RocketMQ's UtilAll#offset2FileName: the start offset as 20
// zero-padded decimal digits.
func fileName(offset int64) string { return fmt.Sprintf("%020d", offset) }

// mappedFileQueue is an ordered run of equally sized mapped files in one
// directory, each named by its start offset, together covering one
// contiguous range of a log. The commit log and every consume queue are one.
//
// files is guarded by mu; the appender takes it exclusively only to add a
// file, retention and recovery to remove some, so readers (RLock) rarely wait.
// ahead (also under mu) holds files already created for positions past the
// last file and not yet part of the log: a consume queue's space reserved by
// Put before the dispatcher reaches it. Readers never see them.
type mappedFileQueue struct {
	dir      string
	fileSize int64
	log      zerolog.Logger
	allocFn  atomic.Pointer[func(*os.File, int64) error] // mmap.AllocateFile; tests inject ENOSPC
	pool     *transientStorePool                         // commit log with the pool enabled, else nil
	stage    *writeStage                                 // commit log in write-through mode, else nil
	syncs    *atomic.Int64                               // counts flush system calls, may be nil
	syncNs   *atomic.Int64                               // their total time in ns, may be nil
	grave    *graveyard

	mu    sync.RWMutex
	files []*mappedFile
	ahead []*mappedFile

	// flushedWhere/committedWhere: whole-log offsets up to which every file
	// is flushed/committed. Only the flusher (resp. committer) moves them.
	flushedWhere   atomic.Int64
	committedWhere atomic.Int64

	warnedSparse atomic.Bool
}

func newMappedFileQueue(dir string, fileSize int64, log zerolog.Logger, grave *graveyard) *mappedFileQueue {
	q := &mappedFileQueue{dir: dir, fileSize: fileSize, log: log, grave: grave}
	q.setAllocate(q.allocateLogged)
	return q
}

// setAllocate replaces the function that reserves a new commit-log file's
// disk space. The allocate service calls it from its own goroutine, hence
// the atomic.
func (q *mappedFileQueue) setAllocate(fn func(*os.File, int64) error) { q.allocFn.Store(&fn) }

func (q *mappedFileQueue) allocate(f *os.File, size int64) error { return (*q.allocFn.Load())(f, size) }

// allocateLogged wraps mmap.AllocateFile and says once that files are sparse.
func (q *mappedFileQueue) allocateLogged(f *os.File, size int64) error {
	err := mmap.AllocateFile(f, size)
	if errors.Is(err, mmap.ErrFallocateUnsupported) && !q.warnedSparse.Swap(true) {
		q.log.Warn().Str("dir", q.dir).Msg("fallocate is not supported here; files are extended with ftruncate and stay sparse, so a full disk can kill the broker with SIGBUS while writing through the mapping")
	}
	return err
}

// shortFile is a file load found shorter than the configured size.
type shortFile struct {
	index int   // in files
	have  int64 // its length on disk before fixShort
}

// load maps the files already in dir. Names must be 20-digit offsets that
// follow each other by fileSize. Every file gets its positions at its end
// (the caller recovers the real ones); fixShort brings a short file to size
// and the short ones are returned, for the caller to check.
func (q *mappedFileQueue) load(fixShort func(f *os.File, from, have int64) error) ([]shortFile, error) {
	if err := os.MkdirAll(q.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", q.dir, err)
	}
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", q.dir, err)
	}
	var offsets []int64
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		if strings.HasPrefix(name, rebuildMarkerPrefix) {
			continue // a consume queue's own (see consumeQueue.markDamaged)
		}
		off, perr := strconv.ParseInt(name, 10, 64)
		if len(name) != 20 || perr != nil {
			q.log.Warn().Str("file", filepath.Join(q.dir, name)).Msg("ignoring a file whose name is not a 20-digit offset")
			continue
		}
		offsets = append(offsets, off)
	}
	sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
	var shorts []shortFile
	for i, off := range offsets {
		if off%q.fileSize != 0 {
			q.closeAll()
			return nil, fmt.Errorf("load %s: file %s does not start at a multiple of the file size %d (was the file size changed?)", q.dir, fileName(off), q.fileSize)
		}
		if i > 0 && off != offsets[i-1]+q.fileSize {
			q.closeAll()
			return nil, fmt.Errorf("load %s: files %s and %s are not contiguous (a file is missing)", q.dir, fileName(offsets[i-1]), fileName(off))
		}
		mf, have, err := openMappedFile(filepath.Join(q.dir, fileName(off)), off, q.fileSize, fixShort)
		if err != nil {
			q.closeAll()
			return nil, err
		}
		if have < q.fileSize {
			shorts = append(shorts, shortFile{index: i, have: have})
		}
		mf.setPositions(q.fileSize)
		q.files = append(q.files, mf)
	}
	return shorts, nil
}

// count is the number of files.
func (q *mappedFileQueue) count() int {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return len(q.files)
}

// at returns the i-th file or nil.
func (q *mappedFileQueue) at(i int) *mappedFile {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if i < 0 || i >= len(q.files) {
		return nil
	}
	return q.files[i]
}

func (q *mappedFileQueue) first() *mappedFile { return q.at(0) }

func (q *mappedFileQueue) last() *mappedFile {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if len(q.files) == 0 {
		return nil
	}
	return q.files[len(q.files)-1]
}

// tail is the last file created, ahead or not (nil when there is none).
func (q *mappedFileQueue) tail() *mappedFile {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if len(q.ahead) > 0 {
		return q.ahead[len(q.ahead)-1]
	}
	if len(q.files) == 0 {
		return nil
	}
	return q.files[len(q.files)-1]
}

// findByOffset returns the file holding whole-log offset off, or nil.
func (q *mappedFileQueue) findByOffset(off int64) *mappedFile {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if len(q.files) == 0 {
		return nil
	}
	first := q.files[0].from
	if off < first {
		return nil
	}
	i := (off - first) / q.fileSize
	if i >= int64(len(q.files)) {
		return nil
	}
	return q.files[i]
}

// minOffset is the start of the first file (0 when empty).
func (q *mappedFileQueue) minOffset() int64 {
	if f := q.first(); f != nil {
		return f.from
	}
	return 0
}

// maxReadable is the whole-log offset up to which bytes can be read.
func (q *mappedFileQueue) maxReadable() int64 {
	if f := q.last(); f != nil {
		return f.from + f.readable()
	}
	return 0
}

// maxWrote is the whole-log offset of the appender's next byte.
func (q *mappedFileQueue) maxWrote() int64 {
	if f := q.last(); f != nil {
		return f.from + f.wrote.Load()
	}
	return 0
}

// createFull makes the commit-log file starting at from, fully allocated,
// without adding it to the log: the allocate service makes files ahead and
// appendFile adds them when the writer rolls.
func (q *mappedFileQueue) createFull(from int64) (*mappedFile, error) {
	if err := os.MkdirAll(q.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", q.dir, err)
	}
	mf, err := createMappedFile(filepath.Join(q.dir, fileName(from)), from, q.fileSize, q.allocate)
	if err != nil {
		return nil, err
	}
	if err := mmap.SyncDir(q.dir); err != nil {
		q.log.Warn().Err(err).Msg("new mapped file's directory entry not synced")
	}
	return mf, nil
}

// appendFile makes mf, which must start where the last file ends, the last
// file of the log. A pool buffer is borrowed for it when the queue has a
// pool and one is free. It does no file I/O: the writer calls it inside
// its lock-hold window. In write-through mode the file is appended to
// through the stage.
func (q *mappedFileQueue) appendFile(mf *mappedFile) {
	if q.pool != nil {
		if buf := q.pool.take(); buf != nil {
			mf.writeBuf = buf
			mf.pooled = true
		} else {
			q.log.Warn().Str("file", mf.path).Msg("transient store pool has no free buffer; this file is written straight into its mapping")
		}
	} else if q.stage != nil {
		mf.enterWriteThrough(q.stage)
	}
	q.mu.Lock()
	q.files = append(q.files, mf)
	q.mu.Unlock()
}

// commitStage writes the staged bytes into their file (write-through
// mode; a no-op otherwise). Appender only.
func (q *mappedFileQueue) commitStage() {
	if q.stage != nil && q.stage.owner != nil {
		q.stage.owner.commitStage()
	}
}

// createSparse makes the consume-queue file starting at from (see
// createSparseMappedFile); asAhead says whether it waits in ahead or becomes
// the last file at once (a queue's first file).
func (q *mappedFileQueue) createSparse(from int64, asAhead bool) (*mappedFile, error) {
	if err := os.MkdirAll(q.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", q.dir, err)
	}
	mf, err := createSparseMappedFile(filepath.Join(q.dir, fileName(from)), from, q.fileSize)
	if err != nil {
		return nil, err
	}
	if err := mmap.SyncDir(q.dir); err != nil {
		q.log.Warn().Err(err).Msg("new mapped file's directory entry not synced")
	}
	q.mu.Lock()
	if asAhead {
		q.ahead = append(q.ahead, mf)
	} else {
		q.files = append(q.files, mf)
	}
	q.mu.Unlock()
	return mf, nil
}

// promote moves the first ahead file, which must start at from, to the end
// of files, or returns nil when there is none.
func (q *mappedFileQueue) promote(from int64) *mappedFile {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ahead) == 0 || q.ahead[0].from != from {
		return nil
	}
	mf := q.ahead[0]
	q.ahead = append(q.ahead[:0], q.ahead[1:]...)
	q.files = append(q.files, mf)
	return mf
}

// flush forces everything committed; it walks files from flushedWhere so
// that no lock is held during a sync.
func (q *mappedFileQueue) flush() error {
	for {
		where := max(q.flushedWhere.Load(), q.minOffset())
		f := q.findByOffset(where)
		if f == nil {
			return nil
		}
		if err := f.flush(q.syncs, q.syncNs); err != nil {
			return err
		}
		next := f.from + f.flushed.Load()
		if next == where {
			return nil
		}
		q.flushedWhere.Store(next)
	}
}

// commit moves pool-buffer bytes into their files (see mappedFile.commit).
func (q *mappedFileQueue) commit() (progressed bool, err error) {
	for {
		where := max(q.committedWhere.Load(), q.minOffset())
		f := q.findByOffset(where)
		if f == nil {
			return progressed, nil
		}
		if _, err := f.commit(q.pool); err != nil {
			return progressed, err
		}
		next := f.from + f.committed.Load()
		if next == where {
			return progressed, nil
		}
		progressed = true
		q.committedWhere.Store(next)
	}
}

// truncateTo makes offset the end of the log after a clean stop: later files
// are deleted and the positions set; nothing is zeroed, since a clean stop
// wrote nothing past its checkpoint. Recovery only.
func (q *mappedFileQueue) truncateTo(offset int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	keep := q.files[:0]
	var errs []error
	for _, f := range q.files {
		switch {
		case f.from+f.size <= offset:
			keep = append(keep, f)
		case f.from <= offset:
			f.setPositions(offset - f.from)
			keep = append(keep, f)
		default:
			errs = append(errs, f.closeAndUnmap())
			if err := os.Remove(f.path); err != nil {
				errs = append(errs, fmt.Errorf("delete %s: %w", f.path, err))
			}
		}
	}
	clear(q.files[len(keep):])
	q.files = keep
	return errors.Join(errs...)
}

// deleteFirst removes the first n files (retention). Their mappings outlive
// the unlink by MappedFileDestroyGrace for readers still holding slices.
func (q *mappedFileQueue) deleteFirst(n int, now time.Time) (deleted int) {
	q.mu.Lock()
	if n >= len(q.files) {
		n = len(q.files) - 1 // never the last
	}
	if n <= 0 {
		q.mu.Unlock()
		return 0
	}
	gone := append([]*mappedFile(nil), q.files[:n]...)
	q.files = append(q.files[:0], q.files[n:]...)
	q.mu.Unlock()
	for _, f := range gone {
		if err := os.Remove(f.path); err != nil {
			q.log.Error().Err(err).Str("file", f.path).Msg("delete expired file")
		}
		q.grave.bury(f, now)
	}
	return len(gone)
}

// detachAll takes every file, ahead ones included, out of the queue
// (DeleteTopic); the caller deletes them.
func (q *mappedFileQueue) detachAll() []*mappedFile {
	q.mu.Lock()
	gone := append(q.files, q.ahead...)
	q.files, q.ahead = nil, nil
	q.mu.Unlock()
	return gone
}

// closeAll unmaps and closes every file. Ahead files hold nothing and are
// deleted as well (RocketMQ's allocate service deletes its pre-created
// files at shutdown the same way).
func (q *mappedFileQueue) closeAll() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var errs []error
	for _, f := range q.files {
		errs = append(errs, f.closeAndUnmap())
	}
	for _, f := range q.ahead {
		errs = append(errs, f.closeAndUnmap(), removeFile(f.path))
	}
	q.files, q.ahead = nil, nil
	return errors.Join(errs...)
}

// graveyard keeps the mappings of deleted files alive for a while so that
// slices handed to readers stay valid (RocketMQ's forced-destroy interval).
type graveyard struct {
	mu    sync.Mutex
	items []graveItem
}

type graveItem struct {
	f  *mappedFile
	at time.Time
}

func (g *graveyard) bury(f *mappedFile, now time.Time) {
	g.mu.Lock()
	g.items = append(g.items, graveItem{f, now})
	g.mu.Unlock()
}

// sweep unmaps what was buried more than grace ago (everything when grace < 0).
func (g *graveyard) sweep(now time.Time, grace time.Duration) {
	g.mu.Lock()
	var due []*mappedFile
	keep := g.items[:0]
	for _, it := range g.items {
		if grace < 0 || now.Sub(it.at) >= grace {
			due = append(due, it.f)
		} else {
			keep = append(keep, it)
		}
	}
	clear(g.items[len(keep):])
	g.items = keep
	g.mu.Unlock()
	for _, f := range due {
		_ = f.closeAndUnmap()
	}
}
