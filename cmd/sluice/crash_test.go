package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/remoting"
)

// The crash test runs the real broker binary under send load, kills it with
// SIGKILL at a random moment, restarts it on the same store and reads every
// queue back from offset 0. Every send the broker acknowledged (code 0) must
// be there with its exact bytes, at the queue offset and with the msgId the
// acknowledgement named; offsets must be contiguous from 0; records that were
// in flight at the kill may or may not be there, but if they are, they must be
// whole copies of what was sent. A record once read back after a restart
// counts as known from then on: a later crash must not take it away either.
//
// SLUICE_CRASH_ROUNDS sets the number of kills (default 3); SLUICE_CRASH_SEED
// replays a run (the seed is logged).

const (
	crashTopic  = "CrashTopic"
	crashQueues = 4
	crashGroup  = "crash_check"
	// crashSenders goroutines send over crashClients connections.
	crashSenders = 8
	crashClients = 2
	crashMaxBody = 8 << 10
)

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and repeatedly kills the broker binary")
	}
	rounds := envCount(t, "SLUICE_CRASH_ROUNDS", 3)
	seed := crashSeed(t)
	t.Logf("rounds=%d seed=%d (replay with SLUICE_CRASH_SEED=%d)", rounds, seed, seed)
	bin := buildBinary(t)
	for i, mode := range []string{"SYNC_FLUSH", "ASYNC_FLUSH"} {
		t.Run(mode, func(t *testing.T) {
			runCrashRounds(t, bin, mode, rounds, modeSeed(seed, i))
		})
	}
}

// envCount is the positive integer in the environment variable name, or
// def when it is unset: how much a crash test does (a soak sets more).
func envCount(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// crashSeed seeds a crash test's randomness (what is sent, when the kill
// comes): SLUICE_CRASH_SEED replays a run the log names.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	v := os.Getenv("SLUICE_CRASH_SEED")
	if v == "" {
		return uint64(time.Now().UnixNano())
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("SLUICE_CRASH_SEED=%q: %v", v, err)
	}
	return n
}

// modeSeed gives each flush mode's subtest its own seed from the run's.
func modeSeed(seed uint64, i int) uint64 { return seed + uint64(i)*0x9e3779b97f4a7c15 }

// writeCrashConf writes dir/broker.conf and returns its path: what every
// crash test's broker starts with (the loopback, ports the broker picks, no
// metrics, the store under dir, the flush mode), then extra.
func writeCrashConf(t *testing.T, dir, mode string, extra ...string) string {
	t.Helper()
	lines := append([]string{
		"bindAddress=127.0.0.1",
		"brokerIP1=127.0.0.1",
		"listenPort=0",
		"namesrvListenPort=0",
		"grpcServerPort=0",
		"metricsPromExporterPort=0",
		"storePathRootDir=" + filepath.Join(dir, "store"),
		"flushDiskType=" + mode,
	}, extra...)
	conf := filepath.Join(dir, "broker.conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// crashRuns are the broker processes a crash test started: all killed when
// it ends, and their stderr logged if it failed.
type crashRuns struct {
	t     *testing.T
	procs []*crashProc
}

func newCrashRuns(t *testing.T) *crashRuns {
	r := &crashRuns{t: t}
	t.Cleanup(func() {
		for _, p := range r.procs {
			p.kill()
		}
		if t.Failed() {
			for i, p := range r.procs {
				t.Logf("---- broker stderr, run %d ----\n%s", i, p.log.tail(64<<10))
			}
		}
	})
	return r
}

// start starts the broker binary on conf (startCrashBroker) and keeps it.
func (r *crashRuns) start(bin, conf string, round int) *crashProc {
	r.t.Helper()
	p := startCrashBroker(r.t, bin, conf, round)
	r.procs = append(r.procs, p)
	return p
}

func runCrashRounds(t *testing.T, bin, mode string, rounds int, seed uint64) {
	dir := t.TempDir()
	conf := writeCrashConf(t, dir, mode,
		"mappedFileSizeCommitLog=1048576",
		"mappedFileSizeConsumeQueue=20000",
	)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	m := newCrashModel()
	runs := newCrashRuns(t)
	start := time.Now()
	for round := 0; ; round++ {
		p := runs.start(bin, conf, round)
		for _, line := range p.log.recoveryLines() {
			t.Logf("round %d recovery: %s", round, line)
		}
		if round > 0 {
			found, problems := m.verify(p.addr)
			if len(problems) > 0 {
				// Tell a lost record from one the broker has not dispatched
				// yet: read again after a pause. Either way it is a failure —
				// the broker is answering pulls, so what it has acknowledged
				// must be readable now.
				time.Sleep(2 * time.Second)
				_, again := m.verify(p.addr)
				t.Fatalf("%s round %d: %d problem(s) after restart:\n  %s\nread again 2 s later: %d problem(s):\n  %s",
					mode, round, len(problems), strings.Join(crashHead(problems, 40), "\n  "),
					len(again), strings.Join(crashHead(again, 40), "\n  "))
			}
			t.Logf("%s round %d: records found %v (total %d), known %d, acknowledged so far %d",
				mode, round, found, sum(found), m.knownCount(), m.acked)
		}
		if round == rounds {
			// The last restart verified; stop it the polite way, which also
			// checks that a store recovered from a crash closes cleanly.
			if err := p.stop(); err != nil {
				t.Fatalf("clean stop after the last round: %v", err)
			}
			break
		}
		delay := 100*time.Millisecond + time.Duration(rng.Int64N(int64(500*time.Millisecond)))
		st := p.load(t, m, round, rng.Uint64(), delay)
		if err := m.merge(st); err != nil {
			t.Fatalf("%s round %d: %v", mode, round, err)
		}
		t.Logf("%s round %d: SIGKILL after %v: attempted %d, acknowledged %d, transport errors %d, other codes %v",
			mode, round, delay.Round(time.Millisecond), st.attempted, len(st.acks), st.transportErrs, st.codes)
	}
	t.Logf("%s: %d kills in %v; %d acknowledged sends checked", mode, rounds, time.Since(start).Round(time.Millisecond), m.acked)
}

// crashAttempt is one message a sender tried to send. Its body is derived
// from seed, so the test keeps no copy of it.
type crashAttempt struct {
	queue int32
	size  int
	seed  uint64
}

func (a crashAttempt) body() []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], a.seed)
	b := make([]byte, a.size)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// crashKnown is a record at a queue offset the broker must keep: it was
// acknowledged, or read back after an earlier restart.
type crashKnown struct {
	key   string
	msgID string // the acknowledgement's msgId; "" if never acknowledged
	round int
}

type crashAck struct {
	key    string
	queue  int32
	offset int64
	msgID  string
}

type crashModel struct {
	attempts map[string]crashAttempt
	known    [crashQueues]map[int64]crashKnown
	acked    int
}

func newCrashModel() *crashModel {
	m := &crashModel{attempts: make(map[string]crashAttempt)}
	for q := range m.known {
		m.known[q] = make(map[int64]crashKnown)
	}
	return m
}

func (m *crashModel) knownCount() int {
	n := 0
	for _, k := range m.known {
		n += len(k)
	}
	return n
}

// merge adds a round's attempts and acknowledgements. Two acknowledgements
// of one queue offset, or one of an offset already known, mean the broker
// handed out an offset twice.
func (m *crashModel) merge(st *crashRoundStats) error {
	for k, a := range st.attempts {
		m.attempts[k] = a
	}
	var errs []error
	for _, a := range st.acks {
		if prev, ok := m.known[a.queue][a.offset]; ok {
			errs = append(errs, fmt.Errorf("queue %d offset %d acknowledged for %s but already held %s (round %d, msgId %q)",
				a.queue, a.offset, a.key, prev.key, prev.round, prev.msgID))
			continue
		}
		m.known[a.queue][a.offset] = crashKnown{key: a.key, msgID: a.msgID, round: st.round}
		m.acked++
	}
	return errors.Join(errs...)
}

// verify reads every queue from offset 0 and checks it against the model;
// it returns the record count per queue and the problems found. Records
// found are added to the known set.
func (m *crashModel) verify(addr string) ([]int64, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	ctx := context.Background()
	c, err := remoting.Dial(ctx, addr, remoting.ClientOptions{})
	if err != nil {
		return nil, []string{err.Error()}
	}
	defer c.Close()
	found := make([]int64, crashQueues)
	seen := make(map[string]string)
	type rec struct {
		key, msgID string
	}
	read := make([][]rec, crashQueues)
	for q := int32(0); q < crashQueues; q++ {
		next := int64(0)
	pulls:
		for {
			resp, err := c.Invoke(ctx, remoting.NewRequest(remoting.PullMessage, map[string]string{
				"consumerGroup": crashGroup, "topic": crashTopic, "queueId": strconv.Itoa(int(q)),
				"queueOffset": strconv.FormatInt(next, 10), "maxMsgNums": "32", "sysFlag": "4",
				"commitOffset": "0", "suspendTimeoutMillis": "0", "subVersion": "0",
				"subscription": "*", "expressionType": "TAG",
			}, nil), 10*time.Second)
			if err != nil {
				bad("queue %d pull at %d: %v", q, next, err)
				break
			}
			switch resp.ResponseCode() {
			case remoting.Success:
			case remoting.PullNotFound:
				if mo := resp.Ext("maxOffset"); mo != strconv.FormatInt(next, 10) {
					bad("queue %d: no new message at %d but maxOffset %s", q, next, mo)
				}
				break pulls
			case remoting.TopicNotExist:
				// Only before anything was ever stored.
				if m.knownCount() > 0 {
					bad("queue %d: %s %q although records were acknowledged", q, resp.ResponseCode(), resp.Remark)
				}
				break pulls
			default:
				bad("queue %d pull at %d: %s %q", q, next, resp.ResponseCode(), resp.Remark)
				break pulls
			}
			msgs := primitive.DecodeMessage(resp.Body)
			var framed int
			for _, msg := range msgs {
				framed += int(msg.StoreSize)
			}
			if len(msgs) == 0 || framed != len(resp.Body) {
				bad("queue %d pull at %d: body of %d bytes holds %d records totalling %d bytes", q, next, len(resp.Body), len(msgs), framed)
				break
			}
			for _, msg := range msgs {
				key := msg.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex)
				switch {
				case msg.Topic != crashTopic || msg.Queue.QueueId != int(q):
					bad("queue %d offset %d: record of topic %q queue %d", q, next, msg.Topic, msg.Queue.QueueId)
				case msg.QueueOffset != next:
					bad("queue %d: record %s at offset %d says queue offset %d (gap or duplicate)", q, key, next, msg.QueueOffset)
				}
				a, ok := m.attempts[key]
				switch {
				case !ok:
					bad("queue %d offset %d: record with unknown key %q (%d-byte body)", q, next, key, len(msg.Body))
				case a.queue != q:
					bad("queue %d offset %d: record %s was sent to queue %d", q, next, key, a.queue)
				case !bytes.Equal(msg.Body, a.body()):
					bad("queue %d offset %d: record %s body differs from what was sent (%d bytes stored, %d sent, first difference at %d)",
						q, next, key, len(msg.Body), a.size, firstDiff(msg.Body, a.body()))
				}
				if prev, dup := seen[key]; dup {
					bad("queue %d offset %d: record %s stored twice (also at %s)", q, next, key, prev)
				}
				seen[key] = fmt.Sprintf("queue %d offset %d", q, next)
				read[q] = append(read[q], rec{key, msg.OffsetMsgId})
				next++
			}
			if nb := resp.Ext("nextBeginOffset"); nb != strconv.FormatInt(next, 10) {
				bad("queue %d: nextBeginOffset %s after reading up to %d", q, nb, next)
				break
			}
		}
		found[q] = int64(len(read[q]))
	}
	for q := range m.known {
		for off, k := range m.known[q] {
			if off >= found[q] {
				what := "acknowledged"
				if k.msgID == "" {
					what = "previously read"
				}
				bad("queue %d offset %d: %s record %s (round %d, msgId %q) lost: queue holds %d records", q, off, what, k.key, k.round, k.msgID, found[q])
				continue
			}
			r := read[q][off]
			if r.key != k.key {
				bad("queue %d offset %d: holds %s, expected %s (round %d)", q, off, r.key, k.key, k.round)
			} else if k.msgID != "" && !strings.EqualFold(r.msgID, k.msgID) {
				bad("queue %d offset %d: record %s has offsetMsgId %s, acknowledged as %s", q, off, k.key, r.msgID, k.msgID)
			}
		}
	}
	slices.Sort(problems)
	if len(problems) == 0 {
		for q := range read {
			for off, r := range read[q] {
				if _, ok := m.known[q][int64(off)]; !ok {
					m.known[q][int64(off)] = crashKnown{key: r.key, round: -1}
				}
			}
		}
	}
	return found, problems
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

type crashRoundStats struct {
	round         int
	attempted     int
	attempts      map[string]crashAttempt
	acks          []crashAck
	transportErrs int
	codes         map[remoting.ResponseCode]int // non-zero answers
}

// load runs the senders until the broker dies, killing it after delay.
func (p *crashProc) load(t *testing.T, m *crashModel, round int, seed uint64, delay time.Duration) *crashRoundStats {
	t.Helper()
	clients := make([]*remoting.Client, crashClients)
	for i := range clients {
		c, err := remoting.Dial(context.Background(), p.addr, remoting.ClientOptions{})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		defer c.Close()
		clients[i] = c
	}
	st := &crashRoundStats{round: round, attempts: make(map[string]crashAttempt), codes: make(map[remoting.ResponseCode]int)}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		stop atomic.Bool
	)
	for s := range crashSenders {
		rng := rand.New(rand.NewPCG(seed, uint64(s)))
		c := clients[s%crashClients]
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				key := fmt.Sprintf("r%02d-s%d-n%06d", round, s, n)
				// Sizes spread over 1 B … 8 KiB, small ones as common as large.
				a := crashAttempt{queue: rng.Int32N(crashQueues), size: 1 + rng.IntN(1<<rng.IntN(14)), seed: rng.Uint64()}
				mu.Lock()
				st.attempts[key] = a
				st.attempted++
				mu.Unlock()
				resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.SendMessage, map[string]string{
					"producerGroup": "crash_pg", "topic": crashTopic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
					"queueId": strconv.Itoa(int(a.queue)), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
					"flag": "0", "properties": primitive.PropertyUniqueClientMessageIdKeyIndex + "\x01" + key + "\x02",
					"reconsumeTimes": "0", "unitMode": "false", "maxReconsumeTimes": "0", "batch": "false",
				}, a.body()), 10*time.Second)
				mu.Lock()
				switch {
				case err != nil:
					st.transportErrs++
				case resp.ResponseCode() != remoting.Success:
					st.codes[resp.ResponseCode()]++
				default:
					off, err1 := strconv.ParseInt(resp.Ext("queueOffset"), 10, 64)
					q, err2 := strconv.Atoi(resp.Ext("queueId"))
					if err1 != nil || err2 != nil || q != int(a.queue) {
						t.Errorf("round %d: send %s to queue %d acknowledged with header %v", round, key, a.queue, resp.ExtMap())
					} else {
						st.acks = append(st.acks, crashAck{key: key, queue: a.queue, offset: off, msgID: resp.Ext("msgId")})
					}
				}
				mu.Unlock()
				if err != nil && errors.Is(err, remoting.ErrClosed) {
					return
				}
			}
		})
	}
	time.Sleep(delay)
	p.kill()
	stop.Store(true)
	wg.Wait()
	return st
}

// crashProc is one run of the broker binary.
type crashProc struct {
	cmd    *exec.Cmd
	log    *crashLog
	addr   string
	exited chan struct{}
	err    error // from Wait, valid once exited is closed
}

func startCrashBroker(t *testing.T, bin, conf string, round int) *crashProc {
	t.Helper()
	p := &crashProc{log: &crashLog{started: make(chan string, 1)}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "-c", conf)
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.addr = <-p.log.started:
		if !strings.HasPrefix(p.addr, "127.0.0.1:") {
			p.kill()
			t.Fatalf("round %d: broker listens on %q, want 127.0.0.1", round, p.addr)
		}
		return p
	case <-p.exited:
		t.Fatalf("round %d: broker exited before starting: %v\n%s", round, p.err, p.log.tail(64<<10))
	case <-time.After(60 * time.Second):
		p.kill()
		t.Fatalf("round %d: no \"broker started\" within 60 s\n%s", round, p.log.tail(64<<10))
	}
	return nil
}

// kill SIGKILLs the process this test started, by its PID, and waits for it.
func (p *crashProc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop SIGTERMs the broker and waits for a clean exit.
func (p *crashProc) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.exited:
	case <-time.After(40 * time.Second):
		p.kill()
		return errors.New("still running 40 s after SIGTERM")
	}
	if p.err != nil {
		return p.err
	}
	if !strings.Contains(p.log.tail(1<<20), "broker stopped") {
		return errors.New(`no "broker stopped" logged`)
	}
	return nil
}

// crashLog keeps a broker's output and reports its address once it logs
// "broker started".
type crashLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	lines   []string // complete lines
	partial []byte
	started chan string
}

func (l *crashLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.lines = append(l.lines, line)
		var rec struct{ Message, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Message == "broker started" {
			select {
			case l.started <- rec.Addr:
			default:
			}
		}
	}
	return len(p), nil
}

func (l *crashLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf.Bytes()
	if len(b) > n {
		return "…" + string(b[len(b)-n:])
	}
	return string(b)
}

// recoveryLines are the store's lines about how it opened.
func (l *crashLog) recoveryLines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		msg, _ := rec["message"].(string)
		if msg == "store opened" || strings.Contains(msg, "stop") || strings.Contains(msg, "recover") ||
			strings.Contains(msg, "torn") || strings.Contains(msg, "corrupt") || strings.Contains(msg, "consume") ||
			strings.Contains(msg, "rebuild") {
			delete(rec, "time")
			b, _ := json.Marshal(rec)
			out = append(out, string(b))
		}
	}
	return out
}

func crashHead(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("… and %d more", len(s)-n))
	}
	return s
}

func sum(v []int64) int64 {
	var n int64
	for _, x := range v {
		n += x
	}
	return n
}
