package actors

import (
	"encoding/json"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/remoting"
)

// Request is one client request on its way through the broker: decoded by a
// connection, queued in a processor's mailbox, then answered exactly once by
// whoever removed it from that queue — the processor, or the supervisor's
// fast-failure sweep.
type Request struct {
	Cmd *remoting.Command
	// Arrived is when the connection actor queued the request; the sweep
	// measures the wait in queue from it (RocketMQ's RequestTask#createTimestamp).
	Arrived time.Time
	// Conn is the connection the request came from.
	Conn *Connection
	// ReplyTo, when set, receives the answer instead of Conn: requests
	// made inside the broker, and fake requests in handler tests.
	ReplyTo func(*remoting.Command)
	// Resumed marks a request that was parked (a held pull) and is back in
	// its processor's queue to be run once more (RocketMQ's
	// executeRequestWhenWakeup): its handler must not park it again.
	Resumed bool

	answered atomic.Bool
}

// Answered reports whether the request has been answered.
func (r *Request) Answered() bool { return r.answered.Load() }

// Reply writes resp to the request's connection, from whichever goroutine
// has the answer ready (remoting.Conn.Send is safe from any goroutine and
// never blocks). Only the first call has an effect; it reports whether
// this call was the one that answered. A one-way request is marked
// answered but nothing is written.
func (r *Request) Reply(resp *remoting.Command) bool {
	if !r.answered.CompareAndSwap(false, true) {
		return false
	}
	switch {
	case r.ReplyTo != nil:
		r.ReplyTo(resp)
	case r.Conn != nil:
		r.Conn.relay(r, resp)
	}
	return true
}

// ReplyCode answers with a code and remark.
func (r *Request) ReplyCode(code remoting.ResponseCode, remark string) bool {
	return r.Reply(remoting.NewResponse(r.Cmd, code, remark))
}

// ReplyBody answers SUCCESS with body.
func (r *Request) ReplyBody(body []byte) bool {
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.Body = body
	return r.Reply(resp)
}

// ReplyJSON answers SUCCESS with v encoded as the JSON body, or
// SYSTEM_ERROR if it cannot be encoded.
func (r *Request) ReplyJSON(v any) bool {
	body, err := json.Marshal(v)
	if err != nil {
		return r.ReplyCode(remoting.SystemError, "encode answer: "+err.Error())
	}
	return r.ReplyBody(body)
}

// ReplyBusy answers with one of the five busy answers.
func (r *Request) ReplyBusy(kind remoting.BusyKind, waitMillis int64, queueSize int) bool {
	return r.Reply(remoting.BusyResponse(r.Cmd, kind, waitMillis, queueSize))
}

// BornHost is the client's address for a stored message (see
// Connection.BornHost); 0.0.0.0:0 for a request made inside the broker.
func (r *Request) BornHost() netip.AddrPort {
	if r.Conn == nil {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return r.Conn.bornHost
}

// RemoteAddr is the client's address, "" for a request made inside the
// broker.
func (r *Request) RemoteAddr() string {
	if r.Conn == nil {
		return ""
	}
	return r.Conn.RemoteAddr()
}

// ClientGone reports whether the request's connection has closed.
func (r *Request) ClientGone() bool { return r.Conn != nil && r.Conn.Closed() }

// WaitMillis is how long the request has waited since it arrived.
func (r *Request) WaitMillis(now time.Time) int64 { return now.Sub(r.Arrived).Milliseconds() }

// Connection is the handle a Request keeps on the connection it came from.
type Connection struct {
	pid      *actor.PID
	root     *actor.RootContext
	conn     *remoting.Conn
	remote   string         // the peer's address, rendered once
	bornHost netip.AddrPort // the same, parsed once (a stored message's BORNHOST)
	inflight *atomic.Int64  // the connection actor's count of requests not yet answered
	clientID *atomic.Pointer[string]
	opaque   atomic.Int32 // for broker-initiated commands
	calls    *calls       // broker-initiated requests waiting for answers
}

// ID identifies the connection for its life (its actor id, never reused).
func (c *Connection) ID() string { return c.pid.Id }

// Notify sends NOTIFY_CONSUMER_IDS_CHANGED for group, one-way, so the
// client rebalances at once instead of at its next 20-second round.
func (c *Connection) Notify(group string) {
	cmd := remoting.NewRequest(remoting.NotifyConsumerIDsChanged, map[string]string{"consumerGroup": group}, nil)
	cmd.Flag |= remoting.FlagOneway
	cmd.Opaque = c.opaque.Add(1)
	_ = c.conn.Send(cmd)
}

// SetClientID records the client id a heartbeat announced, for the tree.
func (c *Connection) SetClientID(id string) { c.clientID.Store(&id) }

// ClientID is the id the client announced in its heartbeat, or "".
func (c *Connection) ClientID() string {
	if p := c.clientID.Load(); p != nil {
		return *p
	}
	return ""
}

// relay writes the answer. It used to go through the connection actor,
// which only decremented the in-flight count and called Send: one more
// goroutine hand-off and an allocation per request on the hottest path,
// for nothing an atomic does not do.
func (c *Connection) relay(r *Request, resp *remoting.Command) {
	if c.inflight != nil {
		c.inflight.Add(-1)
	}
	// A nil answer only marks a request whose client is gone as done.
	if resp == nil || r.Cmd.IsOneway() || c.Closed() {
		return
	}
	_ = c.conn.Send(resp) // ErrClosed: the client went meanwhile, nobody to tell
}

// Closed reports whether the connection is closed (its client gone).
func (c *Connection) Closed() bool {
	select {
	case <-c.conn.Done():
		return true
	default:
		return false
	}
}

// Backlogged reports whether the client is not reading its answers fast
// enough: answers past a high-water mark wait behind the one being
// written (remoting.Conn.AnswersWaiting).
func (c *Connection) Backlogged() bool { return c.conn.AnswersWaiting() }

// Close closes the connection (a client silent for too long).
func (c *Connection) Close(reason error) { c.conn.Close(reason) }

// RemoteAddr is the client's address.
func (c *Connection) RemoteAddr() string { return c.remote }

// BornHost is the client's address as a stored message's BORNHOST: the
// IPv4 form of a mapped address, 0.0.0.0:0 when it cannot be parsed.
func (c *Connection) BornHost() netip.AddrPort { return c.bornHost }

// bornHostOf parses a peer address once, for BornHost.
func bornHostOf(remote string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Send writes a broker-initiated command (e.g. NOTIFY_CONSUMER_IDS_CHANGED)
// to the client.
func (c *Connection) Send(cmd *remoting.Command) error { return c.conn.Send(cmd) }

// Done is closed when the connection is closed.
func (c *Connection) Done() <-chan struct{} { return c.conn.Done() }
