package actors

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluice-mq/sluice/remoting"
)

// maxPendingCalls bounds the broker-initiated requests one connection may
// have waiting for the client's answer, so that a client that never
// answers pins a bounded amount of memory.
const maxPendingCalls = 1024

// ErrTooManyCalls is a call refused because the client has not answered
// maxPendingCalls earlier ones.
var ErrTooManyCalls = errors.New("too many broker-initiated requests waiting for this client's answers")

// calls are the broker-initiated requests of one connection waiting for
// the client's answer (RocketMQ's responseTable of invokeSync, for
// PUSH_REPLY_MESSAGE_TO_CLIENT and the like). Each call's done runs exactly
// once: with the answer, or with an error when the time runs out, the
// connection closes or the request cannot be written.
type calls struct {
	mu      sync.Mutex
	pending map[int32]*call
	closed  error
}

type call struct {
	done  func(*remoting.Command, error)
	timer *time.Timer
}

// take removes the call for opaque, reporting whether it was still pending.
func (cs *calls) take(opaque int32) (*call, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.pending[opaque]
	if ok {
		delete(cs.pending, opaque)
	}
	return c, ok
}

// complete hands an answer from the client to its call; an answer nobody
// waits for (late, after a timeout) is dropped.
func (cs *calls) complete(resp *remoting.Command) {
	if c, ok := cs.take(resp.Opaque); ok {
		c.timer.Stop()
		c.done(resp, nil)
	}
}

// closeAll fails every pending call with err and refuses new ones.
func (cs *calls) closeAll(err error) {
	cs.mu.Lock()
	pending := cs.pending
	cs.pending, cs.closed = nil, err
	cs.mu.Unlock()
	for _, c := range pending {
		c.timer.Stop()
		c.done(nil, err)
	}
}

// Invoke sends cmd, a broker-initiated request, to the client and calls
// done with its answer, or with an error after timeout or if the
// connection closes first. done runs exactly once, on some other
// goroutine than the caller's, and must not block.
func (c *Connection) Invoke(cmd *remoting.Command, timeout time.Duration, done func(*remoting.Command, error)) {
	cs := c.calls
	cmd.Opaque = c.opaque.Add(1)
	cs.mu.Lock()
	switch {
	case cs.closed != nil:
		err := cs.closed
		cs.mu.Unlock()
		go done(nil, err)
		return
	case len(cs.pending) >= maxPendingCalls:
		cs.mu.Unlock()
		go done(nil, ErrTooManyCalls)
		return
	}
	if cs.pending == nil {
		cs.pending = make(map[int32]*call)
	}
	opaque := cmd.Opaque
	cl := &call{done: done}
	cl.timer = time.AfterFunc(timeout, func() {
		if _, ok := cs.take(opaque); ok {
			done(nil, fmt.Errorf("%s to %s: no answer within %s", cmd.RequestCode(), c.RemoteAddr(), timeout))
		}
	})
	cs.pending[opaque] = cl
	cs.mu.Unlock()
	if err := c.conn.Send(cmd); err != nil {
		if pending, ok := cs.take(opaque); ok {
			pending.timer.Stop()
			go done(nil, fmt.Errorf("%s to %s: %w", cmd.RequestCode(), c.RemoteAddr(), err))
		}
	}
}
