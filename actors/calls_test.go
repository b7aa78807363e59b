package actors

import (
	"bufio"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
)

// A broker-initiated call ends exactly once: with the client's answer,
// after its timeout, or when the connection closes.
func TestConnectionInvoke(t *testing.T) {
	brokerSide, clientSide := net.Pipe()
	conn := remoting.NewConn(brokerSide, remoting.ConnOptions{})
	defer conn.Close(nil)
	c := &Connection{conn: conn, calls: &calls{}}

	// The client answers only requests whose opaque is odd.
	go func() {
		fr := remoting.NewFrameReader(bufio.NewReader(clientSide), 0)
		for {
			req, err := fr.Next()
			if err != nil {
				return
			}
			if req.Opaque%2 == 1 {
				frame, _ := remoting.Encode(remoting.NewResponse(req, remoting.Success, "ok"))
				if _, err := clientSide.Write(frame); err != nil {
					return
				}
			}
		}
	}()
	// The client's answers come back through what the connection actor
	// does with a response.
	go func() {
		_ = conn.ReadLoop(func(cmd *remoting.Command) { c.calls.complete(cmd) })
	}()

	type outcome struct {
		resp *remoting.Command
		err  error
	}
	results := make(chan outcome, 4)
	var calls atomic.Int32
	done := func(resp *remoting.Command, err error) {
		calls.Add(1)
		results <- outcome{resp, err}
	}
	c.Invoke(remoting.NewRequest(remoting.PushReplyMessageToClient, nil, nil), 5*time.Second, done) // opaque 1: answered
	if o := <-results; o.err != nil || o.resp.Remark != "ok" {
		t.Fatalf("answered call: %+v", o)
	}
	c.Invoke(remoting.NewRequest(remoting.PushReplyMessageToClient, nil, nil), 50*time.Millisecond, done) // opaque 2: silent
	if o := <-results; o.err == nil {
		t.Fatalf("unanswered call succeeded: %+v", o)
	}
	c.Invoke(remoting.NewRequest(remoting.PushReplyMessageToClient, nil, nil), time.Hour, done) // opaque 3: answered
	<-results
	c.Invoke(remoting.NewRequest(remoting.PushReplyMessageToClient, nil, nil), time.Hour, done) // opaque 4: pending
	c.calls.closeAll(errClosedForTest)
	if o := <-results; o.err != errClosedForTest {
		t.Fatalf("call pending at close: %+v", o)
	}
	c.Invoke(remoting.NewRequest(remoting.PushReplyMessageToClient, nil, nil), time.Hour, done)
	if o := <-results; o.err != errClosedForTest {
		t.Fatalf("call after close: %+v", o)
	}
	if n := calls.Load(); n != 5 {
		t.Fatalf("done ran %d times for 5 calls", n)
	}
}

var errClosedForTest = &closedErr{}

type closedErr struct{}

func (*closedErr) Error() string { return "closed for the test" }
