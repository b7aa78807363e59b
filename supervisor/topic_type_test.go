package supervisor_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// RocketMQ 5's topic message types: UPDATE_AND_CREATE_TOPIC's attributes
// set message.type, GET_ALL_TOPIC_CONFIG shows it, and a send of another
// type is refused (MESSAGE_ILLEGAL with the proxy's remark, as the
// proxy's remoting front answers MESSAGE_PROPERTY_CONFLICT_WITH_TYPE);
// "-message.type" removes it and the topic takes every type again.
func TestTopicMessageTypeAttribute(t *testing.T) {
	ns, b := startCluster(t, nil)
	c := dial(t, b.Addr())
	const topic = "FifoTypedTopic"
	if r := createPopTopic(t, c, topic, 2, "+message.type=FIFO"); r.ResponseCode() != remoting.Success {
		t.Fatalf("create: %s %q", r.ResponseCode(), r.Remark)
	}
	all := invoke(t, c, remoting.GetAllTopicConfig, nil)
	var wrapper struct {
		TopicConfigTable map[string]struct {
			Attributes map[string]string `json:"attributes"`
		} `json:"topicConfigTable"`
	}
	if err := json.Unmarshal(all.Body, &wrapper); err != nil {
		t.Fatal(err)
	}
	if got := wrapper.TopicConfigTable[topic].Attributes["message.type"]; got != "FIFO" {
		t.Fatalf("GET_ALL_TOPIC_CONFIG attributes %v", wrapper.TopicConfigTable[topic].Attributes)
	}
	poll.Until(t, "", func() bool { _, ok := ns.Routes().PickupTopicRouteData(topic); return ok })
	p := newProducer(t, ns.Addr())
	_, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("normal")))
	if err == nil || !strings.Contains(err.Error(), "CODE: 13") ||
		!strings.Contains(err.Error(), "TopicMessageType validate failed, the expected type is FIFO, but actual type is NORMAL") {
		t.Fatalf("normal send to a FIFO topic: %v", err)
	}
	fifo := primitive.NewMessage(topic, []byte("fifo"))
	fifo.WithProperty("__SHARDINGKEY", "group-1")
	if res, err := p.SendSync(context.Background(), fifo); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("FIFO send: %v %v", res, err)
	}
	// Unknown or unhonoured attributes are refused with RocketMQ's words.
	for attrs, want := range map[string]string{
		"+message.type=BOGUS":        "value is not in set",
		"+cleanup.policy=COMPACTION": "unsupported key",
		"+no.such=1":                 "unsupported key",
		"message.type=FIFO":          "add/alter attribute format is wrong",
	} {
		r := createPopTopic(t, c, topic, 2, attrs)
		if r.ResponseCode() != remoting.SystemError || !strings.Contains(r.Remark, want) {
			if !(want == "unsupported key" && strings.Contains(r.Remark, "attempt to update an unchangeable")) {
				t.Fatalf("%s: %s %q", attrs, r.ResponseCode(), r.Remark)
			}
		}
	}
	if r := createPopTopic(t, c, topic, 2, "-message.type"); r.ResponseCode() != remoting.Success {
		t.Fatalf("delete attribute: %s %q", r.ResponseCode(), r.Remark)
	}
	if res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("normal"))); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("normal send after -message.type: %v %v", res, err)
	}
}
