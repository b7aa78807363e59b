package supervisor

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/admin"
	"github.com/sluice-mq/sluice/actors/client"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/actors/pop"
	"github.com/sluice-mq/sluice/actors/pull"
	"github.com/sluice-mq/sluice/actors/query"
	"github.com/sluice-mq/sluice/actors/schedule"
	"github.com/sluice-mq/sluice/actors/send"
	"github.com/sluice-mq/sluice/actors/stats"
	"github.com/sluice-mq/sluice/actors/timer"
	"github.com/sluice-mq/sluice/actors/transaction"
	"github.com/sluice-mq/sluice/remoting"
)

// services are the broker's shared state behind the request handlers:
// the metadata managers and the handler sets built on them.
type services struct {
	meta         *metadata.Managers
	send         *send.Handlers
	pull         *pull.Handlers
	holds        *pull.HoldService
	client       *client.Handlers
	admin        *admin.Handlers
	broker       *admin.BrokerHandlers
	query        *query.Handlers
	housekeeping *client.Housekeeping
	tx           *transaction.Service
	sched        *schedule.ScheduleMessageService
	schedKick    passKick
	timers       *timer.TimerMessageStore // nil with timerWheelEnable=false
	timerKick    passKick
	stats        *stats.Manager
	pop          *pop.Service

	stopOnce sync.Once
	stops    []func()
}

// identity is what handlers need to know about this broker.
func (b *Broker) identity() (metadata.BrokerIdentity, error) {
	ip, err := netip.ParseAddr(b.cfg.BrokerIP1)
	if err != nil {
		return metadata.BrokerIdentity{}, fmt.Errorf("brokerIP1 = %q: not an IP address: %w", b.cfg.BrokerIP1, err)
	}
	return metadata.BrokerIdentity{
		ClusterName:    b.cfg.BrokerClusterName,
		BrokerName:     b.cfg.BrokerName,
		BrokerID:       b.cfg.BrokerID,
		StoreHost:      netip.AddrPortFrom(ip.Unmap(), uint16(b.port())),
		RegionID:       "DefaultRegion",
		MaxMessageSize: b.cfg.Store.MaxMessageSize,
	}, nil
}

// port is the remoting port actually bound (listenPort=0 picks one).
func (b *Broker) port() int {
	if b.listener != nil {
		if _, p, err := net.SplitHostPort(b.listener.Addr().String()); err == nil {
			n, _ := strconv.Atoi(p)
			return n
		}
	}
	return b.cfg.ListenPort
}

// openServices loads the metadata under <storePathRootDir>/config and
// builds the handler sets. It runs after the listener is bound, since
// the store host written into every record carries the bound port.
func (b *Broker) openServices() (*services, error) {
	id, err := b.identity()
	if err != nil {
		return nil, err
	}
	mc := metadata.DefaultConfig(filepath.Join(b.cfg.Store.StorePathRootDir, "config"))
	mc.BrokerClusterName = b.cfg.BrokerClusterName
	mc.BrokerName = b.cfg.BrokerName
	mc.AutoCreateTopicEnable = b.cfg.AutoCreateTopicEnable
	mc.DefaultTopicQueueNums = b.cfg.DefaultTopicQueueNums
	mc.AutoCreateSubscriptionGroup = b.cfg.AutoCreateSubscriptionGroup
	mc.TraceTopicEnable = b.cfg.TraceTopicEnable
	mc.MsgTraceTopicName = b.cfg.MsgTraceTopicName
	mc.Log = b.log
	meta, err := metadata.Open(mc)
	if err != nil {
		return nil, fmt.Errorf("load broker metadata: %w", err)
	}
	s := &services{meta: meta, holds: pull.NewHoldService(), stats: stats.New(nil)}
	s.send = &send.Handlers{ID: id, Store: b.store, Writer: b.writer, Meta: meta, Log: b.log, Stop: b.stopping,
		StoreReplyMessage: b.cfg.StoreReplyMessageEnable, RejectTransactionMessage: b.cfg.RejectTransactionMessage,
		BrokerStats: s.stats}
	s.pull = &pull.Handlers{
		ID: id, Store: b.store, Meta: meta, Holds: s.holds,
		LongPollingEnable: b.cfg.LongPollingEnable,
		ShortPollingTime:  millis(b.cfg.ShortPollingTimeMills),
		Log:               b.log,
		BrokerStats:       s.stats,
	}
	s.client = &client.Handlers{Meta: meta, Store: b.store}
	s.admin = &admin.Handlers{Meta: meta, Store: b.store, ID: id, Stats: s.stats, Log: b.log,
		DelayOffset: func() ([]byte, error) {
			// What the schedule service has delivered so far, written
			// first so the answer is current.
			if s.sched != nil {
				if err := s.sched.Persist(); err != nil {
					return nil, err
				}
			}
			return os.ReadFile(filepath.Join(mc.Dir, schedule.DelayOffsetFile))
		}}
	s.broker = &admin.BrokerHandlers{
		Store: b.store, Processors: b.processors, HeldPulls: s.holds.Held, Tree: b.Tree, Writer: b.writer,
		FaultInjectionEnable: b.cfg.FaultInjectionEnable, Log: b.log,
		Stats: s.stats, Config: b.live, BootTime: b.bootTime, StorePathCommitLog: b.cfg.Store.StorePathCommitLog,
		StorePathRootDir: b.cfg.Store.StorePathRootDir,
	}
	s.query = &query.Handlers{Store: b.store, Log: b.log}
	s.housekeeping = &client.Housekeeping{Meta: meta, Log: b.log}
	tc := transaction.DefaultConfig()
	tc.TransactionTimeOut = millis(b.cfg.TransactionTimeOut)
	tc.TransactionCheckInterval = millis(b.cfg.TransactionCheckInterval)
	tc.TransactionCheckMax = b.cfg.TransactionCheckMax
	tc.FileReservedTime = time.Duration(b.cfg.Store.FileReservedTime) * time.Hour
	tc.MappedFileSizeCommitLog = b.cfg.Store.MappedFileSizeCommitLog
	s.tx = transaction.New(transaction.Options{ID: id, Store: b.store, Writer: b.writer, Meta: meta, Log: b.log, Config: tc, Abort: b.stopping})
	// Before any request: END_TRANSACTION needs the decisions taken before
	// the restart.
	if err := s.tx.Recover(); err != nil {
		return nil, fmt.Errorf("recover transactional messages: %w", err)
	}
	// ScheduleMessageService: from here on delayed sends and consumer
	// retries are parked in SCHEDULE_TOPIC_XXXX and delivered when due.
	s.sched, err = schedule.New(schedule.Config{
		Store: b.store, Writer: b.writer, Dir: mc.Dir,
		FlushDelayOffsetInterval: millis(b.cfg.Store.FlushDelayOffsetInterval),
		Wake:                     func() { s.schedKick.kick() },
		Log:                      b.log,
	})
	if err != nil {
		return nil, fmt.Errorf("start the schedule message service: %w", err)
	}
	// TimerMessageStore: from here on timer messages are parked in
	// rmq_sys_wheel_timer and delivered when due.
	if b.cfg.TimerWheelEnable {
		s.timers, err = timer.New(timer.Config{
			Store: b.store, Writer: b.writer, RootDir: b.cfg.Store.StorePathRootDir,
			PrecisionMs: b.cfg.TimerPrecisionMs, MaxDelaySec: b.cfg.TimerMaxDelaySec,
			RollWindowSlots: b.cfg.TimerRollWindowSlot, FileSize: b.cfg.MappedFileSizeTimerLog,
			FlushInterval: millis(b.cfg.TimerFlushIntervalMs),
			Wake:          func() { s.timerKick.kick() },
			Log:           b.log,
		})
		if err != nil {
			_ = s.sched.Stop()
			return nil, fmt.Errorf("start the timer message store: %w", err)
		}
		s.send.Timers = s.timers
	}
	pc := pop.DefaultConfig(filepath.Join(b.cfg.Store.StorePathRootDir, "pop"))
	pc.ReviveQueueNum, pc.ReviveInterval = b.cfg.ReviveQueueNum, millis(b.cfg.ReviveInterval)
	pc.PopFromRetryProbability, pc.PopPollingSize = b.cfg.PopFromRetryProbability, b.cfg.PopPollingSize
	s.pop, err = pop.New(pc, id, b.store, b.writer, meta, b.log)
	if err != nil {
		_ = s.sched.Stop()
		if s.timers != nil {
			_ = s.timers.Stop()
		}
		return nil, fmt.Errorf("open the pop checkpoints: %w", err)
	}
	s.broker.AddRuntimeInfo(s.pop.BuildRunningStats)
	s.broker.AddRuntimeInfo(s.sched.BuildRunningStats)
	if s.timers != nil {
		s.broker.AddRuntimeInfo(s.timers.BuildRunningStats)
	}
	return s, nil
}

// start runs the services' background work: long polling, the client
// housekeeping scan and the consumer-offset persister.
func (s *services) start(b *Broker) {
	if p, ok := b.routes.Lookup(remoting.PullMessage); ok {
		s.holds.Requeue = func(r *actors.Request) {
			if !p.Mailbox().TryPost(r) {
				p.Stats.CountBusy(remoting.Overload)
				r.ReplyBusy(remoting.Overload, 0, 0)
			}
		}
	}
	s.holds.Start(s.pull)
	if p, ok := b.routes.Lookup(remoting.PopMessage); ok {
		s.pop.Requeue = func(r *actors.Request) {
			if !p.Mailbox().TryPost(r) {
				p.Stats.CountBusy(remoting.Overload)
				r.ReplyBusy(remoting.Overload, 0, 0)
			}
		}
	}
	s.pop.Start()
	s.stats.Start()
	s.stops = append(s.stops, s.stats.Stop)
	b.store.OnMessageArrived(func(topic string, queueID int32, maxOffset, tagsCode int64) {
		s.holds.NotifyMessageArriving(topic, queueID, maxOffset, tagsCode)
		s.pop.NotifyMessageArriving(topic, queueID, maxOffset, tagsCode)
	})
	s.stops = append(s.stops, s.meta.Offsets.StartPersister(millis(b.cfg.FlushConsumerOffsetInterval)))
	s.housekeeping.Start()
	s.stops = append(s.stops, s.housekeeping.Stop)
	s.tx.Start()
	// The op records of decisions already stored get a moment to follow
	// them; whatever is left, the next start finds (transaction.Recover).
	s.stops = append(s.stops, func() { s.tx.Stop(2 * time.Second) })
}

// stop answers held pulls, stops the background work and persists the
// metadata files.
func (s *services) stop() error {
	var err error
	s.stopOnce.Do(func() {
		if s.sched != nil {
			// While the writer still runs: Stop waits for its puts and
			// writes delayOffset.json.
			err = s.sched.Stop()
		}
		if s.timers != nil {
			// Likewise: waits for its puts, writes timercheck.json.
			err = errors.Join(err, s.timers.Stop())
		}
		s.holds.Stop()
		if s.pop != nil {
			// While the writer still runs: a revive pass in flight ends.
			err = errors.Join(err, s.pop.Stop())
		}
		for _, f := range s.stops {
			f()
		}
		err = errors.Join(err, s.meta.Persist())
	})
	return err
}

// handlers maps every request code the broker serves to its handler. A
// code claimed by two handler sets is a start-up error, never a silent
// override.
func (s *services) handlers() (map[remoting.RequestCode]actors.HandlerFunc, error) {
	h := map[remoting.RequestCode]actors.HandlerFunc{}
	for _, m := range []map[remoting.RequestCode]actors.HandlerFunc{
		s.send.ByCode(), s.pull.ByCode(), s.client.HeartbeatHandlers(), s.client.ClientManageHandlers(),
		s.client.ConsumerManageHandlers(), s.admin.ByCode(), s.broker.ByCode(), s.tx.ByCode(),
		s.query.ByCode(), s.pop.ByCode(),
	} {
		for c, f := range m {
			if _, dup := h[c]; dup {
				return nil, fmt.Errorf("request code %s has two handlers", c)
			}
			h[c] = f
		}
	}
	return h, nil
}

// Timers is the timer message store (nil with timerWheelEnable=false),
// for the tree, metrics and tests.
func (b *Broker) Timers() *timer.TimerMessageStore { return b.svc.timers }
