package supervisor_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/sluice-mq/sluice/remoting"
	pb "github.com/sluice-mq/sluice/remoting/rmqv2"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// BenchmarkFrontSend sends 1 KiB messages to one broker through each
// front in the same run, from 16 goroutines: SEND_MESSAGE on one remoting
// connection, and the gRPC front's SendMessage (which translates to the
// same SEND_MESSAGE and the same processor) on one gRPC connection. It
// reports msg/s and the process's CPU per message (client and broker
// together, both in this process), so compare the two fronts' ratios, not
// absolute figures:
//
//	go test -run '^$' -bench BenchmarkFrontSend -benchmem -benchtime 20000x -count 3 ./supervisor/
func BenchmarkFrontSend(b *testing.B) {
	body := make([]byte, 1024)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	const topic = "FrontBench"
	start := func(b *testing.B) *brokertest.Broker {
		cfg := brokertest.Config(b)
		cfg.GRPCServerPort = freePort(b)
		cfg.Store.MappedFileSizeCommitLog = 64 << 20
		br := brokertest.Start(b, cfg, supervisor.Options{})
		createTopic(b, br.Addr(), topic, 4)
		return br
	}
	run := func(b *testing.B, send func(i int64) error) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		b.SetParallelism(8) // 8 × GOMAXPROCS goroutines
		var seq atomic.Int64
		cpu0 := cpuTime()
		t0 := time.Now()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := send(seq.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		el := time.Since(t0)
		b.ReportMetric(float64(b.N)/el.Seconds(), "msg/s")
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
	}
	b.Run("front=remoting", func(b *testing.B) {
		br := start(b)
		c := dial(b, br.Addr())
		run(b, func(i int64) error {
			req := remoting.NewRequest(remoting.SendMessage, sendHeader(topic, int(i%4), "UNIQ_KEY\x01R"+strconv.FormatInt(i, 10)+"\x02"), body)
			resp, err := c.Invoke(context.Background(), req, 10*time.Second)
			if err == nil && resp.ResponseCode() != remoting.Success {
				b.Errorf("send: %s %q", resp.ResponseCode(), resp.Remark)
			}
			return err
		})
	})
	b.Run("front=grpc", func(b *testing.B) {
		br := start(b)
		c := grpcClient(b, br)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-mq-client-id", "bench")
		run(b, func(i int64) error {
			m := goodMessage(topic, "G"+strconv.FormatInt(i, 10))
			m.Body = body
			resp, err := c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{m}})
			if err == nil && resp.GetStatus().GetCode() != pb.Code_OK {
				b.Errorf("send: %v", resp.GetStatus())
			}
			return err
		})
	})
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
