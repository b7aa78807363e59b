package supervisor_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	rmqadmin "github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

func invokeBody(t *testing.T, c *remoting.Client, code remoting.RequestCode, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	resp, err := c.Invoke(context.Background(), remoting.NewRequest(code, ext, body), 10*time.Second)
	if err != nil {
		t.Fatalf("invoke %s: %v", code, err)
	}
	return resp
}

func mustFastjson(t *testing.T, resp *remoting.Command) *jobj {
	t.Helper()
	if resp.ResponseCode() != remoting.Success {
		t.Fatalf("%s %q", resp.ResponseCode(), resp.Remark)
	}
	v, err := parseFastjson(string(resp.Body))
	if err != nil {
		t.Fatalf("decode %s: %v", resp.Body, err)
	}
	o, _ := v.(*jobj)
	return o
}

// UPDATE_BROKER_CONFIG changes osPageCacheBusyTimeOutMills while sends
// are stalled: lowered, sends are refused REJECTREQUEST after the new
// threshold; raised, the same stall is no longer page-cache busy and sends
// wait for it and succeed. A key that cannot change live is refused by
// name, and a refused update changes nothing.
func TestLiveConfigPageCacheBusyThreshold(t *testing.T) {
	b, p, admin := flowCluster(t, nil)
	update := func(props string) *remoting.Command {
		return invokeBody(t, admin, remoting.UpdateBrokerConfig, nil, []byte(props))
	}
	brokerConfig := func() map[string]string {
		resp := invokeBody(t, admin, remoting.GetBrokerConfig, nil, nil)
		if resp.ResponseCode() != remoting.Success || resp.Ext("version") == "" {
			t.Fatalf("GET_BROKER_CONFIG: %s %q %v", resp.ResponseCode(), resp.Remark, resp.ExtMap())
		}
		return javaProperties(string(resp.Body))
	}
	if v := brokerConfig()["osPageCacheBusyTimeOutMills"]; v != "1000" {
		t.Fatalf("osPageCacheBusyTimeOutMills %q before the update", v)
	}

	// Lowered to 300 ms: a send 300 ms into a stall is refused.
	if resp := update("osPageCacheBusyTimeOutMills=300\n"); resp.ResponseCode() != remoting.Success {
		t.Fatalf("update: %s %q", resp.ResponseCode(), resp.Remark)
	}
	setFault(t, admin, map[string]string{"appendStallMillis": "1500"})
	first := sendAsync(t, p, "stalled-1")
	poll.Until(t, "", func() bool { return b.Store().LockTimeMills() > 400 })
	_, err := p.SendSync(context.Background(), primitive.NewMessage(flowTopic, []byte("refused")))
	wantBusy(t, err, 2, "[REJECTREQUEST]system busy, start flow control for a while")
	setFault(t, admin, map[string]string{"appendStallMillis": "0"})
	if r := <-first; r.err != nil {
		t.Fatalf("stalled send: %v", r.err)
	}

	// Raised to 60 s: the same kind of stall, past the default 1 s, is not
	// busy; the send waits and is stored.
	if resp := update("osPageCacheBusyTimeOutMills = 60000\n"); resp.ResponseCode() != remoting.Success {
		t.Fatalf("update: %s %q", resp.ResponseCode(), resp.Remark)
	}
	setFault(t, admin, map[string]string{"appendStallMillis": "1800"})
	second := sendAsync(t, p, "stalled-2")
	poll.Until(t, "", func() bool { return b.Store().LockTimeMills() > 1100 })
	if b.Store().IsOSPageCacheBusy() {
		t.Fatal("page cache busy past 1 s with a 60 s threshold")
	}
	waiting := sendAsync(t, p, "waits")
	setFault(t, admin, map[string]string{"appendStallMillis": "0"})
	for _, ch := range []<-chan asyncResult{second, waiting} {
		if r := <-ch; r.err != nil {
			t.Fatalf("send during the stall: %v", r.err)
		}
	}
	if got := brokerConfig()["osPageCacheBusyTimeOutMills"]; got != "60000" {
		t.Fatalf("GET_BROKER_CONFIG osPageCacheBusyTimeOutMills = %q", got)
	}
	rec, err := os.ReadFile(filepath.Join(brokerConfig()["storePathRootDir"], "config", supervisor.BrokerPropertiesFile))
	if err != nil || javaProperties(string(rec))["osPageCacheBusyTimeOutMills"] != "60000" {
		t.Fatalf("broker.properties: %v\n%s", err, rec)
	}

	// A key that cannot change live is refused by name, and the whole
	// update with it: the threshold stays.
	resp := update("osPageCacheBusyTimeOutMills=700\nautoCreateTopicEnable=false\n")
	if resp.ResponseCode() != remoting.NoPermission || !strings.Contains(resp.Remark, "autoCreateTopicEnable cannot change while the broker runs") {
		t.Fatalf("refused key: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if got := brokerConfig()["osPageCacheBusyTimeOutMills"]; got != "60000" {
		t.Fatalf("a refused update changed the threshold to %q", got)
	}
	if resp := update("waitTimeMillsInSendQueue=-1"); resp.ResponseCode() != remoting.NoPermission || !strings.Contains(resp.Remark, "waitTimeMillsInSendQueue") {
		t.Fatalf("bad value: %s %q", resp.ResponseCode(), resp.Remark)
	}
	// Queue waits change live too: the processor's limit is the new one.
	if resp := update("waitTimeMillsInSendQueue=750\nbrokerFastFailureEnable=false"); resp.ResponseCode() != remoting.Success {
		t.Fatalf("update: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if got := sendProcessor(b).WaitLimit(); got != 750*time.Millisecond {
		t.Fatalf("send queue wait limit %s", got)
	}
	if cfg := brokerConfig(); cfg["brokerFastFailureEnable"] != "false" || cfg["waitTimeMillsInSendQueue"] != "750" {
		t.Fatalf("config after update: %v", cfg)
	}
}

// Each admin code through TCP, its answer decoded as RocketMQ's tools
// decode it; the Go client's admin API and its reset-offset handling.
func TestAdminCodesThroughTCP(t *testing.T) {
	ns, b := startCluster(t, nil)
	const topic, group = "OpsTopic", "OpsGroup"
	p := newProducer(t, ns.Addr())
	sendN(t, p, topic, "m-", 0, 10)
	delayed := primitive.NewMessage("OpsDelayed", []byte("later"))
	delayed.WithDelayTimeLevel(1)
	if _, err := p.SendSync(context.Background(), delayed); err != nil {
		t.Fatal(err)
	}
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer([]string{ns.Addr()}), consumer.WithGroupName(group),
		consumer.WithInstance(instance(t)), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		return consumer.ConsumeSuccess, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	admin := dial(t, b.Addr())
	consumed := func() (broker, consumer int) {
		o := mustFastjson(t, invoke(t, admin, remoting.GetConsumeStats, map[string]string{"consumerGroup": group, "topic": topic}))
		es, err := queueTable(o.obj("offsetTable"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			ow := e.val.(*jobj)
			broker += int(ow.num("brokerOffset"))
			consumer += int(ow.num("consumerOffset"))
		}
		return broker, consumer
	}
	poll.Until(t, "offsets committed", func() bool { bo, co := consumed(); return bo == 10 && co == 10 })

	// 28: every key of RocketMQ 4.9's table, formatted as it formats them.
	var kv struct{ Table map[string]string }
	if err := json.Unmarshal(invoke(t, admin, remoting.GetBrokerRuntimeInfo, nil).Body, &kv); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"putTps", "getTransferedTps", "getTotalTps", "getFoundTps", "getMissTps"} {
		f := strings.Split(kv.Table[k], " ")
		if len(f) != 3 {
			t.Fatalf("%s = %q: want three windows", k, kv.Table[k])
		}
		for _, x := range f {
			if _, err := strconv.ParseFloat(x, 64); err != nil {
				t.Fatalf("%s = %q: %v", k, kv.Table[k], err)
			}
		}
	}
	for _, k := range []string{"msgPutTotalTodayNow", "msgGetTotalTodayNow", "msgPutTotalTodayMorning", "msgPutTotalYesterdayMorning",
		"msgGetTotalTodayMorning", "msgGetTotalYesterdayMorning", "bootTimestamp", "earliestMessageTimeStamp", "commitLogDiskRatio", "consumeQueueDiskRatio"} {
		if _, err := strconv.ParseFloat(kv.Table[k], 64); err != nil {
			t.Fatalf("%s = %q", k, kv.Table[k])
		}
	}
	if n, _ := strconv.Atoi(kv.Table["msgPutTotalTodayNow"]); n < 10 {
		t.Fatalf("msgPutTotalTodayNow %d", n)
	}
	if n, _ := strconv.Atoi(kv.Table["msgGetTotalTodayNow"]); n < 10 {
		t.Fatalf("msgGetTotalTodayNow %d", n)
	}
	if ts, _ := strconv.ParseInt(kv.Table["earliestMessageTimeStamp"], 10, 64); ts <= 0 || ts > time.Now().UnixMilli() {
		t.Fatalf("earliestMessageTimeStamp %d", ts)
	}
	if !strings.HasPrefix(kv.Table["runtime"], "[ 0 days, 0 hours, ") {
		t.Fatalf("runtime %q", kv.Table["runtime"])
	}

	// 202 TopicStatsTable.
	es, err := queueTable(mustFastjson(t, invoke(t, admin, remoting.GetTopicStatsInfo, map[string]string{"topic": topic})).obj("offsetTable"))
	if err != nil || len(es) == 0 {
		t.Fatalf("topic stats: %v %d queues", err, len(es))
	}
	queues := len(es)
	total := 0
	for _, e := range es {
		to := e.val.(*jobj)
		total += int(to.num("maxOffset"))
		if to.num("maxOffset") > 0 && to.num("lastUpdateTimestamp") <= 0 || e.brokerName != "broker-test" || e.topic != topic {
			t.Fatalf("queue %+v %v", e, to)
		}
	}
	if total != 10 {
		t.Fatalf("topic stats count %d messages", total)
	}
	if resp := invoke(t, admin, remoting.GetTopicStatsInfo, map[string]string{"topic": "Nope"}); resp.ResponseCode() != remoting.TopicNotExist {
		t.Fatalf("unknown topic: %s", resp.ResponseCode())
	}

	// 203 ConsumerConnection, 204 ProducerConnection.
	cc := mustFastjson(t, invoke(t, admin, remoting.GetConsumerConnectionList, map[string]string{"consumerGroup": group}))
	conns, _ := cc.get("connectionSet").([]any)
	if len(conns) != 1 || conns[0].(*jobj).str("language") != "GO" || cc.str("messageModel") != "CLUSTERING" || cc.obj("subscriptionTable").obj(topic) == nil {
		t.Fatalf("consumer connection: %s", invoke(t, admin, remoting.GetConsumerConnectionList, map[string]string{"consumerGroup": group}).Body)
	}
	if !strings.Contains(conns[0].(*jobj).str("clientAddr"), "127.0.0.1:") {
		t.Fatalf("clientAddr %q", conns[0].(*jobj).str("clientAddr"))
	}
	// The producer group is newProducer's "pg-<test>-<n>".
	prodOK := false
	for i := 0; i < 50 && !prodOK; i++ {
		resp := invoke(t, admin, remoting.GetProducerConnectionList, map[string]string{"producerGroup": "pg-" + t.Name() + "-" + strconv.Itoa(i)})
		if resp.ResponseCode() == remoting.Success {
			pc := mustFastjson(t, resp)
			conns, _ := pc.get("connectionSet").([]any)
			prodOK = len(conns) == 1
		}
	}
	if !prodOK {
		t.Fatal("no producer connection found")
	}

	// 300 GroupList, 43 consumerOffset.json, 317 ConsumeStatsList.
	gl := mustFastjson(t, invoke(t, admin, remoting.QueryTopicConsumeByWho, map[string]string{"topic": topic}))
	if groups, _ := gl.get("groupList").([]any); len(groups) != 1 || groups[0] != group {
		t.Fatalf("groupList %v", gl.get("groupList"))
	}
	all := mustFastjson(t, invoke(t, admin, remoting.GetAllConsumerOffset, nil))
	if all.obj("offsetTable").obj(topic+"@"+group) == nil {
		t.Fatalf("consumer offsets lack %s@%s", topic, group)
	}
	csl := mustFastjson(t, invoke(t, admin, remoting.GetBrokerConsumeStats, map[string]string{"isOrder": "false"}))
	if csl.str("brokerAddr") == "" {
		t.Fatal("ConsumeStatsList without brokerAddr")
	}
	if _, ok := csl.get("consumeStatsList").([]any); !ok {
		t.Fatalf("consumeStatsList %v", csl.get("consumeStatsList"))
	}

	// 200/201/207 subscription groups, also through the Go client's admin.
	sg := []byte(`{"groupName":"CreatedGroup","retryMaxTimes":3,"consumeEnable":true}`)
	if resp := invokeBody(t, admin, remoting.UpdateAndCreateSubscriptionGroup, nil, sg); resp.ResponseCode() != remoting.Success {
		t.Fatalf("create group: %s %q", resp.ResponseCode(), resp.Remark)
	}
	goAdmin, err := rmqadmin.NewAdmin(rmqadmin.WithResolver(primitive.NewPassthroughResolver([]string{ns.Addr()})))
	if err != nil {
		t.Fatal(err)
	}
	wrapper, err := goAdmin.GetAllSubscriptionGroup(context.Background(), b.Addr(), 5*time.Second)
	if err != nil || wrapper.SubscriptionGroupTable["CreatedGroup"].RetryMaxTimes != 3 {
		t.Fatalf("Go admin GetAllSubscriptionGroup: %v %+v", err, wrapper)
	}
	if resp := invoke(t, admin, remoting.DeleteSubscriptionGroup, map[string]string{"groupName": "CreatedGroup"}); resp.ResponseCode() != remoting.Success {
		t.Fatalf("delete group: %s %q", resp.ResponseCode(), resp.Remark)
	}
	topics, err := goAdmin.FetchAllTopicList(context.Background())
	if err != nil || !strings.Contains(strings.Join(topics.TopicList, ","), topic) {
		t.Fatalf("Go admin FetchAllTopicList: %v %v", err, topics)
	}

	// 314 CLONE_GROUP_OFFSET.
	if resp := invoke(t, admin, remoting.CloneGroupOffset, map[string]string{"srcGroup": group, "destGroup": "CloneGroup", "topic": topic}); resp.ResponseCode() != remoting.Success {
		t.Fatalf("clone: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if _, co := func() (int, int) {
		o := mustFastjson(t, invoke(t, admin, remoting.GetConsumeStats, map[string]string{"consumerGroup": "CloneGroup", "topic": topic}))
		es, _ := queueTable(o.obj("offsetTable"))
		n := 0
		for _, e := range es {
			n += int(e.val.(*jobj).num("consumerOffset"))
		}
		return 0, n
	}(); co != 10 {
		t.Fatalf("cloned offsets sum %d", co)
	}

	// 315 VIEW_BROKER_STATS_DATA.
	bsd := mustFastjson(t, invoke(t, admin, remoting.ViewBrokerStatsData, map[string]string{"statsName": "TOPIC_PUT_NUMS", "statsKey": topic}))
	for _, w := range []string{"statsMinute", "statsHour", "statsDay"} {
		if bsd.obj(w) == nil || bsd.obj(w).get("tps") == nil {
			t.Fatalf("BrokerStatsData lacks %s", w)
		}
	}
	if resp := invoke(t, admin, remoting.ViewBrokerStatsData, map[string]string{"statsName": "TOPIC_PUT_NUMS", "statsKey": "Nope"}); resp.Remark != "The stats <TOPIC_PUT_NUMS> <Nope> not exist" {
		t.Fatalf("unknown stats key: %q", resp.Remark)
	}

	// 307 passed on to the Go client, whose answer comes back as it gave
	// it (this client version answers SUCCESS, with a body or, when its own
	// stats hold a NaN, with only a remark); an unknown client is refused.
	clientID := conns[0].(*jobj).str("clientId")
	ri := invoke(t, admin, remoting.GetConsumerRunningInfo, map[string]string{"consumerGroup": group, "clientId": clientID})
	if ri.ResponseCode() != remoting.Success || (!strings.Contains(string(ri.Body), "properties") && !strings.Contains(ri.Remark, "json")) {
		t.Fatalf("consumer running info: %s %q %.200s", ri.ResponseCode(), ri.Remark, ri.Body)
	}

	if resp := invoke(t, admin, remoting.GetConsumerRunningInfo, map[string]string{"consumerGroup": group, "clientId": "nobody"}); resp.Remark != "The Consumer <"+group+"> <nobody> not online" {
		t.Fatalf("unknown client: %q", resp.Remark)
	}

	// 223: the broker asks each consumer (221) for its offsets; the Go
	// client's table comes back under its client id. Asked while the
	// consumer is idle: this client reads its offset table for 221 without
	// the lock its consuming goroutines write it under (a race of its own).
	cs := mustFastjson(t, invoke(t, admin, remoting.InvokeBrokerToGetConsumerStatus, map[string]string{"topic": topic, "group": group}))
	if es, err := queueTable(cs.obj("consumerTable").obj(clientID)); err != nil || len(es) == 0 || es[0].topic != topic {
		t.Fatalf("GetConsumerStatusBody: %v %+v", err, cs)
	}

	// 309: the message named by its offset msgId is handed to the Go
	// consumer, which consumes it and reports the result (this client
	// writes ConsumeSuccess as 0 where Java writes CR_SUCCESS).
	sr, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("direct")))
	if err != nil {
		t.Fatal(err)
	}
	direct := invoke(t, admin, remoting.ConsumeMessageDirectly, map[string]string{"consumerGroup": group, "clientId": clientID, "msgId": sr.OffsetMsgID})
	if direct.ResponseCode() != remoting.Success || !strings.Contains(string(direct.Body), `"consumeResult":0`) {
		t.Fatalf("consume directly: %s %q %s", direct.ResponseCode(), direct.Remark, direct.Body)
	}

	// 222: reset to the start, forced. A consumer of CloneGroup (raw, so
	// the test sees the frame) receives RESET_CONSUMER_CLIENT_OFFSET (220,
	// one-way) with the header and the ResetOffsetBody RocketMQ sends.
	pushed := make(chan *remoting.Command, 1)
	raw, err := remoting.Dial(context.Background(), b.Addr(), remoting.ClientOptions{OnRequest: func(_ *remoting.Client, req *remoting.Command) {
		if req.RequestCode() == remoting.ResetConsumerClientOffset {
			pushed <- req
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if resp := invokeCmd(t, raw, remoting.NewRequest(remoting.HeartBeat, nil, heartbeatBody("raw-consumer", "CloneGroup", topic))); resp.ResponseCode() != remoting.Success {
		t.Fatalf("heartbeat: %s", resp.ResponseCode())
	}
	reset := invoke(t, admin, remoting.InvokeBrokerToResetOffset, map[string]string{"topic": topic, "group": "CloneGroup", "timestamp": "0", "isForce": "true"})
	res := mustFastjson(t, reset)
	if es, err := queueTable(res.obj("offsetTable")); err != nil || len(es) != queues {
		t.Fatalf("ResetOffsetBody: %v %s", err, reset.Body)
	}
	select {
	case req := <-pushed:
		if !req.IsOneway() || req.Ext("topic") != topic || req.Ext("group") != "CloneGroup" || req.Ext("timestamp") != "0" {
			t.Fatalf("220 header %v oneway=%v", req.ExtMap(), req.IsOneway())
		}
		v, err := parseFastjson(string(req.Body))
		if err != nil {
			t.Fatal(err)
		}
		es, err := queueTable(v.(*jobj).obj("offsetTable"))
		if err != nil || len(es) != queues {
			t.Fatalf("220 body %s: %v", req.Body, err)
		}
		for _, e := range es {
			if e.val.(float64) != 0 {
				t.Fatalf("queue %d reset to %v, want 0", e.queueID, e.val)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no RESET_CONSUMER_CLIENT_OFFSET pushed")
	}
	if resp := invoke(t, admin, remoting.InvokeBrokerToResetOffset, map[string]string{"topic": topic, "group": "NoSuchGroup", "timestamp": "-1"}); resp.ResponseCode() == remoting.Success {
		t.Fatal("reset of a group without offsets succeeded")
	}

	// 45 delayOffset.json: level 1 has delivered the delayed message.
	poll.Until(t, "delay level 1 delivered", func() bool {
		resp := invoke(t, admin, remoting.GetAllDelayOffset, nil)
		if resp.ResponseCode() != remoting.Success {
			return false
		}
		o := mustFastjson(t, resp).obj("offsetTable")
		for i, k := range o.keys {
			if (k == "1" || k == 1.0) && o.vals[i] == 1.0 {
				return true
			}
		}
		return false
	})
	// 305 system topics; 303 consume time span.
	st := mustFastjson(t, invoke(t, admin, remoting.GetSystemTopicListFromBroker, nil))
	if list, _ := st.get("topicList").([]any); len(list) == 0 {
		t.Fatal("no system topics")
	}
	span := mustFastjson(t, invoke(t, admin, remoting.QueryConsumeTimeSpan, map[string]string{"topic": topic, "group": group}))
	if set, _ := span.get("consumeTimeSpanSet").([]any); len(set) != queues || set[0].(*jobj).obj("messageQueue").str("topic") != topic {
		t.Fatalf("consume time span %v", span.get("consumeTimeSpanSet"))
	}

	// A code whose semantics Sluice lacks is refused by name.
	if resp := invoke(t, admin, remoting.CleanUnusedTopic, nil); resp.ResponseCode() != remoting.RequestCodeNotSupported ||
		!strings.HasPrefix(resp.Remark, "CLEAN_UNUSED_TOPIC (316) is not supported by Sluice") {
		t.Fatalf("refused code: %s %q", resp.ResponseCode(), resp.Remark)
	}
	// So is an ACL code while aclEnable=false.
	if resp := invoke(t, admin, remoting.UpdateAndCreateACLConfig, nil); resp.ResponseCode() != remoting.RequestCodeNotSupported ||
		!strings.HasPrefix(resp.Remark, "UPDATE_AND_CREATE_ACL_CONFIG (50): ACL is off on this broker") {
		t.Fatalf("ACL code with ACL off: %s %q", resp.ResponseCode(), resp.Remark)
	}
}

// The name server's KV config and listings.
func TestNamesrvOpsCodes(t *testing.T) {
	ns, b := startCluster(t, nil)
	p := newProducer(t, ns.Addr())
	sendN(t, p, "NsTopic", "m-", 0, 1)
	c := dial(t, ns.Addr())
	kv := map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "NsTopic", "value": "broker-test:8"}
	if resp := invoke(t, c, remoting.PutKVConfig, kv); resp.ResponseCode() != remoting.Success {
		t.Fatalf("put: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if resp := invoke(t, c, remoting.GetKVConfig, kv); resp.ResponseCode() != remoting.Success || resp.Ext("value") != "broker-test:8" {
		t.Fatalf("get: %s %v", resp.ResponseCode(), resp.ExtMap())
	}
	var table struct{ Table map[string]string }
	if err := json.Unmarshal(invoke(t, c, remoting.GetKVListByNamespace, kv).Body, &table); err != nil || table.Table["NsTopic"] != "broker-test:8" {
		t.Fatalf("kv list: %v %v", err, table)
	}
	invoke(t, c, remoting.DeleteKVConfig, kv)
	if resp := invoke(t, c, remoting.GetKVConfig, kv); resp.ResponseCode() != remoting.QueryNotFound {
		t.Fatalf("deleted key: %s", resp.ResponseCode())
	}
	poll.Until(t, "topic registered", func() bool {
		v, err := parseFastjson(string(invoke(t, c, remoting.GetTopicsByCluster, map[string]string{"cluster": "DefaultCluster"}).Body))
		if err != nil {
			t.Fatal(err)
		}
		list, _ := v.(*jobj).get("topicList").([]any)
		for _, x := range list {
			if x == "NsTopic" {
				return true
			}
		}
		return false
	})
	v, _ := parseFastjson(string(invoke(t, c, remoting.GetSystemTopicListFromNS, nil).Body))
	if list, _ := v.(*jobj).get("topicList").([]any); len(list) != 2 {
		t.Fatalf("system topics %v", list)
	}
	if resp := invoke(t, c, remoting.WipeWritePermOfBroker, map[string]string{"brokerName": "broker-test"}); resp.ResponseCode() != remoting.Success || resp.Ext("wipeTopicCount") == "0" {
		t.Fatalf("wipe: %s %v", resp.ResponseCode(), resp.ExtMap())
	}
	if resp := invoke(t, c, remoting.AddWritePermOfBroker, map[string]string{"brokerName": "broker-test"}); resp.ResponseCode() != remoting.Success {
		t.Fatalf("add: %s", resp.ResponseCode())
	}
	_ = b
}
