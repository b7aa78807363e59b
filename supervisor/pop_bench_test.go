package supervisor_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors/pop"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// BenchmarkPopConsume reads b.N stored messages through one connection
// with PULL_MESSAGE (the baseline, same run) and with POP_MESSAGE plus one
// ACK_MESSAGE per message, 32 messages a request; compare msgs/s as a
// ratio (the machine is shared, absolute figures are noisy).
func BenchmarkPopConsume(b *testing.B) {
	body := benchBody()
	for _, kind := range []string{"pull", "pop+ack"} {
		b.Run("consume="+kind, func(b *testing.B) {
			cfg := brokertest.Config(b)
			cfg.Store.MappedFileSizeCommitLog = 64 << 20
			br := brokertest.Start(b, cfg, supervisor.Options{})
			const topic, group = "PopBench", "cg-pop-bench"
			createTopic(b, br.Addr(), topic, 1)
			c := dial(b, br.Addr())
			for i := 0; i < b.N; i++ {
				req := remoting.NewRequest(remoting.SendMessageV2, v2Header(sendHeader(topic, 0, "")), body)
				if resp, err := c.Invoke(context.Background(), req, 10*time.Second); err != nil || resp.ResponseCode() != remoting.Success {
					b.Fatalf("send: %v %v", resp, err)
				}
			}
			waitStored(b, br, topic, int64(b.N))
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			got := 0
			var offset int64
			for got < b.N {
				if kind == "pull" {
					req := remoting.NewRequest(remoting.PullMessage, map[string]string{"consumerGroup": group, "topic": topic,
						"queueId": "0", "queueOffset": strconv.FormatInt(offset, 10), "maxMsgNums": "32", "sysFlag": "4",
						"commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*", "subVersion": "0", "expressionType": "TAG"}, nil)
					resp, err := c.Invoke(context.Background(), req, 10*time.Second)
					if err != nil || resp.ResponseCode() != remoting.Success {
						b.Fatalf("pull: %v %v", resp, err)
					}
					next, _ := strconv.ParseInt(resp.Ext("nextBeginOffset"), 10, 64)
					got += int(next - offset)
					offset = next
					continue
				}
				h := remoting.PopMessageRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: 0, MaxMsgNums: 32,
					InvisibleTime: 60_000, BornTime: time.Now().UnixMilli()}
				req := remoting.NewRequest(remoting.PopMessage, nil, nil)
				h.Encode(req)
				resp, err := c.Invoke(context.Background(), req, 10*time.Second)
				if err != nil || resp.ResponseCode() != remoting.Success {
					b.Fatalf("pop: %v %v", resp, err)
				}
				rh, _ := remoting.DecodePopMessageResponseHeader(resp)
				// One record after another: the queue offset is at byte 20.
				for p := 0; p+28 <= len(resp.Body); {
					size := int(uint32(resp.Body[p])<<24 | uint32(resp.Body[p+1])<<16 | uint32(resp.Body[p+2])<<8 | uint32(resp.Body[p+3]))
					qoff := int64(0)
					for i := 20; i < 28; i++ {
						qoff = qoff<<8 | int64(resp.Body[p+i])
					}
					ack := remoting.NewRequest(remoting.AckMessage, nil, nil)
					(&remoting.AckMessageRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: 0, Offset: qoff,
						ExtraInfo: pop.BuildExtraInfo(offset, rh.PopTime, rh.InvisibleTime, rh.ReviveQid, topic, cfg.BrokerName, 0, qoff)}).Encode(ack)
					if r, err := c.Invoke(context.Background(), ack, 10*time.Second); err != nil || r.ResponseCode() != remoting.Success {
						b.Fatalf("ack: %v %v", r, err)
					}
					got++
					p += size
				}
				offset = int64(got) // the next pop's checkpoint starts here (one queue)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			if kind == "pop+ack" && br.RuntimeInfo()["popInFlightMessages"] != "0" {
				b.Fatalf("in flight after acking all: %v", br.RuntimeInfo()["popInFlightMessages"])
			}
		})
	}
}
