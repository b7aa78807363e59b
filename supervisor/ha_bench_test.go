package supervisor_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// BenchmarkHASend compares, in one run, 64 publishers waiting on
// rocketmq-client-go's SendSync (1 KiB bodies) against a master with no
// slave, an ASYNC_MASTER with a slave following, and a SYNC_MASTER whose
// every answer waits for the slave's acknowledgement. Read the ratios of
// the three, not the absolute figures (the machine is shared):
//
//	go test -run '^$' -bench BenchmarkHASend -benchtime 20000x -count 3 ./supervisor/
func BenchmarkHASend(b *testing.B) {
	for _, mode := range []string{"no-slave", "ASYNC_MASTER", "SYNC_MASTER"} {
		b.Run("role="+mode, func(b *testing.B) {
			role := mode
			if mode == "no-slave" {
				role = "ASYNC_MASTER"
			}
			mutate := func(c *supervisor.Config) { c.Store.MappedFileSizeCommitLog = 64 << 20 }
			var nsAddr string
			if mode == "no-slave" {
				ns, _ := startCluster(b, func(c *supervisor.Config) { c.BrokerRole = role; c.HAListenPort = 0; mutate(c) })
				nsAddr = ns.Addr()
			} else {
				ns, master, _ := haPair(b, role, mutate, nil)
				poll.Until(b, "slave connected", func() bool { return len(haNode(b, master, "ha-service").Children) == 1 })
				nsAddr = ns.Addr()
			}
			p := newProducer(b, nsAddr)
			const topic, senders = "HABench", 64
			body := make([]byte, 1024)
			for i := range body {
				body[i] = byte('a' + i%26)
			}
			send := func() error {
				res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, body))
				if err == nil && res.Status != primitive.SendOK {
					b.Errorf("send status %v", res.Status)
				}
				return err
			}
			for i := 0; i < 8; i++ {
				if err := send(); err != nil {
					b.Fatalf("warm-up send: %v", err)
				}
			}
			lat := make([][]time.Duration, senders)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for s := 0; s < senders; s++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						start := time.Now()
						if err := send(); err != nil {
							b.Errorf("send: %v", err)
							return
						}
						lat[s] = append(lat[s], time.Since(start))
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			if len(all) > 0 {
				b.ReportMetric(durMillis(all[len(all)/2]), "p50-ms")
				b.ReportMetric(durMillis(all[len(all)*99/100]), "p99-ms")
			}
		})
	}
}
