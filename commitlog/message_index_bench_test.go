package commitlog

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/commitlog/internal/cputime"
)

// BenchmarkDispatchIndex is the dispatcher's work per record — read the
// record, write its consume-queue entry and, with index=on, its index
// entries (UNIQ_KEY and one KEYS key) — in one run with the index off and
// on, so the two compare directly (ns/op is per record):
//
//	go test -run '^$' -bench DispatchIndex -benchmem -count 5 -benchtime 500000x ./commitlog/
//
// Records are put with the dispatcher held off (dispatchMu), outside the
// timer, then dispatched by the benchmark itself, in chunks. cpu-ns/op is
// the dispatching thread's CPU time (page faults included) per record,
// which a busy machine disturbs less than wall time.
func BenchmarkDispatchIndex(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("index=%v", map[bool]string{false: "off", true: "on"}[on]), func(b *testing.B) {
			cfg := benchConfig(b)
			cfg.MessageIndexEnable = on
			cfg.MaxHashSlotNum, cfg.MaxIndexNum = 5_000_000, 20_000_000 // RocketMQ's defaults
			s, err := Open(cfg, testLogger(b))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			// 4096 distinct messages, 8 queues, 256-byte bodies, put 64 at a time.
			const pool, batch = 4096, 64
			var reqs [][]*PutRequest
			for i := 0; i < pool; i += batch {
				var rs []*PutRequest
				for j := i; j < i+batch; j++ {
					rec, err := AppendRecord(nil, testMessage("Bench", int32(j%8), j, 256))
					if err != nil {
						b.Fatal(err)
					}
					rs = append(rs, &PutRequest{Topic: "Bench", QueueID: int32(j % 8), Records: rec, Count: 1})
				}
				reqs = append(reqs, rs)
			}
			b.ReportAllocs()
			b.ResetTimer()
			var cpu time.Duration
			const chunk = 64 * 1024
			for done := 0; done < b.N; {
				n := min(chunk, b.N-done)
				b.StopTimer()
				s.dispatchMu.Lock()
				for k := 0; k < n; k += batch {
					s.Put(reqs[(done+k)/batch%len(reqs)][:min(batch, n-k)])
				}
				b.StartTimer()
				runtime.LockOSThread()
				c0 := cputime.Thread(b)
				from := s.reputFrom.Load()
				for got := 0; got < n; {
					ri, at, next, kind, err := s.nextRecord(from)
					if err != nil || kind == recNone {
						b.Fatalf("dispatch at %d: %v (kind %d)", at, err, kind)
					}
					if kind == recRecord {
						s.dispatchRecord(at, &ri)
						got++
					}
					from = next
				}
				cpu += cputime.Thread(b) - c0
				runtime.UnlockOSThread()
				s.reputFrom.Store(from)
				s.dispatchMu.Unlock()
				done += n
			}
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			if on && s.IndexStats().Entries != int64(2*b.N) {
				b.Fatalf("%d index entries for %d records", s.IndexStats().Entries, b.N)
			}
		})
	}
}
