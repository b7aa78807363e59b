package supervisor_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

func init() { rlog.SetLogLevel("error") }

// instanceSeq keeps every Go client in this process apart: the client
// shares one internal instance per instance name.
var instanceSeq atomic.Int64

func instance(t testing.TB) string {
	return fmt.Sprintf("%s-%d", t.Name(), instanceSeq.Add(1))
}

// startCluster starts a name server and one broker registered with it.
func startCluster(t testing.TB, mutate func(*supervisor.Config)) (*supervisor.NameServer, *brokertest.Broker) {
	t.Helper()
	ns := brokertest.StartNameServer(t)
	cfg := brokertest.Config(t)
	cfg.NamesrvAddr = ns.Addr()
	if mutate != nil {
		mutate(&cfg)
	}
	b := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "", func() bool { return len(ns.Routes().LiveBrokers()) > 0 })
	return ns, b
}

func newProducer(t testing.TB, nsAddr string, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	opts = append([]producer.Option{
		producer.WithNameServer([]string{nsAddr}),
		producer.WithGroupName("pg-" + instance(t)),
		producer.WithInstanceName(instance(t)),
		producer.WithRetry(2),
	}, opts...)
	p, err := rocketmq.NewProducer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// Not shut down when the test ends: rocketmq-client-go's Shutdown
	// writes a plain bool (rmqClient.close) that the client's own
	// background calls read (InvokeSync), a data race that -race reports
	// against whichever test runs then. The client's broker and name server
	// stop with its test; until the process exits it only retries those
	// dead addresses. Tests that need Shutdown's effect call it themselves.
	return p
}

type received struct {
	mu   sync.Mutex
	msgs map[string]*primitive.MessageExt // by body
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *received) get(body string) *primitive.MessageExt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs[body]
}

func newPushConsumer(t testing.TB, nsAddr, group, topic string, rec *received, opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	return newSelectingConsumer(t, nsAddr, group, topic, consumer.MessageSelector{}, rec, opts...)
}

// newSelectingConsumer is newPushConsumer with a subscription expression.
func newSelectingConsumer(t testing.TB, nsAddr, group, topic string, sel consumer.MessageSelector, rec *received, opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	opts = append([]consumer.Option{
		consumer.WithNameServer([]string{nsAddr}),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance(t)),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)
	c, err := rocketmq.NewPushConsumer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, sel, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, m := range msgs {
			rec.msgs[string(m.Body)] = m
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
	return c
}

// The real Go client produces with every send flavour and a push consumer
// in clustering mode receives every message, body, tags, keys and user
// properties intact.
func TestGoClientProduceAndPushConsume(t *testing.T) {
	ns, _ := startCluster(t, nil)
	const topic = "CompatTopic"
	p := newProducer(t, ns.Addr())
	ctx := context.Background()
	msg := func(i int) *primitive.Message {
		m := primitive.NewMessage(topic, []byte("body-"+strconv.Itoa(i))).WithTag("TagA").WithKeys([]string{"key-" + strconv.Itoa(i)})
		m.WithProperty("idx", strconv.Itoa(i))
		return m
	}
	want := 0
	for i := 0; i < 10; i++ {
		res, err := p.SendSync(ctx, msg(want))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("SendSync %d: %v %v", i, err, res)
		}
		want++
	}
	var async sync.WaitGroup
	for i := 0; i < 10; i++ {
		async.Add(1)
		err := p.SendAsync(ctx, func(_ context.Context, res *primitive.SendResult, err error) {
			defer async.Done()
			if err != nil || res.Status != primitive.SendOK {
				t.Errorf("SendAsync: %v %v", err, res)
			}
		}, msg(want))
		if err != nil {
			t.Fatal(err)
		}
		want++
	}
	async.Wait()
	for i := 0; i < 5; i++ {
		if err := p.SendOneWay(ctx, msg(want)); err != nil {
			t.Fatal(err)
		}
		want++
	}
	var batch []*primitive.Message
	for i := 0; i < 5; i++ {
		batch = append(batch, msg(want))
		want++
	}
	res, err := p.SendSync(ctx, batch...)
	if err != nil || res.Status != primitive.SendOK {
		t.Fatalf("batch: %v %v", err, res)
	}

	rec := &received{msgs: map[string]*primitive.MessageExt{}}
	newPushConsumer(t, ns.Addr(), "cg-"+instance(t), topic, rec)
	poll.Within(t, 60*time.Second, "", func() bool { return rec.count() == want })
	for i := 0; i < want; i++ {
		m := rec.get("body-" + strconv.Itoa(i))
		if m == nil {
			t.Fatalf("message %d missing", i)
		}
		if m.GetTags() != "TagA" || m.GetKeys() != "key-"+strconv.Itoa(i) || m.GetProperty("idx") != strconv.Itoa(i) || m.Topic != topic {
			t.Fatalf("message %d: tags %q keys %q idx %q topic %q", i, m.GetTags(), m.GetKeys(), m.GetProperty("idx"), m.Topic)
		}
	}
}
