package supervisor_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// With the unmodified Go client: a message sent with a delay level is
// delivered no earlier than its level's delay (its delivery is a new
// record, stored then), and a consumer that answers ConsumeRetryLater gets
// the message back only after the retry's delay level (3 + reconsumeTimes),
// not at once. messageDelayLevel is shortened for the test.
func TestGoClientDelayLevelsAndRetryBackoff(t *testing.T) {
	ns, b := startCluster(t, func(c *supervisor.Config) { c.Store.MessageDelayLevel = "1s 1s 2s 2s 2s" })
	const topic = "DelayTopic"
	group := "delay-" + instance(t)
	p := newProducer(t, ns.Addr())
	// As TestGoClientRetryThroughRetryTopic: the retry topic's route up
	// front, since the Go client looks it up again only after 30 s.
	admin := dial(t, b.Addr())
	for _, name := range []string{topic, "%RETRY%" + group} {
		if resp := invoke(t, admin, remoting.UpdateAndCreateTopic, map[string]string{
			"topic": name, "readQueueNums": "1", "writeQueueNums": "1", "perm": "6",
		}); resp.ResponseCode() != remoting.Success {
			t.Fatalf("create %s: %s %q", name, resp.ResponseCode(), resp.Remark)
		}
		poll.Until(t, "the route of "+name, func() bool { _, ok := ns.Routes().PickupTopicRouteData(name); return ok })
	}

	type delivery struct {
		body   string
		born   int64
		stored int64
		times  int32
		at     time.Time
	}
	var mu sync.Mutex
	var got []delivery
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer([]string{ns.Addr()}), consumer.WithGroupName(group), consumer.WithInstance(instance(t)),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		result := consumer.ConsumeSuccess
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			got = append(got, delivery{string(m.Body), m.BornTimestamp, m.StoreTimestamp, m.ReconsumeTimes, time.Now()})
			if string(m.Body) == "retry me" && m.ReconsumeTimes == 0 {
				result = consumer.ConsumeRetryLater // once
			}
		}
		return result, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Not shut down when the test ends: see newProducer.

	delayed := primitive.NewMessage(topic, []byte("delayed"))
	delayed.WithDelayTimeLevel(3) // 2 s here
	sent := time.Now()
	if res, err := p.SendSync(context.Background(), delayed); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("delayed send: %v %v", res, err)
	}
	if res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("retry me"))); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("send: %v %v", res, err)
	}
	find := func(body string, times int32) (delivery, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range got {
			if d.body == body && d.times == times {
				return d, true
			}
		}
		return delivery{}, false
	}
	poll.Within(t, 30*time.Second, "the delayed message", func() bool { _, ok := find("delayed", 0); return ok })
	poll.Within(t, 30*time.Second, "the retried message", func() bool { _, ok := find("retry me", 1); return ok })
	d, _ := find("delayed", 0)
	if wait := d.stored - sent.UnixMilli(); wait < 2000-50 {
		t.Fatalf("the delayed message was stored for delivery %d ms after it was sent, want its level's 2 s", wait)
	}
	first, _ := find("retry me", 0)
	again, _ := find("retry me", 1)
	// The retry is a new record stored when its delay (level 3 + 0 = 2 s
	// here) ran out, and redelivered only then.
	if again.at.Sub(first.at) < 2*time.Second-50*time.Millisecond {
		t.Fatalf("redelivered %s after the first delivery, want the retry's 2 s delay", again.at.Sub(first.at))
	}
}
