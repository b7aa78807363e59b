package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func loadSnapshot(t *testing.T, path string) *tree.Snapshot {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s tree.Snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &s
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update after checking):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// The rendering of a busy broker, exactly: processors with queue, wait
// and busy counts, the writer's lock state, the sweep, connections in
// natural order, an uninspected actor.
func TestRenderTreeGolden(t *testing.T) {
	s := loadSnapshot(t, "testdata/tree.json")
	golden(t, "tree.golden", renderTree(s, renderOptions{}))

	// Connections beyond --max-conns are summarised.
	out := renderTree(s, renderOptions{maxConns: 1})
	if !strings.Contains(out, "conn-2") || strings.Contains(out, "conn-10") || !strings.Contains(out, "… 1 more connection") {
		t.Errorf("max-conns 1:\n%s", out)
	}
}

// In a watch the second frame shows rates and marks busy kinds that grew.
func TestRenderTreeWithPreviousFrame(t *testing.T) {
	prev := loadSnapshot(t, "testdata/tree.json")
	cur := loadSnapshot(t, "testdata/tree.json")
	cur.TakenAt = prev.TakenAt.Add(2 * time.Second)
	send := cur.Root.Find("send").Processor
	send.Processed += 20000
	send.Busy["REJECTREQUEST"] += 6
	out := renderTree(cur, renderOptions{prev: prev})
	line := lineOf(t, out, "send")
	for _, want := range []string{"143456", "10000", "REJECTREQUEST 316 (+6)", "PC_SYNCHRONIZED 4  "} {
		if !strings.Contains(line, want) {
			t.Errorf("send line %q lacks %q", line, want)
		}
	}
}

func TestRenderTreeColor(t *testing.T) {
	s := loadSnapshot(t, "testdata/tree.json")
	colored := renderTree(s, renderOptions{color: true})
	if !strings.Contains(colored, colRed+"PAGE CACHE BUSY"+colReset) {
		t.Errorf("busy page cache not red:\n%q", colored)
	}
	// Colour must not shift the columns: stripped, it is the plain text.
	strip := regexp.MustCompile("\x1b\\[[0-9;]*m")
	if got, want := strip.ReplaceAllString(colored, ""), renderTree(s, renderOptions{}); got != want {
		t.Errorf("coloured output without escapes differs from plain:\n%s\n---\n%s", got, want)
	}
}

func lineOf(t *testing.T, out, name string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^[├└│─ ]*` + regexp.QuoteMeta(name) + ` .*$`)
	line := re.FindString(out)
	if line == "" {
		t.Fatalf("no line for %s in:\n%s", name, out)
	}
	return line
}

// Against a real broker: every processor appears with its kind and its
// queue capacity, and so does the writer.
func TestTreeNamesEveryProcessorWithCapacity(t *testing.T) {
	b := startBroker(t, supervisor.Options{})
	r := cli(t, "tree", "-b", b.Addr())
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("colour escapes in output to a buffer")
	}
	procs := b.Routes().Processors()
	if len(procs) == 0 {
		t.Fatal("broker has no processors")
	}
	for _, p := range procs {
		re := regexp.MustCompile(`(?m)^[├└│─ ]*` + regexp.QuoteMeta(p.Name) + `\s+processor\s+\d+/` + fmt.Sprint(p.Capacity) + `\s`)
		if !re.MatchString(r.stdout) {
			t.Errorf("no line for processor %s with capacity %d in:\n%s", p.Name, p.Capacity, r.stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^\S*\s*broker\s+supervisor`).MatchString(r.stdout) {
		t.Errorf("no supervisor line:\n%s", r.stdout)
	}
	if b.Tree().Root.Find("writer") != nil && !strings.Contains(r.stdout, "lock held") {
		t.Errorf("writer details missing:\n%s", r.stdout)
	}
}

// --json prints one document that decodes into tree.Snapshot (the real
// binary, piped).
func TestTreeJSONParses(t *testing.T) {
	b := startBroker(t, supervisor.Options{})
	r := runBinary(t, "tree", "-b", b.Addr(), "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var s tree.Snapshot
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("decode: %v\n%s", err, r.stdout)
	}
	if dec.More() {
		t.Errorf("more than one document")
	}
	if s.BrokerName != "broker-test" || s.Root == nil || s.Root.Kind != tree.KindSupervisor {
		t.Fatalf("unexpected snapshot: %+v", s)
	}
	send := s.Root.Find("send")
	if send == nil || send.Processor == nil || send.Processor.Capacity != 10000 {
		t.Fatalf("send processor missing or wrong: %+v", send)
	}
}

// --watch --count 2 on a pipe prints two plain frames and exits 0.
func TestWatchPipedPrintsPlainFrames(t *testing.T) {
	b := startBroker(t, supervisor.Options{})
	r := runBinary(t, "tree", "-b", b.Addr(), "--watch", "--count", "2", "--interval", "20ms")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stdout, "broker broker-test  "); n != 2 {
		t.Errorf("%d frames, want 2:\n%s", n, r.stdout)
	}
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("escape sequences in piped output: %q", r.stdout)
	}
	if n := strings.Count(r.stdout, "ACTOR"); n != 2 {
		t.Errorf("%d table headers, want 2", n)
	}

	// With --json, one JSON line per frame.
	r = cli(t, "tree", "-b", b.Addr(), "--watch", "--count", "2", "--interval", "20ms", "--json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 {
		t.Fatalf("exit %d, %d lines: %q", r.code, len(lines), r.stdout)
	}
	for _, l := range lines {
		var s tree.Snapshot
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Errorf("frame is not a snapshot: %v", err)
		}
	}
}

// On a terminal a watch redraws in place; the frame writer's output is
// checked here without a real terminal.
func TestDrawFrameInPlace(t *testing.T) {
	var out strings.Builder
	e := &env{stdout: &out, tty: true}
	drawFrame(e, "a\nb\n", 2)
	if got, want := out.String(), termHome+"a"+termClearLine+"\nb"+termClearLine+"\n"+termClearBelow; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A watch survives a broker that drops the connection: the frame says so
// and the next one reconnects.
func TestWatchReconnects(t *testing.T) {
	body, err := os.ReadFile("testdata/tree.json")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for first := true; ; first = false {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := remoting.NewConn(nc, remoting.ConnOptions{})
			requests := 0
			hangUp := first
			go c.ReadLoop(func(req *remoting.Command) {
				// The first connection answers once, then hangs up on
				// the second request instead of answering it.
				if requests++; hangUp && requests == 2 {
					c.Close(nil)
					return
				}
				resp := remoting.NewResponse(req, remoting.Success, "")
				resp.Body = body
				_ = c.Send(resp)
			})
		}
	}()
	r := cli(t, "tree", "-b", ln.Addr().String(), "--watch", "--count", "3", "--interval", "100ms")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stdout, "broker broker-a  "); n != 2 {
		t.Errorf("%d good frames, want 2 (first and third):\n%s", n, r.stdout)
	}
	if !strings.Contains(r.stdout, "sluicectl: broker "+ln.Addr().String()) || !strings.Contains(r.stdout, "retrying every 100ms") {
		t.Errorf("no error frame between them:\n%s", r.stdout)
	}
}

// The schedule service: one line per level with something to say — a
// level held up by a busy page cache (overdue, busy back-offs, retrying),
// one on time (next due), one with a failed put and a passed-over record —
// the idle levels in one line, and the lateness histogram's non-empty
// buckets.
func TestRenderScheduleGolden(t *testing.T) {
	s := loadSnapshot(t, "testdata/schedule.json")
	out := renderTree(s, renderOptions{})
	golden(t, "schedule.golden", out)
	for _, want := range []string{
		"253 delayed messages waiting", // 250 + 3, on the row
		"level 1 (1s) waiting 250  overdue 2.2s  next due in 650ms  delivered 1200  lateness 1.5s  busy back-offs 17",
		"level 3 (10s) waiting 3  next due in 3.8s  delivered 40  lateness 62ms",
		"failed puts 1  passed over 1",
		"idle levels 2, 4–5, 7–18",
		"lateness ≤5ms 3  ≤10ms 20  ≤25ms 110  ≤50ms 300  ≤100ms 790  ≤250ms 12  ≤2.5s 5  ≤1m 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	strip := regexp.MustCompile("\x1b\\[[0-9;]*m")
	if colored := renderTree(s, renderOptions{color: true}); strip.ReplaceAllString(colored, "") != out {
		t.Errorf("coloured output without escapes differs from plain")
	}
}

// The timer message store held up by a busy page cache: the row's pending
// count, then what is pending (overdue, with how many fall due then), the
// entries not indexed yet, deliveries and their lateness, back-offs and
// failures, RETRYING; then indexing, rates, read time, the timer log and
// the checkpoint; then the lateness histogram.
func TestRenderTimerGolden(t *testing.T) {
	s := loadSnapshot(t, "testdata/timer.json")
	out := renderTree(s, renderOptions{})
	golden(t, "timer.golden", out)
	for _, want := range []string{
		"1520 timer messages pending",
		"pending 1520 overdue 2.2s (480 due then)  not yet indexed 36  delivered 4440  lateness 1.8s  rolled 12  busy back-offs 19  failures 2  passed over 1  RETRYING: store OS_PAGECACHE_BUSY",
		"enqueued 5964 in 1203/s  out 0/s  read time 2.3s behind  queue 5964/6000  timer log 372.8 KiB  checkpoint 350ms ago  precision 100ms",
		"lateness ≤5ms 3100  ≤10ms 800  ≤25ms 300  ≤50ms 100  ≤100ms 60  ≤250ms 20  ≤2.5s 60",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	strip := regexp.MustCompile("\x1b\\[[0-9;]*m")
	if colored := renderTree(s, renderOptions{color: true}); strip.ReplaceAllString(colored, "") != out {
		t.Errorf("coloured output without escapes differs from plain")
	}

	// On time: the next due time ahead, nothing held up.
	ti := s.Root.Find("timer").Timer
	ti.OldestDue = s.TakenAt.Add(650 * time.Millisecond)
	ti.Behind, ti.BusyBackoffs, ti.Retries, ti.PassedOver, ti.RetryAt, ti.ReadTime = 0, 0, 0, 0, time.Time{}, s.TakenAt
	out = renderTree(s, renderOptions{})
	for _, want := range []string{"pending 1520 oldest due in 650ms (480 due then)  delivered 4440  lateness 1.8s  rolled 12\n", "read time now"} {
		if !strings.Contains(out, want) {
			t.Errorf("on time: no %q in:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"RETRYING", "not yet indexed", "back-offs", "failures", "passed over"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("on time: %q in:\n%s", unwanted, out)
		}
	}

	// Idle, nothing ever sent.
	s.Root.Find("timer").Timer = &tree.TimerInfo{PrecisionMs: 1000, ReadTime: s.TakenAt}
	out = renderTree(s, renderOptions{})
	for _, want := range []string{"0 timer messages pending", "pending 0 delivered 0\n", "enqueued 0 in 0/s  out 0/s  read time now  queue 0/0  timer log 0 B  checkpoint never  precision 1000ms", "lateness: nothing delivered yet"} {
		if !strings.Contains(out, want) {
			t.Errorf("idle: no %q in:\n%s", want, out)
		}
	}
}
