package supervisor_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// BenchmarkPipeline measures requests per second through connection actor →
// trivial processor actor → connection actor over loopback, against a
// baseline in the same run: a plain-goroutine echo server with the same
// codec and batching writer but no actors. The ratio is the cost of the
// actor hops.
func BenchmarkPipeline(b *testing.B) {
	for _, conns := range []int{1, 64} {
		b.Run(fmt.Sprintf("server=actors/conns=%d", conns), func(b *testing.B) {
			cfg := brokertest.Config(b)
			p := echoProcessor()
			p.Capacity = 1 << 20
			br := brokertest.Start(b, cfg, supervisor.Options{Processors: []*actors.Processor{p}})
			drive(b, br.Addr(), conns)
		})
		b.Run(fmt.Sprintf("server=goroutines/conns=%d", conns), func(b *testing.B) {
			drive(b, echoServer(b), conns)
		})
	}
}

// drive sends b.N echo requests from 64 goroutines spread over conns
// connections, each waiting for its answer before sending the next.
func drive(b *testing.B, addr string, conns int) {
	const senders = 64
	clients := make([]*remoting.Client, conns)
	for i := range clients {
		clients[i] = dial(b, addr)
	}
	body := make([]byte, 128)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(c *remoting.Client) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				resp, err := c.Invoke(context.Background(), remoting.NewRequest(codeEcho, map[string]string{"k": "v"}, body), 10*time.Second)
				if err != nil || resp.ResponseCode() != remoting.Success {
					b.Errorf("invoke: %v %v", err, resp)
					return
				}
			}
		}(clients[s%conns])
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// echoServer is the baseline: one reader goroutine per connection decodes
// and answers on the spot through the same batching writer.
func echoServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c := remoting.NewConn(nc, remoting.ConnOptions{})
				_ = c.ReadLoop(func(cmd *remoting.Command) {
					resp := remoting.NewResponse(cmd, remoting.Success, "")
					resp.Body = cmd.Body
					_ = c.Send(resp)
				})
				c.Close(nil)
			}()
		}
	}()
	return ln.Addr().String()
}
