package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/acl"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/actors/namesrv"
	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/tlshelper"
)

// namesrvQueueCapacity bounds the name server's request queue
// (RocketMQ's default remoting executor has 10 000 slots too).
const namesrvQueueCapacity = 10000

// nameServer is a name server's processor and listener, embedded in a
// broker's tree or at the root of a standalone name server.
type nameServer struct {
	routes   *namesrv.RouteInfoManager
	proc     *actors.Processor
	listener *actors.Listener
	stopScan func()
}

// openNameServer binds addr; nothing is served until spawn.
// wrap, if not nil, wraps each accepted connection (TLS); gate, if not
// nil, checks every request (the ACL in name-server mode).
func openNameServer(addr string, conn remoting.ConnOptions, wrap func(net.Conn) net.Conn, log zerolog.Logger, inspectors *actors.Inspectors, gate actors.RequestGate) (*nameServer, error) {
	m := namesrv.NewRouteInfoManager(log)
	// A broker's registrations share one long-lived connection, so its
	// close (the broker killed, its host gone) drops the broker at once.
	onClose := func(c *actors.Connection) { m.OnChannelDestroy(c) }
	ln, err := actors.Listen(addr, actors.ServerOptions{Conn: conn, Inspectors: inspectors, WrapConn: wrap, Gate: gate, OnClose: onClose}, log)
	if err != nil {
		return nil, fmt.Errorf("name server: listen on %s: %w", addr, err)
	}
	h := namesrv.Handlers(m, log)
	return &nameServer{
		routes:   m,
		listener: ln,
		proc: &actors.Processor{
			Name: "namesrv", Codes: namesrv.Codes(), Capacity: namesrvQueueCapacity,
			NewHandler: func() actors.Handler { return actors.Mux(h) },
		},
	}, nil
}

// spawn starts the processor and the listener under parent and the scan
// that drops brokers silent for 120 s.
func (n *nameServer) spawn(parent actor.Context, inspectors *actors.Inspectors) error {
	pid, err := n.proc.Spawn(parent)
	if err != nil {
		return fmt.Errorf("spawn name server processor: %w", err)
	}
	if inspectors != nil {
		inspectors.Register(pid.Id, n.proc.Inspect)
	}
	routes, err := actors.NewRoutes(n.proc)
	if err != nil {
		return err
	}
	if _, err := n.listener.Spawn(parent, "namesrv-listener", routes); err != nil {
		return fmt.Errorf("spawn name server listener: %w", err)
	}
	n.stopScan = n.routes.StartScanner(namesrv.DefaultScanInterval)
	return nil
}

func (n *nameServer) stop() error {
	if n.stopScan != nil {
		n.stopScan()
	}
	return n.listener.StopAccepting()
}

// NameServer is a standalone name server (`sluice namesrv`), for clusters
// of several brokers.
type NameServer struct {
	acl  *acl.PlainPermissionManager
	ns   *nameServer
	sys  *actor.ActorSystem
	root *actor.PID
	log  zerolog.Logger
	tls  *tlsState
}

// NameServerOptions configure a standalone name server beyond its address.
type NameServerOptions struct {
	// TLS is the tls.* keys of its port (the tls.client.* ones and useTLS
	// mean nothing to a name server, which dials no one).
	TLS tlshelper.Config
	// ACL, when set, turns on authentication: REGISTER_BROKER and the
	// other route changes need an admin account's signature (ours;
	// RocketMQ's name server checks nothing).
	ACL *acl.Config
}

// StartNameServer serves the name server protocol on addr (host:port).
func StartNameServer(addr string, log zerolog.Logger) (*NameServer, error) {
	return StartNameServerWithOptions(addr, log, NameServerOptions{})
}

// StartNameServerWithOptions is StartNameServer with TLS and ACL.
func StartNameServerWithOptions(addr string, log zerolog.Logger, opts NameServerOptions) (*NameServer, error) {
	in := actors.NewInspectors()
	// A standalone name server takes the broker's default bounds (the
	// 120 s idle limit included, as RocketMQ's name server has).
	defaults := DefaultConfig()
	serverOnly := opts.TLS
	serverOnly.UseTLS, serverOnly.UseTLSSet = false, true
	tlsState, err := newTLSState(serverOnly, "", "", log)
	if err != nil {
		return nil, err
	}
	var gate actors.RequestGate
	var m *acl.PlainPermissionManager
	if opts.ACL != nil {
		if m, err = acl.NewPlainPermissionManager(*opts.ACL, log); err != nil {
			return nil, fmt.Errorf("name server: %w", err)
		}
		m.Start()
		gate = acl.NewPlainAccessValidator(m, acl.ModeNamesrv, log)
	}
	ns, err := openNameServer(addr, connOptions(&defaults), tlsState.wrapConn(), log, in, gate)
	if err != nil {
		if m != nil {
			m.Stop()
		}
		return nil, err
	}
	n := &NameServer{acl: m, ns: ns, sys: actor.NewActorSystem(actorLogger(log)), log: log, tls: tlsState}
	spawned := make(chan error, 1)
	props := actor.PropsFromProducer(func() actor.Actor { return &nameServerActor{n: n, started: spawned, inspectors: in} })
	pid, err := n.sys.Root.SpawnNamed(props, "namesrv-root")
	if err == nil {
		err = <-spawned
	}
	if err != nil {
		_ = ns.stop()
		if m != nil {
			m.Stop()
		}
		return nil, err
	}
	n.root = pid
	log.Info().Str("addr", n.Addr()).Msg("name server started")
	return n, nil
}

// Addr is the address the name server listens on.
func (n *NameServer) Addr() string { return n.ns.listener.Addr().String() }

// Routes exposes the route tables (tests).
func (n *NameServer) Routes() *namesrv.RouteInfoManager { return n.ns.routes }

// Shutdown stops the name server.
func (n *NameServer) Shutdown(context.Context) error {
	err := n.ns.stop()
	errStop := n.sys.Root.StopFuture(n.root).Wait()
	n.sys.Shutdown()
	if n.acl != nil {
		n.acl.Stop()
	}
	n.log.Info().Msg("name server stopped")
	return errors.Join(err, errStop)
}

type nameServerActor struct {
	n          *NameServer
	started    chan<- error
	inspectors *actors.Inspectors
}

func (a *nameServerActor) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); ok {
		a.inspectors.Register(ctx.Self().Id, func(n *tree.Node) { n.Kind = tree.KindSupervisor })
		a.started <- a.n.ns.spawn(ctx, a.inspectors)
	}
}

func (a *nameServerActor) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason, message any) {
	restartProcessor(a.n.log, []*actors.Processor{a.n.ns.proc}, sup, child, reason, message)
}

// newRegistrar builds the broker's registration with its name servers: the
// embedded one, or those of namesrvAddr.
func (b *Broker) newRegistrar(meta *metadata.Managers) *namesrv.Registrar {
	var addrs []string
	switch {
	case b.cfg.NamesrvAddr != "":
		addrs = namesrv.ParseNamesrvAddrs(b.cfg.NamesrvAddr)
	case b.namesrv != nil:
		addrs = []string{b.namesrv.listener.Addr().String()}
	default:
		return nil
	}
	brokerAddr := net.JoinHostPort(b.cfg.BrokerIP1, strconv.Itoa(b.port()))
	ip2 := b.cfg.BrokerIP2
	if ip2 == "" {
		ip2 = b.cfg.BrokerIP1
	}
	return namesrv.NewRegistrar(namesrv.RegistrarConfig{
		NamesrvAddrs: addrs,
		TLS:          b.tls.client,
		ClusterName:  b.cfg.BrokerClusterName,
		BrokerName:   b.cfg.BrokerName,
		BrokerID:     b.cfg.BrokerID,
		BrokerAddr:   brokerAddr,
		HAServerAddr: net.JoinHostPort(ip2, strconv.Itoa(b.haPort())),
		Period:       millis(b.cfg.RegisterNameServerPeriod),
		Timeout:      millis(b.cfg.RegisterBrokerTimeoutMills),
		Topics: func() ([]metadata.TopicConfig, metadata.DataVersion) {
			return advertisedTopics(meta, b.cfg.BrokerPermission)
		},
		Credentials:     b.credentials(),
		OnMasterAddress: b.masterAddressChanged,
	}, b.log)
}

// advertisedTopics is the topic table as registered with name servers; as
// in RocketMQ, a broker whose permission lacks read or write advertises
// every topic with the broker's permission.
func advertisedTopics(meta *metadata.Managers, brokerPerm int) ([]metadata.TopicConfig, metadata.DataVersion) {
	snap := meta.Topics.Snapshot()
	override := !metadata.IsReadable(brokerPerm) || !metadata.IsWriteable(brokerPerm)
	out := make([]metadata.TopicConfig, 0, len(snap.TopicConfigTable))
	for _, tc := range snap.TopicConfigTable {
		if override {
			tc.Perm = brokerPerm
		}
		out = append(out, tc)
	}
	return out, snap.DataVersion
}
