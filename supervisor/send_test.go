package supervisor_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// sendHeader is the header rocketmq-client-go sends with SEND_MESSAGE.
func sendHeader(topic string, queueID int, props string) map[string]string {
	return map[string]string{
		"producerGroup": "pg", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": strconv.Itoa(queueID), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
		"flag": "0", "properties": props, "reconsumeTimes": "0", "unitMode": "false", "maxReconsumeTimes": "0", "batch": "false",
	}
}

func TestSendMessageStoresARecordTheGoClientDecodes(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	c := dial(t, b.Addr())
	props := "TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01ABC\x02color\x01blue\x02"
	for i := 0; i < 3; i++ {
		req := remoting.NewRequest(remoting.SendMessage, sendHeader("TopicA", 1, props), []byte("hello "+strconv.Itoa(i)))
		resp := invokeCmd(t, c, req)
		if resp.ResponseCode() != remoting.Success {
			t.Fatalf("send %d: %s %q", i, resp.ResponseCode(), resp.Remark)
		}
		if resp.Ext("queueId") != "1" || resp.Ext("queueOffset") != strconv.Itoa(i) || len(resp.Ext("msgId")) != 32 {
			t.Fatalf("send %d response header: %v", i, resp.ExtMap())
		}
	}
	poll.Until(t, "", func() bool { return b.Store().MaxOffsetInQueue("TopicA", 1) == 3 })
	got := b.Store().GetMessage("TopicA", 1, 0, 32, nil)
	if got.MsgCount != 3 {
		t.Fatalf("read %d messages: %+v", got.MsgCount, got)
	}
	var body []byte
	for _, m := range got.Messages {
		body = append(body, m...)
	}
	msgs := primitive.DecodeMessage(body)
	if len(msgs) != 3 {
		t.Fatalf("Go client decoded %d messages", len(msgs))
	}
	for i, m := range msgs {
		if string(m.Body) != "hello "+strconv.Itoa(i) || m.GetTags() != "TagA" || m.GetKeys() != "k1 k2" || m.GetProperty("color") != "blue" {
			t.Fatalf("message %d: %+v", i, m)
		}
		if m.QueueOffset != int64(i) || m.Queue == nil && m.Topic != "TopicA" {
			t.Fatalf("message %d offsets: %+v", i, m)
		}
		if !strings.HasPrefix(m.OffsetMsgId, "7F000001") {
			t.Fatalf("offsetMsgId %q does not carry 127.0.0.1", m.OffsetMsgId)
		}
	}
}

func TestSendMessageErrors(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Store.MaxMessageSize = 1024
	b := brokertest.Start(t, cfg, supervisor.Options{})
	c := dial(t, b.Addr())

	big := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("TopicA", 0, ""), make([]byte, 2048)))
	if big.ResponseCode() != remoting.MessageIllegal || !strings.Contains(big.Remark, "1024B") {
		t.Fatalf("oversized: %s %q", big.ResponseCode(), big.Remark)
	}
	bad := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("../etc", 0, ""), []byte("x")))
	if bad.ResponseCode() != remoting.SystemError || !strings.Contains(bad.Remark, "illegal characters") {
		t.Fatalf("illegal topic: %s %q", bad.ResponseCode(), bad.Remark)
	}
	h := sendHeader("TopicA", 0, "")
	delete(h, "producerGroup")
	missing := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, h, []byte("x")))
	if missing.ResponseCode() != remoting.SystemError || !strings.Contains(missing.Remark, "producerGroup") {
		t.Fatalf("missing field: %s %q", missing.ResponseCode(), missing.Remark)
	}
	forbidden := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("SCHEDULE_TOPIC_XXXX", 0, ""), []byte("x")))
	if forbidden.ResponseCode() != remoting.NoPermission {
		t.Fatalf("system topic: %s %q", forbidden.ResponseCode(), forbidden.Remark)
	}
}

func TestSendWithoutAutoCreateIsTopicNotExist(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.AutoCreateTopicEnable = false
	b := brokertest.Start(t, cfg, supervisor.Options{})
	c := dial(t, b.Addr())
	resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("NoSuchTopic", 0, ""), []byte("x")))
	if resp.ResponseCode() != remoting.TopicNotExist || !strings.Contains(resp.Remark, "topic[NoSuchTopic] not exist, apply first please!") {
		t.Fatalf("%s %q", resp.ResponseCode(), resp.Remark)
	}
}

func invokeCmd(t testing.TB, c *remoting.Client, req *remoting.Command) *remoting.Command {
	t.Helper()
	resp, err := c.Invoke(t.Context(), req, 10*time.Second)
	if err != nil {
		t.Fatalf("invoke %s: %v", req.RequestCode(), err)
	}
	return resp
}

// A repeated property resolves as the Java broker resolves it — the last
// value wins — for filtering, storage and delivery alike: a message sent
// with TAGS=a then TAGS=b reaches the subscription to b, whose Go consumer
// keeps it (the client re-filters on the tag it decodes), and never the
// subscription to a. Every stored message also carries the broker's
// CLUSTER, as RocketMQ's SendMessageProcessor adds it.
func TestRepeatedPropertyLastWinsAndClusterIsAdded(t *testing.T) {
	ns, b := startCluster(t, nil)
	c := dial(t, b.Addr())
	const topic = "DupTags"
	// One queue, so that a consumer that got a later message has passed
	// every earlier one.
	create := map[string]string{"topic": topic, "readQueueNums": "1", "writeQueueNums": "1", "perm": "6"}
	if resp := invoke(t, c, remoting.UpdateAndCreateTopic, create); resp.ResponseCode() != remoting.Success {
		t.Fatalf("create topic: %s %q", resp.ResponseCode(), resp.Remark)
	}
	for _, m := range []struct{ body, props string }{
		{"dup", "TAGS\x01a\x02TAGS\x01b\x02CLUSTER\x01forged\x02"},
		{"a-marker", "TAGS\x01a\x02"},
		{"b-marker", "TAGS\x01b\x02"},
	} {
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, m.props), []byte(m.body)))
		if resp.ResponseCode() != remoting.Success {
			t.Fatalf("send %s: %s %q", m.body, resp.ResponseCode(), resp.Remark)
		}
	}
	recA := &received{msgs: map[string]*primitive.MessageExt{}}
	recB := &received{msgs: map[string]*primitive.MessageExt{}}
	newSelectingConsumer(t, ns.Addr(), "cg-tag-a", topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "a"}, recA)
	newSelectingConsumer(t, ns.Addr(), "cg-tag-b", topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "b"}, recB)
	poll.Within(t, 30*time.Second, "a-marker at the subscription to a", func() bool { return recA.get("a-marker") != nil })
	poll.Within(t, 30*time.Second, "dup and b-marker at the subscription to b", func() bool {
		return recB.get("dup") != nil && recB.get("b-marker") != nil
	})
	if recA.get("dup") != nil {
		t.Fatal("the subscription to a received the message whose last TAGS is b")
	}
	dup := recB.get("dup")
	if dup.GetTags() != "b" {
		t.Fatalf("consumer decoded TAGS %q, want the last one, b", dup.GetTags())
	}
	if got := dup.GetProperty("CLUSTER"); got != brokertest.Config(t).BrokerClusterName {
		t.Fatalf("CLUSTER = %q, want the broker's %q", got, brokertest.Config(t).BrokerClusterName)
	}
}
