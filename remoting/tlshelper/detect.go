package tlshelper

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// handshakeRecord is the first byte of a TLS connection: the record type
// of a handshake (RocketMQ's HandshakeHandler.HANDSHAKE_MAGIC_CODE). A
// remoting frame starts with its length, whose top byte is 0 for any
// frame under 16 MiB.
const handshakeRecord = 0x16

// detectConn is an accepted connection whose kind is not known yet. The
// first Read or Write (whichever comes first; sync.Once makes the other
// wait) reads one byte under the handshake deadline and settles conn to a
// TLS server connection or to the plain one with that byte put back.
// Deadlines asked for before then are remembered and applied to conn once
// it is settled, so the idle limit of the reader is not lost to the
// detection's own deadline.
type detectConn struct {
	raw net.Conn
	s   *Server

	once    sync.Once
	settled atomic.Bool
	conn    net.Conn // set once, before settled
	err     error    // the detection's failure, set before settled

	mu              sync.Mutex // guards the deadlines below until settled
	readDL, writeDL time.Time
	closed          bool
}

func (d *detectConn) settle() error {
	if d.settled.Load() {
		return d.err
	}
	d.once.Do(d.detect)
	return d.err
}

func (d *detectConn) detect() {
	conn, err := d.choose()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil && d.closed {
		err = net.ErrClosed
	}
	if err != nil {
		d.err = err
		_ = d.raw.Close()
	} else {
		d.conn = conn
		_ = d.raw.SetReadDeadline(d.readDL)
		_ = d.raw.SetWriteDeadline(d.writeDL)
	}
	d.settled.Store(true)
}

func (d *detectConn) choose() (net.Conn, error) {
	_ = d.raw.SetDeadline(time.Now().Add(d.s.timeout))
	var first [1]byte
	if _, err := io.ReadFull(d.raw, first[:]); err != nil {
		return nil, fmt.Errorf("waiting for the first byte (TLS mode %s): %w", d.s.mode, err)
	}
	pc := &prefixConn{Conn: d.raw, first: first[0], pending: true}
	if first[0] != handshakeRecord {
		if d.s.mode == Enforcing {
			return nil, ErrPlainRefused
		}
		return pc, nil
	}
	tc := tls.Server(pc, d.s.base)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

func (d *detectConn) Read(p []byte) (int, error) {
	if err := d.settle(); err != nil {
		return 0, err
	}
	return d.conn.Read(p)
}

func (d *detectConn) Write(p []byte) (int, error) {
	if err := d.settle(); err != nil {
		return 0, err
	}
	return d.conn.Write(p)
}

// Close closes the socket; a detection under way fails at once. A TLS
// connection is closed without its close_notify alert: tls.Conn.Close
// writes that alert under a 5-second deadline of its own, and the
// connections the broker closes are mostly those whose peer stopped
// reading (a write backlog), where the alert would only wait out the
// deadline on the caller's goroutine — an actor's. Peers see the end of
// the stream, as after any abrupt close.
func (d *detectConn) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	return d.raw.Close()
}

func (d *detectConn) LocalAddr() net.Addr  { return d.raw.LocalAddr() }
func (d *detectConn) RemoteAddr() net.Addr { return d.raw.RemoteAddr() }

func (d *detectConn) SetDeadline(t time.Time) error {
	if err := d.SetReadDeadline(t); err != nil {
		return err
	}
	return d.SetWriteDeadline(t)
}

func (d *detectConn) SetReadDeadline(t time.Time) error {
	if !d.settled.Load() {
		d.mu.Lock()
		if !d.settled.Load() {
			d.readDL = t
			d.mu.Unlock()
			return nil
		}
		d.mu.Unlock()
	}
	return d.raw.SetReadDeadline(t)
}

func (d *detectConn) SetWriteDeadline(t time.Time) error {
	if !d.settled.Load() {
		d.mu.Lock()
		if !d.settled.Load() {
			d.writeDL = t
			d.mu.Unlock()
			return nil
		}
		d.mu.Unlock()
	}
	return d.raw.SetWriteDeadline(t)
}

// ConnectionState is the TLS state of a settled TLS connection; ok is
// false for a plain one or before the handshake.
func (d *detectConn) ConnectionState() (state tls.ConnectionState, ok bool) {
	if !d.settled.Load() {
		return tls.ConnectionState{}, false
	}
	if tc, isTLS := d.conn.(*tls.Conn); isTLS {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// IsTLS reports whether nc, as WrapConn returned it, turned out to be a
// TLS connection (false until its first byte arrived).
func IsTLS(nc net.Conn) bool {
	d, ok := nc.(*detectConn)
	if !ok {
		_, ok = nc.(*tls.Conn)
		return ok
	}
	_, ok = d.ConnectionState()
	return ok
}

// prefixConn gives back the byte the detection read, then reads the
// socket.
type prefixConn struct {
	net.Conn
	first   byte
	pending bool
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.pending && len(p) > 0 {
		p[0] = c.first
		c.pending = false
		return 1, nil
	}
	return c.Conn.Read(p)
}
