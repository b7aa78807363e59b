package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-mq/sluice/remoting"
)

// stub is an in-test remoting server on 127.0.0.1 with an OS-picked port:
// a stand-in broker or name server. handle runs on the connection's read
// goroutine and answers at once; nil means no answer.
type stub struct {
	ln     net.Listener
	handle func(*remoting.Command) *remoting.Command
	sends  atomic.Int64 // SEND_MESSAGE requests seen

	mu    sync.Mutex
	conns []*remoting.Conn
	last  *remoting.Command // the last SEND_MESSAGE, for header checks
}

func startStub(t testing.TB, handle func(*remoting.Command) *remoting.Command) *stub {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stub{ln: ln, handle: handle}
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *stub) addr() string { return s.ln.Addr().String() }

func (s *stub) accept() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := remoting.NewConn(nc, remoting.ConnOptions{})
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go func() {
			_ = c.ReadLoop(func(cmd *remoting.Command) {
				if cmd.RequestCode() == remoting.SendMessage {
					s.sends.Add(1)
					s.mu.Lock()
					s.last = cmd
					s.mu.Unlock()
				}
				if resp := s.handle(cmd); resp != nil {
					_ = c.Send(resp)
				}
			})
			c.Close(nil)
		}()
	}
}

func (s *stub) lastSend() *remoting.Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *stub) close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close(nil)
	}
}

// brokerAnswering is a stub broker answering every SEND_MESSAGE with code
// and remark, with the response header a broker sends on success.
func brokerAnswering(t testing.TB, code remoting.ResponseCode, remark string) *stub {
	var offset atomic.Int64
	return startStub(t, func(req *remoting.Command) *remoting.Command {
		resp := remoting.NewResponse(req, code, remark)
		if code == remoting.Success {
			resp.ExtFields = map[string]string{
				"msgId": "7F00000100002A9F0000000000000000", "queueId": req.Ext("queueId"),
				"queueOffset": fmt.Sprint(offset.Add(1)), "MSG_REGION": "DefaultRegion", "TRACE_ON": "true",
			}
		}
		return resp
	})
}

// stubBroker names a stub broker in a route.
type stubBroker struct {
	name   string
	addr   string
	queues int
}

// routeJSON is a TopicRouteData body as Sluice's name server writes it.
func routeJSON(brokers ...stubBroker) []byte {
	var bd, qd []string
	for _, b := range brokers {
		bd = append(bd, fmt.Sprintf(`{"brokerAddrs":{"0":%q},"brokerName":%q,"cluster":"DefaultCluster"}`, b.addr, b.name))
		qd = append(qd, fmt.Sprintf(`{"brokerName":%q,"perm":6,"readQueueNums":%d,"topicSysFlag":0,"writeQueueNums":%d}`, b.name, b.queues, b.queues))
	}
	return []byte(`{"brokerDatas":[` + strings.Join(bd, ",") + `],"filterServerTable":{},"queueDatas":[` + strings.Join(qd, ",") + `]}`)
}

// nameServer answers GET_ROUTEINFO_BY_TOPIC from routes by topic, and
// TOPIC_NOT_EXIST for the others.
func nameServer(t testing.TB, routes map[string][]byte) *stub {
	return startStub(t, func(req *remoting.Command) *remoting.Command {
		if req.RequestCode() != remoting.GetRouteInfoByTopic {
			return remoting.NewResponse(req, remoting.RequestCodeNotSupported, "not supported")
		}
		body, ok := routes[req.Ext("topic")]
		if !ok {
			return remoting.NewResponse(req, remoting.TopicNotExist,
				"No topic route info in name server for the topic: "+req.Ext("topic")+"\nSee http://rocketmq.apache.org/docs/faq/ for further details.")
		}
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = body
		return resp
	})
}

// produce runs sluice-producer in-process and returns the exit status and
// what it wrote.
func produce(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runContext(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// produceJSON runs with --json and decodes the summary.
func produceJSON(t testing.TB, args ...string) *summary {
	t.Helper()
	code, out, errOut := produce(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var s summary
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one document on stdout:\n%s", out)
	}
	return &s
}
