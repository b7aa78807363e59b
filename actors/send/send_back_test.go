package send_test

import (
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/handlertest"
	"github.com/sluice-mq/sluice/actors/schedule"
	"github.com/sluice-mq/sluice/actors/send"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// writerFor spawns a writer over env's store in a bare actor system.
func writerFor(t *testing.T, env *handlertest.Env) *actors.Writer {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	w := actors.NewWriter(env.Store, 16)
	pid, err := w.Spawn(sys.Root, sys.Root)
	if err != nil {
		t.Fatal(err)
	}
	// Registered after handlertest's, so it runs before the store closes.
	t.Cleanup(func() {
		_ = sys.Root.StopFuture(pid).Wait()
		w.Stop()
		sys.Shutdown()
	})
	return w
}

// store puts m through w and returns where it landed.
func store(t *testing.T, w *actors.Writer, m *commitlog.Message) commitlog.PutResult {
	t.Helper()
	rec, err := commitlog.AppendRecord(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	job := &actors.AppendJob{Put: commitlog.PutRequest{Topic: m.Topic, QueueID: m.QueueID, Records: rec, Count: 1},
		Done: func(*actors.AppendJob) { close(done) }}
	w.Submit(job, nil)
	<-done
	if job.Put.Result.Status != commitlog.PutOK {
		t.Fatal(job.Put.Result.Status, job.Put.Result.Err)
	}
	return job.Put.Result
}

// last waits for and decodes the last message of topic/qid.
func last(t *testing.T, s *commitlog.Store, topic string, qid int32, count int64) commitlog.StoredMessage {
	t.Helper()
	poll.Until(t, topic+" indexed", func() bool { return s.MaxOffsetInQueue(topic, qid) >= count })
	if n := s.MaxOffsetInQueue(topic, qid); n != count {
		t.Fatalf("%s/%d holds %d messages, want %d", topic, qid, n, count)
	}
	r := s.GetMessage(topic, qid, count-1, 1, nil)
	if r.Status != commitlog.Found {
		t.Fatalf("%s/%d: %v", topic, qid, r.Status)
	}
	m, err := commitlog.DecodeRecord(r.Messages[0])
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// CONSUMER_SEND_MSG_BACK routes as SendMessageProcessor#asyncConsumerSendMsgBack:
// the retry is parked in SCHEDULE_TOPIC_XXXX at its delay level (0 means
// 3 + reconsumeTimes, capped at the highest) with REAL_TOPIC=%RETRY%<group>;
// a negative level or reconsumeTimes at the limit goes to %DLQ% at once,
// DELAY=0. Without a schedule service the retry goes to %RETRY% at once.
func TestConsumerSendMsgBackRouting(t *testing.T) {
	env := handlertest.New(t)
	w := writerFor(t, env)
	h := (&send.Handlers{ID: env.ID, Store: env.Store, Writer: w, Meta: env.Meta, Log: zerolog.Nop(), Stop: make(chan struct{})}).ByCode()
	orig := func(reconsumeTimes int32) commitlog.PutResult {
		return store(t, w, &commitlog.Message{Topic: "T", ReconsumeTimes: reconsumeTimes, Flag: 9, BornTimestamp: 42,
			BornHost: netip.MustParseAddrPort("10.0.0.1:5000"), StoreHost: env.ID.StoreHost, Body: []byte("retry me"),
			Properties: "TAGS\x01tg\x02UNIQ_KEY\x01U1\x02"})
	}
	back := func(r commitlog.PutResult, delayLevel, maxTimes int) {
		t.Helper()
		resp := handlertest.Call(t, h[remoting.ConsumerSendMsgBack], remoting.ConsumerSendMsgBack, map[string]string{
			"offset": strconv.FormatInt(r.WroteOffset, 10), "group": "cg", "delayLevel": strconv.Itoa(delayLevel),
			"originMsgId": "", "originTopic": "T", "unitMode": "false", "maxReconsumeTimes": strconv.Itoa(maxTimes),
		}, nil)
		if resp.ResponseCode() != remoting.Success {
			t.Fatalf("send back (level %d): %s %q", delayLevel, resp.ResponseCode(), resp.Remark)
		}
	}
	const sched = "SCHEDULE_TOPIC_XXXX"
	env.Store.SetScheduleServiceStarted(true)
	counts := map[int32]int64{}
	for _, c := range []struct {
		reconsumeTimes int32
		delayLevel     int
		wantLevel      int32
	}{
		{0, 0, 3},   // the client's default: 3 + reconsumeTimes
		{2, 0, 5},   // 3 + 2
		{0, 5, 5},   // the consumer's choice
		{0, 40, 18}, // above the highest: the highest
	} {
		r := orig(c.reconsumeTimes)
		back(r, c.delayLevel, 16)
		qid := c.wantLevel - 1
		counts[qid]++
		m := last(t, env.Store, sched, qid, counts[qid])
		p := m.Properties
		want := map[string]string{
			"DELAY": strconv.Itoa(int(c.wantLevel)), "REAL_TOPIC": "%RETRY%cg", "REAL_QID": "0", "RETRY_TOPIC": "T",
			"ORIGIN_MESSAGE_ID": message.OffsetMsgID(env.ID.StoreHost, r.WroteOffset), "UNIQ_KEY": "U1", "TAGS": "tg",
		}
		for k, v := range want {
			if got := message.Get(p, k); got != v {
				t.Fatalf("reconsumeTimes %d level %d: %s = %q, want %q (%q)", c.reconsumeTimes, c.delayLevel, k, got, v, p)
			}
		}
		if m.ReconsumeTimes != c.reconsumeTimes+1 || string(m.Body) != "retry me" || m.Flag != 9 || m.BornTimestamp != 42 {
			t.Fatalf("parked retry %+v", m)
		}
		// Its entry is timed by the level.
		es := env.Store.ReadQueueEntries(sched, qid, counts[qid]-1, 1, nil)
		if len(es) != 1 || es[0].TagsCode != env.Store.ComputeDeliverTimestamp(c.wantLevel, m.StoreTimestamp) {
			t.Fatalf("schedule entry %+v, stored at %d", es, m.StoreTimestamp)
		}
	}
	if _, ok := env.Meta.Topics.Select("%RETRY%cg"); !ok {
		t.Fatal("the retry topic was not created")
	}

	// The dead-letter queue, at once: asked for, or the limit reached.
	dlq := int64(0)
	for _, c := range []struct {
		reconsumeTimes int32
		delayLevel     int
		maxTimes       int
	}{{0, -1, 16}, {3, 0, 3}, {0, 0, 0}} {
		back(orig(c.reconsumeTimes), c.delayLevel, c.maxTimes)
		dlq++
		m := last(t, env.Store, "%DLQ%cg", 0, dlq)
		if got := message.Get(m.Properties, "DELAY"); got != "0" || message.Get(m.Properties, "REAL_TOPIC") != "" {
			t.Fatalf("%+v to the DLQ: properties %q", c, m.Properties)
		}
		if m.ReconsumeTimes != c.reconsumeTimes+1 {
			t.Fatalf("DLQ reconsumeTimes %d", m.ReconsumeTimes)
		}
	}

	// No schedule service: the retry topic at once, without a delay.
	env.Store.SetScheduleServiceStarted(false)
	back(orig(0), 0, 16)
	m := last(t, env.Store, "%RETRY%cg", 0, 1)
	if _, ok := message.Lookup(m.Properties, "DELAY"); ok || m.ReconsumeTimes != 1 {
		t.Fatalf("immediate retry %+v %q", m, m.Properties)
	}
	for qid, n := range counts {
		poll.Until(t, "dispatch", func() bool { return env.Store.MaxOffsetInQueue(sched, qid) >= n })
		if got := env.Store.MaxOffsetInQueue(sched, qid); got != n {
			t.Fatalf("schedule queue %d holds %d", qid, got)
		}
	}
}

// A retry comes back to %RETRY%<group> once its level is due, not before:
// the send-back path and the schedule service together.
func TestRetryDeliveredWhenDue(t *testing.T) {
	env := handlertest.New(t)
	w := writerFor(t, env)
	svc, err := schedule.New(schedule.Config{Store: env.Store, Writer: w})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	h := (&send.Handlers{ID: env.ID, Store: env.Store, Writer: w, Meta: env.Meta, Log: zerolog.Nop(), Stop: make(chan struct{})}).ByCode()
	r := store(t, w, &commitlog.Message{Topic: "T", BornHost: netip.MustParseAddrPort("10.0.0.1:5000"), StoreHost: env.ID.StoreHost,
		Body: []byte("again"), Properties: "UNIQ_KEY\x01U2\x02"})
	resp := handlertest.Call(t, h[remoting.ConsumerSendMsgBack], remoting.ConsumerSendMsgBack, map[string]string{
		"offset": strconv.FormatInt(r.WroteOffset, 10), "group": "cg", "delayLevel": "0", "maxReconsumeTimes": "16",
	}, nil)
	if resp.ResponseCode() != remoting.Success {
		t.Fatalf("send back: %s %q", resp.ResponseCode(), resp.Remark)
	}
	parked := last(t, env.Store, "SCHEDULE_TOPIC_XXXX", 2, 1)
	svc.Tick(time.UnixMilli(parked.StoreTimestamp + 10_000 - 1))
	if st := svc.Inspect()[2]; st.Delivered != 0 || st.InFlight != 0 || st.Waiting != 1 {
		t.Fatalf("level 3 before 10 s: %+v", st)
	}
	svc.Tick(time.UnixMilli(parked.StoreTimestamp + 10_000))
	m := last(t, env.Store, "%RETRY%cg", 0, 1)
	if m.ReconsumeTimes != 1 || message.Get(m.Properties, "RETRY_TOPIC") != "T" || message.Get(m.Properties, "UNIQ_KEY") != "U2" ||
		string(m.Body) != "again" {
		t.Fatalf("delivered retry %+v %q", m, m.Properties)
	}
	if _, ok := message.Lookup(m.Properties, "DELAY"); ok {
		t.Fatalf("DELAY kept on the delivered retry: %q", m.Properties)
	}
}
