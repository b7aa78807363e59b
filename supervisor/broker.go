package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/acl"
	"github.com/sluice-mq/sluice/actors/grpcfront"
	"github.com/sluice-mq/sluice/actors/namesrv"
	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor/metrics"
)

// Options are what the broker needs besides its Config.
type Options struct {
	Log zerolog.Logger
	// Processors are added beside the standard ones (tests register
	// blocking or panicking processors on codes of their own).
	Processors []*actors.Processor
	// Handlers override or add request handlers by code.
	Handlers map[remoting.RequestCode]actors.HandlerFunc
	// ConfigProperties lists every broker.conf key with the value the
	// broker started with (cmd/sluice's brokerconf table), for
	// GET_BROKER_CONFIG and broker.properties; nil lists the identity keys
	// and the live ones only.
	ConfigProperties func() (keys, values []string)
}

// Broker is a running Sluice broker: its actor system, the supervisor at
// the root of the tree, the processors and the listener.
type Broker struct {
	cfg        Config
	log        zerolog.Logger
	sys        *actor.ActorSystem
	routes     *actors.Routes
	listener   *actors.Listener
	grpc       *grpcfront.Server // nil with grpcServerPort=0
	gate       actors.RequestGate
	supervisor *actor.PID
	draining   atomic.Bool
	sweep      *fastFailure
	inspectors *actors.Inspectors
	store      *commitlog.Store
	writer     *actors.Writer
	svc        *services
	namesrv    *nameServer
	registrar  *namesrv.Registrar
	metrics    *metrics.Server
	tls        *tlsState
	acl        *acl.PlainPermissionManager
	live       *liveConfig
	bootTime   time.Time
	// busyLatency: read-to-written time of every busy answer.
	busyLatency *remoting.LatencyHistogram
	// refusalLatency: the same for the requests refused on arrival.
	refusalLatency *remoting.LatencyHistogram
	// frameBudget bounds the partially received frames of all connections.
	frameBudget *remoting.FrameBudget
	// stopping is closed when shutdown gives up waiting, releasing a send
	// blocked on the writer.
	stopping chan struct{}

	ha *haState // replication (ha.go)
	// haMasterAddress, when set, is given the master's HA address from the
	// name server (the HA client's SetMasterAddress, when haMasterAddress
	// is not configured).
	haMasterAddress func(haServerAddr string)

	shutdownOnce sync.Once
	shutdownErr  error
}

// Start opens the remoting port and starts the actor tree.
func Start(cfg Config, opts Options) (*Broker, error) {
	b := &Broker{cfg: cfg, log: opts.Log, inspectors: actors.NewInspectors(), stopping: make(chan struct{}), bootTime: time.Now()}
	b.live = newLiveConfig(b, opts.ConfigProperties)
	if err := haRole(&cfg); err != nil {
		return nil, err
	}
	b.cfg = cfg
	store, err := commitlog.Open(cfg.Store, b.log)
	if err != nil {
		return nil, fmt.Errorf("open message store: %w", err)
	}
	b.store = store
	b.writer = actors.NewWriter(store, cfg.WriterWindowSize)
	if cfg.FaultInjectionEnable {
		store.SetAppendStall(millis(cfg.FaultAppendStallMillis))
		store.SetPoolExhausted(cfg.FaultTransientPoolExhausted)
	}
	// Anything that fails below undoes what was started, newest first.
	started := false
	defer func() {
		if !started {
			b.abortStart()
		}
	}()
	if err = b.openHA(); err != nil {
		return nil, err
	}
	if b.tls, err = newTLSState(cfg.TLS, cfg.MetricsTLSCertPath, cfg.MetricsTLSKeyPath, b.log); err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.ListenPort))
	connOpts := connOptions(&cfg)
	b.frameBudget = connOpts.FrameBudget
	gate, nsGate, err := b.openACL()
	if err != nil {
		return nil, fmt.Errorf("acl: %w", err)
	}
	b.gate = gate
	b.busyLatency = remoting.NewLatencyHistogram()
	connOpts.BusyAnswerLatency = b.busyLatency
	b.refusalLatency = remoting.NewLatencyHistogram()
	connOpts.RefusalLatency = b.refusalLatency
	ln, err := actors.Listen(addr, actors.ServerOptions{
		Conn:       connOpts,
		Draining:   &b.draining,
		Inspectors: b.inspectors,
		OnClose:    b.connectionClosed,
		WrapConn:   b.tls.wrapConn(),
		Gate:       gate,
	}, b.log)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	b.listener = ln
	if cfg.NamesrvAddr == "" && cfg.NamesrvListenPort != 0 {
		nsAddr := net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.NamesrvListenPort))
		// The embedded name server's connections share the broker's frame
		// budget: one bound for the process.
		if b.namesrv, err = openNameServer(nsAddr, connOpts, b.tls.wrapConn(), b.log, b.inspectors, nsGate); err != nil {
			return nil, err
		}
	}
	svc, err := b.openServices()
	if err != nil {
		return nil, err
	}
	b.svc = svc
	// Built before any processor runs, so the admin's hook is in place
	// from the first request; nothing is sent before Start below.
	if b.registrar = b.newRegistrar(svc.meta); b.registrar != nil {
		reg := b.registrar
		svc.meta.Topics.SetOnChange(func() { reg.RegisterNow() })
		svc.admin.Registered = reg.RegisterNow
		svc.admin.RegisterWait = millis(cfg.RegisterBrokerTimeoutMills)
	}
	handlers, err := b.handlers(opts.Handlers)
	if err != nil {
		return nil, err
	}
	b.aclHandlers(handlers)
	procs := standardProcessors(&cfg, handlers, b.rejectSend)
	procs = append(procs, opts.Processors...)
	for _, p := range procs {
		if p.Name == ProcSend {
			svc.send.Stats = &p.Stats
			// A send runs on its connection's decoder goroutine while the
			// processor is idle and the writer has a free slot, so that
			// handing it over cannot wait (Processor.RunOnArrival).
			p.RunOnArrival = b.writer.HasRoom
		}
		if cfg.FaultInjectionEnable && cfg.FaultProcessorDelayMillis > 0 {
			p.SetDelay(millis(cfg.FaultProcessorDelayMillis))
		}
	}
	if b.routes, err = actors.NewRoutes(procs...); err != nil {
		return nil, err
	}
	b.sweep = newFastFailure(&cfg, b.routes.Processors(), b.pageCacheBusy, b.store.LockTimeMills, b.log)
	b.sweep.writer = b.writer
	b.haBusyCause()

	b.sys = actor.NewActorSystem(actorLogger(b.log))
	spawned := make(chan error, 1)
	props := actor.PropsFromProducer(func() actor.Actor {
		return &supervisorActor{b: b, started: spawned}
	})
	if _, err := b.sys.Root.SpawnNamed(props, "broker"); err != nil {
		return nil, fmt.Errorf("spawn supervisor: %w", err)
	}
	if err := <-spawned; err != nil {
		return nil, err
	}
	svc.start(b)
	if err := b.openGRPC(); err != nil {
		return nil, err
	}
	if cfg.MetricsPromExporterPort != 0 {
		maddr := net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.MetricsPromExporterPort))
		mopts := metrics.ServeOptions{BearerToken: cfg.MetricsPromExporterBearerToken}
		if b.tls.metrics != nil {
			mopts.TLS = b.tls.metrics.TLSConfig()
		}
		if b.metrics, err = metrics.ServeWith(maddr, mopts, b.Tree, b.RuntimeInfo, b.log); err != nil {
			return nil, fmt.Errorf("serve metrics on %s: %w", maddr, err)
		}
	}
	if b.registrar != nil {
		b.registrar.Start()
	}
	started = true
	b.log.Info().Str("addr", ln.Addr().String()).Str("brokerName", cfg.BrokerName).
		Str("storePathRootDir", cfg.Store.StorePathRootDir).Stringer("flushDiskType", cfg.Store.FlushDiskType).
		Msg("broker started")
	return b, nil
}

// connOptions are the remoting bounds of every connection the broker
// accepts, with one frame budget for all of them.
func connOptions(cfg *Config) remoting.ConnOptions {
	return remoting.ConnOptions{
		MaxFrameSize:              cfg.RemotingFrameMaxLength,
		ReadIdleTimeout:           time.Duration(cfg.ServerChannelMaxIdleTimeSeconds) * time.Second,
		FrameBudget:               remoting.NewFrameBudget(cfg.RemotingFrameBudget),
		ConnFrameBudget:           cfg.RemotingConnFrameBudget,
		WriteBufferHighWaterMark:  cfg.WriteBufferHighWaterMark,
		WriteBufferLowWaterMark:   cfg.WriteBufferLowWaterMark,
		WriteBufferHighWaterCount: cfg.WriteBufferHighWaterCount,
		WriteBufferLowWaterCount:  cfg.WriteBufferLowWaterCount,
		WriteBufferDrainTimeout:   millis(cfg.WriteBufferDrainTimeoutMillis),
	}
}

// abortStart undoes a Start that failed part way, newest first.
func (b *Broker) abortStart() {
	if b.registrar != nil {
		b.registrar.Close() // never started: nothing to unregister
	}
	if b.sweep != nil {
		b.sweep.stop()
	}
	if b.svc != nil {
		_ = b.svc.stop()
	}
	if b.supervisor != nil {
		_ = b.sys.Root.StopFuture(b.supervisor).Wait()
		b.writer.Stop()
	}
	if b.namesrv != nil {
		_ = b.namesrv.stop()
	}
	if b.listener != nil {
		_ = b.listener.StopAccepting()
	}
	b.stopGRPC()
	if b.acl != nil {
		b.acl.Stop()
	}
	b.closeHA()
	_ = b.store.Close()
}

// MetricsAddr is the Prometheus endpoint's address, "" when it is off.
func (b *Broker) MetricsAddr() string {
	if b.metrics == nil {
		return ""
	}
	return b.metrics.Addr()
}

// NamesrvAddr is the embedded name server's address, "" when it is off.
func (b *Broker) NamesrvAddr() string {
	if b.namesrv == nil {
		return ""
	}
	return b.namesrv.listener.Addr().String()
}

// Addr is the remoting address the broker listens on.
func (b *Broker) Addr() string { return b.listener.Addr().String() }

// Routes exposes the processors, for the tree and tests.
func (b *Broker) Routes() *actors.Routes { return b.routes }

// Shutdown stops accepting connections, lets queued requests finish until
// ctx ends, answers whatever is left, and stops the actor tree.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.shutdownOnce.Do(func() { b.shutdownErr = b.shutdown(ctx) })
	return b.shutdownErr
}

func (b *Broker) shutdown(ctx context.Context) error {
	if h := b.busyLatency; h != nil && h.Count() > 0 {
		b.log.Info().Uint64("busyAnswers", h.Count()).Dur("p50", h.Quantile(0.5)).Dur("p99", h.Quantile(0.99)).
			Dur("p999", h.Quantile(0.999)).Msg("busy answers, read to written inside the broker (bucket upper bounds)")
	}
	if h := b.refusalLatency; h != nil && h.Count() > 0 {
		b.log.Info().Uint64("refusals", h.Count()).Dur("p50", h.Quantile(0.5)).Dur("p99", h.Quantile(0.99)).
			Dur("p999", h.Quantile(0.999)).Msg("refusals on arrival, read to written inside the broker (bucket upper bounds)")
	}
	if b.metrics != nil {
		_ = b.metrics.Close()
	}
	if b.registrar != nil {
		// Unregister first, so clients stop routing here while queued work
		// drains.
		b.registrar.Close()
	}
	b.draining.Store(true)
	errAccept := b.listener.StopAccepting()
	b.stopGRPC()
	if b.namesrv != nil {
		errAccept = errors.Join(errAccept, b.namesrv.stop())
	}
	b.waitIdle(ctx)
	close(b.stopping)
	errSvc := b.svc.stop()
	// Whatever is still queued gets an answer rather than silence.
	for _, p := range b.routes.Processors() {
		for _, r := range p.Mailbox().Close() {
			r.ReplyCode(remoting.ServiceNotAvailable, "broker is shutting down")
		}
	}
	// Let the connection writers put the last answers on the wire.
	b.waitRelayed(ctx)
	b.sweep.stop()
	err := b.sys.Root.StopFuture(b.supervisor).Wait()
	b.writer.Stop()
	b.sys.Shutdown()
	b.closeHA()
	errStore := b.store.Close()
	if b.acl != nil {
		b.acl.Stop()
	}
	b.log.Info().Msg("broker stopped")
	return errors.Join(errAccept, errSvc, err, errStore)
}

// waitIdle waits until every processor queue is empty or ctx ends.
func (b *Broker) waitIdle(ctx context.Context) {
	for {
		busy := false
		for _, p := range b.routes.Processors() {
			if p.Mailbox().Len() > 0 {
				busy = true
			}
		}
		if !busy {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitRelayed waits until no connection has a request in flight, or ctx
// ends, or a short grace period passes: a held pull may never finish.
func (b *Broker) waitRelayed(ctx context.Context) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		inflight := int64(0)
		for _, c := range b.listener.Connections() {
			inflight += c.Inflight
		}
		if inflight == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// pageCacheBusy is DefaultMessageStore#isOSPageCacheBusy.
func (b *Broker) pageCacheBusy() bool { return b.store.IsOSPageCacheBusy() }

// rejectSend is SendMessageProcessor#rejectRequest (4.9): page cache busy,
// or the transient store pool has no free buffer.
func (b *Broker) rejectSend() (remoting.BusyKind, bool) {
	if b.store.IsOSPageCacheBusy() || b.store.IsTransientStorePoolDeficient() {
		return remoting.RejectRequest, true
	}
	return 0, false
}

// connectionClosed forgets the connection's producers and consumers and
// tells the rest of each consumer group to rebalance.
func (b *Broker) connectionClosed(c *actors.Connection) {
	if b.svc != nil {
		b.svc.meta.ChannelClosed(c)
	}
}

// Store is the broker's message store.
func (b *Broker) Store() *commitlog.Store { return b.store }

// BusyAnswerLatency is the broker-side time from reading each request it
// refused busy to writing the refusal, over all connections.
func (b *Broker) BusyAnswerLatency() *remoting.LatencyHistogram { return b.busyLatency }

// RefusalLatency is BusyAnswerLatency for the requests refused on arrival
// (reject check, admission, full queue), without the sweep's answers.
func (b *Broker) RefusalLatency() *remoting.LatencyHistogram { return b.refusalLatency }

// handlers returns the request handlers, with overrides from opts.
func (b *Broker) handlers(extra map[remoting.RequestCode]actors.HandlerFunc) (map[remoting.RequestCode]actors.HandlerFunc, error) {
	h, err := b.svc.handlers(b.log)
	if err != nil {
		return nil, err
	}
	b.roleHandlers(h)
	for c, f := range extra {
		h[c] = f
	}
	return h, nil
}

// RuntimeInfo is GET_BROKER_RUNTIME_INFO's table (for the metrics
// endpoint).
func (b *Broker) RuntimeInfo() map[string]string { return b.svc.broker.RuntimeInfo() }

// Tree returns a snapshot of the live actor tree.
func (b *Broker) Tree() *tree.Snapshot {
	s := &tree.Snapshot{
		BrokerName: b.cfg.BrokerName,
		Addr:       b.Addr(),
		TakenAt:    time.Now(),
		Root:       b.withFront(b.inspectors.Snapshot(b.sys, b.supervisor.Id)),
	}
	// The pop service runs no actor of its own (its handlers run in the
	// pull processor): its node hangs under the root.
	if s.Root != nil && b.svc != nil && b.svc.pop != nil {
		s.Root.Children = append(s.Root.Children, b.svc.pop.InspectNode())
	}
	return s
}

// withFront adds the gRPC front, which is no actor, under the root.
func (b *Broker) withFront(root *tree.Node) *tree.Node {
	if b.grpc != nil && root != nil {
		n := &tree.Node{}
		b.grpc.Inspect(n)
		root.Children = append(root.Children, n)
	}
	return root
}

// processors lists every processor the supervisor owns, the embedded name
// server's included.
func (b *Broker) processors() []*actors.Processor {
	procs := b.routes.Processors()
	if b.namesrv != nil {
		procs = append(procs[:len(procs):len(procs)], b.namesrv.proc)
	}
	return procs
}

// FrameBudget is the budget of partially received frames every connection
// draws on (remotingFrameBudget): what clients have sent of frames not yet
// complete.
func (b *Broker) FrameBudget() *remoting.FrameBudget { return b.frameBudget }
