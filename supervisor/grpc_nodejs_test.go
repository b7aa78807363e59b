package supervisor_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// nodeClient installs the pinned RocketMQ 5 Node.js client
// (testdata/nodejs: package.json and package-lock.json) once per lock-file
// content into the user cache, and returns the directory to run the
// scripts in. It skips the test only when node or npm is absent.
func nodeClient(t *testing.T) string {
	t.Helper()
	nodeOnce.Do(func() { nodeDir, nodeErr = installNodeClient() })
	if nodeErr == errNoNode {
		t.Skip("node and npm are not installed: the RocketMQ 5 Node.js client tests need them (CI has node 20)")
	}
	if nodeErr != nil {
		t.Fatalf("install the Node.js client: %v", nodeErr)
	}
	return nodeDir
}

var (
	nodeOnce  sync.Once
	nodeDir   string
	nodeErr   error
	errNoNode = errors.New("node or npm is not installed")
)

func installNodeClient() (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", errNoNode
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", errNoNode
	}
	src := filepath.Join("testdata", "nodejs")
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(lock)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "sluice-nodejs-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "rocketmq-client-nodejs", "package.json")); err != nil {
		// Install into a fresh directory, then rename: a concurrent test
		// process never sees half an install.
		tmp, err := os.MkdirTemp(cache, "sluice-nodejs-install-")
		if err != nil {
			return "", err
		}
		for _, f := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				return "", err
			}
			if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
				return "", err
			}
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			_ = os.RemoveAll(tmp)
			return "", &npmError{err: err, out: string(out)}
		}
		if err := os.Rename(tmp, dir); err != nil {
			_ = os.RemoveAll(tmp)
			if _, statErr := os.Stat(dir); statErr != nil {
				return "", err
			}
		}
	}
	// The scripts are copied each run, so an edit takes effect at once.
	for _, f := range []string{"producer.js", "consumer.js"} {
		script, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f), script, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

type npmError struct {
	err error
	out string
}

func (e *npmError) Error() string { return "npm ci: " + e.err.Error() + "\n" + e.out }

func startGRPCBroker(t testing.TB, mutate func(*supervisor.Config)) *brokertest.Broker {
	t.Helper()
	cfg := brokertest.Config(t)
	cfg.GRPCServerPort = freePort(t) // grpcServerPort=0 is off, so the test picks one
	cfg.TimerPrecisionMs = 100
	if mutate != nil {
		mutate(&cfg)
	}
	b := brokertest.Start(t, cfg, supervisor.Options{})
	if b.GRPCAddr() == "" {
		t.Fatal("gRPC front not started")
	}
	return b
}

type nodeStep struct {
	Name        string   `json:"name"`
	Topic       string   `json:"topic"`
	Body        string   `json:"body"`
	Tag         string   `json:"tag,omitempty"`
	Keys        []string `json:"keys,omitempty"`
	Group       string   `json:"group,omitempty"`
	DelayMillis int64    `json:"delayMillis,omitempty"`
	Tx          string   `json:"tx,omitempty"`
	Wait        bool     `json:"wait,omitempty"`
	// Hold sends nothing: with Wait, it keeps the producer running.
	Hold bool `json:"hold,omitempty"`
}

type nodeResult struct {
	Step      string `json:"step"`
	OK        bool   `json:"ok"`
	MessageID string `json:"messageId"`
	Offset    int64  `json:"offset"`
	QueueID   int    `json:"queueId"`
	Error     string `json:"error"`
	Code      int    `json:"code"`
	Message   string `json:"message"`
}

// nodeProducer runs testdata/nodejs/producer.js with steps; each result
// arrives on the channel; next releases a step marked wait.
type nodeProducer struct {
	results chan nodeResult
	stdin   io.WriteCloser
}

func (p *nodeProducer) next(t *testing.T) nodeResult {
	t.Helper()
	select {
	case r, ok := <-p.results:
		if !ok {
			t.Fatal("the Node.js producer exited early")
		}
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no answer from the Node.js producer in 30 s")
	}
	return nodeResult{}
}

func (p *nodeProducer) release() { _, _ = io.WriteString(p.stdin, "go\n") }

func runNodeProducer(t *testing.T, b *brokertest.Broker, topics []string, steps []nodeStep, extra map[string]any) *nodeProducer {
	t.Helper()
	dir := nodeClient(t)
	cfg := map[string]any{"endpoints": b.GRPCAddr(), "topics": topics, "steps": steps}
	for k, v := range extra {
		cfg[k] = v
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "producer.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SLUICE_STEPS="+string(js))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nodeProducer{results: make(chan nodeResult, len(steps)+2), stdin: stdin}
	done := make(chan struct{})
	go func() {
		defer close(p.results)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r nodeResult
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Logf("node: %s", sc.Text())
				continue
			}
			p.results <- r
		}
	}()
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill() // our own child, by its PID
			<-done
		}
		if t.Failed() {
			t.Logf("node stderr:\n%s", stderr.String())
		}
	})
	if r := p.next(t); !r.OK {
		t.Fatalf("Node.js producer start-up: %+v", r)
	}
	return p
}

// The RocketMQ 5 Node.js client, unmodified, sends each message type
// through the gRPC front; the Go remoting client then reads the topic:
// normal and FIFO messages are there (the FIFO group on one queue), the
// committed transaction's message is, the rolled-back one never is, and
// the delay message appears only once its delivery time has come.
func TestGRPCNodeProducerSendsEachMessageType(t *testing.T) {
	b := startGRPCBroker(t, nil)
	topic := "GrpcNodeTopic"
	const delay = 2500
	steps := []nodeStep{
		{Name: "normal", Topic: topic, Body: "normal-1", Tag: "TagA", Keys: []string{"k1"}},
		{Name: "fifo1", Topic: topic, Body: "fifo-1", Group: "order-42"},
		{Name: "fifo2", Topic: topic, Body: "fifo-2", Group: "order-42"},
		{Name: "commit", Topic: topic, Body: "tx-commit", Tx: "commit"},
		{Name: "rollback", Topic: topic, Body: "tx-rollback", Tx: "rollback"},
		{Name: "delay", Topic: topic, Body: "delayed", DelayMillis: delay},
	}
	sentAt := time.Now()
	p := runNodeProducer(t, b, []string{topic}, steps, nil)
	res := map[string]nodeResult{}
	for range steps {
		r := p.next(t)
		if !r.OK {
			t.Fatalf("step %s: %+v", r.Step, r)
		}
		res[r.Step] = r
	}
	c := dial(t, b.Addr())
	all := func() []string {
		var bodies []string
		for q := 0; q < 8; q++ {
			bodies = append(bodies, pullAll(t, c, topic, q)...)
		}
		return bodies
	}
	bodies := all()
	for _, want := range []string{"normal-1", "fifo-1", "fifo-2", "tx-commit"} {
		if !slices.Contains(bodies, want) {
			t.Errorf("%q not in the topic: %q", want, bodies)
		}
	}
	// The broker puts a message group on one queue (the proxy's consistent
	// hash), in send order.
	for q := 0; q < 8; q++ {
		queue := pullAll(t, c, topic, q)
		i, j := slices.Index(queue, "fifo-1"), slices.Index(queue, "fifo-2")
		if (i < 0) != (j < 0) || j < i {
			t.Errorf("message group split or reordered on queue %d: %q", q, queue)
		}
	}
	if slices.Contains(bodies, "tx-rollback") {
		t.Errorf("a rolled-back transaction's message reached the topic")
	}
	if slices.Contains(bodies, "delayed") && time.Since(sentAt) < delay*time.Millisecond {
		t.Errorf("the delay message was readable before its delivery time")
	}
	poll.Until(t, "the delay message is delivered", func() bool { return slices.Contains(all(), "delayed") })
	if el := time.Since(sentAt); el < delay*time.Millisecond {
		t.Errorf("the delay message arrived after %v, before its %d ms", el, delay)
	}
	if slices.Contains(all(), "tx-rollback") {
		t.Errorf("a rolled-back transaction's message reached the topic")
	}
}

// Busy answers reach the Node.js client as TOO_MANY_REQUESTS and its
// backoff policy retries them: with the transient pool exhausted (fault
// injection) every attempt is refused SYSTEM_BUSY, counted on the gRPC
// front by kind, and the client gives up with TooManyRequestsException;
// once the fault is cleared the next send succeeds.
func TestGRPCNodeProducerSeesBusyAsTooManyRequests(t *testing.T) {
	b := startGRPCBroker(t, func(c *supervisor.Config) { c.FaultInjectionEnable = true })
	topic := "GrpcBusyTopic"
	admin := dial(t, b.Addr())
	steps := []nodeStep{
		{Name: "warmup", Topic: topic, Body: "warmup"},
		{Name: "busy", Topic: topic, Body: "refused", Wait: true},
		{Name: "after", Topic: topic, Body: "accepted", Wait: true},
	}
	p := runNodeProducer(t, b, []string{topic}, steps, map[string]any{"maxAttempts": 3})
	if r := p.next(t); !r.OK {
		t.Fatalf("warm-up send: %+v", r)
	}
	setFault(t, admin, map[string]string{"transientPoolExhausted": "true"})
	p.release()
	r := p.next(t)
	if r.OK || r.Error != "TooManyRequestsException" {
		t.Fatalf("send with the pool exhausted: want TooManyRequestsException, got %+v", r)
	}
	if !strings.Contains(r.Message, "[REJECTREQUEST]") {
		t.Errorf("the busy remark is lost: %q", r.Message)
	}
	front := grpcFront(t, b)
	if n := front.Busy["REJECTREQUEST"]; n != 3 {
		t.Errorf("gRPC front counted %d REJECTREQUEST answers, want 3 (the client's 3 attempts)", n)
	}
	m := scrape(t, b)
	if got := m[`sluice_front_busy_answers_total{front="grpc",kind="REJECTREQUEST"}`]; got != 3 {
		t.Errorf("metrics: grpc REJECTREQUEST = %v, want 3 (all: %v)", got, m)
	}
	if got := m[`sluice_front_busy_answers_total{front="remoting",kind="REJECTREQUEST"}`]; got != 0 {
		t.Errorf("metrics: remoting REJECTREQUEST = %v, want 0", got)
	}
	setFault(t, admin, map[string]string{"transientPoolExhausted": "false"})
	p.release()
	if r := p.next(t); !r.OK {
		t.Fatalf("send after the fault cleared: %+v", r)
	}
}

type consumerEvent struct {
	Event   string `json:"event"`
	Body    string `json:"body"`
	Tag     string `json:"tag"`
	Attempt int    `json:"attempt"`
	T       int64  `json:"t"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// The Node.js SimpleConsumer through the gRPC front, on pop consumption
// underneath: a tag filter (TagB is never received), ack (m1 never comes
// back), changeInvisibleDuration (m3 comes back with attempt 2 after it),
// redelivery after the invisible time (m3 again, attempt 3), and a delay
// message not received before its delivery time.
func TestGRPCNodeSimpleConsumer(t *testing.T) {
	b := startGRPCBroker(t, func(c *supervisor.Config) { c.TimerPrecisionMs = 100 })
	dir := nodeClient(t)
	const delay = 2500
	js, _ := json.Marshal(map[string]any{"endpoints": b.GRPCAddr(), "topic": "GrpcPopTopic", "group": "GID_grpc_pop", "delayMillis": delay})
	cmd := exec.Command("node", "consumer.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SLUICE_STEPS="+string(js))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	outb, err := cmd.Output() // bounded: the script stops itself within ~20 s
	if err != nil {
		t.Fatalf("node consumer.js: %v\n%s\n%s", err, outb, stderr.String())
	}
	var evs []consumerEvent
	for _, line := range strings.Split(strings.TrimSpace(string(outb)), "\n") {
		var e consumerEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("node output %q: %v", line, err)
		}
		evs = append(evs, e)
	}
	t.Logf("events: %+v", evs)
	received := map[string][]consumerEvent{}
	var sentD1, acked1, changed int64 = -1, -1, -1
	for _, e := range evs {
		switch e.Event {
		case "received":
			received[e.Body] = append(received[e.Body], e)
		case "sent":
			if e.Body == "d1" {
				sentD1 = e.T
			}
		case "acked":
			if e.Body == "m1" {
				acked1 = e.T
			}
		case "changed":
			changed = e.T
		case "error", "fatal":
			t.Errorf("node: %+v", e)
		}
	}
	if len(received["m2"]) != 0 {
		t.Errorf("the TagA subscription received a TagB message: %+v", received["m2"])
	}
	if n := len(received["m1"]); n != 1 || acked1 < 0 {
		t.Errorf("m1 (acked) received %d times, want once: %+v", n, received["m1"])
	}
	m3 := received["m3"]
	if len(m3) < 3 {
		t.Fatalf("m3 received %d times, want 3 (first, after changeInvisibleDuration, after the invisible time): %+v", len(m3), m3)
	}
	for i, e := range m3[:3] {
		if e.Attempt != i+1 {
			t.Errorf("m3's delivery %d has attempt %d, want %d", i+1, e.Attempt, i+1)
		}
	}
	if m3[1].T < changed {
		t.Errorf("m3 came back before its invisible duration was changed")
	}
	if len(m3) > 3 {
		t.Errorf("m3 came back after its last ack: %+v", m3)
	}
	d1 := received["d1"]
	if len(d1) == 0 {
		t.Fatal("the delay message never arrived")
	}
	// The timer wheel's slots are timerPrecisionMs (100 ms) wide.
	if early := sentD1 + delay - 100 - d1[0].T; early > 0 {
		t.Errorf("the delay message arrived %d ms before its delivery time", early)
	}
	if front := grpcFront(t, b); front.Requests["ReceiveMessage"] == 0 || front.Requests["AckMessage"] == 0 || front.Requests["ChangeInvisibleDuration"] == 0 {
		t.Errorf("front counts: %+v", front.Requests)
	}
}

// An orphaned transaction (neither committed nor rolled back by the
// Node.js producer) is checked by the broker's transaction check over the
// producer's telemetry stream (RecoverOrphanedTransactionCommand); the
// client's checker answers COMMIT with EndTransaction (source SERVER_CHECK)
// and the message reaches the topic.
func TestGRPCNodeOrphanedTransactionIsChecked(t *testing.T) {
	b := startGRPCBroker(t, func(c *supervisor.Config) {
		c.TransactionTimeOut = 500
		c.TransactionCheckInterval = 200
	})
	topic := "GrpcOrphanTopic"
	steps := []nodeStep{
		{Name: "orphan", Topic: topic, Body: "orphan-committed-by-check", Tx: "orphan"},
		{Name: "end", Hold: true, Wait: true},
	}
	p := runNodeProducer(t, b, []string{topic}, steps, map[string]any{"checkResult": 1})
	if r := p.next(t); !r.OK || r.Step != "orphan" {
		t.Fatalf("orphan send: %+v", r)
	}
	if r := p.next(t); r.Step != "checked" {
		t.Fatalf("want the broker's check at the producer, got %+v", r)
	}
	c := dial(t, b.Addr())
	poll.Until(t, "the checked transaction is committed", func() bool {
		for q := 0; q < 8; q++ {
			if slices.Contains(pullAll(t, c, topic, q), "orphan-committed-by-check") {
				return true
			}
		}
		return false
	})
	p.release()
}
