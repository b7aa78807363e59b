package supervisor_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors/timer"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// TestTimerBench is the timer benchmark (task bench:timer): N pending
// timer messages (SLUICE_TIMER_BENCH=N, e.g. 1000000), all due at the same
// instant. It reports the memory and disk they take, how fast they were
// sent (acknowledged) and indexed, and, when they fall due together, the
// delivery rate and the lateness of their deliveries (the delivered
// record's store time minus the time asked for). Baselines from the same
// run: the broker's memory before the sends, and the send rate the same
// broker sustains (the writer's pace, which deliveries share). Off by
// default: it takes a minute or more and a few GB of disk.
//
//	SLUICE_TIMER_BENCH=1000000 go test -run TestTimerBench -v -timeout 30m ./supervisor/
func TestTimerBench(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SLUICE_TIMER_BENCH"))
	if n <= 0 {
		t.Skip("set SLUICE_TIMER_BENCH=<messages> to run the timer benchmark")
	}
	cfg := brokertest.Config(t)
	cfg.TimerPrecisionMs = 1000 // RocketMQ's default
	cfg.Store.MappedFileSizeCommitLog = 256 << 20
	cfg.Store.MappedFileSizeConsumeQueue = 20 * 300_000
	b := brokertest.Start(t, cfg, supervisor.Options{})
	const topic, senders = "TimerBench", 64
	body := make([]byte, 100)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	clients := make([]*remoting.Client, 8)
	for i := range clients {
		clients[i] = dial(t, b.Addr())
	}
	sendAll := func(count int, props func(i int) string, topic string) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func(c *remoting.Client) {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= count {
						return
					}
					for {
						req := remoting.NewRequest(remoting.SendMessage, sendHeader(topic, i%4, props(i)), body)
						resp, err := c.Invoke(context.Background(), req, 30*time.Second)
						if err != nil {
							t.Errorf("send %d: %v", i, err)
							return
						}
						if resp.ResponseCode() == remoting.Success {
							break
						}
						if resp.ResponseCode() != remoting.SystemBusy {
							t.Errorf("send %d: %s %q", i, resp.ResponseCode(), resp.Remark)
							return
						}
						time.Sleep(time.Millisecond) // flow control: again, as a client would
					}
				}
			}(clients[s%len(clients)])
		}
		wg.Wait()
		return time.Since(start)
	}

	// Baseline: the plain send rate of this broker, 10 % of N.
	base := max(n/10, 1000)
	plainTook := sendAll(base, func(int) string { return "" }, "TimerBenchPlain")
	plainRate := float64(base) / plainTook.Seconds()
	runtime.GC()
	rss0 := procStatus(t)

	// Due together, far enough ahead for all sends at two thirds of the
	// plain rate (timer sends have been faster), plus indexing.
	sendFor := time.Duration(float64(n)/plainRate*1.5*float64(time.Second)) + 20*time.Second
	due := time.Now().Add(sendFor).UnixMilli()/1000*1000 + 500
	dueText := strconv.FormatInt(due, 10)
	timerProps := string(message.Append(nil, message.PropertyTimerDeliverMS, dueText))
	took := sendAll(n, func(int) string { return timerProps }, topic)
	sendRate := float64(n) / took.Seconds()
	idxStart := time.Now()
	for b.Timers().Inspect().Pending < int64(n) {
		if time.Now().UnixMilli() > due {
			t.Fatalf("the messages fell due before they were all indexed (%+v); run with fewer", b.Timers().Inspect())
		}
		time.Sleep(10 * time.Millisecond)
	}
	indexLag := time.Since(idxStart)
	st := b.Timers().Inspect()
	runtime.GC()
	rss1 := procStatus(t)
	root := cfg.Store.StorePathRootDir
	timerLogBytes := dirBytes(t, filepath.Join(root, timer.LogDir))
	commitBytes := b.Store().MaxPhyOffset()
	t.Logf("%d timer messages sent in %s: %.0f/s acknowledged (plain sends, same broker: %.0f/s); all indexed %s after the last ack (index rate %.0f/s)",
		n, took.Round(time.Millisecond), sendRate, plainRate, indexLag.Round(time.Millisecond), st.EnqueueTps)
	t.Logf("memory: RssAnon %s -> %s (+%s), VmRSS %s -> %s, Go heap in use %s; disk: timer log %s (%d B a message), commit log %s written",
		mib(rss0.anon), mib(rss1.anon), mib(rss1.anon-rss0.anon), mib(rss0.rss), mib(rss1.rss), mib(rss1.heap),
		mib(timerLogBytes), timerLogBytes/int64(n), mib(commitBytes))

	// Deliveries: all due at once.
	time.Sleep(time.Until(time.UnixMilli(due)))
	var first, last time.Time
	delivered := func() int64 {
		var got int64
		for q := int32(0); q < 4; q++ {
			got += b.Store().MaxOffsetInQueue(topic, q)
		}
		return got
	}
	deadline := time.Now().Add(30 * time.Minute)
	for {
		got := delivered()
		if got > 0 && first.IsZero() {
			first = time.Now()
		}
		if got >= int64(n) {
			last = time.Now()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered: %+v", got, n, b.Timers().Inspect())
		}
		time.Sleep(5 * time.Millisecond)
	}
	rss2 := procStatus(t)
	lateness := make([]int64, 0, n)
	for q := int32(0); q < 4; q++ {
		for off := int64(0); ; {
			res := b.Store().GetMessage(topic, q, off, 512, nil)
			if len(res.Messages) == 0 {
				break
			}
			for _, rec := range res.Messages {
				m, err := commitlog.DecodeRecord(rec)
				if err != nil {
					t.Fatal(err)
				}
				if m.StoreTimestamp < due {
					t.Fatalf("delivered %d ms early", due-m.StoreTimestamp)
				}
				lateness = append(lateness, m.StoreTimestamp-due)
			}
			off = res.NextBeginOffset
		}
	}
	slices.Sort(lateness)
	pct := func(p float64) int64 { return lateness[min(len(lateness)-1, int(float64(len(lateness))*p))] }
	span := last.Sub(first)
	t.Logf("delivery: %d messages due at once, stored back in %s: %.0f/s (%.2f of the plain send rate); lateness min %d ms, p50 %d ms, p99 %d ms, max %d ms (precision %d ms); VmRSS after %s",
		len(lateness), span.Round(time.Millisecond), float64(n)/max(span.Seconds(), 0.001), float64(n)/max(span.Seconds(), 0.001)/plainRate,
		lateness[0], pct(0.50), pct(0.99), lateness[len(lateness)-1], cfg.TimerPrecisionMs, mib(rss2.rss))
	if len(lateness) != n {
		t.Fatalf("%d delivered, want %d", len(lateness), n)
	}
}

type memFigures struct{ rss, anon, heap int64 }

// procStatus reads this process's resident memory (the broker runs in it,
// beside the sending clients).
func procStatus(t *testing.T) memFigures {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var f memFigures
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			f.rss = kb << 10
		case "RssAnon":
			f.anon = kb << 10
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f.heap = int64(ms.HeapInuse)
	return f
}

func dirBytes(t *testing.T, dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB" }
