package remoting

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// boundsServer accepts connections on 127.0.0.1 and runs each as a Conn
// with the test's options and handler, reporting each Conn as it is made
// and the end of each ReadLoop.
type boundsServer struct {
	addr  string
	conns chan *Conn
	ends  chan connEnd
}

type connEnd struct {
	conn *Conn
	err  error
}

// startBoundsServer starts the server; setup, if not nil, tunes each
// accepted socket before its Conn is made.
func startBoundsServer(t *testing.T, opts ConnOptions, setup func(*net.TCPConn), handle func(*Conn, *Command)) *boundsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &boundsServer{addr: ln.Addr().String(), conns: make(chan *Conn, 1024), ends: make(chan connEnd, 1024)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []*Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if setup != nil {
				setup(nc.(*net.TCPConn))
			}
			conn := NewConn(nc, opts)
			mu.Lock()
			open = append(open, conn)
			mu.Unlock()
			s.conns <- conn
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := conn.ReadLoop(func(req *Command) { handle(conn, req) })
				conn.Close(nil)
				s.ends <- connEnd{conn, err}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close(nil)
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// next is the next connection the server accepted.
func (s *boundsServer) next(t *testing.T) *Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(long):
		t.Fatal("no connection accepted")
		return nil
	}
}

// end is the next ReadLoop to return.
func (s *boundsServer) end(t *testing.T) connEnd {
	t.Helper()
	select {
	case e := <-s.ends:
		return e
	case <-time.After(long):
		t.Fatal("no connection ended")
		return connEnd{}
	}
}

// dialPeer is a raw TCP peer, closed at the end of the test.
func dialPeer(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc.(*net.TCPConn)
}

// smallSocketBuffers keeps the kernel from absorbing much of what a Conn
// writes, so that a peer that does not read fills the Conn's queue after
// a few answers rather than after megabytes.
func smallSocketBuffers(nc *net.TCPConn) {
	_ = nc.SetWriteBuffer(64 << 10)
	_ = nc.SetReadBuffer(64 << 10)
}

// requestFrames encodes n requests with opaques 0..n-1 back to back.
func requestFrames(t *testing.T, n int) []byte {
	t.Helper()
	var out []byte
	for i := range n {
		req := NewRequest(HeartBeat, nil, nil)
		req.Opaque = int32(i)
		var err error
		if out, err = req.AppendFrame(out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// readAnswers reads n frames from a peer's socket and checks that they
// answer opaques 0..n-1 in order, each with a body of bodyLen(opaque)
// bytes.
func readAnswers(t *testing.T, nc net.Conn, n int, bodyLen func(int32) int) error {
	fr := NewFrameReader(nc, 0)
	for i := range n {
		c, err := fr.Next()
		if err != nil {
			return err
		}
		if c.Opaque != int32(i) || !c.IsResponse() || len(c.Body) != bodyLen(c.Opaque) {
			return fmt.Errorf("answer %d of %d: opaque %d, flag %d, %d body bytes: out of order or of the wrong size", i, n, c.Opaque, c.Flag, len(c.Body))
		}
	}
	return nil
}

// answerWith answers each request with body, recording the invariants a
// paused read must keep: no request is handled while reading is paused,
// and so the queue never passes the high mark by more than one answer.
type answerWith struct {
	body       func(req *Command) []byte
	high       int64
	handled    atomic.Int64
	whilePause atomic.Int64 // requests handled while ReadPaused
	overBound  atomic.Int64 // answers after which the queue passed the bound
}

func (a *answerWith) handle(conn *Conn, req *Command) {
	if conn.ReadPaused() {
		a.whilePause.Add(1)
	}
	a.handled.Add(1)
	resp := NewResponse(req, Success, "")
	resp.Body = a.body(req)
	_ = conn.Send(resp)
	if queued, _ := conn.Queued(); queued > a.high+int64(frameSizeEstimate(resp)) {
		a.overBound.Add(1)
	}
}

func (a *answerWith) check(t *testing.T) {
	t.Helper()
	if n := a.whilePause.Load(); n != 0 {
		t.Errorf("%d requests were handled while reading was paused", n)
	}
	if n := a.overBound.Load(); n != 0 {
		t.Errorf("%d times the queue passed the high mark by more than one answer", n)
	}
}

// A peer that sends requests but does not read the answers: the Conn
// stops reading requests once the queued answers pass the high mark, and
// reads the rest only after the peer has drained the queue below the low
// mark.
func TestConnPausesReadingAboveHighWaterMark(t *testing.T) {
	const (
		high     = 256 << 10
		low      = 128 << 10
		requests = 200
		bodyLen  = 64 << 10
	)
	body := bytes.Repeat([]byte{'a'}, bodyLen)
	a := &answerWith{body: func(*Command) []byte { return body }, high: high}
	s := startBoundsServer(t, ConnOptions{WriteBufferHighWaterMark: high, WriteBufferLowWaterMark: low},
		smallSocketBuffers, a.handle)
	peer := dialPeer(t, s.addr)
	smallSocketBuffers(peer)
	conn := s.next(t)
	if _, err := peer.Write(requestFrames(t, requests)); err != nil {
		t.Fatal(err)
	}

	pollUntil(t, "reading pauses", conn.ReadPaused)
	// (What is queued by now is not the figure the pause began with: the
	// kernel's buffers go on taking bytes. answerWith checks that each
	// answer found the queue within the high mark plus itself.)
	if conn.Backlogs() == 0 {
		t.Fatal("reading paused without a backlog")
	}
	// The requests are all in the server's socket buffer: while paused, the
	// Conn must not have read them. (How many it handled first depends on
	// what the kernel buffers absorb; 200 answers of 64 KiB are far more.)
	if h := a.handled.Load(); h >= requests {
		t.Fatalf("all %d requests handled although the peer read no answer", h)
	}

	// The peer drains: reading resumes and every request is answered.
	if err := readAnswers(t, peer, requests, func(int32) int { return bodyLen }); err != nil {
		t.Fatal(err)
	}
	a.check(t)
	pollUntil(t, "the queue empties", func() bool { b, n := conn.Queued(); return b == 0 && n == 0 })
	if conn.ReadPaused() || conn.Backlogged() || conn.Backlogs() == 0 {
		t.Fatalf("after draining: paused %v, backlogged %v, backlogs %d", conn.ReadPaused(), conn.Backlogged(), conn.Backlogs())
	}
	if err := conn.Err(); err != nil {
		t.Fatalf("connection closed: %v", err)
	}
}

// The count marks: one answer too large for the socket buffers holds the
// writer, and the small answers behind it pause reading once there are
// more of them than the high count, whatever their bytes.
func TestConnPausesReadingAboveHighWaterCount(t *testing.T) {
	const (
		highCount = 8
		requests  = 50
		bigLen    = 4 << 20
	)
	big := make([]byte, bigLen)
	bodyLen := func(opaque int32) int {
		if opaque == 0 {
			return bigLen
		}
		return 0
	}
	a := &answerWith{body: func(req *Command) []byte { return big[:bodyLen(req.Opaque)] }, high: 16 << 20}
	s := startBoundsServer(t, ConnOptions{WriteBufferHighWaterMark: 16 << 20, WriteBufferHighWaterCount: highCount},
		smallSocketBuffers, a.handle)
	peer := dialPeer(t, s.addr)
	smallSocketBuffers(peer)
	conn := s.next(t)
	if _, err := peer.Write(requestFrames(t, requests)); err != nil {
		t.Fatal(err)
	}

	pollUntil(t, "reading pauses", conn.ReadPaused)
	// The big answer is still being written (the peer reads nothing), so
	// the queue holds every answer: the one that passed the high count is
	// the last request read.
	if _, frames := conn.Queued(); frames != highCount+1 {
		t.Fatalf("paused with %d frames queued, want %d", frames, highCount+1)
	}
	if h := a.handled.Load(); h != highCount+1 {
		t.Fatalf("%d requests handled before the pause, want %d", h, highCount+1)
	}

	if err := readAnswers(t, peer, requests, bodyLen); err != nil {
		t.Fatal(err)
	}
	a.check(t)
	pollUntil(t, "reading resumes", func() bool { return !conn.ReadPaused() })
}

// A client's Conn keeps reading while backlogged: what waits is its own
// requests, and the answers it reads are what lets the server go on.
func TestConnNeverPauseReadsKeepsReading(t *testing.T) {
	const (
		highCount = 8
		requests  = 50
	)
	big := make([]byte, 4<<20)
	bodyLen := func(opaque int32) int {
		if opaque == 0 {
			return len(big)
		}
		return 0
	}
	a := &answerWith{body: func(req *Command) []byte { return big[:bodyLen(req.Opaque)] }, high: 1 << 62}
	s := startBoundsServer(t, ConnOptions{WriteBufferHighWaterMark: 16 << 20, WriteBufferHighWaterCount: highCount, NeverPauseReads: true},
		smallSocketBuffers, a.handle)
	peer := dialPeer(t, s.addr)
	smallSocketBuffers(peer)
	conn := s.next(t)
	if _, err := peer.Write(requestFrames(t, requests)); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "every request is read", func() bool { return a.handled.Load() == requests })
	if !conn.Backlogged() || conn.ReadPaused() {
		t.Fatalf("backlogged %v, paused %v; want backlogged and reading", conn.Backlogged(), conn.ReadPaused())
	}
	if err := readAnswers(t, peer, requests, bodyLen); err != nil {
		t.Fatal(err)
	}
}

// A peer that never reads is disconnected once its answers have stayed
// above the low mark for the drain timeout; the reason says so, through
// Err and ReadLoop alike, and the queued answers are dropped.
func TestConnClosesWhenAnswersDoNotDrain(t *testing.T) {
	const (
		high    = 128 << 10
		bodyLen = 64 << 10
	)
	body := make([]byte, bodyLen)
	a := &answerWith{body: func(*Command) []byte { return body }, high: high}
	s := startBoundsServer(t, ConnOptions{WriteBufferHighWaterMark: high, WriteBufferDrainTimeout: 50 * time.Millisecond},
		smallSocketBuffers, a.handle)
	peer := dialPeer(t, s.addr)
	smallSocketBuffers(peer)
	conn := s.next(t)
	if _, err := peer.Write(requestFrames(t, 50)); err != nil {
		t.Fatal(err)
	}

	end := s.end(t)
	if end.conn != conn {
		t.Fatal("another connection ended")
	}
	for _, err := range []error{end.err, conn.Err()} {
		if !errors.Is(err, ErrWriteBacklog) || !strings.Contains(err.Error(), peer.LocalAddr().String()) {
			t.Fatalf("reason %v: want ErrWriteBacklog naming the peer %s", err, peer.LocalAddr())
		}
	}
	select {
	case <-conn.Done():
	default:
		t.Fatal("Done not closed")
	}
	if b, n := conn.Queued(); b != 0 || n != 0 || conn.ReadPaused() {
		t.Fatalf("after close: %d bytes in %d frames queued, paused %v", b, n, conn.ReadPaused())
	}
	if err := conn.Send(NewRequest(HeartBeat, nil, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after close: %v", err)
	}
	a.check(t)
	// The peer finds the connection gone once it reads what reached it.
	_ = peer.SetReadDeadline(time.Now().Add(long))
	if _, err := io.Copy(io.Discard, peer); err != nil && !errors.Is(err, net.ErrClosed) && !isConnReset(err) {
		t.Fatalf("peer: %v", err)
	}
}

func isConnReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

func TestConnReadIdleTimeout(t *testing.T) {
	s := startBoundsServer(t, ConnOptions{ReadIdleTimeout: 20 * time.Millisecond}, nil, func(*Conn, *Command) {})
	dialPeer(t, s.addr)
	if end := s.end(t); !errors.Is(end.err, ErrIdle) {
		t.Fatalf("ReadLoop: %v, want ErrIdle", end.err)
	}
}

// A peer that keeps sending is never idle, though the read deadline is
// moved only now and then (deadline): requests every fifth of the idle
// limit, for five limits, keep the connection open.
func TestConnReadIdleTimeoutMovesWithReads(t *testing.T) {
	const idle = 300 * time.Millisecond
	s := startBoundsServer(t, ConnOptions{ReadIdleTimeout: idle}, nil, func(*Conn, *Command) {})
	nc := dialPeer(t, s.addr)
	frame := requestFrames(t, 1)
	for end := time.Now().Add(5 * idle); time.Now().Before(end); time.Sleep(idle / 5) {
		if _, err := nc.Write(frame); err != nil {
			t.Fatalf("write: %v", err)
		}
		select {
		case e := <-s.ends:
			t.Fatalf("a connection read every %v closed with idle limit %v: %v", idle/5, idle, e.err)
		default:
		}
	}
	if end := s.end(t); !errors.Is(end.err, ErrIdle) {
		t.Fatalf("ReadLoop once the peer stopped: %v, want ErrIdle", end.err)
	}
}

func TestConnOptionDefaults(t *testing.T) {
	o := ConnOptions{}.withDefaults()
	if o.WriteBufferHighWaterMark != DefaultWriteBufferHighWaterMark || o.WriteBufferLowWaterMark != DefaultWriteBufferLowWaterMark ||
		o.WriteBufferHighWaterCount != DefaultWriteBufferHighWaterCount || o.WriteBufferLowWaterCount != DefaultWriteBufferLowWaterCount ||
		o.WriteTimeout != DefaultWriteTimeout || o.WriteBufferDrainTimeout != DefaultWriteTimeout ||
		o.ConnFrameBudget != DefaultConnFrameBudget || o.MaxFrameSize != DefaultMaxFrameSize {
		t.Fatalf("defaults: %+v", o)
	}
	o = ConnOptions{WriteBufferHighWaterMark: 1000, WriteBufferHighWaterCount: 10, WriteBufferLowWaterCount: 50, WriteTimeout: time.Second}.withDefaults()
	if o.WriteBufferLowWaterMark != 500 || o.WriteBufferLowWaterCount != 10 || o.WriteBufferDrainTimeout != time.Second {
		t.Fatalf("derived: low %d, low count %d, drain %s", o.WriteBufferLowWaterMark, o.WriteBufferLowWaterCount, o.WriteBufferDrainTimeout)
	}
}

// One answer larger than the high mark backlogs the connection, but
// while it is being written nothing waits behind it: AnswersWaiting, what
// a pull asks before it reads messages for the peer, stays false until a
// second answer queues up behind the first.
func TestConnAnswersWaitingIgnoresTheFrameBeingWritten(t *testing.T) {
	const bigLen = 4 << 20
	big := make([]byte, bigLen)
	a := &answerWith{body: func(*Command) []byte { return big }, high: 1 << 62}
	s := startBoundsServer(t, ConnOptions{WriteBufferHighWaterMark: 64 << 10, NeverPauseReads: true},
		smallSocketBuffers, a.handle)
	peer := dialPeer(t, s.addr)
	smallSocketBuffers(peer)
	conn := s.next(t)
	frames := requestFrames(t, 2)
	half := len(frames) / 2
	if _, err := peer.Write(frames[:half]); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the first answer is being written", func() bool { return conn.Backlogged() && !conn.AnswersWaiting() })
	if _, err := peer.Write(frames[half:]); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the second answer waits behind the first", conn.AnswersWaiting)
	if err := readAnswers(t, peer, 2, func(int32) int { return bigLen }); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the queue drains", func() bool { return !conn.Backlogged() && !conn.AnswersWaiting() })
}
