package supervisor

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of the fast-failure scenarios")

// TestFastFailureScenarios runs the files in testdata/fastfailure: each is
// a list of commands on a fake clock, each command followed by "----" and
// the output it must produce (pebble's datadriven style). The sweep under
// test is the broker's own fastFailure over real actors.Mailbox queues;
// only time, the page-cache state and the processors' takes are driven by
// the script, so a scenario runs in microseconds and always the same way.
//
// Commands:
//
//	proc NAME cap=N [wait=DUR] [pagecache]   a processor queue (pagecache: the send queue)
//	config [enabled=BOOL]                    brokerFastFailureEnable
//	enqueue NAME at=DUR [n=N]                N requests arrive at DUR
//	writer at=DUR [n=N]                      N sends handed to the writer, not yet appended
//	pagecache busy|ok [hold=DUR]             the page cache state and the current lock hold
//	busy NAME KIND [n=N]                     N busy answers of KIND given by NAME elsewhere
//	take NAME                                the processor takes its queue's head
//	sweep at=DUR                             one sweep at DUR; prints every answer
//	state                                    the sweep's counters
//	race NAME n=N                            N requests raced by the processor and the sweep
//
// go test -run TestFastFailureScenarios -rewrite ./supervisor/ rewrites
// the expected output after a deliberate change.
func TestFastFailureScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/fastfailure/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScenarioFile(t, f) })
	}
}

type scenarioBlock struct {
	line     int
	cmd      string
	expected string
}

func parseScenario(t *testing.T, path string) []scenarioBlock {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []scenarioBlock
	sc := bufio.NewScanner(bytes.NewReader(data))
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b := scenarioBlock{line: lineNo, cmd: line}
		if !sc.Scan() || sc.Text() != "----" {
			t.Fatalf("%s:%d: command %q must be followed by ----", path, lineNo, line)
		}
		lineNo++
		var out []string
		for sc.Scan() {
			lineNo++
			if sc.Text() == "" {
				break
			}
			out = append(out, sc.Text())
		}
		b.expected = strings.Join(out, "\n")
		blocks = append(blocks, b)
	}
	return blocks
}

func runScenarioFile(t *testing.T, path string) {
	blocks := parseScenario(t, path)
	s := newScenario()
	var rewritten strings.Builder
	for i, b := range blocks {
		got := strings.TrimRight(s.run(t, b.cmd), "\n")
		if *rewrite {
			if i > 0 {
				rewritten.WriteString("\n")
			}
			fmt.Fprintf(&rewritten, "%s\n----\n", b.cmd)
			if got != "" {
				rewritten.WriteString(got + "\n")
			}
			continue
		}
		if got != b.expected {
			t.Errorf("%s:%d: %s\n got:\n%s\nwant:\n%s", path, b.line, b.cmd, got, b.expected)
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(rewritten.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// scenario is the sweep's world: processor queues, a writer queue, the
// page cache and a clock at epoch + the script's offsets.
type scenario struct {
	epoch   time.Time
	cfg     Config
	procs   []*actors.Processor
	byName  map[string]*actors.Processor
	writer  *fakeWriterQueue
	pcBusy  atomic.Bool
	hold    atomic.Int64
	logs    bytes.Buffer
	ff      *fastFailure
	nextID  int
	answers []string // answers given since the last command printed them
	ids     map[*actors.Request]int
	mu      sync.Mutex
}

func newScenario() *scenario {
	s := &scenario{
		epoch:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		cfg:    DefaultConfig(),
		byName: map[string]*actors.Processor{},
		writer: &fakeWriterQueue{},
		ids:    map[*actors.Request]int{},
	}
	return s
}

func (s *scenario) sweep() *fastFailure {
	if s.ff == nil {
		log := zerolog.New(&s.logs)
		s.ff = newFastFailure(&s.cfg, s.procs, s.pcBusy.Load, s.hold.Load, log)
		s.ff.writer = s.writer
	}
	return s.ff
}

func (s *scenario) newRequest(at time.Duration) *actors.Request {
	s.nextID++
	id := s.nextID
	r := &actors.Request{Cmd: remoting.NewRequest(remoting.SendMessageV2, nil, nil), Arrived: s.epoch.Add(at)}
	r.ReplyTo = func(resp *remoting.Command) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.answers = append(s.answers, fmt.Sprintf("#%d code=%d %s", id, resp.Code, resp.Remark))
	}
	s.ids[r] = id
	return r
}

func (s *scenario) flushAnswers(out *strings.Builder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.answers {
		out.WriteString(a + "\n")
	}
	s.answers = s.answers[:0]
}

func (s *scenario) run(t *testing.T, line string) string {
	fields := strings.Fields(line)
	args := map[string]string{}
	var pos []string
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			args[k] = v
		} else {
			pos = append(pos, f)
		}
	}
	dur := func(k string) time.Duration {
		d, err := time.ParseDuration(args[k])
		if err != nil {
			t.Fatalf("%s: %s=%q: %v", line, k, args[k], err)
		}
		return d
	}
	num := func(k string, def int) int {
		v, ok := args[k]
		if !ok {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: %s=%q: %v", line, k, v, err)
		}
		return n
	}
	proc := func() *actors.Processor {
		if len(pos) == 0 || s.byName[pos[0]] == nil {
			t.Fatalf("%s: no such processor", line)
		}
		return s.byName[pos[0]]
	}
	var out strings.Builder
	switch fields[0] {
	case "proc":
		p := &actors.Processor{Name: pos[0], Capacity: num("cap", 10)}
		if _, ok := args["wait"]; ok {
			p.MaxWaitInQueue = dur("wait")
		}
		for _, f := range pos[1:] {
			if f == "pagecache" {
				p.PageCacheSweep = true
			}
		}
		p.OpenQueue()
		s.procs = append(s.procs, p)
		s.byName[p.Name] = p
	case "config":
		if v, ok := args["enabled"]; ok {
			s.cfg.BrokerFastFailureEnable = v == "true"
		}
	case "enqueue":
		p := proc()
		for range num("n", 1) {
			r := s.newRequest(dur("at"))
			if p.Mailbox().TryPost(r) {
				fmt.Fprintf(&out, "#%d queued in %s (depth %d)\n", s.ids[r], p.Name, p.Mailbox().Len())
			} else {
				fmt.Fprintf(&out, "#%d refused: %s full\n", s.ids[r], p.Name)
			}
		}
	case "writer":
		for range num("n", 1) {
			r := s.newRequest(dur("at"))
			s.writer.push(&actors.AppendJob{Req: r})
			fmt.Fprintf(&out, "#%d handed to the writer (depth %d)\n", s.ids[r], s.writer.len())
		}
	case "pagecache":
		s.pcBusy.Store(pos[0] == "busy")
		if _, ok := args["hold"]; ok {
			s.hold.Store(dur("hold").Milliseconds())
		}
	case "busy":
		kind, ok := busyKindByTag(pos[1])
		if !ok {
			t.Fatalf("%s: unknown busy kind", line)
		}
		for range num("n", 1) {
			proc().Stats.CountBusy(kind)
		}
	case "take":
		p := proc()
		r, left := p.Mailbox().TakeHeadIf(func(*actors.Request) bool { return true })
		if r == nil {
			fmt.Fprintf(&out, "%s: queue empty\n", p.Name)
			break
		}
		// A processor that took a request answers it itself.
		r.ReplyCode(remoting.Success, "processed by "+p.Name)
		fmt.Fprintf(&out, "#%d taken by %s (depth %d)\n", s.ids[r], p.Name, left)
		s.flushAnswers(&out)
	case "sweep":
		s.sweep().run(s.epoch.Add(dur("at")))
		s.flushAnswers(&out)
		out.WriteString(s.takeLogs())
	case "state":
		info := s.sweep().inspect()
		fmt.Fprintf(&out, "cleaned PCBUSY_CLEAN_QUEUE=%d TIMEOUT_CLEAN_QUEUE=%d busyPeriods=%d inBusyPeriod=%v\n",
			info.Cleaned[remoting.PCBusyCleanQueue.Tag()], info.Cleaned[remoting.TimeoutCleanQueue.Tag()], info.BusyPeriods, info.InBusyPeriod)
		for _, p := range s.procs {
			fmt.Fprintf(&out, "%s depth=%d writer=%d\n", p.Name, p.Mailbox().Len(), s.writer.len())
		}
	case "race":
		fmt.Fprintln(&out, s.race(t, proc(), num("n", 1000)))
	default:
		t.Fatalf("unknown command %q", line)
	}
	return out.String()
}

// race offers n requests to a processor that takes them as fast as it can
// while the sweep answers the expired ones, and checks that every request
// got exactly one answer. Who answered which is up to the scheduler; only
// the invariant is printed.
func (s *scenario) race(t *testing.T, p *actors.Processor, n int) string {
	ff := s.sweep()
	var answers sync.Map
	var twice atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // the processor
		defer wg.Done()
		for {
			if r, _ := p.Mailbox().TakeHeadIf(func(*actors.Request) bool { return true }); r != nil {
				r.ReplyCode(remoting.Success, "")
				continue
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	for i := range n {
		r := &actors.Request{Cmd: remoting.NewRequest(remoting.SendMessageV2, nil, nil), Arrived: s.epoch}
		id := i
		r.ReplyTo = func(*remoting.Command) {
			if _, dup := answers.LoadOrStore(id, true); dup {
				twice.Add(1)
			}
		}
		for !p.Mailbox().TryPost(r) {
		}
		if i%4 == 0 {
			ff.run(s.epoch.Add(time.Hour)) // everything queued has expired
		}
	}
	for p.Mailbox().Len() > 0 {
		ff.run(s.epoch.Add(time.Hour))
	}
	close(stop)
	wg.Wait()
	count := 0
	answers.Range(func(any, any) bool { count++; return true })
	if count != n || twice.Load() != 0 {
		t.Errorf("race: %d of %d answered, %d answered twice", count, n, twice.Load())
	}
	s.flushAnswers(&strings.Builder{})
	return fmt.Sprintf("%d requests, %d answered, %d answered twice", n, count, twice.Load())
}

// takeLogs returns the busy-period log lines since the last call, with
// the fields that matter, in a stable order.
func (s *scenario) takeLogs() string {
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		if line == "" {
			continue
		}
		out.WriteString("log: " + sortedJSONFields(line) + "\n")
	}
	s.logs.Reset()
	return out.String()
}

func sortedJSONFields(line string) string {
	line = strings.Trim(line, "{}")
	parts := strings.Split(line, ",")
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func busyKindByTag(tag string) (remoting.BusyKind, bool) {
	for _, k := range remoting.BusyKinds {
		if k.Tag() == tag {
			return k, true
		}
	}
	return 0, false
}

// fakeWriterQueue stands in for the writer's queue of handed-over sends.
type fakeWriterQueue struct {
	mu   sync.Mutex
	jobs []*actors.AppendJob
}

func (w *fakeWriterQueue) push(j *actors.AppendJob) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.jobs = append(w.jobs, j)
}

func (w *fakeWriterQueue) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.jobs)
}

func (w *fakeWriterQueue) TakeQueued() (*actors.AppendJob, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.jobs) == 0 {
		return nil, 0
	}
	j := w.jobs[0]
	w.jobs = w.jobs[1:]
	return j, len(w.jobs)
}

func (w *fakeWriterQueue) Release(*actors.AppendJob) {}
