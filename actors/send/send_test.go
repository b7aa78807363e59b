package send_test

import (
	"testing"

	"github.com/sluice-mq/sluice/actors/handlertest"
	"github.com/sluice-mq/sluice/actors/send"
	"github.com/sluice-mq/sluice/remoting"
)

// The checks a send meets before the writer is involved (msgCheck), each
// with RocketMQ's code; nothing is stored.
func TestSendChecks(t *testing.T) {
	env := handlertest.New(t)
	h := (&send.Handlers{ID: env.ID, Store: env.Store, Meta: env.Meta}).ByCode()
	base := func(topic, queueID string) map[string]string {
		return map[string]string{"a": "PG", "b": topic, "c": "TBW102", "d": "4", "e": queueID, "f": "0", "g": "0", "h": "0"}
	}
	for _, tc := range []struct {
		name string
		ext  map[string]string
		code remoting.ResponseCode
	}{
		{"missing header field", map[string]string{"a": "PG"}, remoting.SystemError},
		{"illegal topic name", base("a b", "0"), remoting.SystemError},
		{"send to a system topic", base("SCHEDULE_TOPIC_XXXX", "0"), remoting.NoPermission},
		{"queue beyond the topic's", base("TBW102", "99"), remoting.SystemError},
	} {
		resp := handlertest.Call(t, h[remoting.SendMessageV2], remoting.SendMessageV2, tc.ext, []byte("body"))
		if resp.ResponseCode() != tc.code {
			t.Errorf("%s: %s %q, want %s", tc.name, resp.ResponseCode(), resp.Remark, tc.code)
		}
	}
	if n := env.Store.MaxOffsetInQueue("TBW102", 0); n != 0 {
		t.Fatalf("%d messages stored by refused sends", n)
	}
}
