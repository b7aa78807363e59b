package supervisor

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

// busyPeriodQuiet is how long the broker must give no busy answer, with
// the page cache not busy, before a busy period counts as over; shorter
// gaps belong to the same period, so one stall makes one log line even
// when it is made of many slow appends (each of which is "busy" only after
// its first osPageCacheBusyTimeOutMills).
const busyPeriodQuiet = 3 * time.Second

// busyPeriods follows the broker in and out of flow control and logs each
// period once, at its end: when it started and ended, the longest lock
// hold seen, and how many requests were answered busy, by kind. Per-request
// lines would flood the log exactly when the broker is busiest.
type busyPeriods struct {
	procs    []*actors.Processor
	lockHold func() int64
	log      zerolog.Logger

	in         bool
	start      time.Time
	lastBusy   time.Time
	maxHold    int64
	atStart    [len(remoting.BusyKinds)]uint64
	lastTotals [len(remoting.BusyKinds)]uint64
	count      uint64

	// replWait, if set, is how long the oldest SYNC_MASTER batch has
	// waited for a slave (ms): replication lag, the other cause of slow
	// answers. From replSlowMillis on it keeps a period going, and the
	// period's line names it.
	replWait       func() int64
	replSlowMillis int64
	maxReplWait    int64
}

func (bp *busyPeriods) last() [len(remoting.BusyKinds)]uint64 { return bp.lastTotals }

func (bp *busyPeriods) totals() (t [len(remoting.BusyKinds)]uint64) {
	for _, p := range bp.procs {
		for _, k := range remoting.BusyKinds {
			t[k] += p.Stats.Busy[k].Load()
		}
	}
	return t
}

// observe runs on every sweep tick.
func (bp *busyPeriods) observe(now time.Time, pcBusy bool) {
	totals := bp.totals()
	hold := bp.lockHold()
	var repl int64
	if bp.replWait != nil {
		repl = bp.replWait()
	}
	replSlow := bp.replWait != nil && repl >= bp.replSlowMillis
	// Any busy answer since the previous tick keeps (or starts) a period.
	answered := totals != bp.last()
	if pcBusy || answered || replSlow {
		if !bp.in {
			bp.in, bp.start, bp.maxHold, bp.maxReplWait = true, now, 0, 0
		}
		bp.lastBusy = now
	}
	if !bp.in {
		bp.atStart, bp.lastTotals = totals, totals
		return
	}
	bp.maxHold = max(bp.maxHold, hold)
	bp.maxReplWait = max(bp.maxReplWait, repl)
	bp.lastTotals = totals
	if now.Sub(bp.lastBusy) < busyPeriodQuiet {
		return
	}
	ev := bp.log.Warn().Time("start", bp.start).Time("end", bp.lastBusy).
		Int64("durationMillis", bp.lastBusy.Sub(bp.start).Milliseconds()).Int64("longestLockHoldMillis", bp.maxHold)
	var sum uint64
	for _, k := range remoting.BusyKinds {
		n := totals[k] - bp.atStart[k]
		sum += n
		ev = ev.Uint64(k.Tag(), n)
	}
	if bp.replWait != nil {
		// A SYNC_MASTER names the cause: the page cache, or the slave.
		cause := "pageCache"
		if bp.maxReplWait >= bp.replSlowMillis {
			cause = "replicationLag"
			ev = ev.Int64("longestReplicationWaitMillis", bp.maxReplWait)
		}
		ev = ev.Str("cause", cause)
	}
	ev.Uint64("answeredBusy", sum).Msg("busy period ended")
	bp.count++
	bp.in = false
	bp.atStart = totals
}
