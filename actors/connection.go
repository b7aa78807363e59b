package actors

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
)

// ServerOptions configure the listener and its connections.
type ServerOptions struct {
	// Conn bounds each connection: the largest frame, the idle limit, the
	// frame budgets (one FrameBudget shared by every connection of the
	// process) and the answers' water marks. Zero fields take remoting's
	// defaults.
	Conn remoting.ConnOptions
	// OnClose runs when a connection closes, after its actor stopped; the
	// client manager uses it to forget the client's producers and consumers.
	OnClose func(*Connection)
	// Inspectors, if set, gets each connection registered for the tree.
	Inspectors *Inspectors
	// Draining, once true, makes connections answer new requests with
	// SERVICE_NOT_AVAILABLE while queued ones finish (graceful shutdown).
	Draining *atomic.Bool
	// WrapConn, if set, wraps each accepted connection before anything is
	// read from it (TLS: remoting/tlshelper's Server.WrapConn). It must
	// not block: a handshake belongs in the wrapper's first Read, which
	// runs on the connection's own reading goroutine. Nil costs nothing.
	WrapConn func(net.Conn) net.Conn
	// Gate, if set, admits or refuses every request before it is routed
	// (the plain ACL).
	Gate RequestGate
}

// connectionActor owns one TCP connection: its lifecycle (start, close,
// the client manager's OnClose), its place in the tree, and supervision. A
// decoder goroutine reads frames and routes each request to its
// processor's mailbox itself (dispatch), without ever blocking on it;
// answers go straight to the socket's batching writer from whoever has
// them. Routing used to be a turn of this actor, a goroutine hand-off and
// an allocation per request that bought nothing: dispatch reads only
// atomics and the immutable routes, and a connection's requests keep their
// order because one goroutine decodes them. Requests of one connection
// still run concurrently in their processors, as the Go client requires:
// it multiplexes sends, 20-second held pulls and heartbeats over one
// connection.
type connectionActor struct {
	nc       net.Conn
	remote   string
	routes   *Routes
	opts     ServerOptions
	log      zerolog.Logger
	conn     *remoting.Conn
	handle   *Connection
	inflight atomic.Int64
	// language and version of the client, from its latest request header.
	language atomic.Int32
	version  atomic.Int32
	clientID atomic.Pointer[string]
}

// inspect describes the connection for the tree.
func (a *connectionActor) inspect(n *tree.Node) {
	n.Kind = tree.KindConnection
	info := &tree.ConnectionInfo{Remote: a.remote, Inflight: a.inflight.Load(), Version: int(a.version.Load())}
	info.QueuedBytes, info.QueuedAnswers = a.conn.Queued()
	info.ReadPaused, info.Backlogs = a.conn.ReadPaused(), a.conn.Backlogs()
	if v := a.version.Load(); v != 0 {
		info.Language = remoting.LanguageCode(a.language.Load()).String()
	}
	if id := a.clientID.Load(); id != nil {
		info.ClientID = *id
	}
	n.Connection = info
}

// connClosed reports the end of the read side with its reason (nil for a
// clean EOF).
type connClosed struct{ err error }

func (a *connectionActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *connClosed:
		if m.err != nil {
			a.log.Warn().Err(m.err).Str("remote", a.remote).Msg("closing connection")
		} else {
			a.log.Debug().Str("remote", a.remote).Msg("connection closed by client")
		}
		ctx.Stop(ctx.Self())
	case *actor.Started:
		a.start(ctx)
	case *actor.Stopped:
		// At shutdown the last answers may still be queued for the writer.
		a.conn.CloseWhenFlushed(time.Second, errors.New("connection actor stopped"))
		a.handle.calls.closeAll(fmt.Errorf("connection to %s closed", a.remote))
		if a.opts.OnClose != nil {
			a.opts.OnClose(a.handle)
		}
	}
}

func (a *connectionActor) start(ctx actor.Context) {
	root := ctx.ActorSystem().Root
	self := ctx.Self()
	a.handle = &Connection{pid: self, root: root, conn: a.conn, remote: a.remote, bornHost: bornHostOf(a.remote),
		inflight: &a.inflight, clientID: &a.clientID, calls: &calls{}}
	go func() {
		err := a.conn.ReadLoopRefusing(a.mayRefuse, a.refuse, a.dispatch)
		root.Send(self, &connClosed{err: err})
	}()
}

// dispatch is RocketMQ's NettyRemotingAbstract#processRequestCommand: find
// the processor, run its reject check, queue the request or answer at once.
// It runs on the decoder goroutine and must never block.
func (a *connectionActor) dispatch(cmd *remoting.Command) {
	if cmd.IsResponse() {
		// The client's answer to a broker-initiated request (Invoke).
		a.handle.calls.complete(cmd)
		return
	}
	a.language.Store(int32(cmd.Language))
	a.version.Store(int32(cmd.Version))
	r := &Request{Cmd: cmd, Conn: a.handle}
	p, resp, evenOneway := submit(a.routes, &a.opts, a.log, r, a.remote, &a.inflight)
	if resp == nil {
		if p.aboveMark() {
			a.conn.HoldNextRead(p)
		}
		return
	}
	if evenOneway || !cmd.IsOneway() {
		_ = a.conn.Send(resp)
	}
}

// Submit is the routing and admission every front shares (the remoting
// connections and the gRPC front): the gate, the route, the processor's
// reject check, its queue bound, then the mailbox. It never blocks. When
// the request was queued it returns nil and the processor answers r
// through r.Conn or r.ReplyTo; otherwise it returns the immediate answer,
// which the caller writes (Submit counts busy answers in the processor's
// stats); evenOneway says it is written for a one-way request too, as
// RocketMQ writes REJECTREQUEST. inflight, if set, counts r from queued to
// answered.
func Submit(routes *Routes, opts *ServerOptions, log zerolog.Logger, r *Request, remote string, inflight *atomic.Int64) (answer *remoting.Command, evenOneway bool) {
	_, answer, evenOneway = submit(routes, opts, log, r, remote, inflight)
	return answer, evenOneway
}

// submit is Submit returning also the processor r was queued into (nil
// when r was answered at once), which the remoting front asks whether to
// hold its next read.
func submit(routes *Routes, opts *ServerOptions, log zerolog.Logger, r *Request, remote string, inflight *atomic.Int64) (queued *Processor, answer *remoting.Command, evenOneway bool) {
	cmd := r.Cmd
	if g := opts.Gate; g != nil {
		if code, remark, ok := g.Admit(cmd, remote); !ok {
			return nil, remoting.NewResponse(cmd, code, remark), false
		}
	}
	code := cmd.RequestCode()
	p, ok := routes.Lookup(code)
	if !ok {
		return nil, remoting.NewResponse(cmd, remoting.RequestCodeNotSupported, NotSupportedRemark(cmd.Code)), false
	}
	if opts.Draining != nil && opts.Draining.Load() {
		return nil, remoting.NewResponse(cmd, remoting.ServiceNotAvailable, "broker is shutting down"), false
	}
	if p.RejectRequest != nil {
		if kind, busy := p.RejectRequest(); busy {
			p.Stats.CountBusy(kind)
			return nil, remoting.BusyResponse(cmd, kind, 0, 0), true
		}
	}
	if depth, ok := p.admit(); !ok {
		p.Stats.CountBusy(remoting.TimeoutCleanQueue)
		return nil, remoting.BusyResponse(cmd, remoting.TimeoutCleanQueue, 0, depth), true
	}
	r.Arrived = time.Now()
	if inflight != nil {
		inflight.Add(1)
	}
	posted, _ := p.mailbox.PostAndRun(r)
	if !posted {
		if inflight != nil {
			inflight.Add(-1)
		}
		p.Stats.CountBusy(remoting.Overload)
		p.logOverload(log, code, cmd.ReadAt)
		return nil, remoting.BusyResponse(cmd, remoting.Overload, 0, 0), false
	}
	return p, nil, false
}

// refuse is dispatch's refusals decided from a request's head, before its
// header is decoded (remoting.FrameHead): the processor's reject check, its
// admission check and a full queue, each answered from a template. Under
// overload most requests end here, so a refusal costs no header decode,
// no Request and no Command. Requests that dispatch would answer
// otherwise first (the gate, an unknown code, draining) go on to it.
func (a *connectionActor) refuse(h *remoting.FrameHead) (remoting.Refusal, bool) {
	p := a.headRefuser(h.RequestCode())
	if p == nil {
		return remoting.Refusal{}, false
	}
	kind, depth, busy := p.refusal()
	if !busy {
		return remoting.Refusal{}, false
	}
	p.Stats.CountBusy(kind)
	r := remoting.Refusal{Kind: kind, QueueSize: depth}
	if kind == remoting.Overload {
		p.logOverload(a.log, h.RequestCode(), h.ReadAt)
		// RocketMQ writes REJECTREQUEST even for one-way requests, but
		// not OVERLOAD.
		r.Silent = h.IsOneway()
	}
	return r, true
}

// mayRefuse is refuse's question asked from the code alone, without its
// side effects (counting, logging): would a request of code be refused
// now? Most requests are not, and then their head is never read.
func (a *connectionActor) mayRefuse(code int32) bool {
	p := a.headRefuser(remoting.RequestCode(code))
	if p == nil {
		return false
	}
	_, _, busy := p.refusal()
	return busy
}

// headRefuser is the processor whose refusals a request of code may get
// from its head, nil when dispatch must see it first (the gate, draining,
// an unknown code).
func (a *connectionActor) headRefuser(code remoting.RequestCode) *Processor {
	if a.opts.Gate != nil || (a.opts.Draining != nil && a.opts.Draining.Load()) {
		return nil
	}
	p, ok := a.routes.Lookup(code)
	if !ok {
		return nil
	}
	return p
}

// overloadLogEvery rate-limits the RejectedExecutionException line: under
// overload it would otherwise be written once per refused request.
const overloadLogEvery = time.Second

// logOverload writes that line at most once per overloadLogEvery. now is
// when the request was read (unix ns), which the reader has stamped
// already: under overload this runs once per refused request, and a clock
// read for each was 1 % of the broker's CPU. 0 reads the clock.
func (p *Processor) logOverload(log zerolog.Logger, code remoting.RequestCode, now int64) {
	if now == 0 {
		now = time.Now().UnixNano()
	}
	last := p.lastOverloadLog.Load()
	if now-last < int64(overloadLogEvery) || !p.lastOverloadLog.CompareAndSwap(last, now) {
		return
	}
	log.Warn().Str("processor", p.Name).Stringer("code", code).Int("capacity", p.Capacity).
		Uint64("overloadTotal", p.Stats.Busy[remoting.Overload].Load()).
		Msg("too many requests and system thread pool busy, RejectedExecutionException")
}
