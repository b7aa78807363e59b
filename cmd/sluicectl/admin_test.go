package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

func TestStatusPrintsSortedTable(t *testing.T) {
	rec := &recorder{reply: answer(remoting.Success, "",
		`{"table":{"putTps":"12.5 10.0 9.0","pageCacheLockTimeMills":"0","sendThreadPoolQueueSize":"3","brokerVersionDesc":"V4_9_8"}}`)}
	b := startBroker(t, supervisor.Options{Handlers: map[remoting.RequestCode]actors.HandlerFunc{
		remoting.GetBrokerRuntimeInfo: rec.handle,
	}})
	r := cli(t, "status", "-b", b.Addr())
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := "brokerVersionDesc: V4_9_8\npageCacheLockTimeMills: 0\nputTps: 12.5 10.0 9.0\nsendThreadPoolQueueSize: 3\n"
	if r.stdout != want {
		t.Errorf("got\n%s\nwant\n%s", r.stdout, want)
	}
	if req := rec.requests()[0]; req.ExtLen() != 0 || len(req.Body) != 0 {
		t.Errorf("GET_BROKER_RUNTIME_INFO carried %v / %q; it takes nothing", req.ExtMap(), req.Body)
	}

	r = cli(t, "status", "-b", b.Addr(), "--json")
	var table map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &table); err != nil || table["putTps"] != "12.5 10.0 9.0" {
		t.Errorf("--json: %v %v", table, err)
	}
}

// topic create, list and delete against the broker's own handlers.
func TestTopicCommands(t *testing.T) {
	b := startBroker(t, supervisor.Options{})
	addr := b.Addr()
	r := cli(t, "topic", "create", "Orders", "-b", addr, "-r", "3", "-w", "2")
	if r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	r = cli(t, "topic", "list", "-b", addr)
	if r.code != 0 {
		t.Fatalf("list: exit %d: %s", r.code, r.stderr)
	}
	if !regexpMatch(`(?m)^Orders\s+3\s+2\s+RW-\(6\)\s+false\s+0$`, r.stdout) {
		t.Errorf("Orders not listed with 3 read / 2 write queues, perm 6:\n%s", r.stdout)
	}
	r = cli(t, "topic", "list", "-b", addr, "--json")
	var w topicConfigWrapper
	if err := json.Unmarshal([]byte(r.stdout), &w); err != nil || w.TopicConfigTable["Orders"].WriteQueueNums != 2 {
		t.Errorf("--json: %v, %+v", err, w.TopicConfigTable["Orders"])
	}
	if r := cli(t, "topic", "delete", "Orders", "-b", addr); r.code != 0 {
		t.Fatalf("delete: exit %d: %s", r.code, r.stderr)
	}
	if r := cli(t, "topic", "list", "-b", addr); strings.Contains(r.stdout, "Orders") {
		t.Errorf("Orders still listed after delete:\n%s", r.stdout)
	}
	// A name the broker refuses: its remark, on one line, exit 1.
	oneLineError(t, cli(t, "topic", "create", "bad topic!", "-b", addr), 1, "UPDATE_AND_CREATE_TOPIC")
}

// The exact UPDATE_AND_CREATE_TOPIC and DELETE_TOPIC_IN_BROKER headers.
func TestTopicHeaders(t *testing.T) {
	create := &recorder{reply: answer(remoting.Success, "", "")}
	del := &recorder{reply: answer(remoting.Success, "", "")}
	b := startBroker(t, supervisor.Options{Handlers: map[remoting.RequestCode]actors.HandlerFunc{
		remoting.UpdateAndCreateTopic: create.handle,
		remoting.DeleteTopicInBroker:  del.handle,
	}})
	if r := cli(t, "topic", "create", "T", "-b", b.Addr(), "--order"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := map[string]string{"topic": "T", "defaultTopic": "TBW102", "readQueueNums": "8", "writeQueueNums": "8",
		"perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "true"}
	if got := create.requests()[0].ExtMap(); !sameMap(got, want) {
		t.Errorf("create header %v, want %v", got, want)
	}
	nsDel := &recorder{reply: answer(remoting.Success, "", "")}
	ns := &actors.Processor{Name: "test-namesrv", Codes: []remoting.RequestCode{remoting.DeleteTopicInNamesrv}, Capacity: 10,
		NewHandler: func() actors.Handler { return actors.HandlerFunc(nsDel.handle) }}
	nsb := startBroker(t, supervisor.Options{Processors: []*actors.Processor{ns}})
	r := cli(t, "topic", "delete", "T", "-b", b.Addr(), "-n", nsb.Addr())
	if r.code != 0 || !strings.Contains(r.stdout, "deleted on name server "+nsb.Addr()) {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	for _, rec := range []*recorder{del, nsDel} {
		if got := rec.requests()[0].ExtMap(); !sameMap(got, map[string]string{"topic": "T"}) {
			t.Errorf("delete header %v", got)
		}
	}
}

// group progress asks, per read queue, the max offset and the group's
// committed offset, and adds the group's retry topic.
func TestGroupProgress(t *testing.T) {
	topics := &recorder{reply: answer(remoting.Success, "",
		`{"topicConfigTable":{"Orders":{"topicName":"Orders","readQueueNums":2,"writeQueueNums":2,"perm":6},`+
			`"%RETRY%g1":{"topicName":"%RETRY%g1","readQueueNums":1,"writeQueueNums":1,"perm":6}},"dataVersion":{"counter":1,"timestamp":0}}`)}
	maxOffsets := map[string]string{"Orders/0": "100", "Orders/1": "50", "%RETRY%g1/0": "3"}
	maxOffset := &recorder{reply: func(req *remoting.Command) *remoting.Command {
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.ExtFields = map[string]string{"offset": maxOffsets[req.Ext("topic")+"/"+req.Ext("queueId")]}
		return resp
	}}
	consumer := &recorder{reply: func(req *remoting.Command) *remoting.Command {
		if req.Ext("consumerGroup") != "g1" {
			return remoting.NewResponse(req, remoting.SystemError, "wrong group "+req.Ext("consumerGroup"))
		}
		switch req.Ext("topic") + "/" + req.Ext("queueId") {
		case "Orders/0":
			resp := remoting.NewResponse(req, remoting.Success, "")
			resp.ExtFields = map[string]string{"offset": "90"}
			return resp
		case "Orders/1":
			resp := remoting.NewResponse(req, remoting.Success, "")
			resp.ExtFields = map[string]string{"offset": "50"}
			return resp
		}
		return remoting.NewResponse(req, remoting.QueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
	}}
	b := startBroker(t, supervisor.Options{Handlers: map[remoting.RequestCode]actors.HandlerFunc{
		remoting.GetAllTopicConfig:   topics.handle,
		remoting.GetMaxOffset:        maxOffset.handle,
		remoting.QueryConsumerOffset: consumer.handle,
	}})
	r := cli(t, "group", "progress", "g1", "-t", "Orders", "-b", b.Addr())
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		`(?m)^Orders\s+0\s+100\s+90\s+10$`, `(?m)^Orders\s+1\s+50\s+50\s+0$`, `(?m)^%RETRY%g1\s+0\s+3\s+-\s+-$`,
		`(?m)^total lag 10 \(1 queue without a committed offset\)$`,
	} {
		if !regexpMatch(want, r.stdout) {
			t.Errorf("output lacks %s:\n%s", want, r.stdout)
		}
	}
	if n := len(maxOffset.requests()); n != 3 {
		t.Errorf("%d GET_MAX_OFFSET requests, want 3", n)
	}

	r = cli(t, "group", "progress", "g1", "-t", "Orders", "-b", b.Addr(), "--json")
	var doc struct {
		Queues []queueProgress `json:"queues"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Queues) != 3 {
		t.Fatalf("--json: %v %q", err, r.stdout)
	}
	oneLineError(t, cli(t, "group", "progress", "g1", "-t", "Nope", "-b", b.Addr()), 1, "topic Nope does not exist")
}

// cluster reads GET_BROKER_CLUSTER_INFO, also in Java's dialect with bare
// integer keys.
func TestCluster(t *testing.T) {
	body := `{"brokerAddrTable":{"broker-b":{"brokerAddrs":{0:"10.0.0.2:10911"},"brokerName":"broker-b","cluster":"C1"},` +
		`"broker-a":{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.3:10911"},"brokerName":"broker-a","cluster":"C1"}},` +
		`"clusterAddrTable":{"C1":["broker-b","broker-a","broker-x"]}}`
	rec := &recorder{reply: answer(remoting.Success, "", body)}
	ns := &actors.Processor{Name: "test-namesrv", Codes: []remoting.RequestCode{remoting.GetBrokerClusterInfo}, Capacity: 10,
		NewHandler: func() actors.Handler {
			return actors.HandlerFunc(func(r *actors.Request) { rec.handle(r) })
		}}
	b := startBroker(t, supervisor.Options{Processors: []*actors.Processor{ns}})
	r := cli(t, "cluster", "-n", closedAddr(t)+";"+b.Addr())
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := "CLUSTER  BROKER    ID  ADDRESS\n" +
		"C1       broker-a  0   10.0.0.1:10911\n" +
		"C1       broker-a  1   10.0.0.3:10911\n" +
		"C1       broker-b  0   10.0.0.2:10911\n" +
		"C1       broker-x  -   (no address registered)\n"
	if r.stdout != want {
		t.Errorf("got\n%s\nwant\n%s", r.stdout, want)
	}
	r = cli(t, "cluster", "-n", b.Addr(), "--json")
	var info clusterInfo
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || info.BrokerAddrTable["broker-a"].BrokerAddrs["1"] != "10.0.0.3:10911" {
		t.Errorf("--json: %v %q", err, r.stdout)
	}
}

func TestFault(t *testing.T) {
	rec := &recorder{reply: answer(remoting.Success, "appendStallMillis=0 transientPoolExhausted=false processorDelayMillis=0", "")}
	b := startBroker(t, supervisor.Options{Handlers: map[remoting.RequestCode]actors.HandlerFunc{remoting.SetFault: rec.handle}})
	cases := []struct {
		args []string
		want map[string]string
	}{
		{[]string{"stall", "1500"}, map[string]string{"appendStallMillis": "1500"}},
		{[]string{"pool-exhausted", "on"}, map[string]string{"transientPoolExhausted": "true"}},
		{[]string{"pool-exhausted", "off"}, map[string]string{"transientPoolExhausted": "false"}},
		{[]string{"processor-delay", "50"}, map[string]string{"processorDelayMillis": "50"}},
		{[]string{"processor-delay", "50", "--processor", "send"}, map[string]string{"processorDelayMillis": "50", "processor": "send"}},
		{[]string{"off"}, map[string]string{"appendStallMillis": "0", "transientPoolExhausted": "false", "processorDelayMillis": "0"}},
	}
	for i, c := range cases {
		r := cli(t, append(append([]string{"fault"}, c.args...), "-b", b.Addr())...)
		if r.code != 0 || r.stdout != "appendStallMillis=0 transientPoolExhausted=false processorDelayMillis=0\n" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", c.args, r.code, r.stdout, r.stderr)
			continue
		}
		if got := rec.requests()[i].ExtMap(); !sameMap(got, c.want) {
			t.Errorf("%v: ext %v, want %v", c.args, got, c.want)
		}
	}

	refuse := &recorder{reply: answer(remoting.SystemError, "fault injection is disabled; start the broker with faultInjectionEnable=true", "")}
	b = startBroker(t, supervisor.Options{Handlers: map[remoting.RequestCode]actors.HandlerFunc{remoting.SetFault: refuse.handle}})
	oneLineError(t, cli(t, "fault", "stall", "10", "-b", b.Addr()), 1, "refused fault injection: fault injection is disabled")
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func regexpMatch(re, s string) bool {
	return regexp.MustCompile(re).MatchString(s)
}

// Against the broker's own SLUICE_SET_FAULT: the pool-exhausted fault
// shows in the tree, and the broker's remark is printed.
func TestFaultAgainstBroker(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.FaultInjectionEnable = true
	b := brokertest.Start(t, cfg, supervisor.Options{})
	r := cli(t, "fault", "pool-exhausted", "on", "-b", b.Addr())
	if r.code != 0 || r.stdout != "transientPoolExhausted=true\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, "tree", "-b", b.Addr()); !strings.Contains(r.stdout, "transient store pool DEFICIENT") {
		t.Errorf("tree does not show the deficient pool:\n%s", r.stdout)
	}
	r = cli(t, "fault", "processor-delay", "0", "--processor", "send", "-b", b.Addr())
	if r.code != 0 || r.stdout != "processorDelayMillis[send]=0\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	oneLineError(t, cli(t, "fault", "processor-delay", "5", "--processor", "nosuch", "-b", b.Addr()), 1, `no processor named "nosuch"`)
	if r := cli(t, "fault", "off", "-b", b.Addr()); r.code != 0 {
		t.Errorf("off: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := cli(t, "tree", "-b", b.Addr()); strings.Contains(r.stdout, "DEFICIENT") {
		t.Errorf("pool still deficient after fault off:\n%s", r.stdout)
	}
}
