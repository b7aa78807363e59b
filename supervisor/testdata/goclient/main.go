// Command goclient runs a rocketmq-client-go consumer against a name
// server and reports what it received. It runs in its own process, built
// without the race detector, because the client itself has data races the
// detector would pin on our tests: in its orderly path
// (processQueue.takeMessages reads the message tree without its lock) and
// between a pull consumer's Shutdown and the rebalance its Start leaves
// running.
//
//	goclient -mode orderly -n addr -t topic -g group -keys 4 -per 25
//	goclient -mode pull -n addr -t topic -g group -count 20
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

func main() {
	ns := flag.String("n", "", "name server")
	topic := flag.String("t", "", "topic")
	group := flag.String("g", "", "consumer group")
	keys := flag.Int("keys", 4, "sharding keys")
	per := flag.Int("per", 25, "messages per key")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after")
	mode := flag.String("mode", "orderly", "orderly: an orderly push consumer; pull: a pull consumer")
	count := flag.Int("count", 20, "pull mode: messages to read")
	flag.Parse()
	rlog.SetLogLevel("error")
	if *mode == "pull" {
		pull(*ns, *topic, *group, *count, *timeout)
		return
	}

	var mu sync.Mutex
	last := make([]int, *keys)
	for i := range last {
		last[i] = -1
	}
	total := 0
	var broken string
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer([]string{*ns}),
		consumer.WithGroupName(*group),
		consumer.WithConsumerOrder(true),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	err = c.Subscribe(*topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			k, i, _ := strings.Cut(string(m.Body), ":")
			kn, _ := strconv.Atoi(k)
			in, _ := strconv.Atoi(i)
			if in != last[kn]+1 && broken == "" {
				broken = fmt.Sprintf("key %d: %d after %d", kn, in, last[kn])
			}
			last[kn] = in
			total++
		}
		return consumer.ConsumeSuccess, nil
	})
	if err == nil {
		err = c.Start()
	}
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := total >= *keys**per
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = c.Shutdown()
	mu.Lock()
	defer mu.Unlock()
	switch {
	case broken != "":
		fmt.Println("BROKEN", broken)
	case total < *keys**per:
		fmt.Println("INCOMPLETE", total)
	default:
		fmt.Println("OK", total)
	}
}

// pull reads count distinct messages with a pull consumer and prints
// "OK <n>" or "INCOMPLETE <n>".
func pull(ns, topic, group string, count int, timeout time.Duration) {
	pc, err := consumer.NewPullConsumer(
		consumer.WithNameServer([]string{ns}),
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err == nil {
		err = pc.Subscribe(topic, consumer.MessageSelector{})
	}
	if err == nil {
		err = pc.Start()
	}
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	got := map[string]bool{}
	for deadline := time.Now().Add(timeout); len(got) < count && time.Now().Before(deadline); {
		cr, err := pc.Poll(context.Background(), time.Second)
		if err != nil {
			continue
		}
		for _, m := range cr.GetMsgList() {
			got[string(m.Body)] = true
		}
		pc.ACK(context.Background(), cr, consumer.ConsumeSuccess)
	}
	_ = pc.Shutdown()
	if len(got) < count {
		fmt.Println("INCOMPLETE", len(got))
		return
	}
	fmt.Println("OK", len(got))
}
