package pull_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/handlertest"
	"github.com/sluice-mq/sluice/actors/pull"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// pullAllocBudget pins the steady-state allocations of one PULL_MESSAGE
// that finds a message with a subscription in its header: the request, the
// pull's state (it may be parked), the store's result, the answer Command
// with its typed header (remoting.NewAnswer; a header map and its number
// strings used to cost two more), and the body (the one copy out of the
// mapping). The decoded request frame is remoting's and not counted. Lower
// it when you remove one.
const pullAllocBudget = 5

func TestPullSteadyStateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	env := handlertest.New(t)
	m := &commitlog.Message{Topic: "TBW102", QueueID: 0, Body: make([]byte, 1024),
		BornHost: netip.MustParseAddrPort("127.0.0.1:1"), StoreHost: env.ID.StoreHost, Properties: "TAGS\x01A\x02"}
	rec, err := commitlog.AppendRecord(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	req := &commitlog.PutRequest{Topic: "TBW102", QueueID: 0, Records: rec, Count: 1}
	env.Store.Put([]*commitlog.PutRequest{req})
	if req.Result.Status != commitlog.PutOK {
		t.Fatal(req.Result.Status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for env.Store.MaxOffsetInQueue("TBW102", 0) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("message not dispatched")
		}
		time.Sleep(time.Millisecond)
	}
	h := (&pull.Handlers{ID: env.ID, Store: env.Store, Meta: env.Meta, Holds: pull.NewHoldService()}).ByCode()[remoting.PullMessage]
	cmd := remoting.NewRequest(remoting.PullMessage, map[string]string{
		"consumerGroup": "G", "topic": "TBW102", "queueId": "0", "queueOffset": "0", "maxMsgNums": "32",
		"sysFlag": "4", "commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*", "subVersion": "0",
		"expressionType": "TAG",
	}, nil)
	var resp *remoting.Command
	reply := func(c *remoting.Command) { resp = c }
	once := func() {
		r := &actors.Request{Cmd: cmd, Arrived: time.Now(), ReplyTo: reply}
		h(r)
		if resp == nil || resp.ResponseCode() != remoting.Success || len(resp.Body) != len(rec) {
			t.Fatalf("pull: %v", resp)
		}
		resp = nil
	}
	for i := 0; i < 100; i++ {
		once()
	}
	if n := testing.AllocsPerRun(500, once); n > pullAllocBudget {
		t.Errorf("%.1f allocations per pull, budget %d", n, pullAllocBudget)
	} else {
		t.Logf("%.1f allocations per pull (budget %d)", n, pullAllocBudget)
	}
}
