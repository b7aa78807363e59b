package supervisor

import (
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

// fastFailure is RocketMQ's BrokerFastFailure: while the page cache is
// busy it answers every queued send PCBUSY_CLEAN_QUEUE, and it answers
// TIMEOUT_CLEAN_QUEUE to requests that waited past their queue's limit.
// Requests are taken from the queue head under the mailbox lock, so a
// request the sweep answers is never executed and one a processor has
// taken is never answered by the sweep.
type fastFailure struct {
	period time.Duration
	procs  []*actors.Processor
	pcBusy func() bool
	log    zerolog.Logger

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func newFastFailure(cfg *Config, procs []*actors.Processor, pcBusy func() bool, log zerolog.Logger) *fastFailure {
	period := millis(cfg.BrokerFastFailurePeriodMillis)
	if period <= 0 {
		period = 10 * time.Millisecond
	}
	return &fastFailure{period: period, procs: procs, pcBusy: pcBusy, log: log}
}

func (f *fastFailure) arm(fire func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.timer = time.AfterFunc(f.period, fire)
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
func (f *fastFailure) run(now time.Time) {
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
			r.ReplyBusy(remoting.PCBusyCleanQueue, r.WaitMillis(now), left)
		}
	}
	for _, p := range f.procs {
		if p.MaxWaitInQueue <= 0 || p.Mailbox() == nil {
			continue
		}
		limit := p.MaxWaitInQueue
		for {
			r, left := p.Mailbox().TakeHeadIf(func(r *actors.Request) bool { return now.Sub(r.Arrived) >= limit })
			if r == nil {
				break
			}
			p.Stats.CountBusy(remoting.TimeoutCleanQueue)
			r.ReplyBusy(remoting.TimeoutCleanQueue, r.WaitMillis(now), left)
		}
	}
}
