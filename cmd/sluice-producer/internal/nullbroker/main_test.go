package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dial(t *testing.T, addr string) *remoting.Client {
	t.Helper()
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The route names the broker; sends, pipelined on one connection, are each
// answered SEND_OK with their own queue and a growing offset; anything
// else is refused, not acknowledged.
func TestNullBrokerAnswers(t *testing.T) {
	ns, br := listen(t), listen(t)
	s := newServer(br.Addr().String(), 4)
	go s.accept(ns, s.route)
	go s.accept(br, s.send)

	route, err := dial(t, ns.Addr().String()).Invoke(context.Background(),
		remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": "T"}, nil), 3*time.Second)
	if err != nil || route.ResponseCode() != remoting.Success || !strings.Contains(string(route.Body), br.Addr().String()) {
		t.Fatalf("route %v: %+v", err, route)
	}

	b := dial(t, br.Addr().String())
	const n = 200
	var wg sync.WaitGroup
	offsets := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		q := string(rune('0' + i%4))
		err := b.InvokeAsync(remoting.NewRequest(remoting.SendMessage, map[string]string{"topic": "T", "queueId": q}, []byte("body")),
			3*time.Second, func(resp *remoting.Command, err error) {
				defer wg.Done()
				if err != nil || resp.ResponseCode() != remoting.Success || resp.Ext("queueId") != q {
					t.Errorf("send to queue %s: %v %+v", q, err, resp)
					return
				}
				offsets <- resp.Ext("queueOffset")
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(offsets)
	seen := map[string]bool{}
	for o := range offsets {
		seen[o] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct queue offsets for %d sends", len(seen), n)
	}

	pull, err := b.Invoke(context.Background(), remoting.NewRequest(remoting.PullMessage, map[string]string{"topic": "T"}, nil), 3*time.Second)
	if err != nil || pull.ResponseCode() != remoting.RequestCodeNotSupported {
		t.Fatalf("pull %v: %+v", err, pull)
	}
}

// A frame larger than one read step is read in steps into the reused
// buffer and answered like any other.
func TestNullBrokerLargeFrame(t *testing.T) {
	br := listen(t)
	s := newServer(br.Addr().String(), 1)
	go s.accept(br, s.send)
	b := dial(t, br.Addr().String())
	for _, size := range []int{3*frameStep + 17, 10} {
		resp, err := b.Invoke(context.Background(),
			remoting.NewRequest(remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0"}, make([]byte, size)), 3*time.Second)
		if err != nil || resp.ResponseCode() != remoting.Success {
			t.Fatalf("send of %d bytes: %v %+v", size, err, resp)
		}
	}
}
