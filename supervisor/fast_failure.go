package supervisor

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
)

// fastFailure is RocketMQ's BrokerFastFailure: while the page cache is
// busy it answers every queued send PCBUSY_CLEAN_QUEUE, and it answers
// TIMEOUT_CLEAN_QUEUE to requests that waited past their queue's limit.
// Requests are taken from the queue head under the mailbox lock, so a
// request the sweep answers is never executed and one a processor has
// taken is never answered by the sweep.
type fastFailure struct {
	writer writerQueue
	// enabled (brokerFastFailureEnable) and period (ns) change at run time
	// (UPDATE_BROKER_CONFIG); each sweep reads them.
	enabled atomic.Bool
	period  atomic.Int64
	periods busyPeriods // touched only by run, on the supervisor's goroutine
	procs   []*actors.Processor
	pcBusy  func() bool
	log     zerolog.Logger

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool

	lastSweep       atomic.Int64 // unix nanoseconds
	busyPeriodCount atomic.Uint64
	inBusyPeriod    atomic.Bool
	cleaned         [len(remoting.BusyKinds)]atomic.Uint64
}

// writerQueue is the writer's queue of sends handed over and not yet
// appended (actors.Writer).
type writerQueue interface {
	TakeQueued() (*actors.AppendJob, int)
	Release(*actors.AppendJob)
}

func newFastFailure(cfg *Config, procs []*actors.Processor, pcBusy func() bool, lockHold func() int64, log zerolog.Logger) *fastFailure {
	period := millis(cfg.BrokerFastFailurePeriodMillis)
	if period <= 0 {
		period = 10 * time.Millisecond
	}
	f := &fastFailure{
		procs: procs, pcBusy: pcBusy, log: log,
		periods: busyPeriods{procs: procs, lockHold: lockHold, log: log},
	}
	f.enabled.Store(cfg.BrokerFastFailureEnable)
	f.period.Store(int64(period))
	return f
}

func (f *fastFailure) arm(fire func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.timer = time.AfterFunc(time.Duration(f.period.Load()), fire)
}

func (f *fastFailure) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	if f.timer != nil {
		f.timer.Stop()
	}
}

// run is one sweep (BrokerFastFailure#cleanExpiredRequest).
//
// It also follows busy periods, so it runs even with brokerFastFailureEnable
// off; only the cleaning is skipped then.
func (f *fastFailure) run(now time.Time) {
	defer func() {
		f.periods.observe(now, f.pcBusy())
		f.busyPeriodCount.Store(f.periods.count)
		f.inBusyPeriod.Store(f.periods.in)
	}()
	if !f.enabled.Load() {
		return
	}
	f.lastSweep.Store(now.UnixNano())
	for _, p := range f.procs {
		if !p.PageCacheSweep || p.Mailbox() == nil {
			continue
		}
		for f.pcBusy() {
			r, left := p.Mailbox().TakeHeadIf(func(*actors.Request) bool { return true })
			if r == nil {
				break
			}
			p.Stats.CountBusy(remoting.PCBusyCleanQueue)
			f.cleaned[remoting.PCBusyCleanQueue].Add(1)
			r.ReplyBusy(remoting.PCBusyCleanQueue, r.WaitMillis(now), left)
		}
		// Beyond RocketMQ: sends already handed to the writer but not yet
		// appended wait behind the stalled append too; they get the same
		// answer, with the writer queue's size.
		for f.writer != nil && f.pcBusy() {
			job, left := f.writer.TakeQueued()
			if job == nil {
				break
			}
			p.Stats.CountBusy(remoting.PCBusyCleanQueue)
			f.cleaned[remoting.PCBusyCleanQueue].Add(1)
			job.Req.ReplyBusy(remoting.PCBusyCleanQueue, job.Req.WaitMillis(now), left)
			f.writer.Release(job)
		}
	}
	for _, p := range f.procs {
		limit := p.WaitLimit()
		if limit <= 0 || p.Mailbox() == nil {
			continue
		}
		for {
			r, left := p.Mailbox().TakeHeadIf(func(r *actors.Request) bool { return now.Sub(r.Arrived) >= limit })
			if r == nil {
				break
			}
			p.Stats.CountBusy(remoting.TimeoutCleanQueue)
			f.cleaned[remoting.TimeoutCleanQueue].Add(1)
			r.ReplyBusy(remoting.TimeoutCleanQueue, r.WaitMillis(now), left)
		}
	}
}

// inspect describes the sweep for the tree.
func (f *fastFailure) inspect() *tree.SupervisorInfo {
	info := &tree.SupervisorInfo{
		FastFailureEnable: f.enabled.Load(),
		SweepPeriodMillis: time.Duration(f.period.Load()).Milliseconds(),
		BusyPeriods:       f.busyPeriodCount.Load(),
		InBusyPeriod:      f.inBusyPeriod.Load(),
		Cleaned: map[string]uint64{
			remoting.PCBusyCleanQueue.Tag():  f.cleaned[remoting.PCBusyCleanQueue].Load(),
			remoting.TimeoutCleanQueue.Tag(): f.cleaned[remoting.TimeoutCleanQueue].Load(),
		},
	}
	if ns := f.lastSweep.Load(); ns != 0 {
		info.LastSweep = time.Unix(0, ns)
	}
	return info
}
