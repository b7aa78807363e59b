package client_test

import (
	"testing"

	"github.com/sluice-mq/sluice/actors/client"
	"github.com/sluice-mq/sluice/actors/handlertest"
	"github.com/sluice-mq/sluice/remoting"
)

func TestConsumerOffsets(t *testing.T) {
	env := handlertest.New(t)
	h := (&client.Handlers{Meta: env.Meta, Store: env.Store}).ConsumerManageHandlers()
	q := map[string]string{"consumerGroup": "G", "topic": "T", "queueId": "1"}
	// No commit yet on a young queue: offset 0 (ConsumerManageProcessor).
	if resp := handlertest.Call(t, h[remoting.QueryConsumerOffset], remoting.QueryConsumerOffset, q, nil); resp.ResponseCode() != remoting.Success || resp.Ext("offset") != "0" {
		t.Fatalf("young queue: %s %v %q", resp.ResponseCode(), resp.ExtMap(), resp.Remark)
	}
	u := map[string]string{"consumerGroup": "G", "topic": "T", "queueId": "1", "commitOffset": "42"}
	if resp := handlertest.Call(t, h[remoting.UpdateConsumerOffset], remoting.UpdateConsumerOffset, u, nil); resp.ResponseCode() != remoting.Success {
		t.Fatalf("update: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if resp := handlertest.Call(t, h[remoting.QueryConsumerOffset], remoting.QueryConsumerOffset, q, nil); resp.Ext("offset") != "42" {
		t.Fatalf("after commit: %v", resp.ExtMap())
	}
	delete(u, "commitOffset")
	if resp := handlertest.Call(t, h[remoting.UpdateConsumerOffset], remoting.UpdateConsumerOffset, u, nil); resp.ResponseCode() != remoting.SystemError || resp.Remark != "the custom field <commitOffset> is null" {
		t.Fatalf("missing commitOffset: %s %q", resp.ResponseCode(), resp.Remark)
	}
	// Nobody in the group: RocketMQ's remark.
	resp := handlertest.Call(t, h[remoting.GetConsumerListByGroup], remoting.GetConsumerListByGroup, map[string]string{"consumerGroup": "G"}, nil)
	if resp.ResponseCode() != remoting.SystemError {
		t.Fatalf("empty group: %s %q", resp.ResponseCode(), resp.Remark)
	}
}
