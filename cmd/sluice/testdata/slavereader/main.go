// Command slavereader is the HA crash test's reader: the unmodified Go
// client's pull consumer, in a process of its own and built without the
// race detector, because the client's PullFrom writes its consumer group
// on every call while its own rebalance goroutine reads it (a race in the
// client, not in Sluice). It reads every queue of a topic from offset 0
// until a pull finds nothing new, and prints each message body on a line
// of its own, hex-encoded.
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

func main() {
	ns := flag.String("n", "", "name server address")
	topic := flag.String("t", "", "topic")
	broker := flag.String("b", "", "broker name")
	group := flag.String("g", "", "consumer group")
	queues := flag.Int("q", 4, "queues")
	flag.Parse()
	rlog.SetLogLevel("error")
	if err := run(*ns, *topic, *broker, *group, *queues); err != nil {
		fmt.Fprintln(os.Stderr, "slavereader:", err)
		os.Exit(1)
	}
}

func run(ns, topic, broker, group string, queues int) error {
	pc, err := rocketmq.NewPullConsumer(consumer.WithNameServer([]string{ns}), consumer.WithGroupName(group),
		consumer.WithInstance(group))
	if err != nil {
		return fmt.Errorf("new pull consumer: %w", err)
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{}); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := pc.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for q := 0; q < queues; q++ {
		mq := &primitive.MessageQueue{Topic: topic, BrokerName: broker, QueueId: q}
		for offset := int64(0); ; {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			res, err := pc.PullFrom(ctx, mq, offset, 32)
			cancel()
			if err != nil {
				return fmt.Errorf("pull queue %d at %d: %w", q, offset, err)
			}
			if res.Status != primitive.PullFound {
				break
			}
			for _, m := range res.GetMessageExts() {
				fmt.Fprintln(out, hex.EncodeToString(m.Body))
			}
			offset = res.NextBeginOffset
		}
	}
	return nil
}
