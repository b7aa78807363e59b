package actors

import (
	"errors"
	"net"
	"strconv"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
)

// Listener accepts TCP connections and spawns one connection actor per
// connection as its child, so the tree shows every client under it.
type Listener struct {
	ln     net.Listener
	routes *Routes
	opts   ServerOptions
	log    zerolog.Logger

	mu    sync.Mutex
	conns map[string]*connectionActor // by actor id
	pid   *actor.PID
}

// Listen opens addr (host:port; port 0 picks one). Nothing is accepted
// until Spawn, so the bound address can be known — and advertised in
// records and registrations — before any request arrives.
func Listen(addr string, opts ServerOptions, log zerolog.Logger) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Listener{ln: ln, opts: opts, log: log, conns: make(map[string]*connectionActor)}, nil
}

// Addr is the address actually bound.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// PID is the listener actor, nil before Spawn.
func (l *Listener) PID() *actor.PID { return l.pid }

// Spawn starts the listener actor under parent with the given name; its
// connections route requests by routes.
func (l *Listener) Spawn(parent actor.SpawnerContext, name string, routes *Routes) (*actor.PID, error) {
	l.routes = routes
	props := actor.PropsFromProducer(func() actor.Actor { return &listenerActor{l: l} },
		actor.WithSupervisor(actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })))
	pid, err := parent.SpawnNamed(props, name)
	if err != nil {
		return nil, err
	}
	l.pid = pid
	if in := l.opts.Inspectors; in != nil {
		in.Register(pid.Id, func(n *tree.Node) { n.Kind = tree.KindListener })
	}
	return pid, nil
}

// StopAccepting closes the listening socket; existing connections go on.
func (l *Listener) StopAccepting() error {
	if err := l.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// ConnInfo describes one live connection for the tree and the CLI.
type ConnInfo struct {
	ID       string
	Remote   string
	Inflight int64
}

// Connections lists the live connections.
func (l *Listener) Connections() []ConnInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ConnInfo, 0, len(l.conns))
	for id, c := range l.conns {
		out = append(out, ConnInfo{ID: id, Remote: c.remote, Inflight: c.inflight.Load()})
	}
	return out
}

type accepted struct{ nc net.Conn }

type listenerActor struct {
	l    *Listener
	next int
}

func (a *listenerActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		root, self := ctx.ActorSystem().Root, ctx.Self()
		go func() {
			for {
				nc, err := a.l.ln.Accept()
				if err != nil {
					if !errors.Is(err, net.ErrClosed) {
						a.l.log.Error().Err(err).Msg("accept failed; listener stopped")
					}
					return
				}
				root.Send(self, &accepted{nc: nc})
			}
		}()
	case *accepted:
		a.next++
		nc := m.nc
		if wrap := a.l.opts.WrapConn; wrap != nil {
			nc = wrap(nc)
		}
		// The Conn exists before the actor does, so the inspector (which
		// may run before the actor's first turn) reads it without a race.
		ca := &connectionActor{nc: nc, remote: nc.RemoteAddr().String(), routes: a.l.routes, opts: a.l.opts, log: a.l.log,
			conn: remoting.NewConn(nc, a.l.opts.Conn)}
		name := "conn-" + strconv.Itoa(a.next)
		pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return ca }), name)
		if err != nil {
			a.l.log.Error().Err(err).Msg("spawn connection actor")
			ca.conn.Close(err)
			return
		}
		a.l.mu.Lock()
		a.l.conns[pid.Id] = ca
		a.l.mu.Unlock()
		if in := a.l.opts.Inspectors; in != nil {
			in.Register(pid.Id, ca.inspect)
		}
	case *actor.Terminated:
		a.l.mu.Lock()
		delete(a.l.conns, m.Who.Id)
		a.l.mu.Unlock()
		if in := a.l.opts.Inspectors; in != nil {
			in.Unregister(m.Who.Id)
		}
	case *actor.Stopping:
		_ = a.l.StopAccepting()
	}
}
