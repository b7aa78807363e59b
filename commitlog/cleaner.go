package commitlog

import (
	"os"
	"time"

	"github.com/sluice-mq/sluice/commitlog/mmap"
)

// Retention and disk space (RocketMQ CleanCommitLogService and
// CleanConsumeQueueService, one goroutine here).

const (
	// cleanResourceInterval is RocketMQ's cleanResourceInterval.
	cleanResourceInterval = 10 * time.Second
	// deleteFilesBatchMax bounds the files deleted per pass, so one pass
	// never holds the disk for long (RocketMQ MappedFileQueue.DELETE_FILES_BATCH_MAX).
	deleteFilesBatchMax = 10
)

// runCleaner checks the disk and deletes expired files every cleanResourceInterval.
func (s *Store) runCleaner() {
	defer s.wg.Done()
	t := time.NewTicker(cleanResourceInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.cleanOnce(s.now())
		case <-s.stop:
			return
		}
	}
}

// checkDiskSpace refreshes the disk-full flag that makes Put refuse; it
// returns the used ratio in percent (-1 when unknown). Besides the cleaner's
// pass it runs after every file the store creates or grows, every
// diskCheckEveryBytes appended, and on each put refused for a full disk, so
// the limit is overshot by at most the file whose creation crossed it, and
// puts resume as soon as space is freed. Safe from any goroutine.
func (s *Store) checkDiskSpace() float64 {
	used, total, err := s.diskUsage(s.cfg.commitLogDir())
	if err != nil || total == 0 {
		if err != nil {
			s.log.Warn().Err(err).Msg("disk usage unknown")
		}
		return -1
	}
	ratio := float64(used) * 100 / float64(total)
	s.diskRatio.Store(int64(ratio * 100))
	full := ratio > float64(s.cfg.DiskMaxUsedSpaceRatio)
	if was := s.diskFull.Swap(full); was != full {
		if full {
			s.log.Error().Float64("usedPercent", ratio).Int("diskMaxUsedSpaceRatio", s.cfg.DiskMaxUsedSpaceRatio).Msg("disk full: puts refused until space is freed (reads go on)")
		} else {
			s.log.Info().Float64("usedPercent", ratio).Msg("disk space back below the limit: puts accepted again")
		}
	}
	return ratio
}

// cleanOnce is one pass: check the disk, delete expired commit-log files when
// it is time (a deleteWhen hour) or the disk is too full, then the
// consume-queue files wholly before the new log start, then unmap files
// deleted long enough ago.
func (s *Store) cleanOnce(now time.Time) (deleted int) {
	s.checkDiskSpace()
	if s.deleteHours[now.Hour()] || s.diskFull.Load() {
		deleted = s.deleteExpiredCommitLog(now)
	}
	if deleted > 0 {
		minPhys := s.clq.minOffset()
		for _, cq := range s.cqs.all() {
			cq.deleteExpired(minPhys, now)
		}
		if s.idx != nil {
			if _, err := s.idx.DeleteExpiredFile(minPhys); err != nil {
				s.log.Error().Err(err).Msg("cannot delete expired index files")
			}
		}
		s.checkDiskSpace()
	}
	s.grave.sweep(now, MappedFileDestroyGrace)
	s.releaseReadPages()
	return deleted
}

// releaseReadPages drops from the resident set the pages consumers faulted
// into full, durable commit-log files since the last pass, so that reading
// old messages does not make the broker's RSS grow with the log either.
func (s *Store) releaseReadPages() {
	q := s.clq
	for i := 0; i < q.count()-1; i++ {
		if f := q.at(i); f != nil && f.flushed.Load() == f.size {
			mmap.ReleaseResident(f.data)
		}
	}
}

// deleteExpiredCommitLog deletes leading files whose last write is older
// than FileReservedTime. Never the current (last) file, never a file not yet
// flushed or dispatched.
func (s *Store) deleteExpiredCommitLog(now time.Time) int {
	reserved := time.Duration(s.cfg.FileReservedTime) * time.Hour
	q := s.clq
	n := 0
	for i := 0; i < deleteFilesBatchMax; i++ {
		f := q.at(i)
		if f == nil || i >= q.count()-1 {
			break
		}
		end := f.from + f.size
		if end > q.flushedWhere.Load() || end > s.indexedUpTo() {
			break
		}
		st, err := os.Stat(f.path)
		if err != nil || now.Sub(st.ModTime()) < reserved {
			break
		}
		n++
	}
	if n == 0 {
		return 0
	}
	first := q.minOffset()
	deleted := q.deleteFirst(n, now)
	s.log.Info().Int("files", deleted).Int64("fromOffset", first).Int64("newMinPhyOffset", q.minOffset()).Msg("deleted expired commit-log files")
	return deleted
}
