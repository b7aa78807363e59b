package query

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/handlertest"
	"github.com/sluice-mq/sluice/remoting"
)

// Malformed and empty look-ups get exactly one answer each, with RocketMQ's
// codes (the end-to-end answers are in supervisor/query_test.go).
func TestQueryHandlersRefuseAndMiss(t *testing.T) {
	env := handlertest.New(t)
	h := &Handlers{Store: env.Store, Log: zerolog.Nop()}
	by := h.ByCode()

	r := handlertest.Call(t, by[remoting.QueryMessage], remoting.QueryMessage, map[string]string{"topic": "T", "key": "k"}, nil)
	if r.ResponseCode() != remoting.SystemError || r.Remark != "the custom field <maxNum> is null" {
		t.Fatalf("missing fields: %s %q", r.ResponseCode(), r.Remark)
	}
	r = handlertest.Call(t, by[remoting.QueryMessage], remoting.QueryMessage, map[string]string{
		"topic": "T", "key": "k", "maxNum": "32", "beginTimestamp": "0", "endTimestamp": "9999999999999"}, nil)
	if r.ResponseCode() != remoting.QueryNotFound || r.Ext("indexLastUpdatePhyoffset") != "0" || r.Ext("indexLastUpdateTimestamp") != "0" {
		t.Fatalf("empty index: %s %v", r.ResponseCode(), r.ExtMap())
	}
	r = handlertest.Call(t, by[remoting.ViewMessageByID], remoting.ViewMessageByID, map[string]string{"offset": "0"}, nil)
	if r.ResponseCode() != remoting.SystemError || r.Remark != "can not find message by the offset, 0" {
		t.Fatalf("view in an empty log: %s %q", r.ResponseCode(), r.Remark)
	}
	r = handlertest.Call(t, by[remoting.ViewMessageByID], remoting.ViewMessageByID, map[string]string{"offset": "-5"}, nil)
	if r.ResponseCode() != remoting.SystemError {
		t.Fatalf("negative offset: %s", r.ResponseCode())
	}
	r = handlertest.Call(t, by[remoting.GetEarliestMsgStoretime], remoting.GetEarliestMsgStoretime, map[string]string{"topic": "T", "queueId": "0"}, nil)
	if r.ResponseCode() != remoting.Success || r.Ext("timestamp") != "-1" {
		t.Fatalf("earliest of an empty queue: %s %v", r.ResponseCode(), r.ExtMap())
	}
	r = handlertest.Call(t, by[remoting.GetEarliestMsgStoretime], remoting.GetEarliestMsgStoretime, map[string]string{"topic": "T"}, nil)
	if r.ResponseCode() != remoting.SystemError {
		t.Fatalf("earliest without queueId: %s", r.ResponseCode())
	}
}
