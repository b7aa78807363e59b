package commitlog

import "time"

// pageCacheBusyGuardMillis is RocketMQ's unnamed 10000000 in
// isOSPageCacheBusy: with beginTimeInLock at 0 (idle) now-begin is the whole
// epoch in ms, far above it, so an idle store is never busy.
const pageCacheBusyGuardMillis = 10_000_000

// nowMillis is the wall clock in ms, as RocketMQ's systemClock.
func (s *Store) nowMillis() int64 { return s.now().UnixMilli() }

// BeginTimeInLock is the wall-clock ms at which the append in progress
// started, or 0 when no append is in progress (CommitLog#getBeginTimeInLock).
func (s *Store) BeginTimeInLock() int64 { return s.beginTimeInLock.Load() }

// LockTimeMills is how long the append in progress has held the lock, 0 when
// idle (CommitLog#lockTimeMills, runtime key pageCacheLockTimeMills).
func (s *Store) LockTimeMills() int64 {
	if begin := s.beginTimeInLock.Load(); begin > 0 {
		return s.nowMillis() - begin
	}
	return 0
}

// IsOSPageCacheBusy is DefaultMessageStore#isOSPageCacheBusy: true while an
// append has been in progress for longer than OSPageCacheBusyTimeOutMills.
// One atomic load; safe from any goroutine.
func (s *Store) IsOSPageCacheBusy() bool {
	begin := s.beginTimeInLock.Load()
	if begin == 0 {
		// Idle: the guard below would say no. Every send asks (the reject
		// check), so an idle store answers without reading the clock.
		return false
	}
	diff := s.nowMillis() - begin
	return diff < pageCacheBusyGuardMillis && diff > s.OSPageCacheBusyTimeOutMills()
}

// OSPageCacheBusyTimeOutMills is the threshold in force: the configured
// one until SetOSPageCacheBusyTimeOutMills changes it.
func (s *Store) OSPageCacheBusyTimeOutMills() int64 {
	if v := s.pcBusyTimeout.Load(); v > 0 {
		return v
	}
	return s.cfg.OSPageCacheBusyTimeOutMills
}

// SetOSPageCacheBusyTimeOutMills changes the threshold while the store
// runs (UPDATE_BROKER_CONFIG); ms must be positive. Safe from any
// goroutine: the next check reads it.
func (s *Store) SetOSPageCacheBusyTimeOutMills(ms int64) {
	if ms > 0 {
		s.pcBusyTimeout.Store(ms)
	}
}

// IsTransientStorePoolDeficient is true when the pool is enabled and has no
// free buffer, or when SetPoolExhausted(true) was called.
func (s *Store) IsTransientStorePoolDeficient() bool {
	if s.poolExhausted.Load() {
		return true
	}
	return s.pool != nil && s.pool.available() == 0
}

// TransientPoolStats reports free and total pool buffers (0, 0 without a pool).
func (s *Store) TransientPoolStats() (free, total int) {
	if s.pool == nil {
		return 0, 0
	}
	return s.pool.available(), s.pool.total
}

// CheckStoreStatus is the check a caller makes before handing a send to the
// writer (DefaultMessageStore#checkStoreStatus): PutServiceNotAvailable when
// closed or the disk is too full, PutOSPageCacheBusy when an append is
// stuck (the PC_SYNCHRONIZED answer), else PutOK. While the disk is full
// each call looks at it again (one fstatfs), so sends are accepted again as
// soon as space is freed.
func (s *Store) CheckStoreStatus() PutStatus {
	if s.closed.Load() || (s.diskFull.Load() && s.stillDiskFull()) {
		return PutServiceNotAvailable
	}
	if s.IsOSPageCacheBusy() {
		return PutOSPageCacheBusy
	}
	return PutOK
}

// SetAppendStall makes every Put sleep d inside its lock-hold window, so
// BeginTimeInLock ages as during a real stall (0 turns it off). For tests
// and demos of flow control.
func (s *Store) SetAppendStall(d time.Duration) { s.appendStall.Store(int64(d)) }

// SetPoolExhausted makes IsTransientStorePoolDeficient report true (or stop
// pretending). For tests and demos; it changes nothing else.
func (s *Store) SetPoolExhausted(on bool) { s.poolExhausted.Store(on) }
