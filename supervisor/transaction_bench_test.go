package supervisor_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// benchCommitter commits every local transaction at once.
type benchCommitter struct{}

func (benchCommitter) ExecuteLocalTransaction(*primitive.Message) primitive.LocalTransactionState {
	return primitive.CommitMessageState
}

func (benchCommitter) CheckLocalTransaction(*primitive.MessageExt) primitive.LocalTransactionState {
	return primitive.CommitMessageState
}

const txBenchSenders, txBenchQueues = 64, 4

func benchBody() []byte {
	body := make([]byte, 1024)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	return body
}

// BenchmarkGoClientTransaction is transactional throughput as users see it,
// beside plain sends in the same run: 64 goroutines on one producer of
// rocketmq-client-go, 1 KiB bodies, one broker. "plain" is SendSync;
// "transaction" is SendMessageInTransaction with a listener that commits at
// once — a half message, the local transaction, END_TRANSACTION (one-way),
// then the commit and its op record on the broker — timed until every
// commit is in the topic. b.N is the number of messages:
//
//	go test -run '^$' -bench BenchmarkGoClientTransaction -benchtime 10000x -count 3 ./supervisor/
func BenchmarkGoClientTransaction(b *testing.B) {
	body := benchBody()
	for _, kind := range []string{"plain", "transaction"} {
		b.Run("send="+kind, func(b *testing.B) {
			ns, br := startCluster(b, func(c *supervisor.Config) { c.Store.MappedFileSizeCommitLog = 64 << 20 })
			topic := "TxBench" + kind
			createTopic(b, br.Addr(), topic, txBenchQueues)
			var send func() error
			if kind == "plain" {
				p := newProducer(b, ns.Addr())
				send = func() error {
					res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, body))
					if err == nil && res.Status != primitive.SendOK {
						b.Errorf("send status %v", res.Status)
					}
					return err
				}
			} else {
				p, err := rocketmq.NewTransactionProducer(benchCommitter{}, producer.WithNameServer([]string{ns.Addr()}),
					producer.WithGroupName("tx-"+instance(b)), producer.WithInstanceName(instance(b)))
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Start(); err != nil {
					b.Fatal(err)
				}
				// Not shut down when the benchmark ends: see newProducer.
				send = func() error {
					res, err := p.SendMessageInTransaction(context.Background(), primitive.NewMessage(topic, body))
					if err == nil && (res.Status != primitive.SendOK || res.State != primitive.CommitMessageState) {
						b.Errorf("send status %v state %v", res.Status, res.State)
					}
					return err
				}
			}
			const warm = 8
			for i := 0; i < warm; i++ {
				if err := send(); err != nil {
					b.Fatalf("warm-up send: %v", err)
				}
			}
			waitStored(b, br, topic, warm)
			lat := make([][]time.Duration, txBenchSenders)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for s := 0; s < txBenchSenders; s++ {
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
			waitStored(b, br, topic, int64(warm+b.N))
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

// BenchmarkTransactionProtocol is the broker's own cost of a transaction,
// without the Go client: 64 goroutines over 4 connections, each sending a
// 1 KiB message (SEND_MESSAGE_V2) and, for "transaction", a half message
// then END_TRANSACTION commit one-way as soon as it is answered; timed
// until every message is in the topic:
//
//	go test -run '^$' -bench BenchmarkTransactionProtocol -benchtime 20000x -count 3 ./supervisor/
func BenchmarkTransactionProtocol(b *testing.B) {
	body := benchBody()
	for _, kind := range []string{"plain", "transaction"} {
		b.Run("send="+kind, func(b *testing.B) {
			cfg := brokertest.Config(b)
			cfg.Store.MappedFileSizeCommitLog = 64 << 20
			br := brokertest.Start(b, cfg, supervisor.Options{})
			topic := "TxProto" + kind
			createTopic(b, br.Addr(), topic, txBenchQueues)
			var props string
			if kind == "transaction" {
				props = string(message.Append(message.Append(nil, message.PropertyTransactionPrepared, "true"),
					message.PropertyProducerGroup, "pg"))
			}
			conns := make([]*remoting.Client, 4)
			for i := range conns {
				conns[i] = dial(b, br.Addr())
			}
			send := func(c *remoting.Client, i int64) error {
				hdr := sendHeader(topic, int(i%txBenchQueues), props)
				hdr["producerGroup"] = "pg"
				req := remoting.NewRequest(remoting.SendMessageV2, v2Header(hdr), body)
				resp, err := c.Invoke(context.Background(), req, 10*time.Second)
				if err != nil {
					return err
				}
				if resp.ResponseCode() != remoting.Success {
					b.Errorf("send: %s %q", resp.ResponseCode(), resp.Remark)
					return nil
				}
				if kind == "plain" {
					return nil
				}
				off, _ := strconv.ParseInt(resp.Ext("queueOffset"), 10, 64)
				phys, _ := strconv.ParseInt(resp.Ext("msgId")[16:], 16, 64)
				end := remoting.NewRequest(remoting.EndTransaction, nil, nil)
				(&remoting.EndTransactionRequestHeader{ProducerGroup: "pg", TranStateTableOffset: off, CommitLogOffset: phys,
					CommitOrRollback: 8, MsgID: resp.Ext("msgId")}).Encode(end)
				return c.InvokeOneway(end)
			}
			if err := send(conns[0], 0); err != nil {
				b.Fatal(err)
			}
			waitStored(b, br, topic, 1)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for s := 0; s < txBenchSenders; s++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if err := send(conns[s%len(conns)], i); err != nil {
							b.Errorf("send: %v", err)
							return
						}
					}
				}()
			}
			wg.Wait()
			waitStored(b, br, topic, int64(1+b.N))
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// waitStored waits until the topic's queues hold n messages: a commit is
// stored after the producer's one-way END_TRANSACTION, so a send's answer
// does not mean its message is there.
func waitStored(b *testing.B, br *brokertest.Broker, topic string, n int64) {
	b.Helper()
	poll.Within(b, 60*time.Second, topic+" holds every message", func() bool { return messagesIn(br, topic, txBenchQueues) >= n })
}
