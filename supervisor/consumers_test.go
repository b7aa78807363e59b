package supervisor_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

func heartbeatBody(clientID, group, topic string) []byte {
	return []byte(`{"clientID":"` + clientID + `","producerDataSet":[],"consumerDataSet":[{"groupName":"` + group +
		`","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET",` +
		`"subscriptionDataSet":[{"classFilterMode":false,"topic":"` + topic + `","subString":"*","tagsSet":[],"codeSet":[],` +
		`"subVersion":1795609411639888968,"expressionType":"TAG"}],"unitMode":false}]}`)
}

// Consumers of a group learn of each other's arrival and departure through
// NOTIFY_CONSUMER_IDS_CHANGED, and GET_CONSUMER_LIST_BY_GROUP lists the
// live ones.
func TestConsumerGroupMembership(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	var notified atomic.Int32
	a, err := remoting.Dial(context.Background(), b.Addr(), remoting.ClientOptions{
		OnRequest: func(_ *remoting.Client, req *remoting.Command) {
			if req.RequestCode() == remoting.NotifyConsumerIDsChanged && req.Ext("consumerGroup") == "cg-members" {
				notified.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	hb := func(c *remoting.Client, id string) {
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.HeartBeat, nil, heartbeatBody(id, "cg-members", "MemberTopic")))
		if resp.ResponseCode() != remoting.Success {
			t.Fatalf("heartbeat: %s %q", resp.ResponseCode(), resp.Remark)
		}
	}
	list := func() []string {
		resp := invokeCmd(t, a, remoting.NewRequest(remoting.GetConsumerListByGroup, map[string]string{"consumerGroup": "cg-members"}, nil))
		var body struct {
			ConsumerIDList []string `json:"consumerIdList"`
		}
		_ = json.Unmarshal(resp.Body, &body)
		return body.ConsumerIDList
	}
	hb(a, "127.0.0.1@a")
	bc := dial(t, b.Addr())
	before := notified.Load()
	hb(bc, "127.0.0.1@b")
	poll.Until(t, "", func() bool { return notified.Load() > before })
	if ids := list(); len(ids) != 2 {
		t.Fatalf("consumer list %v, want both", ids)
	}
	// The retry topic was created for the group, as RocketMQ does on heartbeat.
	resp := invokeCmd(t, a, remoting.NewRequest(remoting.GetAllTopicConfig, nil, nil))
	var topics struct {
		TopicConfigTable map[string]json.RawMessage `json:"topicConfigTable"`
	}
	if err := json.Unmarshal(resp.Body, &topics); err != nil || topics.TopicConfigTable["%RETRY%cg-members"] == nil {
		t.Fatalf("retry topic not created: %v", err)
	}

	before = notified.Load()
	bc.Close()
	poll.Until(t, "", func() bool { return notified.Load() > before })
	poll.Until(t, "consumer list of only a after b left", func() bool {
		ids := list()
		return len(ids) == 1 && ids[0] == "127.0.0.1@a"
	})
}
