package supervisor_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// The Go client's trace examples (examples/producer/trace and
// examples/consumer/trace), as they are apart from addresses and names:
// with traceTopicEnable the broker creates RMQ_SYS_TRACE_TOPIC at start,
// so the clients find its route and record the publish and consume traces
// of a message there, with no manual step.
func TestGoClientTraceWithTraceTopicEnable(t *testing.T) {
	ns, b := startCluster(t, func(cfg *supervisor.Config) { cfg.TraceTopicEnable = true })
	const topic = "TracedTopic"
	traceCfg := &primitive.TraceConfig{Access: primitive.Local, Resolver: primitive.NewPassthroughResolver([]string{ns.Addr()})}

	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns.Addr()})),
		producer.WithGroupName("trace-pg-"+instance(t)), producer.WithInstanceName(instance(t)),
		producer.WithRetry(2),
		producer.WithTrace(traceCfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// Not shut down when the test ends: see newProducer.
	res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("Hello RocketMQ Go Client!")))
	if err != nil {
		t.Fatalf("send: %v", err)
	}

	consumed := make(chan struct{}, 1)
	c, err := rocketmq.NewPushConsumer(
		consumer.WithGroupName("trace-cg-"+instance(t)), consumer.WithInstance(instance(t)),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns.Addr()})),
		consumer.WithTrace(traceCfg),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		select {
		case consumed <- struct{}{}:
		default:
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
	select {
	case <-consumed:
	case <-time.After(30 * time.Second):
		t.Fatal("message not consumed")
	}

	// The trace dispatchers send asynchronously; both traces name the
	// message.
	traces := func() string {
		got := b.Store().GetMessage("RMQ_SYS_TRACE_TOPIC", 0, 0, 64, nil)
		var all []byte
		for _, m := range got.Messages {
			all = append(all, m...)
		}
		var bodies strings.Builder
		for _, m := range primitive.DecodeMessage(all) {
			bodies.Write(m.Body)
			bodies.WriteByte('\n')
		}
		return bodies.String()
	}
	poll.Within(t, 30*time.Second, "publish and consume traces of "+res.MsgID, func() bool {
		tr := traces()
		return strings.Contains(tr, "Pub") && strings.Contains(tr, "SubAfter") && strings.Count(tr, res.MsgID) >= 2
	})

	// The trace look-up (mqadmin queryMsgTraceById): the trace records carry
	// the msgId in KEYS, so the index finds them by msgId in the trace topic.
	rc, err := remoting.Dial(context.Background(), b.Addr(), remoting.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	poll.Within(t, 10*time.Second, "traces of "+res.MsgID+" found by msgId", func() bool {
		got, _, _ := javaQueryMessage(t, rc, "RMQ_SYS_TRACE_TOPIC", res.MsgID, 64, 0, math.MaxInt64, false)
		var bodies strings.Builder
		for _, m := range got {
			bodies.Write(m.body)
		}
		return strings.Contains(bodies.String(), "Pub") && strings.Contains(bodies.String(), "SubAfter")
	})
}
