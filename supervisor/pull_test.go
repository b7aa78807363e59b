package supervisor_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

func pullHeader(topic string, queueID int, offset int64, suspendMillis int) map[string]string {
	return map[string]string{
		"consumerGroup": "cg-raw", "topic": topic, "queueId": strconv.Itoa(queueID),
		"queueOffset": strconv.FormatInt(offset, 10), "maxMsgNums": "32",
		"sysFlag":      "6", // SUSPEND | SUBSCRIPTION: no heartbeat needed
		"commitOffset": "0", "suspendTimeoutMillis": strconv.Itoa(suspendMillis),
		"subscription": "*", "subVersion": "0", "expressionType": "TAG",
	}
}

// A pull that finds nothing is held without holding up anything else on
// the same connection, and is answered as soon as a message arrives.
func TestLongPollingHeldPullIsAnsweredOnArrival(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	c := dial(t, b.Addr())
	send := func(body string) {
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("PollTopic", 0, "TAGS\x01a\x02"), []byte(body)))
		if resp.ResponseCode() != remoting.Success {
			t.Fatalf("send: %s %q", resp.ResponseCode(), resp.Remark)
		}
	}
	send("first")
	poll.Until(t, "", func() bool { return b.Store().MaxOffsetInQueue("PollTopic", 0) == 1 })

	type result struct {
		resp *remoting.Command
		err  error
		took time.Duration
	}
	held := make(chan result, 1)
	start := time.Now()
	go func() {
		resp, err := c.Invoke(t.Context(), remoting.NewRequest(remoting.PullMessage, pullHeader("PollTopic", 0, 1, 20000), nil), 30*time.Second)
		held <- result{resp, err, time.Since(start)}
	}()
	poll.Until(t, "", func() bool { return b.RuntimeInfo()["heldPullRequests"] == "1" })

	// Sends, heartbeats and admin calls on the same connection go on.
	for i := 0; i < 5; i++ {
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.GetMaxOffset, map[string]string{"topic": "PollTopic", "queueId": "0"}, nil))
		if resp.ResponseCode() != remoting.Success || resp.Ext("offset") != "1" {
			t.Fatalf("GET_MAX_OFFSET while a pull is held: %s %v", resp.ResponseCode(), resp.ExtMap())
		}
	}
	select {
	case r := <-held:
		t.Fatalf("pull answered before any message arrived: %+v", r.resp)
	default:
	}
	send("second")
	r := <-held
	if r.err != nil || r.resp.ResponseCode() != remoting.Success {
		t.Fatalf("held pull: %v %+v", r.err, r.resp)
	}
	if r.took > 15*time.Second {
		t.Fatalf("held pull answered after %s, not on arrival", r.took)
	}
	msgs := primitive.DecodeMessage(r.resp.Body)
	if len(msgs) != 1 || string(msgs[0].Body) != "second" || r.resp.Ext("nextBeginOffset") != "2" {
		t.Fatalf("held pull got %d messages, next %s", len(msgs), r.resp.Ext("nextBeginOffset"))
	}
}

// Pull answers carry RocketMQ's status codes and offsets.
func TestPullStatuses(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	c := dial(t, b.Addr())
	for i := 0; i < 3; i++ {
		invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("StatusTopic", 0, ""), []byte("m")))
	}
	poll.Until(t, "", func() bool { return b.Store().MaxOffsetInQueue("StatusTopic", 0) == 3 })
	pull := func(offset int64, suspend int, sysFlag string) *remoting.Command {
		h := pullHeader("StatusTopic", 0, offset, suspend)
		h["sysFlag"] = sysFlag
		return invokeCmd(t, c, remoting.NewRequest(remoting.PullMessage, h, nil))
	}
	cases := []struct {
		offset    int64
		code      remoting.ResponseCode
		nextBegin string
	}{
		{0, remoting.Success, "3"},
		{3, remoting.PullNotFound, "3"},    // nothing new, not suspended
		{9, remoting.PullOffsetMoved, "3"}, // past the end
	}
	for _, tc := range cases {
		resp := pull(tc.offset, 0, "4")
		if resp.ResponseCode() != tc.code || resp.Ext("nextBeginOffset") != tc.nextBegin ||
			resp.Ext("minOffset") != "0" || resp.Ext("maxOffset") != "3" || resp.Ext("suggestWhichBrokerId") != "0" {
			t.Fatalf("pull at %d: %s %v", tc.offset, resp.ResponseCode(), resp.ExtMap())
		}
	}
	// Without the subscription bit and without a heartbeat, the group is unknown.
	if resp := pull(0, 0, "0"); resp.ResponseCode() != remoting.SubscriptionNotExist {
		t.Fatalf("pull without subscription: %s %q", resp.ResponseCode(), resp.Remark)
	}
	// A suspended pull past the end is answered when its suspend time ends.
	start := time.Now()
	if resp := pull(3, 300, "6"); resp.ResponseCode() != remoting.PullNotFound {
		t.Fatalf("suspended pull: %s", resp.ResponseCode())
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Fatalf("suspended pull answered after %s, before its 300 ms", time.Since(start))
	}
}

// A woken held pull goes back through the pull processor's queue, as
// RocketMQ's executeRequestWhenWakeup submits it to the pull executor: it
// is counted there and swept like any queued pull — here it waits behind a
// slowed processor past waitTimeMillsInPullQueue and is answered
// TIMEOUT_CLEAN_QUEUE with its own time in the queue.
func TestWokenHeldPullIsInsideFlowControl(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.FaultInjectionEnable = true
	cfg.WaitTimeMillsInPullQueue = 200
	b := brokertest.Start(t, cfg, supervisor.Options{})
	c := dial(t, b.Addr())
	const topic = "HeldFlowTopic"
	if resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, ""), []byte("creates the topic"))); resp.ResponseCode() != remoting.Success {
		t.Fatalf("send: %s %q", resp.ResponseCode(), resp.Remark)
	}
	poll.Until(t, "the first message dispatched", func() bool { return b.Store().MaxOffsetInQueue(topic, 0) == 1 })
	processed := func() uint64 { return b.Tree().Root.Find("pull").Processor.Processed }

	held := make(chan *remoting.Command, 1)
	go func() {
		resp, err := c.Invoke(t.Context(), remoting.NewRequest(remoting.PullMessage, pullHeader(topic, 0, 1, 20000), nil), 30*time.Second)
		if err != nil {
			t.Errorf("held pull: %v", err)
		}
		held <- resp
	}()
	poll.Until(t, "the pull held", func() bool { return b.RuntimeInfo()["heldPullRequests"] == "1" })
	if n := processed(); n != 1 {
		t.Fatalf("pull processor took %d requests, want the held one", n)
	}

	// Occupy the pull processor for a second, then wake the held pull.
	setFault(t, c, map[string]string{"processorDelayMillis": "1000", "processor": "pull"})
	blocker := make(chan struct{})
	go func() {
		defer close(blocker)
		_, _ = c.Invoke(t.Context(), remoting.NewRequest(remoting.PullMessage, pullHeader(topic, 0, 0, 0), nil), 30*time.Second)
	}()
	poll.Until(t, "the blocker taken by the pull processor", func() bool { return processed() == 2 })
	if resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, ""), []byte("wakes the held pull"))); resp.ResponseCode() != remoting.Success {
		t.Fatalf("send: %s %q", resp.ResponseCode(), resp.Remark)
	}
	resp := <-held
	if resp.ResponseCode() != remoting.SystemBusy || !strings.HasPrefix(resp.Remark, "[TIMEOUT_CLEAN_QUEUE]broker busy") {
		t.Fatalf("woken pull behind a slow processor: %s %q", resp.ResponseCode(), resp.Remark)
	}
	<-blocker
	setFault(t, c, map[string]string{"processorDelayMillis": "0", "processor": "pull"})
	if got := b.Tree().Root.Find("pull").Processor.Busy["TIMEOUT_CLEAN_QUEUE"]; got != 1 {
		t.Fatalf("pull processor counted %d TIMEOUT_CLEAN_QUEUE answers, want 1", got)
	}
}

// Through TCP: a held pull subscribed to tag a is not woken by a message
// tagged b — it would only be answered PULL_RETRY_IMMEDIATELY — and is
// answered with the a message when that one arrives.
func TestHeldPullWakesOnlyForItsTags(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	c := dial(t, b.Addr())
	const topic = "TagWakeTopic"
	send := func(props, body string) {
		if resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, props), []byte(body))); resp.ResponseCode() != remoting.Success {
			t.Fatalf("send: %s %q", resp.ResponseCode(), resp.Remark)
		}
	}
	send("TAGS\x01a\x02", "first")
	poll.Until(t, "the first message dispatched", func() bool { return b.Store().MaxOffsetInQueue(topic, 0) == 1 })
	hdr := pullHeader(topic, 0, 1, 20000)
	hdr["subscription"] = "a"
	held := make(chan *remoting.Command, 1)
	go func() {
		resp, err := c.Invoke(t.Context(), remoting.NewRequest(remoting.PullMessage, hdr, nil), 30*time.Second)
		if err != nil {
			t.Errorf("held pull: %v", err)
		}
		held <- resp
	}()
	poll.Until(t, "the pull held", func() bool { return b.RuntimeInfo()["heldPullRequests"] == "1" })
	send("TAGS\x01b\x02", "not for a")
	poll.Until(t, "the b message dispatched", func() bool { return b.Store().MaxOffsetInQueue(topic, 0) == 2 })
	if n := b.RuntimeInfo()["heldPullRequests"]; n != "1" {
		t.Fatalf("held pulls after a b message: %s, want the a pull still held", n)
	}
	send("TAGS\x01a\x02", "for a")
	resp := <-held
	if resp.ResponseCode() != remoting.Success {
		t.Fatalf("held pull answered %s %q, want FOUND with the a message", resp.ResponseCode(), resp.Remark)
	}
	msgs := primitive.DecodeMessage(resp.Body)
	if len(msgs) != 1 || string(msgs[0].Body) != "for a" {
		t.Fatalf("held pull got %d messages", len(msgs))
	}
}
