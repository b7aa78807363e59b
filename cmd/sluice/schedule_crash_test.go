package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// The scheduled-message crash test: the real broker binary takes delayed
// messages spread over several delay levels, is killed with SIGKILL while
// they are being delivered, and is restarted on the same store. Every
// acknowledged delayed message must then reach its real topic and queue
// (at least once: deliveries made after the last write of delayOffset.json
// come again, and are counted and reported), with its body, and none may
// have been stored for delivery before its due time. Run in both flush
// modes.
//
// SLUICE_SCHEDULE_CRASH_MESSAGES sets how many delayed messages are sent
// (default 1000; `task soak:crash` sends 10 000); SLUICE_CRASH_SEED replays
// the kill moments.

const (
	schedCrashTopic  = "ScheduleCrashTopic"
	schedCrashQueues = 4
	schedCrashGroup  = "schedule_crash_check"
	// The levels of the test's broker.conf, shortened so that the whole
	// test stays well under a minute.
	schedCrashLevels = "1s 2s 3s 4s"
	// slack allows for the millisecond rounding of the clocks compared.
	schedCrashSlackMillis = 5
)

// delayKind is one way of making message i delayed: the properties to send
// it with, and how long after it was born it is due. Messages take the
// kinds in turn: RocketMQ 4's delay levels and RocketMQ 5's timers.
type delayKind struct {
	name  string
	delay func(i int) (props []byte, due time.Duration)
}

var schedCrashKinds = []delayKind{
	{"delay level", func(i int) ([]byte, time.Duration) {
		level := 1 + i%4 // the four levels of schedCrashLevels
		return message.Append(nil, message.PropertyDelayTimeLevel, strconv.Itoa(level)), time.Duration(level) * time.Second
	}},
	{"timer", func(i int) ([]byte, time.Duration) {
		// RocketMQ 5's TIMER_DELAY_MS, 1.5 s to 4.5 s: through the timer
		// log and wheel rather than SCHEDULE_TOPIC_XXXX.
		ms := 1500 + (i%4)*1000
		return message.Append(nil, message.PropertyTimerDelayMS, strconv.Itoa(ms)), time.Duration(ms) * time.Millisecond
	}},
}

// schedCrashMessage is one delayed message the test sent.
type schedCrashMessage struct {
	kind  string
	queue int32
	born  int64 // ms, the send's bornTimestamp
	due   time.Duration
	acked bool
}

func schedCrashBody(key string) []byte { return []byte("delayed message " + key) }

func TestScheduleCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the broker binary")
	}
	n := envCount(t, "SLUICE_SCHEDULE_CRASH_MESSAGES", 1000)
	seed := crashSeed(t)
	t.Logf("messages=%d seed=%d (replay with SLUICE_CRASH_SEED=%d)", n, seed, seed)
	bin := buildBinary(t)
	for i, mode := range []string{"ASYNC_FLUSH", "SYNC_FLUSH"} {
		t.Run(mode, func(t *testing.T) {
			runScheduleCrash(t, bin, mode, n, modeSeed(seed, i))
		})
	}
}

func runScheduleCrash(t *testing.T, bin, mode string, n int, seed uint64) {
	dir := t.TempDir()
	conf := writeCrashConf(t, dir, mode,
		"mappedFileSizeCommitLog=4194304",
		"mappedFileSizeConsumeQueue=240000",
		"messageDelayLevel="+schedCrashLevels,
		// Progress is written often, so the kill finds it part-way: some
		// levels resume where they were, some deliver a few again.
		"flushDelayOffsetInterval=500",
		// The timer checkpoint likewise, at a precision the test can wait for.
		"timerPrecisionMs=100",
		"timerFlushIntervalMs=500",
	)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	runs := newCrashRuns(t)
	start := time.Now()
	p := runs.start(bin, conf, 0)

	sent := schedCrashSend(t, p.addr, n)
	acked := 0
	var maxDue time.Duration
	for _, m := range sent {
		if m.acked {
			acked++
			maxDue = max(maxDue, m.due)
		}
	}
	sendTime := time.Since(start)
	// Kill while deliveries are under way: somewhere before the last level
	// is due.
	wait := time.Duration(rng.Int64N(int64(maxDue)))
	time.Sleep(wait)
	before, _ := schedCrashOffsets(p.addr)
	p.kill()
	t.Logf("%s: %d delayed messages sent, %d acknowledged, in %v; SIGKILL %v after the last; delayed-offset progress then %v",
		mode, n, acked, sendTime.Round(time.Millisecond), wait.Round(time.Millisecond), before)

	p = runs.start(bin, conf, 1)
	for _, line := range p.log.recoveryLines() {
		t.Logf("recovery: %s", line)
	}
	restarted := time.Now()
	seen, problems := schedCrashConsume(t, p.addr, sent, maxDue+60*time.Second)
	if len(problems) > 0 {
		t.Fatalf("%s: %d problem(s) after the restart:\n  %s", mode, len(problems), strings.Join(crashHead(problems, 40), "\n  "))
	}
	duplicates, twice := 0, 0
	for _, c := range seen {
		if c > 1 {
			duplicates += c - 1
			twice++
		}
	}
	after, _ := schedCrashOffsets(p.addr)
	t.Logf("%s: all %d acknowledged delayed messages delivered %v after the restart; %d duplicate deliveries (%d messages more than once), none early; progress %v",
		mode, acked, time.Since(restarted).Round(time.Millisecond), duplicates, twice, after)
	if err := p.stop(); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	t.Logf("%s: done in %v", mode, time.Since(start).Round(time.Millisecond))
}

// schedCrashSend sends n delayed messages, each made delayed by one of the
// kinds in turn, from crashSenders goroutines, and returns them by key.
func schedCrashSend(t *testing.T, addr string, n int) map[string]*schedCrashMessage {
	t.Helper()
	clients := make([]*remoting.Client, crashClients)
	for i := range clients {
		c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	out := make(map[string]*schedCrashMessage, n)
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprintf("SCHED%08d", i)
		out[keys[i]] = &schedCrashMessage{}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failures atomic.Int64
	var firstErr atomic.Pointer[string]
	for s := range crashSenders {
		c := clients[s%crashClients]
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				key := keys[i]
				kind := schedCrashKinds[i%len(schedCrashKinds)]
				delayProps, due := kind.delay(i / len(schedCrashKinds))
				m := out[key]
				m.kind, m.queue, m.due = kind.name, int32(i%schedCrashQueues), due
				m.born = time.Now().UnixMilli()
				props := string(message.Append(delayProps, message.PropertyUniqClientMessageIDKeyIdx, key))
				resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.SendMessage, map[string]string{
					"producerGroup": "schedule_crash_pg", "topic": schedCrashTopic, "defaultTopic": "TBW102",
					"defaultTopicQueueNums": strconv.Itoa(schedCrashQueues), "queueId": strconv.Itoa(int(m.queue)),
					"sysFlag": "0", "bornTimestamp": strconv.FormatInt(m.born, 10), "flag": "0", "properties": props,
					"reconsumeTimes": "0", "unitMode": "false", "maxReconsumeTimes": "0", "batch": "false",
				}, schedCrashBody(key)), 10*time.Second)
				switch {
				case err != nil:
					failures.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
				case resp.ResponseCode() != remoting.Success:
					failures.Add(1)
					msg := fmt.Sprintf("%s %q", resp.ResponseCode(), resp.Remark)
					firstErr.CompareAndSwap(nil, &msg)
				default:
					m.acked = true
				}
			}
		})
	}
	wg.Wait()
	// No kill during the sends: every one should have been taken. (A busy
	// answer would be legitimate, but would leave the test checking less.)
	if f := failures.Load(); f > 0 {
		t.Logf("%d sends not acknowledged (first: %s); they are not checked", f, *firstErr.Load())
	}
	return out
}

// schedCrashConsume reads the real topic's queues from offset 0 until every
// acknowledged message has been seen, or until deadline, and checks each
// record: a key that was sent, its queue and body, stored no earlier than
// due. It returns how often each key was read, and the problems.
func schedCrashConsume(t *testing.T, addr string, sent map[string]*schedCrashMessage, deadline time.Duration) (map[string]int, []string) {
	t.Helper()
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{})
	if err != nil {
		return nil, []string{err.Error()}
	}
	defer c.Close()
	seen := map[string]int{}
	missing := func() int {
		k := 0
		for key, m := range sent {
			if m.acked && seen[key] == 0 {
				k++
			}
		}
		return k
	}
	next := make([]int64, schedCrashQueues)
	end := time.Now().Add(deadline)
	settled := false
	for {
		for q := int32(0); q < schedCrashQueues; q++ {
			for {
				resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.PullMessage, map[string]string{
					"consumerGroup": schedCrashGroup, "topic": schedCrashTopic, "queueId": strconv.Itoa(int(q)),
					"queueOffset": strconv.FormatInt(next[q], 10), "maxMsgNums": "32", "sysFlag": "4",
					"commitOffset": "0", "suspendTimeoutMillis": "0", "subVersion": "0",
					"subscription": "*", "expressionType": "TAG",
				}, nil), 10*time.Second)
				if err != nil {
					return seen, append(problems, fmt.Sprintf("queue %d pull at %d: %v", q, next[q], err))
				}
				if code := resp.ResponseCode(); code != remoting.Success {
					if code != remoting.PullNotFound && code != remoting.TopicNotExist && code != remoting.PullOffsetMoved {
						bad("queue %d pull at %d: %s %q", q, next[q], code, resp.Remark)
					}
					break
				}
				for _, msg := range primitive.DecodeMessage(resp.Body) {
					key := msg.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex)
					m, ok := sent[key]
					switch {
					case !ok:
						bad("queue %d offset %d: record with unknown key %q", q, msg.QueueOffset, key)
					case msg.Topic != schedCrashTopic || int32(msg.Queue.QueueId) != m.queue:
						bad("%s delivered to %s/%d, sent to %s/%d", key, msg.Topic, msg.Queue.QueueId, schedCrashTopic, m.queue)
					case string(msg.Body) != string(schedCrashBody(key)):
						bad("%s delivered with body %q", key, msg.Body)
					case msg.StoreTimestamp < msg.BornTimestamp+m.due.Milliseconds()-schedCrashSlackMillis:
						bad("%s (%s, due %v after its send) stored for delivery %d ms after it was born", key, m.kind, m.due,
							msg.StoreTimestamp-msg.BornTimestamp)
					case msg.GetProperty(message.PropertyDelayTimeLevel) != "":
						bad("%s delivered with DELAY=%s", key, msg.GetProperty(message.PropertyDelayTimeLevel))
					}
					seen[key]++
					next[q] = msg.QueueOffset + 1
				}
			}
		}
		if len(problems) > 0 {
			return seen, problems
		}
		if missing() == 0 {
			// Everything is there; read once more after the broker has
			// nothing left to deliver, to count duplicates still coming.
			if settled {
				return seen, nil
			}
			if offs, err := schedCrashOffsets(addr); err == nil && schedCrashDone(offs) {
				settled = true
			}
		}
		if time.Now().After(end) {
			var lost []string
			for key, m := range sent {
				if m.acked && seen[key] == 0 {
					lost = append(lost, fmt.Sprintf("%s (%s, due %v, queue %d)", key, m.kind, m.due, m.queue))
				}
			}
			sort.Strings(lost)
			offs, err := schedCrashOffsets(addr)
			return seen, append([]string{fmt.Sprintf("%d acknowledged delayed messages not delivered within %v (progress %v %v):",
				len(lost), deadline, offs, err)}, lost...)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// schedCrashOffsets asks GET_BROKER_RUNTIME_INFO for the schedule service's
// progress: scheduleMessageOffset_<level> = "offset,maxOffset".
func schedCrashOffsets(addr string) (map[string]string, error) {
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil), 10*time.Second)
	if err != nil {
		return nil, err
	}
	var kv struct{ Table map[string]string }
	if err := json.Unmarshal(resp.Body, &kv); err != nil {
		return nil, fmt.Errorf("runtime info: %w", err)
	}
	out := map[string]string{}
	for k, v := range kv.Table {
		if level, ok := strings.CutPrefix(k, "scheduleMessageOffset_"); ok {
			out[level] = v
		}
	}
	if len(out) == 0 {
		return out, errors.New("no scheduleMessageOffset_ keys")
	}
	return out, nil
}

// schedCrashDone: every level has delivered up to its queue's end.
func schedCrashDone(offs map[string]string) bool {
	for _, v := range offs {
		off, hi, ok := strings.Cut(v, ",")
		if !ok || off != hi {
			return false
		}
	}
	return true
}
