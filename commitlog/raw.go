package commitlog

import (
	"errors"
	"fmt"
)

// Raw access to the commit log, for master/slave replication (the HA
// service streams the master's log bytes as they are; the slave appends
// them at the same offsets, so the two logs are byte-identical).

// ErrRawOffset: AppendRaw was given bytes for an offset other than the
// log's end, or bytes that do not fit in the file the offset falls in —
// the slave and its master disagree, and the HA link must be re-established.
var ErrRawOffset = errors.New("commitlog: raw append offset mismatch")

// ReadRaw copies into dst the commit-log bytes from physical offset from,
// within the one file holding from and up to its readable end
// (RocketMQ's getCommitLogData / selectMappedBuffer). n is 0 when nothing
// is readable at from yet. At a file's end it reads from the next file
// (from is then that file's start). An offset below the log's start (the
// file is gone, retention) is ErrOffsetNotFound.
func (s *Store) ReadRaw(from int64, dst []byte) (n int, err error) {
	if !s.readGuard() {
		return 0, ErrClosed
	}
	defer s.readMu.RUnlock()
	if lo := s.clq.minOffset(); from < lo && s.clq.count() > 0 {
		return 0, fmt.Errorf("%w %d: the log starts at %d", ErrOffsetNotFound, from, lo)
	}
	f := s.clq.findByOffset(from)
	if f == nil {
		return 0, nil
	}
	pos := from - f.from
	readable := f.readable()
	if pos >= readable {
		return 0, nil
	}
	return copy(dst, f.data[pos:readable]), nil
}

// OnAppended registers fn, called (on the writer's goroutine, outside the
// lock) after every Append that stored something: the HA service streams
// the new bytes to the slaves at once instead of at its next look. fn must
// not block. nil removes it.
func (s *Store) OnAppended(fn func()) {
	if fn == nil {
		s.appended.Store(nil)
		return
	}
	s.appended.Store(&fn)
}

// MaxWroteOffset is the log's end as the appender sees it: where the next
// byte goes (on a slave, where AppendRaw takes the next bytes).
func (s *Store) MaxWroteOffset() int64 { return s.clq.maxWrote() }

// AppendRaw appends data at exactly physical offset at, as it is: bytes of
// the master's commit log (RocketMQ's DefaultMessageStore#appendToCommitLog).
// It is a Slave store's only appender and fails on any other role, so the
// log never has two writers; it serialises with everything else that
// touches the write side through putMu.
//
// at must be the log's end (MaxWroteOffset). An empty log takes any
// file-aligned offset, the start of the master's last file for a new
// slave. data must fit in the file at falls in; at a file's end it goes
// into the next file. Anything else is ErrRawOffset. The dispatcher then
// builds consume queues and the index from the bytes as on a master; a
// record split over two appends is dispatched once it is whole.
func (s *Store) AppendRaw(at int64, data []byte) error {
	if s.cfg.BrokerRole != Slave {
		return fmt.Errorf("commitlog: raw append on a %s store: only a slave's log is appended raw", s.cfg.BrokerRole)
	}
	if len(data) == 0 {
		return nil
	}
	size := s.cfg.MappedFileSizeCommitLog
	s.putMu.Lock()
	defer s.putMu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	f := s.clq.last()
	switch {
	case f == nil:
		if at%size != 0 {
			return fmt.Errorf("%w: an empty log starts at a file boundary, not %d", ErrRawOffset, at)
		}
		var err error
		if f, err = s.rawFile(at); err != nil {
			return err
		}
	case at != f.from+f.wrote.Load():
		return fmt.Errorf("%w: %d bytes offered at %d, the log ends at %d", ErrRawOffset, len(data), at, f.from+f.wrote.Load())
	case f.isFull():
		var err error
		if f, err = s.rawFile(at); err != nil {
			return err
		}
	}
	if n := int64(len(data)); n > f.size-f.wrote.Load() {
		return fmt.Errorf("%w: %d bytes at %d cross the end of the file at %d", ErrRawOffset, n, at, f.from)
	}
	f.appendRaw(data)
	s.putBytes.Add(int64(len(data)))
	s.appendedSinceCheck += int64(len(data))
	if s.appendedSinceCheck >= diskCheckEveryBytes {
		s.appendedSinceCheck = 0
		s.checkDiskSpace()
	}
	s.alloc.notePrefault(f)
	s.wake(s.dispatchWake)
	return nil
}

// rawFile makes the file starting at from the log's last (putMu held).
func (s *Store) rawFile(from int64) (*mappedFile, error) {
	s.alloc.rebase(from)
	if err := s.alloc.ensureReady(1); err != nil {
		return nil, fmt.Errorf("commitlog: commit-log file at %d: %w", from, err)
	}
	f := s.alloc.take(from)
	if f == nil {
		return nil, fmt.Errorf("commitlog: commit-log file at %d: %w", from, s.alloc.lastErr())
	}
	s.alloc.poke()
	return f, nil
}
