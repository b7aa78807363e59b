package timer_test

import (
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/timer"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

const prec = 100

func props(kv ...string) string {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = message.Append(b, kv[i], kv[i+1])
	}
	return string(b)
}

func TestToTimerTopicFollowsRocketMQ(t *testing.T) {
	const now = 1_700_000_000_050
	for _, tc := range []struct {
		name     string
		props    string
		parked   bool
		timerOut int64
		refused  bool
	}{
		{"delay ms", props(message.PropertyTimerDelayMS, "1000"), true, now + 1000 - 50, false},
		{"delay sec wins over ms", props(message.PropertyTimerDelayMS, "1", message.PropertyTimerDelaySec, "2"), true, now + 2000 - 50, false},
		{"deliver ms on a tick goes one tick earlier", props(message.PropertyTimerDeliverMS, "1700000005000"), true, 1_700_000_004_900, false},
		{"deliver ms off a tick rounds down", props(message.PropertyTimerDeliverMS, "1700000005042"), true, 1_700_000_005_000, false},
		{"past: stored at once", props(message.PropertyTimerDeliverMS, "1600000000000"), false, 0, false},
		{"now: stored at once", props(message.PropertyTimerDelayMS, "0"), false, 0, false},
		{"negative: stored at once", props(message.PropertyTimerDelaySec, "-5"), false, 0, false},
		{"beyond the maximum", props(message.PropertyTimerDelaySec, "61"), false, 0, true},
		{"at the maximum", props(message.PropertyTimerDelayMS, "60000"), true, now + 60000 - 50, false},
		{"not a number", props(message.PropertyTimerDeliverMS, "tomorrow"), false, 0, true},
		{"overflow", props(message.PropertyTimerDelaySec, "9223372036854775807"), false, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := commitlog.Message{Topic: "T", QueueID: 3, Properties: tc.props}
			if !timer.IsTimerMessage(m.Properties) {
				t.Fatal("not a timer message")
			}
			parked, refusal := timer.ToTimerTopic(&m, now, prec, 60)
			if (refusal != nil) != tc.refused || parked != tc.parked {
				t.Fatalf("parked %v refusal %v", parked, refusal)
			}
			if refusal != nil {
				if refusal.Code != remoting.MessageIllegal || refusal.Remark != timer.IllegalRemark(60) {
					t.Fatalf("refusal %+v", refusal)
				}
				return
			}
			if !parked {
				if m.Topic != "T" || m.Properties != tc.props {
					t.Fatalf("changed: %+v", m)
				}
				return
			}
			if m.Topic != timer.TimerTopic || m.QueueID != 0 || message.Get(m.Properties, message.PropertyRealTopic) != "T" ||
				message.Get(m.Properties, message.PropertyRealQueueID) != "3" ||
				message.Get(m.Properties, message.PropertyTimerOutMS) != strconv.FormatInt(tc.timerOut, 10) {
				t.Fatalf("parked as %+v", m)
			}
		})
	}
	if timer.IsTimerMessage(props(message.PropertyTimerDelayMS, "5", message.PropertyTimerOutMS, "1")) {
		t.Fatal("a delivered timer message (TIMER_OUT_MS) is a timer message again")
	}
	if got := timer.DropTimerProperties(props(message.PropertyTimerDelayMS, "5", "TAGS", "a", message.PropertyTimerDeliverMS, "9")); got != props("TAGS", "a") {
		t.Fatalf("DropTimerProperties: %q", got)
	}
	for in, want := range map[int64]int64{1: 100, 150: 100, 200: 200, 499: 200, 500: 500, 999: 500, 1000: 1000, 5000: 1000} {
		if got := timer.RoundPrecision(in); got != want {
			t.Errorf("RoundPrecision(%d) = %d, want %d", in, got, want)
		}
	}
}

// env is a store and a writer, as the broker has them.
type env struct {
	t      testing.TB
	dir    string
	store  *commitlog.Store
	writer *actors.Writer
	sys    *actor.ActorSystem
	pid    *actor.PID
}

func openEnv(t *testing.T) *env { return openEnvB(t) }

func openEnvB(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	cfg := commitlog.DefaultConfig()
	cfg.StorePathRootDir = dir
	cfg.MappedFileSizeCommitLog = 4 << 20
	cfg.MappedFileSizeConsumeQueue = 20 * 10000
	cfg.DiskUsage = func(string) (uint64, uint64, error) { return 10, 100, nil }
	store, err := commitlog.Open(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	w := actors.NewWriter(store, 16)
	pid, err := w.Spawn(sys.Root, sys.Root)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, store: store, writer: w, sys: sys, pid: pid}
	t.Cleanup(func() {
		_ = sys.Root.StopFuture(pid).Wait()
		w.Stop()
		sys.Shutdown()
		_ = store.Close()
	})
	return e
}

// flaky fails its first n puts as a full disk would, then hands jobs to
// the writer.
type flaky struct {
	w     *actors.Writer
	fails atomic.Int64
}

func (f *flaky) Submit(job *actors.AppendJob, stop <-chan struct{}) bool {
	if f.fails.Add(-1) >= 0 {
		job.Put.Result = commitlog.PutResult{Status: commitlog.PutServiceNotAvailable}
		job.Done(job)
		return true
	}
	return f.w.Submit(job, stop)
}

func (e *env) service(w interface {
	Submit(*actors.AppendJob, <-chan struct{}) bool
}, tweak ...func(*timer.Config)) *timer.TimerMessageStore {
	e.t.Helper()
	cfg := timer.Config{Store: e.store, Writer: w, RootDir: e.dir, PrecisionMs: prec, MaxDelaySec: 3600,
		RollWindowSlots: 50, FileSize: 1 << 20, FlushInterval: time.Hour, Log: zerolog.Nop()}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := timer.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// park stores a timer message for topic "Real" queue 1 due at deliverMs,
// as the send path does.
func (e *env) park(id string, nowMs, deliverMs int64) {
	e.t.Helper()
	m := &commitlog.Message{Topic: "Real", QueueID: 1, BornHost: netip.MustParseAddrPort("10.0.0.1:1"), StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"),
		Body: []byte(id), Properties: props("TAGS", "a", message.PropertyUniqClientMessageIDKeyIdx, id, message.PropertyTimerDeliverMS, strconv.FormatInt(deliverMs, 10))}
	if ok, ref := timer.ToTimerTopic(m, nowMs, prec, 3600); !ok || ref != nil {
		e.t.Fatalf("ToTimerTopic: %v %v", ok, ref)
	}
	rec, err := commitlog.AppendRecord(nil, m)
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	job := &actors.AppendJob{Put: commitlog.PutRequest{Topic: m.Topic, QueueID: 0, Records: rec, Count: 1}}
	job.Done = func(*actors.AppendJob) { close(done) }
	e.writer.Submit(job, nil)
	<-done
	if job.Put.Result.Status != commitlog.PutOK {
		e.t.Fatalf("put: %v", job.Put.Result.Status)
	}
	// The timer queue's entry comes with the dispatch, after the put: a
	// Tick before it would see nothing to index, and the tests' fixed
	// clocks would then never come back for it.
	deadline := time.Now().Add(10 * time.Second)
	for e.store.MaxOffsetInQueue(timer.TimerTopic, 0) <= job.Put.Result.QueueOffset {
		if time.Now().After(deadline) {
			e.t.Fatalf("timer queue entry %d not dispatched", job.Put.Result.QueueOffset)
		}
		runtime.Gosched() // the dispatch follows within microseconds; a sleep would slow the benchmark's setup
	}
}

// delivered returns the UNIQ_KEYs in Real/1 with their TIMER_DEQUEUE_MS,
// waiting for dispatch.
func (e *env) delivered(want int) map[string][]int64 {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.store.MaxOffsetInQueue("Real", 1) < int64(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	out := map[string][]int64{}
	for off := int64(0); off < e.store.MaxOffsetInQueue("Real", 1); {
		res := e.store.GetMessage("Real", 1, off, 64, nil)
		if len(res.Messages) == 0 {
			break
		}
		for _, rec := range res.Messages {
			m, err := commitlog.DecodeRecord(rec)
			if err != nil {
				e.t.Fatal(err)
			}
			if _, ok := message.Lookup(m.Properties, message.PropertyRealTopic); ok {
				e.t.Fatalf("delivered with REAL_TOPIC: %q", m.Properties)
			}
			deq, _ := strconv.ParseInt(message.Get(m.Properties, timer.PropertyTimerDequeueMS), 10, 64)
			id := message.Get(m.Properties, message.PropertyUniqClientMessageIDKeyIdx)
			out[id] = append(out[id], deq)
		}
		off = res.NextBeginOffset
	}
	return out
}

// tickUntil ticks with the clock at nowMs until the service has nothing
// in flight and nothing due.
func tickUntil(s *timer.TimerMessageStore, nowMs int64) {
	for i := 0; i < 1000; i++ {
		s.Tick(time.UnixMilli(nowMs))
		st := s.Inspect()
		if st.InFlight == 0 && st.Behind == 0 && (st.OldestDue.IsZero() || st.OldestDue.UnixMilli() > nowMs || st.RetryAt.UnixMilli() > nowMs) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Messages are delivered only once their tick is over, each once, even
// when puts fail (they are retried, never skipped); messages due beyond
// the wheel (50 slots = 5 s here) roll and still come on time.
func TestTimerMessageStoreDeliversOnTimeAndRetries(t *testing.T) {
	e := openEnv(t)
	f := &flaky{w: e.writer}
	f.fails.Store(5)
	s := e.service(f)
	defer s.Stop()
	base := time.Now().UnixMilli()
	dues := map[string]int64{}
	for i := 0; i < 40; i++ {
		id := "m" + strconv.Itoa(i)
		due := base + 300 + int64(i)*250 // up to ~10 s: past the 5 s wheel
		dues[id] = due
		e.park(id, base, due)
	}
	tickUntil(s, base)
	if st := s.Inspect(); st.Pending != 40 || st.Enqueued != 40 {
		t.Fatalf("after indexing: %+v", st)
	}
	for now := base; now <= base+11_000; now += 100 {
		// Tick with the retries' clock moving too: a failed put waits 100 ms.
		tickUntil(s, now)
		got := e.delivered(0)
		for id, deq := range got {
			if deq[0] < dues[id] {
				t.Fatalf("%s delivered at %d, due %d", id, deq[0], dues[id])
			}
		}
	}
	got := e.delivered(40)
	for id := range dues {
		if len(got[id]) != 1 {
			t.Fatalf("%s delivered %d times", id, len(got[id]))
		}
	}
	st := s.Inspect()
	if st.Delivered != 40 || st.Pending != 0 || st.Retries == 0 || st.Rolled == 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// A restart after a crash (no Stop: the checkpoint is behind, the
// unflushed tail of the log lost) delivers every message at least once.
func TestTimerMessageStoreRecoversAfterACrash(t *testing.T) {
	e := openEnv(t)
	s := e.service(e.writer)
	base := time.Now().UnixMilli()
	const n = 300
	for i := 0; i < n; i++ {
		e.park("c"+strconv.Itoa(i), base, base+200+int64(i)*10)
	}
	tickUntil(s, base)      // the first Tick writes a checkpoint; no other will (FlushInterval is an hour)
	tickUntil(s, base+1000) // ~80 delivered
	first := e.delivered(0)
	// Crash: the service is abandoned, never stopped. A new one on the
	// same store resumes from the files as they are.
	r := e.service(e.writer)
	defer r.Stop()
	tickUntil(r, base+10_000)
	got := e.delivered(n)
	dups := 0
	for i := 0; i < n; i++ {
		id := "c" + strconv.Itoa(i)
		switch len(got[id]) {
		case 0:
			t.Fatalf("%s lost", id)
		case 1:
		default:
			dups++
		}
	}
	t.Logf("%d delivered before the crash, %d twice", len(first), dups)
	if len(first) == 0 || dups == 0 {
		t.Fatalf("the test did not exercise a crash: %d before, %d twice", len(first), dups)
	}
}

// A clean stop resumes exactly: nothing twice, nothing lost.
func TestTimerMessageStoreResumesExactlyAfterStop(t *testing.T) {
	e := openEnv(t)
	s := e.service(e.writer)
	base := time.Now().UnixMilli()
	const n = 200
	for i := 0; i < n; i++ {
		e.park("s"+strconv.Itoa(i), base, base+200+int64(i)*10)
	}
	tickUntil(s, base+1000)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	r := e.service(e.writer)
	defer r.Stop()
	tickUntil(r, base+10_000)
	got := e.delivered(n)
	for i := 0; i < n; i++ {
		if id := "s" + strconv.Itoa(i); len(got[id]) != 1 {
			t.Fatalf("%s delivered %d times", id, len(got[id]))
		}
	}
	stats := map[string]string{}
	r.BuildRunningStats(stats)
	if stats["timerCongestNum"] != "0" || stats["timerOffsetBehind"] != "0" {
		t.Fatalf("runtime info: %v", stats)
	}
}
