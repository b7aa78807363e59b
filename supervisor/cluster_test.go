package supervisor_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

func createTopic(t testing.TB, addr, topic string, queues int) {
	t.Helper()
	c := dial(t, addr)
	n := strconv.Itoa(queues)
	resp := invoke(t, c, remoting.UpdateAndCreateTopic, map[string]string{
		"topic": topic, "defaultTopic": "TBW102", "readQueueNums": n, "writeQueueNums": n,
		"perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false",
	})
	if resp.ResponseCode() != remoting.Success {
		t.Fatalf("create topic %s on %s: %s %q", topic, addr, resp.ResponseCode(), resp.Remark)
	}
}

func messagesIn(b *brokertest.Broker, topic string, queues int) int64 {
	var n int64
	for q := 0; q < queues; q++ {
		n += b.Store().MaxOffsetInQueue(topic, int32(q))
	}
	return n
}

// Two brokers behind one name server: the Go producer spreads sends over
// both; when one stops, sends keep succeeding on the other and the
// consumer keeps receiving.
func TestGoClientTwoBrokers(t *testing.T) {
	ns := brokertest.StartNameServer(t)
	const topic = "ClusterTopic"
	var brokers []*brokertest.Broker
	for _, name := range []string{"broker-a", "broker-b"} {
		cfg := brokertest.Config(t)
		cfg.BrokerName = name
		cfg.NamesrvAddr = ns.Addr()
		b := brokertest.Start(t, cfg, supervisor.Options{})
		createTopic(t, b.Addr(), topic, 4)
		brokers = append(brokers, b)
	}
	poll.Until(t, "", func() bool {
		route, ok := ns.Routes().PickupTopicRouteData(topic)
		return ok && len(route.BrokerDatas) == 2
	})

	p := newProducer(t, ns.Addr())
	sendN(t, p, topic, "first-", 0, 40)
	// Consume-queue entries are written by the store's dispatcher, just
	// after the send is acknowledged.
	poll.Until(t, "", func() bool { return messagesIn(brokers[0], topic, 4)+messagesIn(brokers[1], topic, 4) == 40 })
	a, b := messagesIn(brokers[0], topic, 4), messagesIn(brokers[1], topic, 4)
	if a == 0 || b == 0 || a+b != 40 {
		t.Fatalf("sends not spread over both brokers: %d and %d", a, b)
	}
	rec := &received{msgs: map[string]*primitive.MessageExt{}}
	newPushConsumer(t, ns.Addr(), "cg-"+instance(t), topic, rec)
	poll.Within(t, 60*time.Second, "", func() bool { return rec.count() == 40 })

	if err := brokers[0].Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := messagesIn(brokers[1], topic, 4)
	// The producer still has broker-a in its cached route: its sends there
	// fail and the Go client retries them on broker-b.
	sendN(t, p, topic, "second-", 0, 20)
	poll.Until(t, "", func() bool { return messagesIn(brokers[1], topic, 4)-before == 20 })
	poll.Within(t, 60*time.Second, "", func() bool { return rec.count() == 60 })
}

// UPDATE_AND_CREATE_TOPIC is answered only once the name server has the
// topic (RocketMQ's registerIncrementBrokerData runs before the admin
// answers). Otherwise a producer right after it finds no route, falls back
// to TBW102's four queues and sends to queues the topic does not have.
func TestCreateTopicAnsweredAfterNameServerHasIt(t *testing.T) {
	ns, b := startCluster(t, nil)
	p := newProducer(t, ns.Addr(), producer.WithRetry(0))
	for i := 0; i < 5; i++ {
		topic := "RouteNowTopic" + strconv.Itoa(i)
		createTopic(t, b.Addr(), topic, 1)
		route, ok := ns.Routes().PickupTopicRouteData(topic)
		if !ok || len(route.QueueDatas) != 1 || route.QueueDatas[0].WriteQueueNums != 1 {
			t.Fatalf("right after the answer the name server has %v %s", ok, route.Encode())
		}
		for j := 0; j < 8; j++ {
			res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("m")))
			if err != nil || res.Status != primitive.SendOK {
				t.Fatalf("send %d to %s: %v %v", j, topic, res, err)
			}
		}
	}
}
