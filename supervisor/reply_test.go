package supervisor_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// The Go client's request-reply examples (examples/producer/rpc/sync and
// async, examples/consumer/rpc), as they are apart from addresses and
// names: the requester's Request / RequestAsync gets the reply the
// consumer sends with CreateReplyMessage, pushed by the broker
// (SEND_REPLY_MESSAGE → PUSH_REPLY_MESSAGE_TO_CLIENT), and the reply is
// stored in <cluster>_REPLY_TOPIC too (storeReplyMessageEnable).
func TestGoClientRequestReply(t *testing.T) {
	ns, b := startCluster(t, nil)
	const topic = "RequestTopic"
	// The examples expect the topic to exist, as an operator creates it.
	admin := dial(t, b.Addr())
	create := map[string]string{"topic": topic, "readQueueNums": "4", "writeQueueNums": "4", "perm": "6"}
	if resp := invoke(t, admin, remoting.UpdateAndCreateTopic, create); resp.ResponseCode() != remoting.Success {
		t.Fatalf("create topic: %s %q", resp.ResponseCode(), resp.Remark)
	}
	poll.Until(t, "the topic's route", func() bool { _, ok := ns.Routes().PickupTopicRouteData(topic); return ok })
	replyProducer := newProducer(t, ns.Addr())

	c, err := rocketmq.NewPushConsumer(
		consumer.WithGroupName("reply-"+instance(t)),
		consumer.WithInstance(instance(t)),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithPullInterval(0),
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns.Addr()})),
	)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var replyErrs []error
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, msg := range msgs {
				// The example sleeps here: the Go requester registers with the
				// broker only at its first request.
				time.Sleep(time.Second)
				// rocketmq-client-go's CreateReplyMessage parses the body it is
				// given as properties and sends an empty body; the reply's
				// content therefore travels as a property here.
				replyMessage, err := consumer.CreateReplyMessage(msg, message.Append(nil, "answer", "reply to "+string(msg.Body)))
				if err == nil {
					_, err = replyProducer.SendSync(context.Background(), replyMessage)
				}
				if err != nil {
					mu.Lock()
					replyErrs = append(replyErrs, err)
					mu.Unlock()
				}
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Not shut down when the test ends: see newProducer.

	p, err := rocketmq.NewProducer(
		producer.WithGroupName("rpc-"+instance(t)),
		producer.WithInstanceName(instance(t)),
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns.Addr()})),
		producer.WithRetry(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// Not shut down when the test ends: see newProducer.

	resp, err := p.Request(context.Background(), 10*time.Second, &primitive.Message{Topic: topic, Body: []byte("sync")})
	if err != nil {
		mu.Lock()
		t.Fatalf("Request: %v (replier errors %v)", err, replyErrs)
	}
	if got := resp.GetProperty("answer"); got != "reply to sync" {
		t.Fatalf("sync reply: answer %q, properties %v", got, resp.GetProperties())
	}

	got := make(chan string, 1)
	err = p.RequestAsync(context.Background(), 10*time.Second, func(_ context.Context, m *primitive.Message, err error) {
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- m.GetProperty("answer")
	}, &primitive.Message{Topic: topic, Body: []byte("async")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-got:
		if body != "reply to async" {
			t.Fatalf("async reply: %s", body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no async reply")
	}
	mu.Lock()
	if len(replyErrs) != 0 {
		t.Fatalf("replier errors: %v", replyErrs)
	}
	mu.Unlock()
	replyTopic := brokertest.Config(t).BrokerClusterName + "_REPLY_TOPIC"
	poll.Until(t, "both replies stored in "+replyTopic, func() bool { return b.Store().MaxOffsetInQueue(replyTopic, 0) == 2 })
}
