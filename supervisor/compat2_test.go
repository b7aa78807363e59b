package supervisor_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

func sendN(t testing.TB, p rocketmq.Producer, topic, prefix string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(prefix+strconv.Itoa(i))))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send %d: %v %v", i, err, res)
		}
	}
}

// Committed consumer offsets survive a broker restart: a new consumer in
// the same group receives only what was sent after.
func TestGoClientOffsetsSurviveRestart(t *testing.T) {
	ns := brokertest.StartNameServer(t)
	cfg := brokertest.Config(t)
	cfg.NamesrvAddr = ns.Addr()
	cfg.FlushConsumerOffsetInterval = 100
	b := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "", func() bool { return len(ns.Routes().LiveBrokers()) == 1 })
	const topic, group = "RestartTopic", "cg-restart"

	p := newProducer(t, ns.Addr())
	sendN(t, p, topic, "before-", 0, 10)
	rec := &received{msgs: map[string]*primitive.MessageExt{}}
	c := newPushConsumer(t, ns.Addr(), group, topic, rec)
	poll.Within(t, 30*time.Second, "", func() bool { return rec.count() == 10 })
	// Shutdown commits the consumed offsets with UPDATE_CONSUMER_OFFSET,
	// which the Go client sends without waiting for an answer: wait until
	// the broker has them all before stopping it.
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	admin := dial(t, b.Addr())
	poll.Until(t, "10 offsets committed", func() bool { return committed(t, admin, group, topic) == 10 })
	admin.Close()
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Shutdown()

	b2 := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "", func() bool { return len(ns.Routes().LiveBrokers()) == 1 })
	p2 := newProducer(t, ns.Addr())
	sendN(t, p2, topic, "after-", 0, 5)
	rec2 := &received{msgs: map[string]*primitive.MessageExt{}}
	newPushConsumer(t, ns.Addr(), group, topic, rec2)
	poll.Within(t, 30*time.Second, "", func() bool { return rec2.count() == 5 })
	// The consumer records a message before it commits past it, so once
	// the committed offsets cover all 15 messages every delivery — a
	// redelivered old one included — has been recorded.
	admin2 := dial(t, b2.Addr())
	defer admin2.Close()
	poll.Within(t, 30*time.Second, "15 offsets committed", func() bool { return committed(t, admin2, group, topic) == 15 })
	for body := range rec2.msgs {
		if body[:6] != "after-" {
			t.Fatalf("redelivered %q after restart", body)
		}
	}
}

// committed sums the group's committed offsets over the topic's four
// queues.
func committed(t *testing.T, admin *remoting.Client, group, topic string) int64 {
	var total int64
	for q := 0; q < 4; q++ {
		resp := invoke(t, admin, remoting.QueryConsumerOffset, map[string]string{"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(q)})
		if resp.ResponseCode() == remoting.Success {
			n, _ := strconv.ParseInt(resp.Ext("offset"), 10, 64)
			total += n
		}
	}
	return total
}

// A pull consumer reads everything. It runs in its own process: see
// testdata/goclient.
func TestGoClientPullConsumer(t *testing.T) {
	bin := goClient(t)
	ns, _ := startCluster(t, nil)
	const topic = "PullTopic"
	p := newProducer(t, ns.Addr())
	sendN(t, p, topic, "m", 0, 20)
	out, err := runGoClient(bin, "-mode", "pull", "-n", ns.Addr(), "-t", topic, "-g", "pull-"+instance(t), "-count", "20")
	if err != nil {
		t.Fatalf("pull consumer: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "OK 20" {
		t.Fatalf("pull consumer: %s", got)
	}
}

// runGoClient runs the client program and returns its verdict (stdout).
// The client's own log lines go to stderr — it logs the connections it
// closes at its shutdown, for one — and are shown only when it fails.
func runGoClient(bin string, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), err
	}
	return out, nil
}

var (
	goClientOnce sync.Once
	goClientBin  string
	goClientErr  error
)

// goClient builds testdata/goclient (without the race detector) once per
// test run.
func goClient(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a helper binary")
	}
	goClientOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-goclient-")
		if err != nil {
			goClientErr = err
			return
		}
		goClientBin = filepath.Join(dir, "goclient")
		if out, err := exec.Command("go", "build", "-o", goClientBin, "./testdata/goclient").CombinedOutput(); err != nil {
			goClientErr = fmt.Errorf("build testdata/goclient: %v\n%s", err, out)
		}
	})
	if goClientErr != nil {
		t.Fatal(goClientErr)
	}
	return goClientBin
}

// An orderly consumer receives each queue's messages in order. The
// consumer runs in its own process, built without the race detector: see
// testdata/goclient.
func TestGoClientOrderlyConsumer(t *testing.T) {
	bin := goClient(t)
	ns, _ := startCluster(t, nil)
	const topic = "OrderTopic"
	p := newProducer(t, ns.Addr(), producer.WithQueueSelector(producer.NewHashQueueSelector()))
	const keys, perKey = 4, 25
	for i := 0; i < perKey; i++ {
		for k := 0; k < keys; k++ {
			m := primitive.NewMessage(topic, []byte(strconv.Itoa(k)+":"+strconv.Itoa(i)))
			m.WithShardingKey("key-" + strconv.Itoa(k))
			if res, err := p.SendSync(context.Background(), m); err != nil || res.Status != primitive.SendOK {
				t.Fatalf("send: %v %v", err, res)
			}
		}
	}
	out, err := runGoClient(bin, "-mode", "orderly", "-n", ns.Addr(), "-t", topic, "-g", "order-"+instance(t),
		"-keys", strconv.Itoa(keys), "-per", strconv.Itoa(perKey))
	if err != nil {
		t.Fatalf("orderly client: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "OK "+strconv.Itoa(keys*perKey) {
		t.Fatalf("orderly client: %s", got)
	}
}

// A message the consumer asks to retry comes back through the retry topic.
func TestGoClientRetryThroughRetryTopic(t *testing.T) {
	ns, b := startCluster(t, nil)
	const topic = "RetryTopic"
	group := "retry-" + instance(t)
	p := newProducer(t, ns.Addr())
	sendN(t, p, topic, "r", 0, 3)
	// The broker creates %RETRY%<group> on the consumer's first heartbeat,
	// but the Go client only looks its route up again after 30 s; creating
	// it up front, as an operator would, keeps this test short.
	admin := dial(t, b.Addr())
	resp := invoke(t, admin, remoting.UpdateAndCreateTopic, map[string]string{
		"topic": "%RETRY%" + group, "defaultTopic": "TBW102", "readQueueNums": "1", "writeQueueNums": "1",
		"perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false",
	})
	if resp.ResponseCode() != remoting.Success {
		t.Fatalf("create retry topic: %s %q", resp.ResponseCode(), resp.Remark)
	}
	poll.Until(t, "", func() bool { _, ok := ns.Routes().PickupTopicRouteData("%RETRY%" + group); return ok })

	var mu sync.Mutex
	attempts := map[string]int{}
	reconsumed := map[string]int32{}
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer([]string{ns.Addr()}),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance(t)),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		result := consumer.ConsumeSuccess
		for _, m := range msgs {
			attempts[string(m.Body)]++
			if attempts[string(m.Body)] == 1 {
				result = consumer.ConsumeRetryLater
			} else {
				reconsumed[string(m.Body)] = m.ReconsumeTimes
				if m.Topic != topic {
					t.Errorf("retried message arrived on %q, want the original topic restored", m.Topic)
				}
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
	defer c.Shutdown()
	poll.Within(t, 60*time.Second, "", func() bool { mu.Lock(); defer mu.Unlock(); return len(reconsumed) == 3 })
	mu.Lock()
	defer mu.Unlock()
	for body, n := range reconsumed {
		if n < 1 {
			t.Fatalf("%s came back with reconsumeTimes %d", body, n)
		}
	}
	if b.Store().MaxOffsetInQueue("%RETRY%"+group, 0) == 0 {
		t.Fatalf("nothing was written to the retry topic")
	}
}
