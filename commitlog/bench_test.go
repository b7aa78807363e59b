package commitlog

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/commitlog/mmap"
)

// Benchmarks run beside their baselines in one process and directory:
//
//	go test -run '^$' -bench . -benchtime 2s ./commitlog/
//
// Put figures are per call (a batch of N 1 KiB records); SetBytes counts
// every record byte, so MB/s compares straight with the memcpy baseline.

const benchFileSize = 256 << 20

func benchConfig(b *testing.B) Config {
	cfg := testConfig(b.TempDir())
	cfg.MappedFileSizeCommitLog = benchFileSize
	cfg.MappedFileSizeConsumeQueue = 300_000 * CQEntrySize
	cfg.FlushIntervalCommitLog = 500
	cfg.FlushIntervalConsumeQueue = 1000
	cfg.CommitIntervalCommitLog = 200
	return cfg
}

func benchRequests(b *testing.B, batch int) ([]*PutRequest, int) {
	var reqs []*PutRequest
	size := 0
	for i := 0; i < batch; i++ {
		rec, err := AppendRecord(nil, testMessage("Bench", int32(i%8), i, 1024-150))
		if err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, &PutRequest{Topic: "Bench", QueueID: int32(i % 8), Records: rec, Count: 1})
		size += len(rec)
	}
	return reqs, size
}

func benchPut(b *testing.B, cfg Config, batch int) {
	s, err := Open(cfg, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	reqs, size := benchRequests(b, batch)
	s.Put(reqs)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Put(reqs)
		if reqs[0].Result.Status != PutOK {
			b.Fatal(reqs[0].Result.Status, reqs[0].Result.Err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkMmapCopyBaseline is the floor for an append: copy 1 KiB into a
// mapped, fallocated file, rolling to a new file when full.
func BenchmarkMmapCopyBaseline(b *testing.B) {
	dir := b.TempDir()
	src := make([]byte, 1024)
	b.SetBytes(1024)
	b.ReportAllocs()
	var mf *mappedFile
	n := int64(0)
	for i := 0; i < b.N; i++ {
		if mf == nil || mf.wrote.Load()+1024 > mf.size {
			if mf != nil {
				b.StopTimer()
				mf.closeAndUnmap()
				os.Remove(mf.path)
				b.StartTimer()
			}
			var err error
			mf, err = createMappedFile(filepath.Join(dir, fileName(n)), n, benchFileSize, mmap.AllocateFile)
			if err != nil {
				b.Fatal(err)
			}
			n += benchFileSize
		}
		copy(mf.target(1024), src)
		mf.advance(1024)
	}
	b.StopTimer()
	mf.closeAndUnmap()
}

func BenchmarkPutAsync(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run("size=1KiB/batch="+itoa(batch), func(b *testing.B) { benchPut(b, benchConfig(b), batch) })
	}
}

func BenchmarkPutAsyncPool(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run("size=1KiB/batch="+itoa(batch), func(b *testing.B) {
			cfg := benchConfig(b)
			cfg.TransientStorePoolEnable = true
			cfg.TransientStorePoolSize = 3
			benchPut(b, cfg, batch)
		})
	}
}

func BenchmarkPutSync(b *testing.B) {
	b.Run("size=1KiB/batch=64", func(b *testing.B) {
		cfg := benchConfig(b)
		cfg.FlushDiskType = SyncFlush
		benchPut(b, cfg, 64)
	})
}

// BenchmarkFdatasyncBaseline is the disk's sync rate in the same kind of
// directory: write 64 KiB, fdatasync.
func BenchmarkFdatasyncBaseline(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := mmap.AllocateFile(f, benchFileSize); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	off := int64(0)
	for i := 0; i < b.N; i++ {
		if off+int64(len(buf)) > benchFileSize {
			off = 0
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
		off += int64(len(buf))
		if err := mmap.Fdatasync(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetMessageRandom(b *testing.B) {
	cfg := benchConfig(b)
	s, err := Open(cfg, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100_000
	rec, _ := AppendRecord(nil, testMessage("Read", 0, 0, 1024-150))
	req := &PutRequest{Topic: "Read", QueueID: 0, Records: rec, Count: 1}
	for i := 0; i < n; i++ {
		s.Put([]*PutRequest{req})
	}
	settle(b, s)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := s.GetMessage("Read", 0, rng.Int64N(n), 1, nil)
		if r.Status != Found {
			b.Fatal(r.Status)
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// BenchmarkRoll measures the Put that rolls into a new commit-log file:
// how long it holds the lock-hold window (hold-ns/roll, the time
// BeginTimeInLock is set, what clients see as busy answers) and how long
// the whole Put takes (put-ns/roll), as medians over the rolls. Each
// iteration first fills the current file up to a few bytes (untimed), then
// puts one small record that does not fit. Between rolls the allocate
// service has time to make the next file, as it has in production, where a
// file holds 1 GiB; "warm" turns on warmMapedFileEnable, so the first write
// into the new file does not fault either. Every iteration writes a whole
// file, so run it a fixed number of times:
//
//	go test -run '^$' -bench Roll -benchtime 20x -count 5 ./commitlog/
func BenchmarkRoll(b *testing.B) {
	b.Run("cold", func(b *testing.B) { benchRoll(b, false) })
	b.Run("warm", func(b *testing.B) { benchRoll(b, true) })
}

func benchRoll(b *testing.B, warm bool) {
	const fileSize = 64 << 20
	cfg := benchConfig(b)
	cfg.MappedFileSizeCommitLog = fileSize
	cfg.MaxMessageSize = fileSize
	cfg.WarmMapedFileEnable = warm
	s, err := Open(cfg, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	filler := &Message{Topic: "Roll", BornHost: testBorn, StoreHost: testStore, Body: make([]byte, fileSize)}
	var buf []byte
	small, _ := AppendRecord(nil, &Message{Topic: "Roll", BornHost: testBorn, StoreHost: testStore, Body: make([]byte, 100)})
	putRec := func(rec []byte) {
		req := &PutRequest{Topic: "Roll", Records: rec, Count: 1}
		s.Put([]*PutRequest{req})
		if req.Result.Status != PutOK {
			b.Fatal(req.Result.Status, req.Result.Err)
		}
	}
	putRec(small) // the first file
	var holds, puts []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := s.clq.last()
		free := f.size - f.wrote.Load()
		// Leave 150 bytes: the small record (~190) then does not fit.
		fillerLen := free - 150
		m := *filler
		m.Body = filler.Body[:fillerLen-int64(RecordLen(&Message{Topic: "Roll", BornHost: testBorn, StoreHost: testStore}))]
		buf, _ = AppendRecordLimit(buf[:0], &m, fileSize)
		putRec(buf)
		waitNextFileReady(b, s)
		files := s.clq.count()
		hold0 := s.lockHoldNanos.Load()
		b.StartTimer()
		t0 := time.Now()
		putRec(small)
		puts = append(puts, time.Since(t0))
		b.StopTimer()
		holds = append(holds, time.Duration(s.lockHoldNanos.Load()-hold0))
		if s.clq.count() != files+1 {
			b.Fatal("the small put did not roll")
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(median(holds).Nanoseconds()), "hold-ns/roll")
	b.ReportMetric(float64(median(puts).Nanoseconds()), "put-ns/roll")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = append([]time.Duration(nil), d...)
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkSyncMapped compares the two correct ways to force a shared file
// mapping's new bytes to disk, on a file like a commit-log file (fallocated,
// its pages prefaulted 8 MiB ahead of the writer with MADV_POPULATE_WRITE,
// as the allocate service does): per op, copy 32 KiB after the previous
// ones into the mapping, then msync(MS_SYNC) the written range (what the
// store does) or fdatasync the file. "written" first zeroes and syncs the
// whole file, so no sync has to convert unwritten extents; "pwrite+fdatasync"
// writes the same bytes with pwrite instead of through the mapping. One process,
// one directory, alternate sub-benchmarks with -count:
//
//	go test -run '^$' -bench SyncMapped -benchtime 2s -count 3 ./commitlog/
func BenchmarkSyncMapped(b *testing.B) {
	for _, pre := range []string{"fallocated", "written"} {
		for _, how := range []string{"msync", "fdatasync", "pwrite+fdatasync"} {
			b.Run("file="+pre+"/sync="+how, func(b *testing.B) { benchSyncMapped(b, pre == "written", how) })
		}
	}
}

func benchSyncMapped(b *testing.B, written bool, how string) {
	const chunk, size = 32 << 10, benchFileSize
	mf, err := createMappedFile(filepath.Join(b.TempDir(), fileName(0)), 0, size, mmap.AllocateFile)
	if err != nil {
		b.Fatal(err)
	}
	defer mf.closeAndUnmap()
	if written {
		if err := mmap.WarmMapping(mf.data, 1024); err != nil {
			b.Fatal(err)
		}
	}
	src := make([]byte, chunk)
	for i := range src {
		src[i] = byte(i)
	}
	prefaulted := int64(0)
	pos := int64(0)
	b.SetBytes(chunk)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if pos+chunk > size {
			b.StopTimer()
			if err := mmap.Fdatasync(mf.f); err != nil {
				b.Fatal(err)
			}
			pos, prefaulted = 0, 0
			b.StartTimer()
		}
		if prefaulted < pos+chunk {
			to := min(pos+8<<20, size)
			mmap.PopulateWrite(mf.data[prefaulted:to])
			prefaulted = to
		}
		switch how {
		case "msync":
			copy(mf.data[pos:pos+chunk], src)
			err = mmap.SyncRange(mf.data, pos, pos+chunk)
		case "fdatasync":
			copy(mf.data[pos:pos+chunk], src)
			err = mmap.Fdatasync(mf.f)
		default: // the same bytes through write(2), not the mapping
			if _, err = mf.f.WriteAt(src, pos); err == nil {
				err = mmap.Fdatasync(mf.f)
			}
		}
		if err != nil {
			b.Fatal(err)
		}
		pos += chunk
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "us/sync")
}

// BenchmarkSyncMappedParallel is BenchmarkSyncMapped's msync with two
// goroutines syncing their own halves of one file at the same time: whether
// the disk completes overlapping syncs faster than one after another (what
// decides if a second sync in flight can shorten a group commit's wait).
func BenchmarkSyncMappedParallel(b *testing.B) {
	const chunk, size = 32 << 10, benchFileSize
	mf, err := createMappedFile(filepath.Join(b.TempDir(), fileName(0)), 0, size, mmap.AllocateFile)
	if err != nil {
		b.Fatal(err)
	}
	defer mf.closeAndUnmap()
	mmap.PopulateWrite(mf.data)
	src := make([]byte, chunk)
	b.SetBytes(chunk)
	b.ResetTimer()
	done := make(chan error, 2)
	for g := int64(0); g < 2; g++ {
		go func() {
			pos := g * size / 2
			for i := g; i < int64(b.N); i += 2 {
				if pos+chunk > (g+1)*size/2 {
					pos = g * size / 2
				}
				copy(mf.data[pos:pos+chunk], src)
				if err := mmap.SyncRange(mf.data, pos, pos+chunk); err != nil {
					done <- err
					return
				}
				pos += chunk
			}
			done <- nil
		}()
	}
	for g := 0; g < 2; g++ {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "us/sync")
}
