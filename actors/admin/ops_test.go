package admin

import (
	"strings"
	"testing"

	"github.com/sluice-mq/sluice/actors/handlertest"
	"github.com/sluice-mq/sluice/remoting"
)

// The body mqadmin sends (MixAll.properties2String) and what a hand-written
// one may look like (Properties#load's separators, comments, continuation).
func TestParseProperties(t *testing.T) {
	got := ParseProperties([]byte("# comment\n! also\nosPageCacheBusyTimeOutMills=2000\n  waitTimeMillsInSendQueue : 300\nbrokerFastFailureEnable false\nmessageDelayLevel=1s 5s \\\n  10s\n\n"))
	want := map[string]string{"osPageCacheBusyTimeOutMills": "2000", "waitTimeMillsInSendQueue": "300", "brokerFastFailureEnable": "false", "messageDelayLevel": "1s 5s 10s"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestOffsetFromMsgID(t *testing.T) {
	// 127.0.0.1:10911, commit-log offset 0x1234.
	off, err := offsetFromMsgID("7F00000100002A9F0000000000001234")
	if err != nil || off != 0x1234 {
		t.Fatalf("%d %v", off, err)
	}
	if _, err := offsetFromMsgID("nothex"); err == nil {
		t.Fatal("accepted a bad msgId")
	}
}

// A refused code names itself and why; it never reaches a handler.
func TestRefusedCodesNamed(t *testing.T) {
	env := handlertest.New(t)
	h := (&Handlers{Meta: env.Meta, Store: env.Store}).ByCode()
	for code := range refused {
		resp := handlertest.Call(t, h[code], code, nil, nil)
		if resp.ResponseCode() != remoting.RequestCodeNotSupported || !strings.HasPrefix(resp.Remark, code.String()+" (") ||
			strings.HasPrefix(code.String(), "REQUEST_CODE_") {
			t.Errorf("%d: %s %q", code, resp.ResponseCode(), resp.Remark)
		}
	}
}

func TestTopLevelField(t *testing.T) {
	body := []byte(`{"a":{"x":1},"messageQueueTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5},"z":3}`)
	got, ok := topLevelField(body, "messageQueueTable")
	if !ok || string(got) != `{{"brokerName":"b","queueId":0,"topic":"T"}:5}` {
		t.Fatalf("%q %v", got, ok)
	}
	if got, ok := topLevelField(body, "z"); !ok || string(got) != "3" {
		t.Fatalf("%q", got)
	}
	if _, ok := topLevelField(body, "x"); ok {
		t.Fatal("found a nested field")
	}
}

// As df's Use%: the root file system is neither empty nor over full.
func TestDiskPartitionSpaceUsedPercent(t *testing.T) {
	r := diskPartitionSpaceUsedPercent(t.TempDir())
	if r <= 0 || r > 1 {
		t.Fatalf("%v", r)
	}
	if r := diskPartitionSpaceUsedPercent("/no/such/dir"); r != -1 {
		t.Fatalf("missing dir: %v", r)
	}
}
