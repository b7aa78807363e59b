package index

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/sluice-mq/sluice/commitlog/internal/cputime"
	"github.com/sluice-mq/sluice/remoting/message"
)

// Index benchmarks, with RocketMQ's default file geometry (5 M slots,
// 20 M entries per file):
//
//	go test -run '^$' -bench . -benchmem ./commitlog/index/
//	SLUICE_BENCH_INDEX_ENTRIES=10000000 go test -run '^$' -bench QueryOffset -benchtime 200000x ./commitlog/index/   (task bench:index)

// benchProps are n records' properties: a unique key and one KEYS key each.
func benchProps(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = props(message.PropertyUniqClientMessageIDKeyIdx, "7F00000100002A9F0000"+strconv.Itoa(100000000+i),
			message.PropertyKeys, "order-"+strconv.Itoa(i))
	}
	return out
}

// BenchmarkBuildIndex is BuildIndex per record (two keys), the index's
// share of the dispatcher's work.
func BenchmarkBuildIndex(b *testing.B) {
	s := openTest(b, b.TempDir(), DefaultMaxHashSlotNum, DefaultMaxIndexNum)
	defer s.Close()
	ps := benchProps(1 << 16)
	topic := []byte("BenchTopic")
	b.ReportAllocs()
	b.ResetTimer()
	done := cputime.Measure(b)
	for i := 0; i < b.N; i++ {
		s.BuildIndex(topic, ps[i&(1<<16-1)], int64(i)*300, 1_700_000_000_000+int64(i/1000), 0)
	}
	done()
}

// BenchmarkQueryOffset looks up random keys among SLUICE_BENCH_INDEX_ENTRIES
// records (default 1 M; `task bench:index` sets 10 M): a key that is there
// (hit) and one that is not (miss).
func BenchmarkQueryOffset(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("SLUICE_BENCH_INDEX_ENTRIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("SLUICE_BENCH_INDEX_ENTRIES=%q", v)
		}
	}
	s := openTest(b, b.TempDir(), DefaultMaxHashSlotNum, DefaultMaxIndexNum)
	defer s.Close()
	topic := []byte("BenchTopic")
	var p []byte
	for i := range n {
		p = message.Append(p[:0], message.PropertyKeys, "order-"+strconv.Itoa(i))
		s.BuildIndex(topic, p, int64(i)*300, 1_700_000_000_000+int64(i/1000), 0)
	}
	b.Logf("%d entries in %d files", s.Stats().Entries, s.Stats().Files)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name   string
		prefix string
	}{{"hit", "order-"}, {"miss", "none-"}} {
		b.Run(c.name, func(b *testing.B) {
			keys := make([]string, 4096)
			for i := range keys {
				keys[i] = c.prefix + strconv.Itoa(rng.IntN(n))
			}
			b.ReportAllocs()
			b.ResetTimer()
			done := cputime.Measure(b)
			found := 0
			for i := 0; i < b.N; i++ {
				found += len(s.QueryOffset("BenchTopic", keys[i&4095], 32, 0, math.MaxInt64).PhyOffsets)
			}
			done()
			b.StopTimer()
			if c.name == "hit" && found < b.N {
				b.Fatalf("%d found for %d look-ups", found, b.N)
			}
		})
	}
}
