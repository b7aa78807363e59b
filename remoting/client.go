package remoting

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultDialTimeout is used when ClientOptions.DialTimeout is zero.
const DefaultDialTimeout = 3 * time.Second

// ClientOptions tunes a Client.
type ClientOptions struct {
	// MaxFrameSize bounds every incoming frame; 0 means DefaultMaxFrameSize.
	MaxFrameSize int
	// DialTimeout bounds connecting; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// OnRequest receives requests the server initiates (for example
	// NOTIFY_CONSUMER_IDS_CHANGED), each on its own goroutine so that a
	// slow handler cannot stall the responses behind it. It answers, if
	// at all, with Client.Send. When nil, such requests are answered
	// REQUEST_CODE_NOT_SUPPORTED unless they are one-way, as Java does.
	OnRequest func(c *Client, req *Command)
	// TLS, when not nil, makes the connection a TLS one, its handshake
	// bounded by DialTimeout. An empty ServerName (with verification on)
	// takes the host of the address dialled.
	TLS *tls.Config
	// Credentials, when set, sign every request this client sends
	// (RocketMQ's AclClientRPCHook), for a broker or name server with ACL.
	Credentials *Credentials
	// InlineCallbacks makes InvokeAsync call its done function on the
	// goroutine that completes the call (the read goroutine for an answer,
	// a timer's for a timeout) instead of on a goroutine of its own: one
	// goroutine less per answer, for a load generator with thousands of
	// calls in flight. done must then not block nor wait for another call
	// on this client — it holds up every answer behind it.
	InlineCallbacks bool
}

// Client is one connection to a RocketMQ-speaking server with calls
// multiplexed on it by opaque, as every RocketMQ client does: answers may
// come back in any order, and a long-polling call does not hold up others.
type Client struct {
	addr string
	opts ClientOptions
	conn *Conn

	opaque atomic.Int32

	mu      sync.Mutex
	pending map[int32]*call
	closed  bool
	reason  error // why the client closed, wraps ErrClosed

	done     chan struct{} // closed once every pending call has failed
	readDone chan struct{} // closed when the read goroutine has exited
}

// call is one invocation waiting for its answer. Whoever removes it from
// Client.pending (the reader, its timer, or the close) completes it, so it
// completes exactly once.
type call struct {
	opaque  int32 // set under Client.mu before the call is visible
	code    RequestCode
	timeout time.Duration
	ch      chan callResult       // Invoke; buffered, written once
	cb      func(*Command, error) // InvokeAsync
	inline  bool                  // ClientOptions.InlineCallbacks
	timer   *time.Timer           // InvokeAsync only; Invoke has its own select
}

type callResult struct {
	resp *Command
	err  error
}

// Dial connects to addr and starts reading.
func Dial(ctx context.Context, addr string, opts ClientOptions) (*Client, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	d := net.Dialer{Timeout: opts.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if opts.TLS != nil {
		if nc, err = handshake(ctx, nc, addr, opts); err != nil {
			return nil, err
		}
	}
	// A client never stops reading answers for its own backlog of
	// requests: the server may be waiting for it to read them before it
	// reads more (see ConnOptions.NeverPauseReads).
	conn := NewConn(nc, ConnOptions{MaxFrameSize: opts.MaxFrameSize, NeverPauseReads: true})
	c := &Client{
		addr:     addr,
		opts:     opts,
		conn:     conn,
		pending:  make(map[int32]*call),
		done:     make(chan struct{}),
		readDone: make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

// handshake runs the client side of TLS on nc within the dial timeout.
func handshake(ctx context.Context, nc net.Conn, addr string, opts ClientOptions) (net.Conn, error) {
	cfg := opts.TLS
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		cfg = cfg.Clone()
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	tc := tls.Client(nc, cfg)
	hctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// Addr is the address the client dialled.
func (c *Client) Addr() string { return c.addr }

// Done is closed when the connection is gone, by Close or by the peer, and
// every pending call has been failed.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close closes the connection and fails every pending call with an error
// wrapping ErrClosed. It waits for the read goroutine, so no callback
// other than those of the failed calls and OnRequest handlers already
// running can start after it returns.
func (c *Client) Close() error {
	c.shutdown(fmt.Errorf("client closed: %w", ErrClosed))
	<-c.readDone
	return nil
}

// Invoke sends req and waits for its answer, for at most timeout (no limit
// of its own when timeout <= 0) and until ctx is done. The request goes
// out with a fresh opaque and without the one-way bit; req itself is not
// modified, but its ExtFields and Body must not change until Invoke
// returns, and after a timeout not at all, as the frame may still be
// waiting to be written. A non-nil error means no answer: a response with
// a non-zero code is returned as a response.
func (c *Client) Invoke(ctx context.Context, req *Command, timeout time.Duration) (*Command, error) {
	code := req.RequestCode()
	if err := ctx.Err(); err != nil {
		return nil, c.invokeErr(code, err)
	}
	cl := &call{code: code, timeout: timeout, ch: make(chan callResult, 1)}
	if err := c.start(req, cl); err != nil {
		return nil, err
	}
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	var err error
	select {
	case r := <-cl.ch:
		return r.resp, r.err
	case <-expired:
		err = c.timeoutErr(cl)
	case <-ctx.Done():
		err = c.invokeErr(code, ctx.Err())
	}
	if !c.take(cl) {
		// The answer (or the close) won the race; it is already in ch.
		r := <-cl.ch
		return r.resp, r.err
	}
	return nil, err
}

// InvokeAsync sends req and calls done with its answer or the error that
// ended the wait (timeout, as Invoke; none when timeout <= 0 — then only
// an answer or the end of the connection ends it). If InvokeAsync returns
// an error, done is never called; otherwise it is called exactly once, on
// a goroutine of its own, so it may block or call the client (unless
// ClientOptions.InlineCallbacks is set). done may be nil. req is treated
// as by Invoke.
func (c *Client) InvokeAsync(req *Command, timeout time.Duration, done func(*Command, error)) error {
	if done == nil {
		done = func(*Command, error) {}
	}
	return c.start(req, &call{code: req.RequestCode(), timeout: timeout, cb: done, inline: c.opts.InlineCallbacks})
}

// InvokeOneway sends req with a fresh opaque and the one-way bit set and
// does not wait: RocketMQ servers send no answer to it. (The Go client
// never sets that bit for its own "one-way" calls; see IsOneway.)
func (c *Client) InvokeOneway(req *Command) error {
	r := *req
	r.Opaque = c.nextOpaque()
	r.Flag = (r.Flag | FlagOneway) &^ FlagResponse
	c.sign(&r)
	if err := checkSerialize(&r); err != nil {
		return c.invokeErr(req.RequestCode(), err)
	}
	if err := c.conn.Send(&r); err != nil {
		return c.invokeErr(req.RequestCode(), c.closedErr())
	}
	return nil
}

// Send writes cmd as it is, opaque and flag included: the way to answer a
// request received through ClientOptions.OnRequest (see NewResponse).
func (c *Client) Send(cmd *Command) error {
	if err := checkSerialize(cmd); err != nil {
		return fmt.Errorf("send %d to %s: %w", cmd.Code, c.addr, err)
	}
	if err := c.conn.Send(cmd); err != nil {
		return fmt.Errorf("send %d to %s: %w", cmd.Code, c.addr, c.closedErr())
	}
	return nil
}

// start registers cl under a fresh opaque and queues a copy of req with
// that opaque. The copy keeps a caller who retries with the same req from
// racing the writer, which encodes later on its own goroutine.
func (c *Client) start(req *Command, cl *call) error {
	r := *req
	r.Flag &^= FlagOneway | FlagResponse
	c.sign(&r)
	if err := checkSerialize(&r); err != nil {
		return c.invokeErr(cl.code, err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.invokeErr(cl.code, c.reason)
	}
	op := c.nextOpaque()
	for c.pending[op] != nil { // only after 2^32 calls, but then it matters
		op = c.nextOpaque()
	}
	r.Opaque, cl.opaque = op, op
	c.pending[op] = cl
	if cl.cb != nil && cl.timeout > 0 {
		// Armed under the lock so that whoever completes the call sees
		// the timer and stops it.
		cl.timer = time.AfterFunc(cl.timeout, func() {
			if c.take(cl) {
				cl.complete(nil, c.timeoutErr(cl))
			}
		})
	}
	c.mu.Unlock()
	if err := c.conn.Send(&r); err != nil {
		if c.take(cl) {
			if cl.timer != nil {
				cl.timer.Stop()
			}
			return c.invokeErr(cl.code, c.closedErr())
		}
		// The close got there first and has completed the call; for an
		// async call that was the one callback, so report success here.
		if cl.cb != nil {
			return nil
		}
		r := <-cl.ch
		return r.err
	}
	return nil
}

// sign signs a copy of a request when the client has credentials.
func (c *Client) sign(r *Command) {
	if c.opts.Credentials != nil && !c.opts.Credentials.Empty() {
		c.opts.Credentials.Sign(r)
	}
}

func (c *Client) nextOpaque() int32 {
	for {
		if op := c.opaque.Add(1); op != 0 {
			return op
		}
	}
}

// take removes cl from the pending calls and reports whether this caller
// is the one to complete it.
func (c *Client) take(cl *call) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[cl.opaque] != cl {
		return false
	}
	delete(c.pending, cl.opaque)
	return true
}

// complete delivers the outcome of a call that has been taken.
func (cl *call) complete(resp *Command, err error) {
	if cl.timer != nil {
		cl.timer.Stop()
	}
	if cl.ch != nil {
		cl.ch <- callResult{resp, err}
		return
	}
	if cl.inline {
		cl.cb(resp, err)
		return
	}
	go cl.cb(resp, err)
}

func (c *Client) readLoop() {
	defer close(c.readDone)
	err := c.conn.ReadLoop(c.dispatch)
	if err == nil {
		err = c.conn.Err()
	}
	switch {
	case err == nil:
		err = fmt.Errorf("connection closed by %s: %w", c.addr, ErrClosed)
	case !errors.Is(err, ErrClosed):
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	c.shutdown(err)
}

// dispatch runs on the read goroutine for every incoming frame.
func (c *Client) dispatch(cmd *Command) {
	if cmd.IsResponse() {
		c.mu.Lock()
		cl := c.pending[cmd.Opaque]
		if cl != nil {
			delete(c.pending, cmd.Opaque)
		}
		c.mu.Unlock()
		// An unknown opaque is the late answer to a call that timed out
		// or to a one-way call the server answered anyway: dropped.
		if cl != nil {
			cl.complete(cmd, nil)
		}
		return
	}
	if h := c.opts.OnRequest; h != nil {
		go h(c, cmd)
		return
	}
	if !cmd.IsOneway() {
		_ = c.conn.Send(NewResponse(cmd, RequestCodeNotSupported,
			" request type "+strconv.Itoa(int(cmd.Code))+" not supported"))
	}
}

// shutdown closes the connection once and fails every pending call.
func (c *Client) shutdown(reason error) {
	c.conn.Close(reason)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.reason = true, reason
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, cl := range pending {
		cl.complete(nil, c.invokeErr(cl.code, reason))
	}
	close(c.done)
}

// closedErr is the error for a call that found the connection closed.
func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != nil {
		return c.reason
	}
	if err := c.conn.Err(); err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return ErrClosed
}

func (c *Client) timeoutErr(cl *call) error {
	return c.invokeErr(cl.code, fmt.Errorf("%w after %s", ErrTimeout, cl.timeout))
}

func (c *Client) invokeErr(code RequestCode, err error) error {
	return fmt.Errorf("invoke %s on %s: %w", code, c.addr, err)
}

// checkSerialize catches the one encoding error a caller can easily make,
// which would otherwise surface only as a timeout: the writer drops
// frames it cannot encode.
func checkSerialize(c *Command) error {
	if c.Serialize != SerializeJSON && c.Serialize != SerializeRocketMQ {
		return fmt.Errorf("%w %d", ErrSerializeType, c.Serialize)
	}
	return nil
}
