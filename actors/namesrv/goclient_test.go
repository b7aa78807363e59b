package namesrv_test

import (
	"context"
	"slices"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/actors/namesrv"
)

// The real Go client asks our name server for a route and a topic list
// and understands the answers: the publish queues it builds come from
// queueDatas and from brokerAddrs parsed by its own hand-written parser.
func TestGoClientReadsRoutes(t *testing.T) {
	rlog.SetLogLevel("fatal")
	ns := startNameServer(t)
	ns.m.RegisterBroker(namesrv.BrokerRegistration{
		ClusterName: "DefaultCluster", BrokerName: "broker-a", BrokerAddr: "127.0.0.1:10911", BrokerID: 0,
		Topics:      map[string]metadata.TopicConfig{"GoTopic": testTopic("GoTopic", 4)},
		DataVersion: metadata.DataVersion{Counter: 1},
	})
	ns.m.RegisterBroker(namesrv.BrokerRegistration{
		ClusterName: "DefaultCluster", BrokerName: "broker-a", BrokerAddr: "127.0.0.1:10921", BrokerID: 1,
	})
	ns.m.RegisterBroker(namesrv.BrokerRegistration{
		ClusterName: "DefaultCluster", BrokerName: "broker-b", BrokerAddr: "127.0.0.1:20911", BrokerID: 0,
		Topics:      map[string]metadata.TopicConfig{"GoTopic": testTopic("GoTopic", 2)},
		DataVersion: metadata.DataVersion{Counter: 1},
	})

	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{ns.addr})))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx := context.Background()

	mqs, err := adm.FetchPublishMessageQueues(ctx, "GoTopic")
	if err != nil {
		t.Fatalf("FetchPublishMessageQueues: %v", err)
	}
	perBroker := map[string][]int{}
	for _, mq := range mqs {
		if mq.Topic != "GoTopic" {
			t.Fatalf("queue of topic %q", mq.Topic)
		}
		perBroker[mq.BrokerName] = append(perBroker[mq.BrokerName], mq.QueueId)
	}
	if !slices.Equal(perBroker["broker-a"], []int{0, 1, 2, 3}) || !slices.Equal(perBroker["broker-b"], []int{0, 1}) || len(perBroker) != 2 {
		t.Fatalf("publish queues by broker: %v", perBroker)
	}

	clusters, err := adm.FetchClusterList("GoTopic")
	if err != nil || !slices.Equal(clusters, []string{"DefaultCluster"}) {
		t.Fatalf("FetchClusterList = %v, %v", clusters, err)
	}

	list, err := adm.FetchAllTopicList(ctx)
	if err != nil {
		t.Fatalf("FetchAllTopicList: %v", err)
	}
	if !slices.Equal(list.TopicList, []string{"GoTopic"}) {
		t.Fatalf("topic list %v", list.TopicList)
	}

	if _, err := adm.FetchPublishMessageQueues(ctx, "Missing"); err == nil {
		t.Fatal("route of a missing topic fetched")
	}
}
