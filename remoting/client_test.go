package remoting

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// long is a timeout no healthy test gets near; tests never assert that
// something is fast, only that it happens.
const long = 20 * time.Second

// testServer is a remoting server on 127.0.0.1 whose behaviour is the
// handler of the test; conns delivers each accepted connection.
type testServer struct {
	addr  string
	conns chan *Conn
}

func startTestServer(t *testing.T, handle func(conn *Conn, req *Command)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{addr: ln.Addr().String(), conns: make(chan *Conn, 16)}
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
			conn := NewConn(nc, ConnOptions{})
			mu.Lock()
			open = append(open, conn)
			mu.Unlock()
			select {
			case s.conns <- conn:
			default:
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = conn.ReadLoop(func(req *Command) { handle(conn, req) })
				conn.Close(nil)
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

// echo answers every request with its extFields.
func echo(conn *Conn, req *Command) {
	if req.IsOneway() {
		return
	}
	resp := NewResponse(req, Success, "")
	req.RangeExt(func(k, v string) bool {
		resp.SetExt(k, v)
		return true
	})
	_ = conn.Send(resp)
}

func dialTest(t *testing.T, addr string, opts ClientOptions) *Client {
	t.Helper()
	c, err := Dial(context.Background(), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func pendingCalls(c *Client) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(long):
		t.Fatalf("%s not closed", what)
	}
}

func TestClientInvoke(t *testing.T) {
	s := startTestServer(t, echo)
	c := dialTest(t, s.addr, ClientOptions{})
	if c.Addr() != s.addr {
		t.Fatalf("Addr %q, want %q", c.Addr(), s.addr)
	}
	for _, st := range serializations {
		req := NewRequest(GetRouteInfoByTopic, map[string]string{"topic": "T"}, nil)
		req.Serialize = st
		resp, err := c.Invoke(context.Background(), req, long)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ResponseCode() != Success || resp.Ext("topic") != "T" || resp.Serialize != st || !resp.IsResponse() {
			t.Fatalf("%s: response %s", st, dump(resp))
		}
		if req.Opaque != 0 || req.Flag != 0 {
			t.Fatalf("Invoke modified the request: %s", dump(req))
		}
	}
	if n := pendingCalls(c); n != 0 {
		t.Fatalf("%d calls left pending", n)
	}
}

// TestClientOutOfOrder answers a burst of concurrent calls in reverse
// order: each caller must get its own answer, matched by opaque only.
func TestClientOutOfOrder(t *testing.T) {
	const n = 64
	var (
		mu    sync.Mutex
		held  []*Command
		first *Conn
	)
	s := startTestServer(t, func(conn *Conn, req *Command) {
		mu.Lock()
		defer mu.Unlock()
		first = conn
		held = append(held, req)
		if len(held) < n {
			return
		}
		seen := map[int32]bool{}
		for i := len(held) - 1; i >= 0; i-- {
			r := held[i]
			if seen[r.Opaque] || r.Opaque == 0 {
				panic("opaque reused or zero: " + strconv.Itoa(int(r.Opaque)))
			}
			seen[r.Opaque] = true
			resp := NewResponse(r, Success, "")
			resp.SetExt("i", r.Ext("i"))
			_ = first.Send(resp)
		}
		held = nil
	})
	c := dialTest(t, s.addr, ClientOptions{})

	var wg sync.WaitGroup
	errs := make(chan error, n)
	var asyncOK atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := strconv.Itoa(i)
			req := NewRequest(SendMessage, map[string]string{"i": want}, []byte(want))
			if i%2 == 0 {
				resp, err := c.Invoke(context.Background(), req, long)
				if err != nil {
					errs <- err
				} else if resp.Ext("i") != want {
					errs <- errors.New("call " + want + " got the answer to " + resp.Ext("i"))
				}
				return
			}
			done := make(chan struct{})
			err := c.InvokeAsync(req, long, func(resp *Command, err error) {
				defer close(done)
				if err != nil {
					errs <- err
				} else if resp.Ext("i") != want {
					errs <- errors.New("async call " + want + " got the answer to " + resp.Ext("i"))
				} else {
					asyncOK.Add(1)
				}
			})
			if err != nil {
				errs <- err
				return
			}
			<-done
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if asyncOK.Load() != n/2 {
		t.Fatalf("%d async calls answered, want %d", asyncOK.Load(), n/2)
	}
	if p := pendingCalls(c); p != 0 {
		t.Fatalf("%d calls left pending", p)
	}
}

// TestClientTimeout: a call the server never answers times out, leaves
// nothing behind, and its late answer is dropped.
func TestClientTimeout(t *testing.T) {
	var answer atomic.Bool
	late := make(chan *Command, 4)
	s := startTestServer(t, func(conn *Conn, req *Command) {
		if answer.Load() {
			echo(conn, req)
			return
		}
		late <- req
	})
	c := dialTest(t, s.addr, ClientOptions{})

	req := NewRequest(PullMessage, map[string]string{"topic": "T"}, nil)
	_, err := c.Invoke(context.Background(), req, 30*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "invoke PULL_MESSAGE on "+s.addr) {
		t.Fatalf("error %q lacks the call's context", err)
	}

	var calls atomic.Int32
	gotErr := make(chan error, 4)
	if err := c.InvokeAsync(req, 30*time.Millisecond, func(resp *Command, err error) {
		calls.Add(1)
		gotErr <- err
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-gotErr:
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("async: got %v, want ErrTimeout", err)
		}
	case <-time.After(long):
		t.Fatal("async callback never called")
	}
	if n := pendingCalls(c); n != 0 {
		t.Fatalf("%d calls left pending after timeouts", n)
	}

	// The late answers arrive and are dropped; the connection lives on.
	conn := <-s.conns
	for range 2 {
		r := <-late
		_ = conn.Send(NewResponse(r, Success, "too late"))
	}
	answer.Store(true)
	resp, err := c.Invoke(context.Background(), req, long)
	if err != nil || resp.Remark == "too late" {
		t.Fatalf("after late answers: %v %v", resp, err)
	}
	if calls.Load() != 1 {
		t.Fatalf("async callback called %d times", calls.Load())
	}
}

func TestClientContextCancel(t *testing.T) {
	s := startTestServer(t, func(*Conn, *Command) {})
	c := dialTest(t, s.addr, ClientOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for pendingCalls(c) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := c.Invoke(ctx, NewRequest(HeartBeat, nil, nil), 0)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if _, err := c.Invoke(ctx, NewRequest(HeartBeat, nil, nil), long); !errors.Is(err, context.Canceled) {
		t.Fatalf("already cancelled: %v", err)
	}
	if n := pendingCalls(c); n != 0 {
		t.Fatalf("%d calls left pending", n)
	}
}

// TestClientServerClose: the server drops the connection with calls in
// flight; every one fails with ErrClosed, and so does every later call.
func TestClientServerClose(t *testing.T) {
	const n = 10
	var got atomic.Int32
	s := startTestServer(t, func(conn *Conn, req *Command) {
		if got.Add(1) == n {
			conn.Close(nil)
		}
	})
	c := dialTest(t, s.addr, ClientOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		req := NewRequest(SendMessage, nil, nil)
		if i%2 == 0 {
			go func() {
				defer wg.Done()
				_, err := c.Invoke(context.Background(), req, long)
				errs <- err
			}()
			continue
		}
		if err := c.InvokeAsync(req, long, func(_ *Command, err error) { errs <- err; wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("got %v, want ErrClosed", err)
		}
	}
	waitClosed(t, c.Done(), "Done")

	if _, err := c.Invoke(context.Background(), NewRequest(HeartBeat, nil, nil), long); !errors.Is(err, ErrClosed) {
		t.Fatalf("Invoke after close: %v", err)
	}
	called := false
	if err := c.InvokeAsync(NewRequest(HeartBeat, nil, nil), long, func(*Command, error) { called = true }); !errors.Is(err, ErrClosed) {
		t.Fatalf("InvokeAsync after close: %v", err)
	}
	if err := c.InvokeOneway(NewRequest(HeartBeat, nil, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("InvokeOneway after close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close after the peer closed: %v", err)
	}
	if called {
		t.Fatal("InvokeAsync returned an error and called back")
	}
}

func TestClientClose(t *testing.T) {
	s := startTestServer(t, func(*Conn, *Command) {})
	c := dialTest(t, s.addr, ClientOptions{})
	errs := make(chan error, 2)
	go func() {
		_, err := c.Invoke(context.Background(), NewRequest(PullMessage, nil, nil), long)
		errs <- err
	}()
	if err := c.InvokeAsync(NewRequest(PullMessage, nil, nil), long, func(_ *Command, err error) { errs <- err }); err != nil {
		t.Fatal(err)
	}
	for pendingCalls(c) < 2 {
		time.Sleep(time.Millisecond)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Fatalf("pending call: %v, want ErrClosed", err)
		}
	}
	waitClosed(t, c.Done(), "Done")
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestClientFrameTooLarge: an answer over MaxFrameSize ends the connection
// and the calls on it fail saying why.
func TestClientFrameTooLarge(t *testing.T) {
	s := startTestServer(t, func(conn *Conn, req *Command) {
		resp := NewResponse(req, Success, "")
		resp.Body = make([]byte, 8192)
		_ = conn.Send(resp)
	})
	c := dialTest(t, s.addr, ClientOptions{MaxFrameSize: 4096})
	_, err := c.Invoke(context.Background(), NewRequest(PullMessage, nil, nil), long)
	if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrClosed and ErrFrameTooLarge", err)
	}
}

func TestClientOneway(t *testing.T) {
	got := make(chan *Command, 1)
	s := startTestServer(t, func(conn *Conn, req *Command) { got <- req })
	c := dialTest(t, s.addr, ClientOptions{})
	req := NewRequest(UpdateConsumerOffset, map[string]string{"commitOffset": "7"}, nil)
	if err := c.InvokeOneway(req); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if !r.IsOneway() || r.IsResponse() || r.Opaque <= 0 || r.Ext("commitOffset") != "7" {
		t.Fatalf("server got %s", dump(r))
	}
	if req.Flag != 0 {
		t.Fatalf("InvokeOneway modified the request: %s", dump(req))
	}
}

// TestClientOnRequest: server-initiated requests reach OnRequest, which
// answers through Send.
func TestClientOnRequest(t *testing.T) {
	responses := make(chan *Command, 4)
	s := startTestServer(t, func(conn *Conn, cmd *Command) {
		if cmd.IsResponse() {
			responses <- cmd
		}
	})
	handled := make(chan *Command, 4)
	c := dialTest(t, s.addr, ClientOptions{OnRequest: func(c *Client, req *Command) {
		handled <- req
		if !req.IsOneway() {
			resp := NewResponse(req, Success, "")
			resp.Body = []byte(`{"running":true}`)
			if err := c.Send(resp); err != nil {
				panic(err)
			}
		}
	}})
	conn := <-s.conns

	notify := NewRequest(NotifyConsumerIDsChanged, map[string]string{"consumerGroup": "g"}, nil)
	notify.Opaque, notify.Flag = 100, FlagOneway
	info := NewRequest(RequestCode(307), nil, nil) // GET_CONSUMER_RUNNING_INFO
	info.Opaque = 101
	_ = conn.Send(notify)
	_ = conn.Send(info)

	got := map[int32]*Command{}
	for range 2 {
		r := <-handled
		got[r.Opaque] = r
	}
	if got[100].RequestCode() != NotifyConsumerIDsChanged || got[100].Ext("consumerGroup") != "g" || got[101] == nil {
		t.Fatalf("handled %v", got)
	}
	resp := <-responses
	if resp.Opaque != 101 || resp.ResponseCode() != Success || string(resp.Body) != `{"running":true}` {
		t.Fatalf("answer %s", dump(resp))
	}
	select {
	case r := <-responses:
		t.Fatalf("one-way request answered: %s", dump(r))
	default:
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestClientNoOnRequest: without a handler, requests get Java's answer
// and one-way requests none.
func TestClientNoOnRequest(t *testing.T) {
	responses := make(chan *Command, 4)
	s := startTestServer(t, func(conn *Conn, cmd *Command) {
		if cmd.IsResponse() {
			responses <- cmd
		}
	})
	dialTest(t, s.addr, ClientOptions{})
	conn := <-s.conns
	oneway := NewRequest(NotifyConsumerIDsChanged, nil, nil)
	oneway.Opaque, oneway.Flag = 1, FlagOneway
	req := NewRequest(RequestCode(307), nil, nil)
	req.Opaque = 2
	_ = conn.Send(oneway)
	_ = conn.Send(req)
	resp := <-responses
	if resp.Opaque != 2 || resp.ResponseCode() != RequestCodeNotSupported || resp.Remark != " request type 307 not supported" {
		t.Fatalf("answer %s", dump(resp))
	}
}

func TestClientRejectsBadSerialize(t *testing.T) {
	s := startTestServer(t, echo)
	c := dialTest(t, s.addr, ClientOptions{})
	req := NewRequest(HeartBeat, nil, nil)
	req.Serialize = 9
	if _, err := c.Invoke(context.Background(), req, long); !errors.Is(err, ErrSerializeType) {
		t.Fatalf("Invoke: %v", err)
	}
	if err := c.InvokeAsync(req, long, nil); !errors.Is(err, ErrSerializeType) {
		t.Fatalf("InvokeAsync: %v", err)
	}
	if err := c.InvokeOneway(req); !errors.Is(err, ErrSerializeType) {
		t.Fatalf("InvokeOneway: %v", err)
	}
	if n := pendingCalls(c); n != 0 {
		t.Fatalf("%d calls left pending", n)
	}
}

func TestDialFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Dial(context.Background(), addr, ClientOptions{DialTimeout: long})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("dial a closed port: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Dial(ctx, addr, ClientOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a cancelled context: %v", err)
	}
}

// TestConnSendAfterClose covers the Conn contract the client relies on.
func TestConnSendAfterClose(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	conn := NewConn(a, ConnOptions{})
	reason := errors.New("test over")
	conn.Close(reason)
	conn.Close(errors.New("second reason"))
	if err := conn.Send(NewRequest(HeartBeat, nil, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if conn.Err() != reason {
		t.Fatalf("Err %v, want the first reason", conn.Err())
	}
	waitClosed(t, conn.Done(), "Conn.Done")
	if err := conn.ReadLoop(func(*Command) { t.Error("frame after close") }); err != nil {
		t.Fatalf("ReadLoop on a closed conn: %v", err)
	}
}
