package schedule_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/actors/schedule"
	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// Three levels keep the tests' clocks short; 5 is above the highest.
const testLevels = "1s 2s 3s"

var (
	bornHost  = netip.MustParseAddrPort("10.1.2.3:50000")
	storeHost = netip.MustParseAddrPort("127.0.0.1:10911")
)

// env is a store and a writer over one directory, as the broker has them.
type env struct {
	t      *testing.T
	dir    string
	store  *commitlog.Store
	writer *actors.Writer
	sys    *actor.ActorSystem
	pid    *actor.PID
	closed bool
}

func storeConfig(dir string) commitlog.Config {
	cfg := commitlog.DefaultConfig()
	cfg.StorePathRootDir = dir
	cfg.MappedFileSizeCommitLog = 1 << 20
	cfg.MappedFileSizeConsumeQueue = 20 * 1000
	cfg.MessageDelayLevel = testLevels
	cfg.DiskUsage = func(string) (uint64, uint64, error) { return 10, 100, nil }
	return cfg
}

func openEnv(t *testing.T, dir string, tweak ...func(*commitlog.Config)) *env {
	t.Helper()
	cfg := storeConfig(dir)
	for _, f := range tweak {
		f(&cfg)
	}
	store, err := commitlog.Open(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("open store: %v", err)
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
	t.Cleanup(e.close)
	return e
}

// close stops the writer and closes the store cleanly (once).
func (e *env) close() {
	if e.closed {
		return
	}
	e.closed = true
	_ = e.sys.Root.StopFuture(e.pid).Wait()
	e.writer.Stop()
	e.sys.Shutdown()
	if err := e.store.Close(); err != nil {
		e.t.Errorf("close store: %v", err)
	}
}

func (e *env) service(tweak ...func(*schedule.Config)) *schedule.ScheduleMessageService {
	e.t.Helper()
	cfg := schedule.Config{Store: e.store, Writer: e.writer, Dir: filepath.Join(e.dir, "config"), FlushDelayOffsetInterval: time.Hour}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := schedule.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = s.Stop() })
	return s
}

// put stores m through the writer and waits for the result.
func (e *env) put(m *commitlog.Message) commitlog.PutResult {
	e.t.Helper()
	rec, err := commitlog.AppendRecord(nil, m)
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	job := &actors.AppendJob{Put: commitlog.PutRequest{Topic: m.Topic, QueueID: m.QueueID, Records: rec, Count: 1}}
	job.Done = func(*actors.AppendJob) { close(done) }
	if !e.writer.Submit(job, nil) {
		e.t.Fatal("writer refused the job")
	}
	<-done
	if job.Put.Result.Status != commitlog.PutOK {
		e.t.Fatalf("put: %v %v", job.Put.Result.Status, job.Put.Result.Err)
	}
	return job.Put.Result
}

// sendDelayed parks message id for topic/qid at level as the send path
// does, and returns when it was stored.
func (e *env) sendDelayed(id, topic string, qid int32, level int) int64 {
	e.t.Helper()
	m := &commitlog.Message{
		Topic: topic, QueueID: qid, Flag: 3, BornTimestamp: 1_700_000_000_000, BornHost: bornHost, StoreHost: storeHost,
		ReconsumeTimes: 2, Body: []byte("body of " + id),
		Properties: "TAGS\x01TagA\x02UNIQ_KEY\x01" + id + "\x02DELAY\x01" + fmt.Sprint(level) + "\x02CLUSTER\x01DefaultCluster\x02",
	}
	if ok, err := schedule.ToScheduleTopic(m, e.store.MaxDelayLevel()); !ok || err != nil {
		e.t.Fatalf("ToScheduleTopic: %v %v", ok, err)
	}
	r := e.put(m)
	poll.Until(e.t, "schedule entry dispatched", func() bool {
		return e.store.MaxOffsetInQueue(metadata.RMQSysScheduleTopic, m.QueueID) > r.QueueOffset
	})
	return r.StoreTimestamp
}

// delivered reads the messages of topic/qid, failing on any duplicate.
func (e *env) delivered(topic string, qid int32) []commitlog.StoredMessage {
	e.t.Helper()
	var out []commitlog.StoredMessage
	seen := map[string]bool{}
	for off := int64(0); ; {
		r := e.store.GetMessage(topic, qid, off, 32, nil)
		if r.Status != commitlog.Found {
			return out
		}
		for _, rec := range r.Messages {
			m, err := commitlog.DecodeRecord(rec)
			if err != nil {
				e.t.Fatal(err)
			}
			id := message.Get(m.Properties, message.PropertyUniqClientMessageIDKeyIdx)
			if seen[id] {
				e.t.Fatalf("%s delivered twice to %s/%d", id, topic, qid)
			}
			seen[id] = true
			out = append(out, m)
		}
		off = r.NextBeginOffset
	}
}

func ids(ms []commitlog.StoredMessage) string {
	var b []string
	for _, m := range ms {
		b = append(b, message.Get(m.Properties, message.PropertyUniqClientMessageIDKeyIdx))
	}
	return strings.Join(b, ",")
}

func level(s *schedule.ScheduleMessageService, n int32) schedule.LevelStats {
	for _, st := range s.Inspect() {
		if st.Level == n {
			return st
		}
	}
	return schedule.LevelStats{}
}

// settled waits until no level has a put in the writer and the store has
// indexed what they stored.
func (e *env) settled(s *schedule.ScheduleMessageService) {
	e.t.Helper()
	poll.Until(e.t, "batches done and indexed", func() bool {
		for _, st := range s.Inspect() {
			if st.InFlight > 0 {
				return false
			}
		}
		return e.store.RuntimeInfo()["dispatchBehindBytes"] == "0"
	})
}

// Due messages go back to their real queues in order per level, with the
// real message rebuilt as messageTimeup does; nothing is put before it is
// due. A level above the highest waits as long as the highest.
func TestDeliversDueMessagesInOrderNotBefore(t *testing.T) {
	e := openEnv(t, t.TempDir())
	var woken atomic.Int32
	s := e.service(func(c *schedule.Config) { c.Wake = func() { woken.Add(1) } })
	if !e.store.ScheduleServiceStarted() {
		t.Fatal("New did not mark the schedule service started")
	}
	var ts1 []int64
	for i := range 4 {
		ts1 = append(ts1, e.sendDelayed(fmt.Sprintf("L1-%d", i), "Real", 1, 1))
	}
	ts3 := e.sendDelayed("L3", "Real", 0, 3)
	tsMax := e.sendDelayed("L5", "Other", 2, 5) // above the highest: level 3
	if st := level(s, 3); st.Waiting != 2 {
		t.Fatalf("level 3 waiting %d, want 2 (a level above the highest counts as the highest)", st.Waiting)
	}

	// Before anything is due: nothing is handed to the writer (Tick
	// submits synchronously, so in-flight or delivered would show).
	s.Tick(time.UnixMilli(ts1[0] + 999))
	for _, st := range s.Inspect() {
		if st.InFlight != 0 || st.Delivered != 0 {
			t.Fatalf("level %d delivered before its time: %+v", st.Level, st)
		}
	}
	if st := level(s, 1); st.Waiting != 4 || !st.NextDue.Equal(time.UnixMilli(ts1[0]+1000)) {
		t.Fatalf("level 1 before: %+v", st)
	}

	// Level 1's first messages are due, level 3's are not.
	now := ts1[1] + 1000
	due := 0
	for _, ts := range ts1 {
		if ts+1000 <= now {
			due++
		}
	}
	s.Tick(time.UnixMilli(now))
	e.settled(s)
	got := e.delivered("Real", 1)
	if len(got) != due || ids(got) != strings.Join([]string{"L1-0", "L1-1", "L1-2", "L1-3"}[:due], ",") {
		t.Fatalf("delivered %q at %d, want the first %d of level 1", ids(got), now, due)
	}
	if st := level(s, 1); st.Offset != int64(due) || st.Delivered != uint64(due) || st.Waiting != int64(4-due) {
		t.Fatalf("level 1 after: %+v", st)
	}
	// Wake runs just after the last job's in-flight count drops, so
	// settled can return a moment before it.
	poll.Until(t, "Wake called when the batch was done", func() bool { return woken.Load() > 0 })
	if n := len(e.delivered("Real", 0)) + len(e.delivered("Other", 2)); n != 0 {
		t.Fatalf("%d level-3 messages delivered early", n)
	}

	// Everything due.
	late := max(ts3, tsMax) + 3000
	s.Tick(time.UnixMilli(late))
	e.settled(s)
	if got := ids(e.delivered("Real", 1)); got != "L1-0,L1-1,L1-2,L1-3" {
		t.Fatalf("level 1: %q", got)
	}
	l3 := e.delivered("Real", 0)
	other := e.delivered("Other", 2)
	if len(l3) != 1 || len(other) != 1 {
		t.Fatalf("level 3: %d to Real/0, %d to Other/2", len(l3), len(other))
	}
	// The real message, rebuilt.
	m := other[0]
	props := m.Properties
	if m.Topic != "Other" || m.QueueID != 2 || string(m.Body) != "body of L5" || m.Flag != 3 || m.ReconsumeTimes != 2 ||
		m.BornTimestamp != 1_700_000_000_000 || m.BornHost != bornHost || m.StoreHost != storeHost {
		t.Fatalf("rebuilt message %+v", m)
	}
	if _, ok := message.Lookup(props, message.PropertyDelayTimeLevel); ok {
		t.Fatalf("DELAY kept: %q", props)
	}
	for name, want := range map[string]string{"UNIQ_KEY": "L5", "TAGS": "TagA", "REAL_TOPIC": "Other", "REAL_QID": "2", "CLUSTER": "DefaultCluster"} {
		if got := message.Get(props, name); got != want {
			t.Fatalf("%s = %q, want %q (properties %q)", name, got, want, props)
		}
	}
	// In its real queue the entry is an ordinary one: the TAGS hash.
	if es := e.store.ReadQueueEntries("Other", 2, 0, 1, nil); len(es) != 1 || es[0].TagsCode != commitlog.TagsHashCode("TagA") {
		t.Fatalf("real queue entry %+v", es)
	}
	st := level(s, 3)
	// Lateness is Tick's wait past the due time plus the writer's, so no
	// less than the Tick clock's lead over the later of the two.
	if st.Offset != 2 || st.Waiting != 0 || st.LastDelivery.IsZero() || !st.HeadDue.IsZero() ||
		st.LatenessMillis < late-max(ts3, tsMax)-3000 {
		t.Fatalf("level 3 after: %+v", st)
	}
	// Every delivery is in the lateness histogram.
	var node tree.Node
	s.InspectNode(&node)
	var counted uint64
	for _, b := range node.Schedule.Lateness {
		counted += b.Count
	}
	if counted != 6 || node.Kind != tree.KindService || len(node.Schedule.Levels) != 3 || node.Schedule.Levels[0].Delivered != 4 {
		t.Fatalf("tree: %d deliveries in the lateness histogram, want 6; %+v", counted, node.Schedule)
	}
	stats := map[string]string{}
	s.BuildRunningStats(stats)
	if stats["scheduleMessageOffset_1"] != "4,4" || stats["scheduleMessageOffset_3"] != "2,2" || len(stats) != 2 {
		t.Fatalf("running stats %v", stats)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if e.store.ScheduleServiceStarted() {
		t.Fatal("Stop did not clear the started mark")
	}
}

// flakyWriter fails the puts whose ids are in fail (once each), and hands
// the others to the real writer.
type flakyWriter struct {
	w     *actors.Writer
	fail  map[string]bool
	calls atomic.Int32
}

func (f *flakyWriter) Submit(job *actors.AppendJob, stop <-chan struct{}) bool {
	f.calls.Add(1)
	m, err := commitlog.DecodeRecord(job.Put.Records)
	if err != nil {
		panic(err)
	}
	if id := message.Get(m.Properties, message.PropertyUniqClientMessageIDKeyIdx); f.fail[id] {
		delete(f.fail, id)
		job.Put.Result = commitlog.PutResult{Status: commitlog.PutCreateMappedFileFailed, Err: errors.New("injected")}
		go job.Done(job) // as the writer would, on another goroutine
		return true
	}
	return f.w.Submit(job, stop)
}

// A put that fails is tried again after DelayForAWhile, never skipped;
// the puts of its batch that succeeded are not made twice.
func TestFailedPutRetried(t *testing.T) {
	e := openEnv(t, t.TempDir())
	fw := &flakyWriter{w: e.writer, fail: map[string]bool{"A1": true}}
	s := e.service(func(c *schedule.Config) { c.Writer = fw })
	var last int64
	for _, id := range []string{"A0", "A1", "A2"} {
		last = e.sendDelayed(id, "Real", 0, 1)
	}
	now := time.UnixMilli(last + 1000)
	s.Tick(now)
	e.settled(s)
	if got := ids(e.delivered("Real", 0)); got != "A0,A2" {
		t.Fatalf("after the failed put: %q", got)
	}
	st := level(s, 1)
	if st.Offset != 1 || st.Delivered != 2 || !strings.Contains(st.LastError, "CREATE_MAPEDFILE_FAILED") {
		t.Fatalf("level 1 after the failure: %+v", st)
	}
	// The next pass sees the failure and waits DelayForAWhile from then.
	calls := fw.calls.Load()
	s.Tick(now)
	s.Tick(now.Add(schedule.DelayForAWhile / 2))
	if fw.calls.Load() != calls {
		t.Fatal("retried before DelayForAWhile")
	}
	s.Tick(now.Add(schedule.DelayForAWhile))
	e.settled(s)
	if got := ids(e.delivered("Real", 0)); got != "A0,A2,A1" {
		t.Fatalf("after the retry: %q", got)
	}
	if st := level(s, 1); st.Offset != 3 || st.Delivered != 3 || st.Retries != 1 || fw.calls.Load() != calls+1 {
		t.Fatalf("level 1 after the retry: %+v, %d puts", st, fw.calls.Load())
	}
}

// While an append holds the page cache busy, nothing is handed to the
// writer; delivery resumes after DelayForAWhile once it is not.
func TestPageCacheBusyWaits(t *testing.T) {
	e := openEnv(t, t.TempDir(), func(c *commitlog.Config) { c.OSPageCacheBusyTimeOutMills = 20 })
	s := e.service()
	ts := e.sendDelayed("B0", "Real", 0, 1)
	e.store.SetAppendStall(800 * time.Millisecond)
	stalled := make(chan struct{})
	go func() {
		defer close(stalled)
		rec, _ := commitlog.AppendRecord(nil, &commitlog.Message{Topic: "Plain", Body: []byte("x"), BornHost: bornHost, StoreHost: storeHost})
		done := make(chan struct{})
		job := &actors.AppendJob{Put: commitlog.PutRequest{Topic: "Plain", Records: rec, Count: 1}, Done: func(*actors.AppendJob) { close(done) }}
		e.writer.Submit(job, nil)
		<-done
	}()
	poll.Until(t, "page cache busy", e.store.IsOSPageCacheBusy)
	now := time.UnixMilli(ts + 1000)
	s.Tick(now)
	st := level(s, 1)
	if st.InFlight != 0 || st.Delivered != 0 || st.Retries != 1 || !strings.Contains(st.LastError, "OS_PAGECACHE_BUSY") {
		t.Fatalf("busy page cache: %+v", st)
	}
	e.store.SetAppendStall(0)
	<-stalled
	s.Tick(now.Add(schedule.DelayForAWhile))
	e.settled(s)
	if got := ids(e.delivered("Real", 0)); got != "B0" {
		t.Fatalf("after the stall: %q", got)
	}
}

func readOffsets(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "config", schedule.DelayOffsetFile))
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		OffsetTable map[string]int64 `json:"offsetTable"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		t.Fatalf("delayOffset.json %q: %v", data, err)
	}
	return w.OffsetTable
}

// Progress is written to delayOffset.json in RocketMQ's format at Stop
// and resumed after a restart: nothing is lost and, after a clean stop,
// nothing delivered twice. After a crash (progress not written) a level
// starts again from its last written offset: duplicates, no loss.
func TestProgressPersistedAndResumed(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	s := e.service()
	var ts []int64
	for i := range 5 {
		ts = append(ts, e.sendDelayed(fmt.Sprintf("P%d", i), "Real", 0, 2))
	}
	s.Tick(time.UnixMilli(ts[0] + 2000 - 1))
	s.Tick(time.UnixMilli(ts[2] + 2000))
	e.settled(s)
	first := len(e.delivered("Real", 0))
	if first < 3 || first > 5 {
		t.Fatalf("%d delivered", first)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s.Tick(time.UnixMilli(ts[4] + 2000)) // stopped: nothing more
	if got := readOffsets(t, dir); len(got) != 1 || got["2"] != int64(first) {
		t.Fatalf("delayOffset.json after a clean stop: %v, want level 2 at %d", got, first)
	}
	e.close()

	// Restart: the level goes on from there.
	e = openEnv(t, dir)
	s = e.service()
	if st := level(s, 2); st.Offset != int64(first) || st.Waiting != int64(5-first) {
		t.Fatalf("after the restart: %+v", st)
	}
	s.Tick(time.UnixMilli(ts[4] + 2000))
	e.settled(s)
	if got := ids(e.delivered("Real", 0)); got != "P0,P1,P2,P3,P4" {
		t.Fatalf("after the restart: %q", got)
	}
	if err := s.Persist(); err != nil {
		t.Fatal(err)
	}
	// Two more, delivered, then a "crash": the service never writes its
	// progress (its interval is an hour and Stop is not called).
	t6 := e.sendDelayed("P5", "Real", 0, 2)
	t7 := e.sendDelayed("P6", "Real", 0, 2)
	s.Tick(time.UnixMilli(max(t6, t7) + 2000))
	e.settled(s)
	if n := len(e.delivered("Real", 0)); n != 7 {
		t.Fatalf("%d delivered before the crash", n)
	}
	e.close()

	e = openEnv(t, dir)
	s = e.service()
	if st := level(s, 2); st.Offset != 5 || st.Waiting != 2 {
		t.Fatalf("after the crash the level restarts from the written offset: %+v", st)
	}
	s.Tick(time.UnixMilli(max(t6, t7) + 2000))
	e.settled(s)
	var got []string
	for off := int64(0); ; off++ {
		r := e.store.GetMessage("Real", 0, off, 1, nil)
		if r.Status != commitlog.Found {
			break
		}
		m, _ := commitlog.DecodeRecord(r.Messages[0])
		got = append(got, message.Get(m.Properties, message.PropertyUniqClientMessageIDKeyIdx))
	}
	if strings.Join(got, ",") != "P0,P1,P2,P3,P4,P5,P6,P5,P6" {
		t.Fatalf("after the crash: %v (P5 and P6 again, nothing lost)", got)
	}
}

// A Java broker's delayOffset.json (fastjson's bare keys) is read; an
// offset beyond its queue is corrected to the queue's end, and a level
// the configuration lacks is kept in the file.
func TestDelayOffsetFileFromJava(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	e.sendDelayed("J0", "Real", 0, 1)
	e.sendDelayed("J1", "Real", 0, 1)
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config", schedule.DelayOffsetFile), []byte(`{"offsetTable":{1:1,2:9,7:4}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := e.service()
	if st := level(s, 1); st.Offset != 1 || st.Waiting != 1 {
		t.Fatalf("level 1: %+v", st)
	}
	if st := level(s, 2); st.Offset != 0 {
		t.Fatalf("level 2 (an offset past an empty queue): %+v", st)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := readOffsets(t, dir); got["1"] != 1 || got["2"] != 0 || got["7"] != 4 {
		t.Fatalf("written back: %v", got)
	}
}

// An entry whose record names no real topic cannot be delivered: it is
// passed over (logged) and the level goes on.
func TestRecordWithoutRealTopicPassedOver(t *testing.T) {
	e := openEnv(t, t.TempDir())
	s := e.service()
	bad := &commitlog.Message{Topic: metadata.RMQSysScheduleTopic, QueueID: 0, BornHost: bornHost, StoreHost: storeHost,
		Body: []byte("x"), Properties: "DELAY\x011\x02UNIQ_KEY\x01bad\x02"}
	r := e.put(bad)
	poll.Until(t, "dispatched", func() bool { return e.store.MaxOffsetInQueue(metadata.RMQSysScheduleTopic, 0) > r.QueueOffset })
	ts := e.sendDelayed("G0", "Real", 0, 1)
	s.Tick(time.UnixMilli(ts + 1000))
	e.settled(s)
	if got := ids(e.delivered("Real", 0)); got != "G0" {
		t.Fatalf("delivered %q", got)
	}
	if st := level(s, 1); st.Offset != 2 || st.PassedOver != 1 || st.Delivered != 1 {
		t.Fatalf("level 1: %+v", st)
	}
}

func TestToScheduleTopic(t *testing.T) {
	base := func(props string) *commitlog.Message {
		return &commitlog.Message{Topic: "T", QueueID: 5, Properties: props}
	}
	m := base("TAGS\x01a\x02DELAY\x013\x02REAL_TOPIC\x01stale\x02")
	if ok, err := schedule.ToScheduleTopic(m, 18); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if m.Topic != "SCHEDULE_TOPIC_XXXX" || m.QueueID != 2 || message.Get(m.Properties, "REAL_TOPIC") != "T" ||
		message.Get(m.Properties, "REAL_QID") != "5" || message.Get(m.Properties, "DELAY") != "3" || message.Get(m.Properties, "TAGS") != "a" {
		t.Fatalf("parked %+v %q", m, m.Properties)
	}
	m = base("DELAY\x0140\x02")
	if ok, _ := schedule.ToScheduleTopic(m, 18); !ok || m.QueueID != 17 || message.Get(m.Properties, "DELAY") != "18" {
		t.Fatalf("above the highest level: %+v %q", m, m.Properties)
	}
	for _, props := range []string{"", "TAGS\x01a\x02", "DELAY\x010\x02", "DELAY\x01-1\x02"} {
		m := base(props)
		if ok, err := schedule.ToScheduleTopic(m, 18); ok || err != nil || m.Topic != "T" {
			t.Fatalf("%q: %v %v %+v", props, ok, err, m)
		}
	}
	m = base("DELAY\x01soon\x02")
	if ok, err := schedule.ToScheduleTopic(m, 18); ok || err == nil || !strings.Contains(err.Error(), "DELAY") || m.Topic != "T" {
		t.Fatalf("a DELAY that is not a number: %v %v", ok, err)
	}
	m = base("DELAY\x013\x02")
	m.SysFlag = commitlog.SysFlagTxPrepared
	if ok, _ := schedule.ToScheduleTopic(m, 18); ok {
		t.Fatal("a prepared transactional message was delayed")
	}
	m = &commitlog.Message{Topic: metadata.RMQSysTransHalfTopic, Properties: "DELAY\x013\x02REAL_TOPIC\x01T\x02"}
	if ok, _ := schedule.ToScheduleTopic(m, 18); ok {
		t.Fatal("a half message was delayed")
	}
	if commitlog.ScheduleTopic != metadata.RMQSysScheduleTopic {
		t.Fatal("the store's and metadata's schedule topic differ")
	}
}

// Inspect, InspectNode, BuildRunningStats and Persist are read from the
// tree, metrics and admin goroutines while Tick and the writer change the
// levels: under -race this proves they share nothing unguarded, and the
// readers see the deliveries.
func TestInspectWhileDelivering(t *testing.T) {
	e := openEnv(t, t.TempDir())
	s := e.service(func(c *schedule.Config) { c.BatchSize = 4 })
	var ts []int64
	for i := range 40 {
		ts = append(ts, e.sendDelayed(fmt.Sprintf("m%d", i), "Real", 0, 1+i%3))
	}
	stop := make(chan struct{})
	readerDone := make(chan uint64)
	go func() {
		var seen uint64
		for {
			select {
			case <-stop:
				readerDone <- seen
				return
			default:
			}
			var n tree.Node
			s.InspectNode(&n)
			var delivered uint64
			for _, lv := range n.Schedule.Levels {
				delivered += lv.Delivered
			}
			seen = max(seen, delivered)
			_ = s.Inspect()
			s.BuildRunningStats(map[string]string{})
			_ = s.Persist()
		}
	}()
	now := time.UnixMilli(ts[len(ts)-1] + 3000)
	poll.Until(t, "all 40 delivered", func() bool {
		s.Tick(now)
		return len(e.delivered("Real", 0)) == 40
	})
	e.settled(s)
	close(stop)
	if seen := <-readerDone; seen == 0 {
		t.Fatal("the reader never saw a delivery")
	}
	for _, st := range s.Inspect() {
		if st.Waiting != 0 || st.Offset != st.MaxOffset || st.Delivered == 0 {
			t.Fatalf("level %d after: %+v", st.Level, st)
		}
	}
}

// While an append holds the writer past osPageCacheBusyTimeOutMills, a
// level with due messages backs off (a busy back-off, not a failure) and
// hands nothing to the writer; once the page cache is free it delivers.
func TestBusyPageCacheBacksOff(t *testing.T) {
	e := openEnv(t, t.TempDir(), func(c *commitlog.Config) { c.OSPageCacheBusyTimeOutMills = 50 })
	s := e.service()
	ts := e.sendDelayed("busy", "Real", 0, 1)
	e.store.SetAppendStall(time.Second)
	// An append that will hold the lock for the stall.
	stalled := make(chan struct{})
	go func() {
		defer close(stalled)
		e.put(&commitlog.Message{Topic: "Other", Body: []byte("x"), BornHost: bornHost, StoreHost: storeHost})
	}()
	poll.Until(t, "the page cache busy", e.store.IsOSPageCacheBusy)
	s.Tick(time.UnixMilli(ts + 1000))
	st := level(s, 1)
	if st.BusyBackoffs != 1 || st.Retries != 1 || st.InFlight != 0 || st.Delivered != 0 || st.RetryAt.IsZero() ||
		!strings.Contains(st.LastError, "OS_PAGECACHE_BUSY") || st.HeadDue.IsZero() {
		t.Fatalf("level 1 while busy: %+v", st)
	}
	e.store.SetAppendStall(0)
	<-stalled
	poll.Until(t, "delivered after the stall", func() bool {
		s.Tick(time.Now().Add(2 * time.Second))
		return len(e.delivered("Real", 0)) == 1
	})
	e.settled(s)
	if st := level(s, 1); st.Delivered != 1 || st.BusyBackoffs != 1 || st.Waiting != 0 {
		t.Fatalf("level 1 after: %+v", st)
	}
}
