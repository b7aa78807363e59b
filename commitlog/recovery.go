package commitlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sluice-mq/sluice/commitlog/mmap"
)

// recoverFilesBack is how many files before the checkpointed one a crash
// recovery starts checking, in case the checkpoint lags the disk.
const recoverFilesBack = 2

// CorruptionError is returned by Open when crash recovery finds a damaged
// record with valid data after it and Config.SkipCorruptedFiles is off.
type CorruptionError struct {
	File       string // commit-log file holding the damage
	Offset     int64  // physical offset of the damaged record
	GoodOffset int64  // physical offset of the first valid record after it
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("commitlog: corrupt record at physical offset %d in %s, followed by valid data at offset %d; "+
		"refusing to cut the log there (it would drop that data). Inspect the file, or set recoverSkipCorruptedFiles=true "+
		"to skip the rest of the damaged file and open anyway", e.Offset, e.File, e.GoodOffset)
}

// recoverCommitLog sets the log's end and the dispatch start. After a clean
// stop it trusts the checkpoint; after a crash it checks records from a
// little before the checkpoint, cuts a torn tail, and truncates the consume
// queues so dispatch rebuilds them. firstShort (-1: none) is the index of
// the first commit-log file load found shorter than configured (and
// extended): the checkpoint is not trusted then, and records are checked
// from that file on. (After a clean stop, load already refused a short
// file that lost flushed records, unless SkipCorruptedFiles is set.)
func (s *Store) recoverCommitLog(abnormal bool, cp checkpointData, cpOK bool, firstShort int) error {
	q := s.clq
	n := q.count()
	if n == 0 {
		s.setLogEnd(0)
		s.reputFrom.Store(0)
		return s.truncateConsumeQueues(0, false)
	}
	cleanStop := !abnormal && cpOK && cp.clean
	if cleanStop && firstShort < 0 {
		end := cp.physFlushed
		last := q.last()
		if end >= last.from && end <= last.from+last.size {
			if err := q.truncateTo(end); err != nil {
				return err
			}
			s.setLogEnd(end)
			// After a clean stop no entry points past the end; one that does
			// is damage, and its queue is rebuilt.
			if err := s.truncateConsumeQueues(end, true); err != nil {
				return err
			}
			s.reputFrom.Store(min(max(cp.cqFlushed, q.minOffset()), end))
			s.log.Info().Int64("maxPhyOffset", end).Msg("clean stop: commit log end taken from the checkpoint")
			return nil
		}
		s.log.Warn().Int64("checkpoint", end).Msg("clean stop, but the checkpoint does not match the files; checking records")
	}
	start := 0
	if cpOK {
		if f := q.findByOffset(min(cp.physFlushed, cp.cqFlushed)); f != nil {
			start = int((f.from-q.minOffset())/q.fileSize) - recoverFilesBack
		} else if min(cp.physFlushed, cp.cqFlushed) >= q.last().from {
			start = n - 1 - recoverFilesBack
		}
		start = max(start, 0)
	}
	if firstShort >= 0 {
		start = min(start, firstShort)
	}
	scanStart := q.at(start).from
	end, err := s.scanCommitLog(start)
	if err != nil {
		return err
	}
	if cleanStop && firstShort >= 0 && end < cp.physFlushed {
		// Load refused this unless SkipCorruptedFiles is set.
		s.log.Error().Str("file", q.at(firstShort).path).Int64("maxPhyOffset", end).Int64("checkpoint", cp.physFlushed).
			Msg("recoverSkipCorruptedFiles: records flushed before the clean stop are gone (a short commit-log file); opening without them")
	}
	s.setLogEnd(end)
	if err := s.truncateConsumeQueues(scanStart, false); err != nil {
		return err
	}
	s.reputFrom.Store(scanStart)
	s.log.Warn().Int64("checkedFrom", scanStart).Int64("maxPhyOffset", end).Msg("commit log checked record by record; rebuilding consume queues from the checked range")
	return nil
}

// setLogEnd makes end the flushed/committed position of the whole log.
func (s *Store) setLogEnd(end int64) {
	s.clq.flushedWhere.Store(end)
	s.clq.committedWhere.Store(end)
}

// truncateConsumeQueues drops consume-queue entries for records at or past
// phys. With damaged, a queue that loses entries is marked for
// verification to rebuild (dispatch will not start early enough to).
func (s *Store) truncateConsumeQueues(phys int64, damaged bool) error {
	for _, cq := range s.cqs.all() {
		if damaged {
			if cut := cq.cutPoint(keepBelow(phys)); cut >= 0 {
				s.log.Warn().Str("topic", cq.topic).Int32("queueId", cq.queueID).Int64("queueOffset", cut/CQEntrySize).
					Msg("consume-queue entry does not match the commit log (it points past the end of the log)")
				if err := cq.markDamaged(cut); err != nil {
					return err
				}
			}
		}
		if _, err := cq.truncateFrom(phys); err != nil {
			return err
		}
		cq.mfq.flushedWhere.Store(cq.mfq.maxReadable())
	}
	return nil
}

// validRecordAt reports whether a whole, checked record whose PHYSICALOFFSET
// names its own position starts at data[pos].
func validRecordAt(f *mappedFile, pos int64) (int64, bool) {
	ri, err := parseRecord(f.data[pos:], true)
	if err != nil || ri.physOffset != f.from+pos {
		return 0, false
	}
	return int64(ri.size), true
}

// scanCommitLog checks every record from file start on and returns the
// log's end, cutting a torn or corrupt tail.
func (s *Store) scanCommitLog(start int) (int64, error) {
	q := s.clq
	for i := start; i < q.count(); i++ {
		f := q.at(i)
		pos := int64(0)
		for pos < f.size {
			b := f.data[pos:]
			if len(b) < blankLen {
				pos = f.size // the appender never leaves less than a BLANK marker
				break
			}
			if binary.BigEndian.Uint32(b[offMagic:]) == MagicBlank && int64(binary.BigEndian.Uint32(b)) == f.size-pos {
				pos = f.size
				break
			}
			if size, ok := validRecordAt(f, pos); ok {
				pos += size
				continue
			}
			bad := f.from + pos
			good, found := s.findValidAfter(i, pos)
			if !found {
				// A torn or corrupt tail: nothing valid follows, cut here.
				if err := s.cutTail(f, pos); err != nil {
					return 0, err
				}
				return bad, nil
			}
			if !s.cfg.SkipCorruptedFiles {
				return 0, &CorruptionError{File: f.path, Offset: bad, GoodOffset: good}
			}
			s.log.Error().Str("file", f.path).Int64("offset", bad).Int64("nextValidOffset", good).
				Int64("skippedBytes", f.size-pos).
				Msg("recoverSkipCorruptedFiles: corrupt record followed by valid data; the rest of this file is skipped (bytes left on disk)")
			binary.BigEndian.PutUint32(b[offTotalSize:], uint32(f.size-pos))
			binary.BigEndian.PutUint32(b[offMagic:], MagicBlank)
			if err := mmap.SyncRange(f.data, pos, pos+blankLen); err != nil {
				return 0, err
			}
			pos = f.size
		}
		f.setPositions(pos)
	}
	last := q.last()
	return last.from + last.wrote.Load(), nil
}

// findValidAfter looks for any valid record after the damage at file i,
// position pos: later in the same file, then in later files. Records are
// found by their magic and confirmed by size, CRC and self-offset.
func (s *Store) findValidAfter(i int, pos int64) (int64, bool) {
	magic := binary.BigEndian.AppendUint32(nil, MagicV1)
	q := s.clq
	for j := i; j < q.count(); j++ {
		f := q.at(j)
		p := int64(0)
		if j == i {
			p = pos + 1
		}
		for p+offMagic < f.size {
			k := bytes.Index(f.data[p+offMagic:], magic)
			if k < 0 {
				break
			}
			cand := p + int64(k)
			if _, ok := validRecordAt(f, cand); ok {
				return f.from + cand, true
			}
			p = cand + 1
		}
	}
	return 0, false
}

// cutTail makes pos in f the end of the log: later files are deleted, and
// the torn bytes after pos are zeroed. Files are only ever written in
// sequence, so at most one record (MaxMessageSize plus headers) can have
// been torn; only that window is zeroed, which spares rewriting a mostly
// empty 1 GiB file.
func (s *Store) cutTail(f *mappedFile, pos int64) error {
	end := f.from + pos
	window := int64(s.cfg.MaxMessageSize) + 1<<20
	limit := min(f.size, pos+window)
	// Reaching zeros where the next record would start is the normal end of
	// the log after a crash; only bytes there are a torn or corrupt record.
	if slices.ContainsFunc(f.data[pos:limit], func(b byte) bool { return b != 0 }) {
		s.log.Warn().Str("file", f.path).Int64("offset", end).Msg("cutting torn or corrupt tail of the commit log")
	} else {
		s.log.Info().Str("file", f.path).Int64("offset", end).Msg("commit log recovered; it ends here")
	}
	clear(f.data[pos:limit])
	if err := mmap.SyncRange(f.data, pos, limit); err != nil {
		return err
	}
	f.setPositions(pos)
	q := s.clq
	q.mu.Lock()
	var later []*mappedFile
	for k, g := range q.files {
		if g == f {
			later = append(later, q.files[k+1:]...)
			clear(q.files[k+1:])
			q.files = q.files[:k+1]
			break
		}
	}
	q.mu.Unlock()
	for _, g := range later {
		g.closeAndUnmap()
		if err := removeFile(g.path); err != nil {
			return err
		}
	}
	return nil
}
