package supervisor_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/supervisor"
)

// BenchmarkGoClientSend is the whole send path as users see it: 64
// goroutines calling rocketmq-client-go's SendSync with 1 KiB bodies on one
// shared producer, through the name server's route, to one broker. b.N is
// the total number of messages; bound it, the client is slow to start:
//
//	go test -run '^$' -bench BenchmarkGoClientSend -benchtime 20000x -count 5 ./supervisor/
func BenchmarkGoClientSend(b *testing.B) {
	for _, flush := range []commitlog.FlushDiskType{commitlog.AsyncFlush, commitlog.SyncFlush} {
		name := "flush=async"
		if flush == commitlog.SyncFlush {
			name = "flush=sync"
		}
		b.Run(name, func(b *testing.B) {
			ns, _ := startCluster(b, func(c *supervisor.Config) {
				c.Store.FlushDiskType = flush
				c.Store.MappedFileSizeCommitLog = 64 << 20
			})
			p := newProducer(b, ns.Addr())
			benchWaitingPublishers(b, p, "SendBench", 64)
		})
	}
}

// benchWaitingPublishers runs b.N 1 KiB SendSyncs to topic from senders
// goroutines, each waiting for its answer before the next send, and
// reports msgs/s and the p50/p99 answer times.
func benchWaitingPublishers(b *testing.B, p rocketmq.Producer, topic string, senders int) {
	b.Helper()
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
	// Warm up: the route, the topic's auto-creation, the connection.
	for i := 0; i < 8; i++ {
		if err := send(); err != nil {
			b.Fatalf("warm-up send: %v", err)
		}
	}
	lat := make([][]time.Duration, senders)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
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
}

func durMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
