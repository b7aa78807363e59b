package actors

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/sluice-mq/sluice/commitlog"
)

// The writer's benchmarks run beside their baselines in one process and
// one kind of directory:
//
//	go test -run '^$' -bench 'BenchmarkWriter' -benchtime 2s -count 5 ./actors/
//
// Every figure is per 1 KiB record (b.SetBytes(1024)), so MB/s compares
// straight with baseline=memcpy, and msgs/s under SYNC_FLUSH with
// baseline=fdatasync's syncs/s: group commit makes the first far larger
// than the second.

const (
	benchRecordSize = 1024
	benchFileSize   = 64 << 20
	benchTopic      = "WriterBench"
)

// benchStoreConfig is a store in dir with 64 MiB commit-log files and a
// disk that always looks 10% full (so a busy /tmp cannot turn puts away).
func benchStoreConfig(dir string) commitlog.Config {
	cfg := commitlog.DefaultConfig()
	cfg.StorePathRootDir = dir
	cfg.MappedFileSizeCommitLog = benchFileSize
	cfg.DiskUsage = func(string) (uint64, uint64, error) { return 10, 100, nil }
	return cfg
}

// benchRecord is one stored record of exactly benchRecordSize bytes for
// queue qid.
func benchRecord(tb testing.TB, qid int32) []byte {
	m := &commitlog.Message{
		Topic: benchTopic, QueueID: qid, BornTimestamp: time.Now().UnixMilli(),
		BornHost:   netip.MustParseAddrPort("127.0.0.1:50000"),
		StoreHost:  netip.MustParseAddrPort("127.0.0.1:10911"),
		Properties: "TAGS\x01TagA\x02UNIQ_KEY\x017F0000010000000000000000\x02",
	}
	m.Body = make([]byte, benchRecordSize-commitlog.RecordLen(m))
	for i := range m.Body {
		m.Body[i] = byte('a' + i%26)
	}
	rec, err := commitlog.AppendRecord(nil, m)
	if err != nil {
		tb.Fatal(err)
	}
	if len(rec) != benchRecordSize {
		tb.Fatalf("record is %d bytes, want %d", len(rec), benchRecordSize)
	}
	return rec
}

// quietSystem is an actor system whose protoactor logging goes nowhere.
func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
}

// benchWindow is the writer's window: the broker's default
// writerWindowSize (supervisor's DefaultConfig, which this package cannot
// import), or SLUICE_BENCH_WINDOW. The window bounds a group commit's
// batch, so under SYNC_FLUSH it caps msgs/s at window ÷ sync time.
func benchWindow() int {
	if n, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_WINDOW")); err == nil && n > 0 {
		return n
	}
	return 32
}

// benchWriter opens a store with cfg and spawns a writer over it in a bare
// actor system, with the broker's default window.
func benchWriter(tb testing.TB, cfg commitlog.Config) *Writer {
	tb.Helper()
	store, err := commitlog.Open(cfg, zerolog.Nop())
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	sys := quietSystem()
	w := NewWriter(store, benchWindow())
	pid, err := w.Spawn(sys.Root, sys.Root)
	if err != nil {
		store.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = sys.Root.StopFuture(pid).Wait()
		sys.Shutdown()
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return w
}

// sender is one producer of appends: its own pre-encoded record and job,
// reused for every append, and a channel its Done signals.
type sender struct {
	job  AppendJob
	done chan struct{}
}

func newSender(tb testing.TB, qid int32) *sender {
	s := &sender{done: make(chan struct{}, 1)}
	s.job.Put = commitlog.PutRequest{Topic: benchTopic, QueueID: qid, Records: benchRecord(tb, qid), Count: 1}
	s.job.Done = func(*AppendJob) { s.done <- struct{}{} }
	return s
}

// append submits the sender's record and waits until it is stored (and,
// with SYNC_FLUSH, synced).
func (s *sender) append(w *Writer, stop <-chan struct{}) commitlog.PutStatus {
	if !w.Submit(&s.job, stop) {
		return commitlog.PutServiceNotAvailable
	}
	<-s.done
	return s.job.Put.Result.Status
}

// runSenders appends n records from senders goroutines through w, each
// waiting for its answer before the next append; it returns the first bad
// status seen.
func runSenders(tb testing.TB, w *Writer, senders int, n int64, queues int32) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var failed error
	stop := make(chan struct{})
	for i := 0; i < senders; i++ {
		s := newSender(tb, int32(i)%queues)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				if st := s.append(w, stop); st != commitlog.PutOK {
					once.Do(func() {
						failed = fmt.Errorf("append: %v %v", st, s.job.Put.Result.Err)
						close(stop)
					})
					return
				}
			}
		}()
	}
	wg.Wait()
	return failed
}

func BenchmarkWriterAppend(b *testing.B) {
	type mode struct {
		name string
		cfg  func(*commitlog.Config)
	}
	modes := []mode{
		// async and sync write the log with pwrite (commitLogWriteThrough,
		// the default); async-mapped and sync-mapped through the mapping.
		{"async", func(*commitlog.Config) {}},
		{"async-mapped", func(c *commitlog.Config) { c.CommitLogWriteThrough = false }},
		{"pool", func(c *commitlog.Config) {
			c.TransientStorePoolEnable = true
			c.TransientStorePoolSize = 2
		}},
		{"sync", func(c *commitlog.Config) { c.FlushDiskType = commitlog.SyncFlush }},
		{"sync-mapped", func(c *commitlog.Config) {
			c.FlushDiskType = commitlog.SyncFlush
			c.CommitLogWriteThrough = false
		}},
	}
	for _, m := range modes {
		isSync := strings.HasPrefix(m.name, "sync")
		for _, senders := range []int{1, 64, 256} {
			// One SYNC sender is one sync per append: it shows what an
			// append into a just-synced page costs.
			if !isSync && senders == 256 {
				continue
			}
			b.Run(fmt.Sprintf("mode=%s/senders=%d", m.name, senders), func(b *testing.B) {
				cfg := benchStoreConfig(b.TempDir())
				m.cfg(&cfg)
				w := benchWriter(b, cfg)
				if m.name == "pool" {
					if _, total := w.Store().TransientPoolStats(); total != 2 {
						b.Fatalf("transient store pool has %d buffers, want 2", total)
					}
				}
				benchAppend(b, w, senders)
			})
		}
	}
	b.Run("baseline=memcpy", benchMemcpyBaseline)
	b.Run("baseline=fdatasync", benchFdatasyncBaseline)
	b.Run("baseline=msync", benchMsyncBaseline)
}

func benchAppend(b *testing.B, w *Writer, senders int) {
	b.SetBytes(benchRecordSize)
	b.ReportAllocs()
	startBatches, startAppended := w.batches.Load(), w.appended.Load()
	syncs0, syncUs0 := storeSyncs(w.Store())
	gathers0 := storeGathers(w.Store())
	b.ResetTimer()
	if err := runSenders(b, w, senders, int64(b.N), 8); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/secs, "msgs/s")
	if batches := w.batches.Load() - startBatches; batches > 0 {
		b.ReportMetric(float64(w.appended.Load()-startAppended)/float64(batches), "msgs/batch")
	}
	syncs1, syncUs1 := storeSyncs(w.Store())
	if syncs := syncs1 - syncs0; syncs > 0 && w.Store().RuntimeInfo()["flushDiskType"] == commitlog.SyncFlush.String() {
		// What one group commit covers and what it costs: the facts that
		// bound SYNC_FLUSH with closed-loop senders (msgs/s is about
		// msgs/sync ÷ the time between syncs).
		b.ReportMetric(float64(syncs)/secs, "syncs/s")
		b.ReportMetric(float64(w.appended.Load()-startAppended)/float64(syncs), "msgs/sync")
		b.ReportMetric(float64(w.batches.Load()-startBatches)/float64(syncs), "batches/sync")
		b.ReportMetric(float64(syncUs1-syncUs0)/float64(syncs), "us/sync")
		b.ReportMetric(float64(syncUs1-syncUs0)/1e6/secs, "sync-busy")
		if g0, g1 := gathers0, storeGathers(w.Store()); g1[0] > g0[0] {
			b.ReportMetric(float64(g1[1]-g0[1])/float64(g1[0]-g0[0]), "us/gather")
			b.ReportMetric(float64(g1[0]-g0[0])/float64(syncs), "gathers/sync")
		}
	}
}

// storeGathers is how many SYNC_FLUSH flushes waited for the producers
// they answered to come back, and for how many microseconds in all.
func storeGathers(s *commitlog.Store) [2]int64 {
	info := s.RuntimeInfo()
	n, _ := strconv.ParseInt(info["groupCommitGatherCount"], 10, 64)
	us, _ := strconv.ParseInt(info["groupCommitGatherMicrosTotal"], 10, 64)
	return [2]int64{n, us}
}

// storeSyncs is the commit log's sync system calls so far and their total
// time in microseconds.
func storeSyncs(s *commitlog.Store) (n, micros int64) {
	info := s.RuntimeInfo()
	n, _ = strconv.ParseInt(info["commitLogSyncCount"], 10, 64)
	micros, _ = strconv.ParseInt(info["commitLogSyncMicrosTotal"], 10, 64)
	return n, micros
}

// benchMemcpyBaseline is the floor for an append: copy 1 KiB into a
// mapped, fallocated file, rolling to a new 64 MiB file when full (the
// creation is timed, as the writer's; unmapping and removal are not).
func benchMemcpyBaseline(b *testing.B) {
	dir := b.TempDir()
	src := benchRecord(b, 0)
	b.SetBytes(benchRecordSize)
	b.ReportAllocs()
	var (
		f    *os.File
		data []byte
		pos  int
		seq  int
	)
	release := func() {
		b.StopTimer()
		unix.Munmap(data)
		f.Close()
		os.Remove(f.Name())
		b.StartTimer()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if data == nil || pos+benchRecordSize > len(data) {
			if data != nil {
				release()
			}
			f, data = mapNewFile(b, filepath.Join(dir, strconv.Itoa(seq)), benchFileSize)
			seq++
			pos = 0
		}
		copy(data[pos:pos+benchRecordSize], src)
		pos += benchRecordSize
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if data != nil {
		release()
	}
}

// mapNewFile creates, fallocates and maps a file of size bytes, as the
// commit log does for each new file (MADV_WILLNEED included).
func mapNewFile(tb testing.TB, path string, size int) (*os.File, []byte) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(size)); err != nil {
		tb.Fatalf("fallocate: %v", err)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		tb.Fatalf("mmap: %v", err)
	}
	_ = unix.Madvise(data, unix.MADV_WILLNEED)
	return f, data
}

// benchFdatasyncBaseline is the disk's sync rate in the same kind of
// directory: per op, write 1 KiB after the previous one into a fallocated
// file and fdatasync it.
func benchFdatasyncBaseline(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, benchFileSize); err != nil {
		b.Fatalf("fallocate: %v", err)
	}
	buf := benchRecord(b, 0)
	b.SetBytes(benchRecordSize)
	b.ReportAllocs()
	off := int64(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if off+benchRecordSize > benchFileSize {
			off = 0
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
		off += benchRecordSize
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
}

// benchMsyncBaseline is the sync the store itself makes (SYNC_FLUSH without
// the pool syncs its mapping): per op, copy 1 KiB after the previous one
// into a mapped, fallocated file and msync(MS_SYNC) its pages, as
// commitlog's syncRange does from the page holding the flushed offset.
func benchMsyncBaseline(b *testing.B) {
	f, data := mapNewFile(b, filepath.Join(b.TempDir(), "msync"), benchFileSize)
	defer func() {
		unix.Munmap(data)
		f.Close()
	}()
	src := benchRecord(b, 0)
	b.SetBytes(benchRecordSize)
	b.ReportAllocs()
	pos := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if pos+benchRecordSize > len(data) {
			pos = 0
		}
		copy(data[pos:pos+benchRecordSize], src)
		start := pos &^ (os.Getpagesize() - 1)
		pos += benchRecordSize
		if err := unix.Msync(data[start:pos], unix.MS_SYNC); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
}

// BenchmarkWriterReadRandom reads one queue of a 100k-message log at random
// queue offsets, maxMsgNums messages per GetMessage.
func BenchmarkWriterReadRandom(b *testing.B) {
	const n = 100_000
	w := benchWriter(b, benchStoreConfig(b.TempDir()))
	if err := runSenders(b, w, 64, n, 1); err != nil {
		b.Fatal(err)
	}
	s := w.Store()
	deadline := time.Now().Add(30 * time.Second)
	for s.MaxOffsetInQueue(benchTopic, 0) < n {
		if time.Now().After(deadline) {
			b.Fatalf("dispatched %d of %d", s.MaxOffsetInQueue(benchTopic, 0), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, msgs := range []int{1, 32} {
		b.Run("msgs="+strconv.Itoa(msgs), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			b.SetBytes(int64(msgs) * benchRecordSize)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := s.GetMessage(benchTopic, 0, rng.Int64N(n-int64(msgs)), msgs, nil)
				if r.Status != commitlog.Found || r.MsgCount != msgs {
					b.Fatalf("%v, %d messages", r.Status, r.MsgCount)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
		})
	}
}

// procStatus reads the memory lines of /proc/self/status, in KiB.
type procMem struct{ rss, anon, file, hwm int64 }

func readProcMem(tb testing.TB) procMem {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var m procMem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.rss = kb
		case "RssAnon":
			m.anon = kb
		case "RssFile":
			m.file = kb
		case "VmHWM":
			m.hwm = kb
		}
	}
	return m
}

// TestWriterRSSDoesNotGrowWithLog appends SLUICE_RSS_GIB (default 2) GiB of
// 1 KiB records through the writer into 64 MiB files and samples the
// process's resident set every 256 MiB. RSS counts the mapped commit-log
// pages while they are resident, so unless the store drops the mappings
// of files it is done with (munmap or madvise), RSS follows the log.
// Slow: run with SLUICE_RSS_TEST=1.
func TestWriterRSSDoesNotGrowWithLog(t *testing.T) {
	if os.Getenv("SLUICE_RSS_TEST") != "1" {
		t.Skip("slow; set SLUICE_RSS_TEST=1")
	}
	gib := int64(2)
	if v := os.Getenv("SLUICE_RSS_GIB"); v != "" {
		var err error
		if gib, err = strconv.ParseInt(v, 10, 64); err != nil || gib < 1 {
			t.Fatalf("SLUICE_RSS_GIB=%q", v)
		}
	}
	const step = 256 << 20
	w := benchWriter(t, benchStoreConfig(t.TempDir()))
	start := readProcMem(t)
	t.Logf("%8s %10s %10s %10s", "log MiB", "VmRSS MiB", "RssAnon", "RssFile")
	t.Logf("%8d %10d %10d %10d", 0, start.rss>>10, start.anon>>10, start.file>>10)
	var last procMem
	began := time.Now()
	for done := int64(0); done < gib<<30; done += step {
		if err := runSenders(t, w, 64, step/benchRecordSize, 8); err != nil {
			t.Fatal(err)
		}
		last = readProcMem(t)
		t.Logf("%8d %10d %10d %10d", (done+step)>>20, last.rss>>10, last.anon>>10, last.file>>10)
	}
	t.Logf("appended %d GiB in %s; peak VmHWM %d MiB", gib, time.Since(began).Round(time.Millisecond), last.hwm>>10)
	// The log is gib GiB; a resident set that does not follow it stays
	// within a few files' worth (the file being written, the one being
	// flushed, the consume queue) of where it started.
	bound := start.rss + 4*benchFileSize>>10
	if last.rss > bound {
		t.Errorf("VmRSS grew from %d MiB to %d MiB over a %d GiB log (RssFile %d MiB): resident commit-log pages stay mapped, bound %d MiB",
			start.rss>>10, last.rss>>10, gib, last.file>>10, bound>>10)
	}
}
