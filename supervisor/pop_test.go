package supervisor_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/actors/pop"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// popped is one message a POP_MESSAGE handed out, with the handle the
// Java client (and the proxy) builds for it.
type popped struct {
	body           string
	handle         string // extraInfo
	queueID        int32
	offset         int64
	reconsumeTimes int32
	tags           string
}

// popRaw sends one POP_MESSAGE and decodes its answer as MQClientAPIImpl#
// processPopResponse does.
func popRaw(t *testing.T, c *remoting.Client, topic, group string, maxNums int32, invisible, pollMs int64, exp string) (remoting.ResponseCode, []popped) {
	t.Helper()
	h := remoting.PopMessageRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: -1, MaxMsgNums: maxNums,
		InvisibleTime: invisible, PollTime: pollMs, BornTime: time.Now().UnixMilli(), InitMode: 0, ExpType: "TAG", Exp: exp}
	req := remoting.NewRequest(remoting.PopMessage, nil, nil)
	h.Encode(req)
	resp, err := c.Invoke(context.Background(), req, time.Duration(pollMs)*time.Millisecond+10*time.Second)
	if err != nil {
		t.Fatalf("pop: %v", err)
	}
	if resp.ResponseCode() != remoting.Success {
		return resp.ResponseCode(), nil
	}
	rh, err := remoting.DecodePopMessageResponseHeader(resp)
	if err != nil {
		t.Fatal(err)
	}
	start := map[string]int64{}
	for _, one := range strings.Split(rh.StartOffsetInfo, ";") {
		f := strings.Split(one, " ")
		if len(f) != 3 {
			t.Fatalf("startOffsetInfo %q", rh.StartOffsetInfo)
		}
		n, _ := strconv.ParseInt(f[2], 10, 64)
		start[f[0]+"@"+f[1]] = n
	}
	var out []popped
	for _, m := range primitive.DecodeMessage(resp.Body) {
		p := popped{body: string(m.Body), queueID: int32(m.Queue.QueueId), offset: m.QueueOffset, reconsumeTimes: m.ReconsumeTimes, tags: m.GetTags()}
		if m.Topic != topic {
			t.Fatalf("popped a message of topic %q, want %q", m.Topic, topic)
		}
		if ck := m.GetProperty("POP_CK"); ck != "" {
			p.handle = ck
		} else {
			so, ok := start["0@"+strconv.Itoa(m.Queue.QueueId)]
			if !ok {
				t.Fatalf("no start offset for queue %d in %q", m.Queue.QueueId, rh.StartOffsetInfo)
			}
			p.handle = pop.BuildExtraInfo(so, rh.PopTime, rh.InvisibleTime, rh.ReviveQid, topic, "broker-test", int32(m.Queue.QueueId), m.QueueOffset)
		}
		out = append(out, p)
	}
	return remoting.Success, out
}

func ackRaw(t *testing.T, c *remoting.Client, code remoting.RequestCode, topic, group string, p popped, invisible int64) *remoting.Command {
	t.Helper()
	e, err := pop.ParseExtraInfo(p.handle)
	if err != nil {
		t.Fatalf("handle %q: %v", p.handle, err)
	}
	req := remoting.NewRequest(code, nil, nil)
	h := remoting.AckMessageRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: e.QueueID, ExtraInfo: p.handle, Offset: p.offset, InvisibleTime: invisible}
	h.Encode(req)
	return invokeCmd(t, c, req)
}

func startPopBroker(t *testing.T, mutate func(*supervisor.Config)) (*supervisor.NameServer, *brokertest.Broker) {
	return startCluster(t, func(c *supervisor.Config) {
		c.ReviveInterval = 50
		if mutate != nil {
			mutate(c)
		}
	})
}

func createPopTopic(t *testing.T, c *remoting.Client, topic string, queues int, attrs string) *remoting.Command {
	t.Helper()
	ext := map[string]string{"topic": topic, "defaultTopic": "TBW102", "readQueueNums": strconv.Itoa(queues),
		"writeQueueNums": strconv.Itoa(queues), "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}
	if attrs != "" {
		ext["attributes"] = attrs
	}
	return invoke(t, c, remoting.UpdateAndCreateTopic, ext)
}

// popUntil pops until want(bodies seen so far) holds, acking nothing.
func popUntil(t *testing.T, c *remoting.Client, topic, group string, invisible int64, exp string, done func([]popped) bool) []popped {
	t.Helper()
	var all []popped
	poll.Within(t, 20*time.Second, "popped", func() bool {
		_, ps := popRaw(t, c, topic, group, 32, invisible, 200, exp)
		all = append(all, ps...)
		return done(all)
	})
	return all
}

func bodies(ps []popped) map[string]popped {
	m := map[string]popped{}
	for _, p := range ps {
		m[p.body] = p
	}
	return m
}

// Pop, ack, change invisible time and revive through the remoting codes:
// an acked message never comes back; an un-acked one comes back from the
// pop retry topic after its invisible time with reconsumeTimes+1; one
// whose invisible time was changed comes back with a new handle later.
func TestPopAckReviveAndChangeInvisibleTime(t *testing.T) {
	ns, b := startPopBroker(t, nil)
	c := dial(t, b.Addr())
	const topic, group = "PopTopic", "cg-pop"
	if r := createPopTopic(t, c, topic, 2, ""); r.ResponseCode() != remoting.Success {
		t.Fatalf("create topic %s %q", r.ResponseCode(), r.Remark)
	}
	poll.Until(t, "", func() bool { _, ok := ns.Routes().PickupTopicRouteData(topic); return ok })
	p := newProducer(t, ns.Addr())
	sendN(t, p, topic, "m", 0, 4)

	first := bodies(popUntil(t, c, topic, group, 60_000, "*", func(ps []popped) bool { return len(bodies(ps)) == 4 }))
	for _, m := range first {
		if m.reconsumeTimes != 0 {
			t.Fatalf("first pop of %s: reconsumeTimes %d", m.body, m.reconsumeTimes)
		}
	}
	// m0, m1 acked; m2 made visible again in 100 ms; m3 stays invisible.
	for _, k := range []string{"m0", "m1"} {
		if r := ackRaw(t, c, remoting.AckMessage, topic, group, first[k], 0); r.ResponseCode() != remoting.Success {
			t.Fatalf("ack %s: %s %q", k, r.ResponseCode(), r.Remark)
		}
	}
	r := ackRaw(t, c, remoting.ChangeMessageInvisibleTime, topic, group, first["m2"], 100)
	if r.ResponseCode() != remoting.Success {
		t.Fatalf("change invisible time: %s %q", r.ResponseCode(), r.Remark)
	}
	ch, err := remoting.DecodeChangeInvisibleTimeResponseHeader(r)
	if err != nil || ch.InvisibleTime != 100 || ch.PopTime <= 0 {
		t.Fatalf("change invisible time answer %+v %v", ch, err)
	}
	again := popUntil(t, c, topic, group, 60_000, "*", func(ps []popped) bool { return len(ps) >= 1 })
	if len(again) != 1 || again[0].body != "m2" || again[0].reconsumeTimes != 1 {
		t.Fatalf("after the changed invisible time: %+v", again)
	}
	if !strings.Contains(again[0].handle, " 1 broker-test ") {
		t.Fatalf("a revived message's handle marks the retry topic: %q", again[0].handle)
	}
	// Acking the revived one (read from the retry topic) with the real
	// topic, as the proxy and the Java client send it.
	if r := ackRaw(t, c, remoting.AckMessage, pop.PopRetryTopic(topic, group), group, again[0], 0); r.ResponseCode() != remoting.Success {
		t.Fatalf("ack revived: %s %q", r.ResponseCode(), r.Remark)
	}
	// An offset outside the queue is NO_MESSAGE, as AckMessageProcessor.
	bogus := first["m3"]
	bogus.offset = 1 << 40
	if r := ackRaw(t, c, remoting.AckMessage, topic, group, bogus, 0); r.ResponseCode() != remoting.NoMessage {
		t.Fatalf("ack of an offset past the queue: %s %q", r.ResponseCode(), r.Remark)
	}
	// m3: invisible for a minute, so nothing more comes now; m0, m1, m2 are
	// acked and never come back.
	for i := 0; i < 3; i++ {
		if code, ps := popRaw(t, c, topic, group, 32, 60_000, 100, "*"); len(ps) != 0 || code != remoting.PollingTimeout {
			t.Fatalf("pop after acks: %s %+v", code, ps)
		}
	}
	info := b.RuntimeInfo()
	if info["popInFlightMessages"] != "1" || info["popAckTotal"] != "3" || info["popReviveTotal"] != "1" {
		t.Fatalf("runtime info %v", info)
	}
	node := b.Tree().Root.Find("pop")
	if node == nil || node.Pop == nil || node.Pop.InFlight[group+"@"+topic] != 1 || node.Pop.Revived != 1 || node.Pop.Acks != 3 {
		t.Fatalf("tree pop node %+v", node)
	}
}

// A pop that finds nothing waits for its pollTime and is answered as soon
// as a message arrives; a tag filter picks only its tags.
func TestPopLongPollAndTagFilter(t *testing.T) {
	ns, b := startPopBroker(t, nil)
	c := dial(t, b.Addr())
	const topic, group = "PopPollTopic", "cg-poll"
	createPopTopic(t, c, topic, 1, "")
	poll.Until(t, "", func() bool { _, ok := ns.Routes().PickupTopicRouteData(topic); return ok })
	got := make(chan []popped, 1)
	go func() {
		_, ps := popRaw(t, c, topic, group, 32, 60_000, 20_000, "keep")
		got <- ps
	}()
	poll.Until(t, "pop held", func() bool { return b.Tree() != nil && heldPops(b) == 1 })
	p := newProducer(t, ns.Addr())
	for i, tag := range []string{"drop", "keep"} {
		m := primitive.NewMessage(topic, []byte("t"+strconv.Itoa(i)))
		m.WithTag(tag)
		if _, err := p.SendSync(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	var all []popped
	select {
	case ps := <-got:
		all = ps
	case <-time.After(15 * time.Second):
		t.Fatal("held pop not answered after a message arrived")
	}
	all = append(all, popUntil(t, c, topic, group, 60_000, "keep", func(ps []popped) bool { return len(all)+len(ps) >= 1 })...)
	for _, m := range all {
		if m.tags != "keep" {
			t.Fatalf("tag filter let %+v through", m)
		}
	}
}

func heldPops(b *brokertest.Broker) int {
	n, _ := strconv.Atoi(b.RuntimeInfo()["popHeld"])
	return n
}

// Past the group's retryMaxTimes an un-acked message goes to %DLQ%<group>.
func TestPopDeadLetterAfterRetryMaxTimes(t *testing.T) {
	ns, b := startPopBroker(t, nil)
	c := dial(t, b.Addr())
	const topic, group = "PopDLQTopic", "cg-pop-dlq"
	createPopTopic(t, c, topic, 1, "")
	sg := []byte(`{"groupName":"` + group + `","retryMaxTimes":1,"consumeEnable":true,"retryQueueNums":1}`)
	if resp := invokeBody(t, c, remoting.UpdateAndCreateSubscriptionGroup, nil, sg); resp.ResponseCode() != remoting.Success {
		t.Fatalf("create group: %s %q", resp.ResponseCode(), resp.Remark)
	}
	poll.Until(t, "", func() bool { _, ok := ns.Routes().PickupTopicRouteData(topic); return ok })
	sendN(t, newProducer(t, ns.Addr()), topic, "d", 0, 1)
	// Delivered twice (the first time and one retry), never acked.
	seen := popUntil(t, c, topic, group, 100, "*", func(ps []popped) bool { return len(ps) >= 2 })
	if seen[0].reconsumeTimes != 0 || seen[1].reconsumeTimes != 1 {
		t.Fatalf("deliveries %+v", seen)
	}
	dlq := "%DLQ%" + group
	poll.Within(t, 10*time.Second, "message in the DLQ", func() bool {
		return b.Store().MaxOffsetInQueue(dlq, 0) == 1
	})
	if code, ps := popRaw(t, c, topic, group, 32, 100, 300, "*"); len(ps) != 0 {
		t.Fatalf("popped after the DLQ: %s %+v", code, ps)
	}
}

// Checkpoints survive a restart: popped and un-acked messages come back
// after their invisible time; acked ones do not.
func TestPopCheckpointsSurviveRestart(t *testing.T) {
	ns := brokertest.StartNameServer(t)
	cfg := brokertest.Config(t)
	cfg.NamesrvAddr = ns.Addr()
	cfg.ReviveInterval = 50
	b := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "", func() bool { return len(ns.Routes().LiveBrokers()) == 1 })
	const topic, group = "PopRestartTopic", "cg-pop-restart"
	c := dial(t, b.Addr())
	createPopTopic(t, c, topic, 1, "")
	poll.Until(t, "", func() bool { _, ok := ns.Routes().PickupTopicRouteData(topic); return ok })
	p := newProducer(t, ns.Addr())
	sendN(t, p, topic, "r", 0, 3)
	first := bodies(popUntil(t, c, topic, group, 1500, "*", func(ps []popped) bool { return len(bodies(ps)) == 3 }))
	if r := ackRaw(t, c, remoting.AckMessage, topic, group, first["r0"], 0); r.ResponseCode() != remoting.Success {
		t.Fatalf("ack: %s", r.ResponseCode())
	}
	c.Close()
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Shutdown()

	b2 := brokertest.Start(t, cfg, supervisor.Options{})
	c2 := dial(t, b2.Addr())
	back := bodies(popUntil(t, c2, topic, group, 60_000, "*", func(ps []popped) bool { return len(bodies(ps)) >= 2 }))
	if len(back) != 2 || back["r1"].reconsumeTimes != 1 || back["r2"].reconsumeTimes != 1 {
		t.Fatalf("after restart: %+v", back)
	}
	if code, ps := popRaw(t, c2, topic, group, 32, 60_000, 300, "*"); len(ps) != 0 {
		t.Fatalf("acked message redelivered: %s %+v", code, ps)
	}
}

// What Sluice does not serve of the pop model is refused with an answer
// that names it: SQL92 expressions, FIFO (order) pop, PEEK_MESSAGE and
// BATCH_ACK_MESSAGE; more than 32 messages is INVALID_PARAMETER (29).
func TestPopRefusals(t *testing.T) {
	_, b := startPopBroker(t, nil)
	c := dial(t, b.Addr())
	const topic, group = "PopRefuseTopic", "cg-pop-refuse"
	createPopTopic(t, c, topic, 1, "")
	pop := func(mutate func(*remoting.PopMessageRequestHeader)) *remoting.Command {
		h := remoting.PopMessageRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: -1, MaxMsgNums: 1, InvisibleTime: 1000}
		mutate(&h)
		req := remoting.NewRequest(remoting.PopMessage, nil, nil)
		h.Encode(req)
		return invokeCmd(t, c, req)
	}
	for name, tc := range map[string]struct {
		mutate func(*remoting.PopMessageRequestHeader)
		code   remoting.ResponseCode
		remark string
	}{
		"sql":   {func(h *remoting.PopMessageRequestHeader) { h.ExpType, h.Exp = "SQL92", "a > 1" }, remoting.SystemError, "filter message by SQL92"},
		"order": {func(h *remoting.PopMessageRequestHeader) { h.Order = true }, remoting.SystemError, "order pop"},
		"max":   {func(h *remoting.PopMessageRequestHeader) { h.MaxMsgNums = 33 }, remoting.ResponseCode(29), "greater than 32"},
		"topic": {func(h *remoting.PopMessageRequestHeader) { h.Topic = "NoSuchPopTopic" }, remoting.TopicNotExist, "not exist"},
	} {
		if r := pop(tc.mutate); r.ResponseCode() != tc.code || !strings.Contains(r.Remark, tc.remark) {
			t.Fatalf("%s: %s %q", name, r.ResponseCode(), r.Remark)
		}
	}
	for _, code := range []remoting.RequestCode{remoting.PeekMessage, remoting.BatchAckMessage} {
		r := invokeCmd(t, c, remoting.NewRequest(code, map[string]string{}, nil))
		if r.ResponseCode() != remoting.RequestCodeNotSupported || !strings.Contains(r.Remark, code.String()) {
			t.Fatalf("%s: %s %q", code, r.ResponseCode(), r.Remark)
		}
	}
	// A malformed handle is MESSAGE_ILLEGAL, never a crash.
	req := remoting.NewRequest(remoting.AckMessage, nil, nil)
	(&remoting.AckMessageRequestHeader{ConsumerGroup: group, Topic: topic, ExtraInfo: "garbage", Offset: 0}).Encode(req)
	if r := invokeCmd(t, c, req); r.ResponseCode() != remoting.MessageIllegal {
		t.Fatalf("malformed extraInfo: %s %q", r.ResponseCode(), r.Remark)
	}
}
