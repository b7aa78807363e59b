package admin_test

import (
	"encoding/json"
	"testing"

	"github.com/sluice-mq/sluice/actors/admin"
	"github.com/sluice-mq/sluice/actors/handlertest"
	"github.com/sluice-mq/sluice/remoting"
)

func TestTopicAdministration(t *testing.T) {
	env := handlertest.New(t)
	h := (&admin.Handlers{Meta: env.Meta, Store: env.Store}).ByCode()

	create := map[string]string{"topic": "Orders", "readQueueNums": "8", "writeQueueNums": "8", "perm": "6"}
	if resp := handlertest.Call(t, h[remoting.UpdateAndCreateTopic], remoting.UpdateAndCreateTopic, create, nil); resp.ResponseCode() != remoting.Success {
		t.Fatalf("create topic: %s %s", resp.ResponseCode(), resp.Remark)
	}
	resp := handlertest.Call(t, h[remoting.GetAllTopicConfig], remoting.GetAllTopicConfig, nil, nil)
	var all struct {
		TopicConfigTable map[string]struct{ ReadQueueNums int } `json:"topicConfigTable"`
	}
	if err := json.Unmarshal(resp.Body, &all); err != nil || all.TopicConfigTable["Orders"].ReadQueueNums != 8 {
		t.Fatalf("topic table %s: %v", resp.Body, err)
	}
	// A system topic is not the operator's to change.
	sys := map[string]string{"topic": "TBW102", "readQueueNums": "8", "writeQueueNums": "8", "perm": "6"}
	if resp := handlertest.Call(t, h[remoting.UpdateAndCreateTopic], remoting.UpdateAndCreateTopic, sys, nil); resp.ResponseCode() != remoting.SystemError {
		t.Fatalf("system topic: %s %s", resp.ResponseCode(), resp.Remark)
	}
	if resp := handlertest.Call(t, h[remoting.DeleteTopicInBroker], remoting.DeleteTopicInBroker, map[string]string{"topic": "Orders"}, nil); resp.ResponseCode() != remoting.Success {
		t.Fatalf("delete topic: %s %s", resp.ResponseCode(), resp.Remark)
	}
	if _, ok := env.Meta.Topics.Select("Orders"); ok {
		t.Fatal("deleted topic still configured")
	}
}

func TestOffsetsAnswerHeaderErrorsAsJava(t *testing.T) {
	env := handlertest.New(t)
	h := (&admin.Handlers{Meta: env.Meta, Store: env.Store}).ByCode()
	resp := handlertest.Call(t, h[remoting.GetMaxOffset], remoting.GetMaxOffset, map[string]string{"topic": "T", "queueId": "x"}, nil)
	if resp.ResponseCode() != remoting.SystemError || resp.Remark != `the custom field <queueId> is not a 32-bit number: "x"` {
		t.Fatalf("bad queueId: %s %q", resp.ResponseCode(), resp.Remark)
	}
	resp = handlertest.Call(t, h[remoting.GetMinOffset], remoting.GetMinOffset, map[string]string{"queueId": "0"}, nil)
	if resp.ResponseCode() != remoting.SystemError || resp.Remark != "the custom field <topic> is null" {
		t.Fatalf("missing topic: %s %q", resp.ResponseCode(), resp.Remark)
	}
	resp = handlertest.Call(t, h[remoting.GetMaxOffset], remoting.GetMaxOffset, map[string]string{"topic": "T", "queueId": "0"}, nil)
	if resp.ResponseCode() != remoting.Success || resp.Ext("offset") != "0" {
		t.Fatalf("empty queue: %s %v", resp.ResponseCode(), resp.ExtMap())
	}
}
