package pull_test

import (
	"testing"

	"github.com/sluice-mq/sluice/actors/handlertest"
	"github.com/sluice-mq/sluice/actors/pull"
	"github.com/sluice-mq/sluice/remoting"
)

// PullMessageProcessor's checks, in its order and with its codes.
func TestPullChecks(t *testing.T) {
	env := handlertest.New(t)
	h := (&pull.Handlers{ID: env.ID, Store: env.Store, Meta: env.Meta, Holds: pull.NewHoldService()}).ByCode()[remoting.PullMessage]
	ext := func(topic, queueID string) map[string]string {
		return map[string]string{
			"consumerGroup": "G", "topic": topic, "queueId": queueID, "queueOffset": "0", "maxMsgNums": "32",
			"sysFlag": "4", "commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*", "subVersion": "0",
			"expressionType": "TAG",
		}
	}
	if resp := handlertest.Call(t, h, remoting.PullMessage, ext("NoSuchTopic", "0"), nil); resp.ResponseCode() != remoting.TopicNotExist {
		t.Fatalf("unknown topic: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if resp := handlertest.Call(t, h, remoting.PullMessage, ext("TBW102", "99"), nil); resp.ResponseCode() != remoting.SystemError {
		t.Fatalf("queue beyond the topic's: %s %q", resp.ResponseCode(), resp.Remark)
	}
	bad := ext("TBW102", "0")
	bad["subscription"], bad["expressionType"] = "a > 1", "SQL92"
	if resp := handlertest.Call(t, h, remoting.PullMessage, bad, nil); resp.ResponseCode() != remoting.SystemError {
		t.Fatalf("SQL92 filter: %s %q", resp.ResponseCode(), resp.Remark)
	}
	resp := handlertest.Call(t, h, remoting.PullMessage, ext("TBW102", "0"), nil)
	if resp.ResponseCode() != remoting.PullNotFound || resp.Ext("nextBeginOffset") != "0" {
		t.Fatalf("empty queue: %s %v", resp.ResponseCode(), resp.ExtMap())
	}
}
