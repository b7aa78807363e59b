package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// Two real brokers behind one real name server, one of them stalled: the
// producer's retry-on-busy policy lands every message on the healthy
// broker and loses none.
func TestStalledBrokerEveryMessageLandsOnHealthy(t *testing.T) {
	ns := brokertest.StartNameServer(t)
	const topic = "StallTopic"
	brokers := map[string]*brokertest.Broker{}
	for _, name := range []string{"broker-healthy", "broker-stalled"} {
		cfg := brokertest.Config(t)
		cfg.BrokerName = name
		cfg.NamesrvAddr = ns.Addr()
		cfg.FaultInjectionEnable = true
		b := brokertest.Start(t, cfg, supervisor.Options{})
		brokers[name] = b
		c, err := remoting.Dial(context.Background(), b.Addr(), remoting.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{
			"topic": topic, "defaultTopic": "TBW102", "readQueueNums": "4", "writeQueueNums": "4",
			"perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false",
		}, nil), 5*time.Second)
		if err != nil || resp.ResponseCode() != remoting.Success {
			t.Fatalf("create topic on %s: %v %+v", name, err, resp)
		}
		if name == "broker-stalled" {
			// One append that holds the writer for 8 s: a second into it the
			// page cache is busy, and every send is refused from then on.
			resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.SetFault, map[string]string{"appendStallMillis": "8000"}, nil), 5*time.Second)
			if err != nil || resp.ResponseCode() != remoting.Success {
				t.Fatalf("set fault: %v %+v", err, resp)
			}
			go c.Invoke(context.Background(), remoting.NewRequest(remoting.SendMessage, map[string]string{
				"producerGroup": "pg", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
				"queueId": "0", "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0",
			}, []byte("stalls the writer")), 20*time.Second)
			poll.Until(t, "the stalled broker's page cache busy", b.Store().IsOSPageCacheBusy)
		}
	}
	poll.Until(t, "a route listing both brokers", func() bool {
		route, ok := ns.Routes().PickupTopicRouteData(topic)
		return ok && len(route.BrokerDatas) == 2
	})
	storedOnHealthy := func() (n int64) {
		for q := int32(0); q < 4; q++ {
			n += brokers["broker-healthy"].Store().MaxOffsetInQueue(topic, q)
		}
		return n
	}
	before := storedOnHealthy()

	s := produceJSON(t, "-n", ns.Addr(), "-t", topic, "-c", "400", "-w", "8", "--retries", "2")
	if s.Sent != 400 || s.Lost != 0 {
		t.Fatalf("sent %d, lost %d: %+v", s.Sent, s.Lost, s)
	}
	if s.ByBroker["broker-healthy"] != 400 || s.ByBroker["broker-stalled"] != 0 {
		t.Fatalf("by broker %v, want all 400 on broker-healthy", s.ByBroker)
	}
	if s.Retried == 0 || s.FailedAttempts["REJECTREQUEST"] == 0 {
		t.Fatalf("no busy answer was retried: %+v", s)
	}
	poll.Until(t, "400 messages stored on the healthy broker", func() bool { return storedOnHealthy()-before >= 400 })
	t.Logf("retried %d, failed attempts %v", s.Retried, s.FailedAttempts)
}
