package supervisor_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/actors/timer"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// timerSlack is how late after its time a timer message may be delivered
// in these tests: the precision (100 ms here) plus a generous margin for a
// loaded CI machine. Earliness is never allowed.
const timerSlack = 5 * time.Second

// With the unmodified Go client: messages sent with TIMER_DELAY_MS,
// TIMER_DELAY_SEC and TIMER_DELIVER_MS are delivered no earlier than their
// time (their delivery is a new record, stored then) and within the
// precision after it; one whose time is past is delivered at once. The
// delivered message keeps its UNIQ_KEY (the Go client's MsgId) and carries
// RocketMQ's timer properties.
func TestGoClientTimerMessages(t *testing.T) {
	ns, b := startCluster(t, func(c *supervisor.Config) { c.TimerPrecisionMs = 100 })
	const topic = "TimerTopic"
	group := "timer-" + instance(t)
	admin := dial(t, b.Addr())
	if resp := invoke(t, admin, remoting.UpdateAndCreateTopic, map[string]string{
		"topic": topic, "readQueueNums": "2", "writeQueueNums": "2", "perm": "6",
	}); resp.ResponseCode() != remoting.Success {
		t.Fatalf("create %s: %s %q", topic, resp.ResponseCode(), resp.Remark)
	}
	poll.Until(t, "the route of "+topic, func() bool { _, ok := ns.Routes().PickupTopicRouteData(topic); return ok })

	type delivery struct {
		msg *primitive.MessageExt
		at  time.Time
	}
	var mu sync.Mutex
	got := map[string]delivery{} // by body
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer([]string{ns.Addr()}), consumer.WithGroupName(group), consumer.WithInstance(instance(t)),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			got[string(m.Body)] = delivery{m, time.Now()}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Not shut down when the test ends: see newProducer.
	p := newProducer(t, ns.Addr())

	type sent struct {
		body      string
		notBefore int64 // ms: no delivery may be stored earlier
		msgID     string
	}
	var all []sent
	send := func(body, name string, value func(now time.Time) (string, int64)) {
		m := primitive.NewMessage(topic, []byte(body))
		now := time.Now()
		v, notBefore := value(now)
		m.WithProperty(name, v)
		res, err := p.SendSync(context.Background(), m)
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("%s send: %v %v", body, res, err)
		}
		all = append(all, sent{body, notBefore, res.MsgID})
	}
	send("delay-ms", message.PropertyTimerDelayMS, func(now time.Time) (string, int64) { return "1500", now.UnixMilli() + 1500 })
	send("delay-sec", message.PropertyTimerDelaySec, func(now time.Time) (string, int64) { return "1", now.UnixMilli() + 1000 })
	send("deliver-ms", message.PropertyTimerDeliverMS, func(now time.Time) (string, int64) {
		at := now.UnixMilli() + 2222
		return strconv.FormatInt(at, 10), at
	})
	send("past", message.PropertyTimerDeliverMS, func(now time.Time) (string, int64) {
		return strconv.FormatInt(now.UnixMilli()-60_000, 10), 0
	})

	find := func(body string) (delivery, bool) {
		mu.Lock()
		defer mu.Unlock()
		d, ok := got[body]
		return d, ok
	}
	for _, s := range all {
		poll.Within(t, 30*time.Second, "the timer message "+s.body, func() bool { _, ok := find(s.body); return ok })
	}
	for _, s := range all {
		d, _ := find(s.body)
		m := d.msg
		if m.MsgId != s.msgID {
			t.Errorf("%s: delivered with id %s, sent as %s: UNIQ_KEY not kept", s.body, m.MsgId, s.msgID)
		}
		if m.Topic != topic || m.GetProperty(message.PropertyRealTopic) != "" {
			t.Errorf("%s: delivered in %s with REAL_TOPIC %q", s.body, m.Topic, m.GetProperty(message.PropertyRealTopic))
		}
		if s.body == "past" {
			// Stored in its topic at once, as RocketMQ does: never parked.
			if m.GetProperty(message.PropertyTimerOutMS) != "" {
				t.Errorf("past: parked (TIMER_OUT_MS=%s)", m.GetProperty(message.PropertyTimerOutMS))
			}
			continue
		}
		if m.StoreTimestamp < s.notBefore {
			t.Errorf("%s: stored for delivery at %d, %d ms before its time", s.body, m.StoreTimestamp, s.notBefore-m.StoreTimestamp)
		}
		if late := time.Duration(m.StoreTimestamp-s.notBefore) * time.Millisecond; late > timerSlack {
			t.Errorf("%s: delivered %s after its time", s.body, late)
		}
		for _, name := range []string{message.PropertyTimerOutMS, timer.PropertyTimerEnqueueMS, timer.PropertyTimerDequeueMS} {
			if m.GetProperty(name) == "" {
				t.Errorf("%s: no %s on the delivered message: %v", s.body, name, m.GetProperties())
			}
		}
		// TIMER_OUT_MS is the time rounded down to the precision: its tick
		// ends at or after the time asked for, and before the delivery.
		if out, _ := strconv.ParseInt(m.GetProperty(message.PropertyTimerOutMS), 10, 64); out%100 != 0 || out+100 < s.notBefore || out+100 > m.StoreTimestamp {
			t.Errorf("%s: TIMER_OUT_MS %d for a time of %d delivered at %d (precision 100)", s.body, out, s.notBefore, m.StoreTimestamp)
		}
	}
	// The slot is closed on the pass after its last put answered.
	poll.Within(t, 10*time.Second, "the timer stats", func() bool {
		st := b.Timers().Inspect()
		return st.Delivered == 3 && st.Pending == 0 && st.Enqueued == 3
	})
}

// A timer further ahead than timerMaxDelaySec, or one that is not a
// number, is refused with RocketMQ's MESSAGE_ILLEGAL and remark; with
// timerWheelEnable=false every timer message is refused with RocketMQ's
// SYSTEM_ERROR answer. Nothing is stored.
func TestTimerMessagesRefusedAsRocketMQRefusesThem(t *testing.T) {
	b := brokertest.Start(t, func() supervisor.Config {
		cfg := brokertest.Config(t)
		cfg.TimerMaxDelaySec = 60
		return cfg
	}(), supervisor.Options{})
	c := dial(t, b.Addr())
	props := func(name, v string) string { return string(message.Append(nil, name, v)) }
	for _, tc := range []struct{ name, value string }{
		{message.PropertyTimerDelaySec, "61"},
		{message.PropertyTimerDelayMS, "60001"},
		{message.PropertyTimerDeliverMS, strconv.FormatInt(time.Now().Add(2*time.Minute).UnixMilli(), 10)},
		{message.PropertyTimerDelayMS, "soon"},
	} {
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("TimerRefused", 0, props(tc.name, tc.value)), []byte("x")))
		if resp.ResponseCode() != remoting.MessageIllegal || resp.Remark != timer.IllegalRemark(60) {
			t.Errorf("%s=%s: %s %q, want MESSAGE_ILLEGAL %q", tc.name, tc.value, resp.ResponseCode(), resp.Remark, timer.IllegalRemark(60))
		}
	}
	// Within the maximum: accepted (parked).
	if resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("TimerRefused", 0, props(message.PropertyTimerDelaySec, "59")), []byte("x"))); resp.ResponseCode() != remoting.Success {
		t.Fatalf("TIMER_DELAY_SEC=59: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if n := b.Store().MaxOffsetInQueue("TimerRefused", 0); n != 0 {
		t.Fatalf("%d messages in the topic itself", n)
	}
	poll.Until(t, "the accepted timer message parked", func() bool { return b.Store().MaxOffsetInQueue(timer.TimerTopic, 0) == 1 })

	off := brokertest.Start(t, func() supervisor.Config {
		cfg := brokertest.Config(t)
		cfg.TimerWheelEnable = false
		return cfg
	}(), supervisor.Options{})
	c2 := dial(t, off.Addr())
	resp := invokeCmd(t, c2, remoting.NewRequest(remoting.SendMessage, sendHeader("TimerRefused", 0, props(message.PropertyTimerDelaySec, "5")), []byte("x")))
	if resp.ResponseCode() != remoting.SystemError || resp.Remark != timer.NotEnabledRemark {
		t.Fatalf("timerWheelEnable=false: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if off.Logs.Count("send refused") == 0 {
		t.Fatal("no log line for the refused timer message")
	}
}

// Pending timer messages survive a clean restart and are delivered after
// it, each once, no earlier than its time.
func TestTimerMessagesSurviveARestart(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.TimerPrecisionMs = 100
	const topic, n = "TimerRestart", 50
	first := brokertest.Start(t, cfg, supervisor.Options{})
	c := dial(t, first.Addr())
	due := time.Now().Add(3 * time.Second).UnixMilli()
	for i := 0; i < n; i++ {
		props := string(message.Append(message.Append(nil, message.PropertyTimerDeliverMS, strconv.FormatInt(due+int64(i*10), 10)),
			message.PropertyUniqClientMessageIDKeyIdx, "uniq-"+strconv.Itoa(i)))
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, props), []byte(strconv.Itoa(i))))
		if resp.ResponseCode() != remoting.Success {
			t.Fatalf("send %d: %s %q", i, resp.ResponseCode(), resp.Remark)
		}
	}
	poll.Until(t, "all indexed", func() bool { return first.Timers().Inspect().Pending == n })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if time.Now().UnixMilli() >= due {
		t.Skip("the machine is too slow: the messages fell due before the restart")
	}

	second := brokertest.Start(t, cfg, supervisor.Options{})
	if st := second.Timers().Inspect(); st.Pending != n && time.Now().UnixMilli() < due {
		t.Fatalf("after the restart: %+v", st)
	}
	poll.Within(t, 30*time.Second, "the timer messages delivered", func() bool { return second.Store().MaxOffsetInQueue(topic, 0) >= n })
	time.Sleep(300 * time.Millisecond) // nothing more may come
	if got := second.Store().MaxOffsetInQueue(topic, 0); got != n {
		t.Fatalf("%d delivered, want %d once each", got, n)
	}
	res := second.Store().GetMessage(topic, 0, 0, n, nil)
	seen := map[string]bool{}
	for _, rec := range res.Messages {
		m, err := commitlog.DecodeRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		i, _ := strconv.Atoi(string(m.Body))
		if m.StoreTimestamp < due+int64(i*10) {
			t.Errorf("message %d stored %d ms before its time", i, due+int64(i*10)-m.StoreTimestamp)
		}
		uniq := message.Get(m.Properties, message.PropertyUniqClientMessageIDKeyIdx)
		if uniq != "uniq-"+string(m.Body) || seen[uniq] {
			t.Errorf("message %s: UNIQ_KEY %q (seen before: %v)", m.Body, uniq, seen[uniq])
		}
		seen[uniq] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct messages read back", len(seen))
	}
}
