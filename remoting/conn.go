package remoting

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// ConnOptions tunes a Conn.
type ConnOptions struct {
	// MaxFrameSize bounds every incoming frame; 0 means DefaultMaxFrameSize.
	MaxFrameSize int
	// ReadIdleTimeout closes a connection on which nothing arrives for this
	// long (RocketMQ's serverChannelMaxIdleTimeSeconds, 120 s; clients
	// heartbeat every 30 s). 0 means no limit.
	ReadIdleTimeout time.Duration
	// WriteTimeout bounds one batched write; a peer that does not read for
	// this long is disconnected. 0 means 120 s, RocketMQ's idle limit.
	WriteTimeout time.Duration
}

// Conn is one remoting connection: a reader that decodes frames and a
// writer goroutine that batches outgoing frames into few syscalls. Send
// never blocks on the peer; a peer that stops reading is cut off by the
// write timeout instead.
type Conn struct {
	nc   net.Conn
	opts ConnOptions

	mu      sync.Mutex
	pending []*Command // frames waiting for the writer
	writing bool       // the writer holds frames taken from pending
	closed  bool
	reason  error
	wake    chan struct{}
	done    chan struct{}
}

// NewConn wraps nc and starts its writer goroutine.
func NewConn(nc net.Conn, opts ConnOptions) *Conn {
	if opts.MaxFrameSize <= 0 {
		opts.MaxFrameSize = DefaultMaxFrameSize
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 120 * time.Second
	}
	c := &Conn{nc: nc, opts: opts, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.writeLoop()
	return c
}

// RemoteAddr is the peer's address as "ip:port".
func (c *Conn) RemoteAddr() string { return c.nc.RemoteAddr().String() }

// LocalAddr is this end's address.
func (c *Conn) LocalAddr() string { return c.nc.LocalAddr().String() }

// ReadLoop decodes frames until the stream ends or a frame is malformed,
// calling handle for each. It returns nil on a clean EOF at a frame
// boundary, or the reason the stream could not be read. handle runs on the
// reading goroutine and must not block for long.
func (c *Conn) ReadLoop(handle func(*Command)) error {
	// Buffered so that small frames cost one read syscall for many frames
	// rather than two per frame; large bodies still go straight from the
	// socket into their own buffer.
	fr := NewFrameReader(bufio.NewReaderSize(c.nc, readBufferSize), c.opts.MaxFrameSize)
	for {
		if c.opts.ReadIdleTimeout > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.opts.ReadIdleTimeout))
		}
		cmd, err := fr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || c.isClosed() {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("%w: nothing read for %s", ErrIdle, c.opts.ReadIdleTimeout)
			}
			return err
		}
		handle(cmd)
	}
}

// Send queues cmd for the writer. It returns ErrClosed once the connection
// is closed; it never waits for the peer.
func (c *Conn) Send(cmd *Command) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.pending = append(c.pending, cmd)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close closes the socket; queued frames not yet written are dropped.
// Only the first reason is kept.
func (c *Conn) Close(reason error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.reason = true, reason
	c.pending = nil
	c.mu.Unlock()
	close(c.done)
	_ = c.nc.Close()
}

// Done is closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is the reason the connection was closed, nil while open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// readBufferSize is the read-side buffer of a connection.
const readBufferSize = 32 << 10

// maxBatchBytes caps how much the writer gathers before one write.
const maxBatchBytes = 256 << 10

func (c *Conn) writeLoop() {
	var batch []*Command
	buf := make([]byte, 0, 64<<10)
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			batch, c.pending = c.pending, batch[:0]
			c.writing = len(batch) > 0
			c.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for i, cmd := range batch {
				// AppendFrame leaves buf as it was when a header cannot be
				// encoded (a bug of ours, not the peer's): the frame is
				// skipped, not the connection.
				buf, _ = cmd.AppendFrame(buf)
				batch[i] = nil
				if len(buf) >= maxBatchBytes {
					if !c.flush(buf) {
						return
					}
					buf = buf[:0]
				}
			}
			if len(buf) > 0 {
				if !c.flush(buf) {
					return
				}
				buf = buf[:0]
			}
			if cap(buf) > 4*maxBatchBytes {
				buf = make([]byte, 0, 64<<10)
			}
		}
	}
}

func (c *Conn) flush(buf []byte) bool {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if _, err := c.nc.Write(buf); err != nil {
		c.Close(fmt.Errorf("write to %s: %w", c.RemoteAddr(), err))
		return false
	}
	return true
}

// CloseWhenFlushed closes the connection once every queued frame is on the
// wire, or after timeout: at shutdown the last answers must not be dropped.
func (c *Conn) CloseWhenFlushed(timeout time.Duration, reason error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		idle := c.closed || (len(c.pending) == 0 && !c.writing)
		c.mu.Unlock()
		if idle {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.Close(reason)
}
