package supervisor

import (
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/commitlog/ha"
)

// haState is the broker's end of replication: a master's HA service, or a
// slave's HA client (commitlog/ha), each shown in the tree as an actor
// under the supervisor (the master's with one child per slave).
type haState struct {
	role   commitlog.BrokerRole
	svc    *ha.Service
	client *ha.Client

	mu     sync.Mutex
	pid    *actor.PID
	root   *actor.RootContext
	slaves map[int64]*actor.PID
}

// haRole reads brokerRole into the store's configuration; a slave's store
// has no transient pool (RocketMQ 4.9 turns it off there too).
func haRole(cfg *Config) error {
	role, err := commitlog.ParseBrokerRole(cfg.BrokerRole)
	if err != nil {
		return err
	}
	cfg.Store.BrokerRole = role
	cfg.Store.HASlaveFallbehindMax = cfg.HASlaveFallbehindMax
	return nil
}

func haConfig(cfg *Config) ha.Config {
	return ha.Config{
		FileSize:             cfg.Store.MappedFileSizeCommitLog,
		HeartbeatInterval:    millis(cfg.HASendHeartbeatInterval),
		HousekeepingInterval: millis(cfg.HAHousekeepingInterval),
		TransferBatchSize:    cfg.HATransferBatchSize,
		// A slave retries every 5 s as RocketMQ, sooner when its
		// heartbeat is shorter (tests).
		RetryInterval: min(millis(5000), millis(cfg.HASendHeartbeatInterval)),
	}
}

// openHA opens the master's HA port or makes the slave's client (started
// by spawnHA, once the tree exists).
func (b *Broker) openHA() error {
	cfg := &b.cfg
	st := &haState{role: cfg.Store.BrokerRole, slaves: map[int64]*actor.PID{}}
	if st.role == commitlog.Slave {
		st.client = ha.NewClient(haConfig(cfg), b.store, b.log)
		if cfg.HAMasterAddress != "" {
			st.client.SetMasterAddress(cfg.HAMasterAddress)
		} else {
			// Learned from each REGISTER_BROKER answer, as RocketMQ's
			// updateMasterHAServerAddrPeriodically does when
			// haMasterAddress is not configured.
			b.haMasterAddress = st.client.SetMasterAddress
		}
		b.ha = st
		return nil
	}
	port := cfg.HAListenPort
	if cfg.ListenPort == 0 {
		// A broker on a port the system picks gets its HA port so too
		// (tests, several brokers on one host).
		port = 0
	}
	addr := net.JoinHostPort(cfg.BindAddress, strconv.Itoa(port))
	svc, err := ha.Listen(addr, haConfig(cfg), b.store, b.log)
	if err != nil {
		return fmt.Errorf("open the HA port %s: %w", addr, err)
	}
	st.svc = svc
	b.store.OnAppended(svc.Appended)
	b.ha = st
	b.log.Info().Str("haAddr", svc.Addr().String()).Stringer("brokerRole", st.role).Msg("HA service listening")
	return nil
}

// haPort is the HA port advertised to the name server: the one the master
// listens on (listenPort + 1 where it could not be known, on a slave).
func (b *Broker) haPort() int {
	if b.ha != nil && b.ha.svc != nil {
		if a, ok := b.ha.svc.Addr().(*net.TCPAddr); ok {
			return a.Port
		}
	}
	return b.port() + 1
}

// HAAddr is the master's HA address ("" on a slave).
func (b *Broker) HAAddr() string {
	if b.ha == nil || b.ha.svc == nil {
		return ""
	}
	return b.ha.svc.Addr().String()
}

// HAClient is a slave's HA client (nil on a master): SetMasterAddress on
// it follows another master (the name server's REGISTER_BROKER answer).
func (b *Broker) HAClient() *ha.Client {
	if b.ha == nil {
		return nil
	}
	return b.ha.client
}

type haConnected struct{ c *ha.Connection }
type haClosed struct{ c *ha.Connection }

// haActor is the HA service's (or client's) node in the tree; on a master
// it keeps one child per connected slave.
type haActor struct{ b *Broker }

type haSlaveActor struct{}

func (haSlaveActor) Receive(actor.Context) {}

func (a *haActor) Receive(ctx actor.Context) {
	st := a.b.ha
	switch m := ctx.Message().(type) {
	case *haConnected:
		pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return haSlaveActor{} }), "slave-"+strconv.FormatInt(m.c.ID(), 10))
		if err != nil {
			a.b.log.Warn().Err(err).Str("slave", m.c.Addr()).Msg("no tree node for an HA connection")
			return
		}
		c := m.c
		a.b.inspectors.Register(pid.Id, func(n *tree.Node) {
			n.Kind = tree.KindHA
			s := c.Stats()
			n.HA = &tree.HAInfo{Role: "slave-connection", Slave: &tree.HASlaveInfo{
				Addr: s.Addr, AckedOffset: s.AckedOffset, LagBytes: s.LagBytes, BytesSent: s.BytesSent,
				NextTransfer: s.NextTransfer, LastReportMs: s.LastReportMs,
			}}
		})
		st.mu.Lock()
		st.slaves[c.ID()] = pid
		st.mu.Unlock()
	case *haClosed:
		st.mu.Lock()
		pid := st.slaves[m.c.ID()]
		delete(st.slaves, m.c.ID())
		st.mu.Unlock()
		if pid != nil {
			a.b.inspectors.Unregister(pid.Id)
			ctx.Stop(pid)
		}
	}
}

// spawnHA spawns the HA actor under the supervisor and starts the service
// or client.
func (b *Broker) spawnHA(ctx actor.Context) error {
	st := b.ha
	if st == nil {
		return nil
	}
	name := "ha-service"
	if st.client != nil {
		name = "ha-client"
	}
	pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &haActor{b: b} }), name)
	if err != nil {
		return fmt.Errorf("spawn %s: %w", name, err)
	}
	st.pid, st.root = pid, ctx.ActorSystem().Root
	b.inspectors.Register(pid.Id, b.inspectHA)
	if st.client != nil {
		st.client.Start()
		return nil
	}
	// A connection that opens before a slow start finishes is shown as
	// soon as the actor takes messages; its close always follows its open
	// in the actor's mailbox.
	st.svc.OnConnect = func(c *ha.Connection) { st.root.Send(st.pid, &haConnected{c}) }
	st.svc.OnClose = func(c *ha.Connection) { st.root.Send(st.pid, &haClosed{c}) }
	st.svc.Start()
	return nil
}

// inspectHA describes the service or the client.
func (b *Broker) inspectHA(n *tree.Node) {
	st := b.ha
	n.Kind = tree.KindHA
	info := &tree.HAInfo{Role: st.role.String()}
	if st.client != nil {
		info.MaxOffset = b.store.MaxWroteOffset()
		s := st.client.Stats()
		info.Client = &tree.HAClientInfo{
			MasterAddr: s.MasterAddr, Connected: s.Connected, MaxOffset: s.MaxOffset, LastReport: s.LastReport,
			LastReportMs: s.LastReportMs, BytesReceived: s.BytesReceived, Reconnects: s.Reconnects, OffsetMismatch: s.OffsetMismatch,
		}
		n.HA = info
		return
	}
	info.ListenAddr = st.svc.Addr().String()
	info.MaxOffset = b.store.MaxPhyOffset()
	info.Slaves = len(st.svc.Connections())
	r := b.store.Replication()
	info.Push2SlaveMaxOffset = r.Acked
	info.WaitingBatches, info.OldestWaitMillis = r.Waiting, r.OldestWaitMillis
	info.FlushSlaveTimeouts, info.SlaveNotAvailable = r.Timeouts, r.Unavailable
	n.HA = info
}

// haRuntimeInfo adds replication's GET_BROKER_RUNTIME_INFO keys (Sluice's
// own: RocketMQ 4.9 has none for HA).
func (b *Broker) haRuntimeInfo(m map[string]string) {
	st := b.ha
	if st == nil {
		return
	}
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	if st.client != nil {
		s := st.client.Stats()
		m["haMasterAddress"] = s.MasterAddr
		m["haClientConnected"] = strconv.FormatBool(s.Connected)
		m["haClientLastReportOffset"] = i(s.LastReport)
		return
	}
	conns := st.svc.Connections()
	lag := int64(0)
	for _, c := range conns {
		lag = max(lag, c.LagBytes)
	}
	m["haSlaveConnections"] = strconv.Itoa(len(conns))
	m["haSlaveMaxLagBytes"] = i(lag)
	m["haPush2SlaveMaxOffset"] = i(b.store.Replication().Acked)
}

// closeHA stops the HA service or client (before the store closes).
func (b *Broker) closeHA() {
	st := b.ha
	if st == nil {
		return
	}
	if st.client != nil {
		st.client.Close()
	}
	if st.svc != nil {
		b.store.OnAppended(nil)
		_ = st.svc.Close()
	}
}

// haBusyCause makes SYNC_MASTER's slave wait a cause of busy periods: a
// batch waiting longer than a fifth of syncFlushTimeout (50 ms to 1 s)
// keeps a period going, logged with cause=replicationLag.
func (b *Broker) haBusyCause() {
	if b.cfg.Store.BrokerRole != commitlog.SyncMaster {
		return
	}
	bp := &b.sweep.periods
	bp.replSlowMillis = min(1000, max(50, b.cfg.Store.SyncFlushTimeout/5))
	bp.replWait = func() int64 { return b.store.Replication().OldestWaitMillis }
}
