package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

func TestQueryMsgByKeyAndID(t *testing.T) {
	ns := brokertest.StartNameServer(t)
	cfg := brokertest.Config(t)
	cfg.NamesrvAddr = ns.Addr()
	b := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "", func() bool { return len(ns.Routes().LiveBrokers()) > 0 })
	p, err := rocketmq.NewProducer(producer.WithNameServer([]string{ns.Addr()}),
		producer.WithGroupName("pg-"+t.Name()), producer.WithInstanceName(t.Name()), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// Not shut down: see supervisor's newProducer (its Shutdown races under -race).
	m := primitive.NewMessage("CtlQuery", []byte("hello index"))
	m.WithKeys([]string{"order-42"})
	m.WithTag("TagA")
	res, err := p.SendSync(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	var r result
	poll.Until(t, "key indexed", func() bool {
		r = cli(t, "queryMsgByKey", "-b", b.Addr(), "CtlQuery", "order-42")
		return r.code == 0
	})
	if !strings.Contains(r.stdout, "#Message ID") || !strings.Contains(r.stdout, res.MsgID) {
		t.Fatalf("queryMsgByKey: %+v", r)
	}
	r = cli(t, "queryMsgByKey", "-b", b.Addr(), "--json", "CtlQuery", "order-42")
	var found []queriedMessage
	if err := json.Unmarshal([]byte(r.stdout), &found); err != nil || len(found) != 1 || found[0].Body != "hello index" ||
		found[0].OffsetMsgID != res.OffsetMsgID || found[0].Tags != "TagA" {
		t.Fatalf("queryMsgByKey --json: %+v %v", r, err)
	}
	if r := cli(t, "queryMsgByKey", "-b", b.Addr(), "CtlQuery", "order-43"); r.code != 1 || !strings.Contains(r.stderr, "no message with key") {
		t.Fatalf("unknown key: %+v", r)
	}
	// The offset msgId names the broker: no -b needed.
	r = cli(t, "queryMsgById", res.OffsetMsgID)
	if r.code != 0 || !strings.Contains(r.stdout, "Keys:                [order-42]") || !strings.Contains(r.stdout, `"hello index"`) ||
		!strings.Contains(r.stdout, "UNIQ_KEY="+res.MsgID) {
		t.Fatalf("queryMsgById: %+v", r)
	}
	if r := cli(t, "queryMsgById", "-i", res.OffsetMsgID, "--json"); r.code != 0 || !strings.Contains(r.stdout, `"msgId": "`+res.MsgID+`"`) {
		t.Fatalf("queryMsgById -i --json: %+v", r)
	}
	if r := cli(t, "queryMsgById", "nothex"); r.code != 2 {
		t.Fatalf("bad id: %+v", r)
	}
	// An offset that is no record: the broker's SYSTEM_ERROR, one line.
	bad := res.OffsetMsgID[:16] + "0000000000000007"
	if r := cli(t, "queryMsgById", bad); r.code != 1 || !strings.Contains(r.stderr, "can not find message by the offset, 7") {
		t.Fatalf("offset 7: %+v", r)
	}
}
