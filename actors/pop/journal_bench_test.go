package pop

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting/message"
)

// Issue 18: are pop checkpoints cheaper in Sluice's journal or, as RocketMQ 5
// keeps them, as messages of the revive topic in the commit log? Each pair
// runs in one process, the baseline beside the alternative, at the same
// durability (the OS page cache, no fsync per record):
//
//	go test -run '^$' -bench PopCheckpointWrite -benchmem -count 5 -benchtime 100000x ./actors/pop/
//	go test -run '^$' -bench PopCheckpointRead -benchmem -count 5 -benchtime 20x ./actors/pop/
//
// (-benchtime Nx: the read benchmark's op is a whole replay.)
//
// Write: one pop of one message = one checkpoint record at the pop and one
// ack record at its ack.
//   - journal: the service's calls (appendCk+flush, appendAck+flush, the
//     rewrite once past compactBytes: every checkpoint is acked, so it
//     rewrites an empty table, as compact would).
//   - revive: PopMessageProcessor#buildCkMsg and AckMessageProcessor's
//     AckMsg (RocketMQ 5.3.1): the JSON body with fastjson's short names,
//     TAGS ck/ack, UNIQ_KEY genCkUniqueId/genAckUniqueId, TIMER_DELIVER_MS,
//     into rmq_sys_REVIVE_LOG_<cluster> queue reviveQid, one commitlog.Store
//     Put each (ASYNC_FLUSH; the reput dispatcher builds the consume-queue
//     and index entries on its own goroutine). The timed loop ends once the
//     dispatcher has indexed every record, and cpu-ns/op counts the
//     process's CPU time (user+system, every goroutine), so the background
//     dispatch and flush are charged too. Not modelled, so (b) is a lower
//     bound: RocketMQ 5 hands a message carrying TIMER_DELIVER_MS to the
//     timer wheel first (HookUtils#handleScheduleMessage, timerWheelEnable
//     is on by default), which writes it a second time into the revive
//     topic when it is due; and the broker's writer actor in front of the
//     store.
//
// Read: what a restart (journal) or the revive service (revive topic) must
// read back and parse per pop: the journal's replay of revivePops pops, vs
// GetMessage over the revive queue, DecodeRecord and json.Unmarshal of each
// ck and ack body (PopReviveService#consumeReviveMessage).

const (
	benchGroup       = "GID_bench_consumer"
	benchTopic       = "TopicBench"
	benchBroker      = "broker-a"
	benchReviveTopic = "rmq_sys_REVIVE_LOG_DefaultCluster"
	benchReviveQueue = 8 // reviveQueueNum's default
	benchInvisible   = 60_000
	benchPopTime     = int64(1_700_000_000_000)
	revivePops       = 20_000
)

// rmqCheckPoint is store/pop/PopCheckPoint as fastjson writes it (fields
// sorted, nulls left out).
type rmqCheckPoint struct {
	BitMap        int32   `json:"bm"`
	BrokerName    string  `json:"bn"`
	CID           string  `json:"c"`
	QueueOffDiff  []int32 `json:"d"`
	InvisibleTime int64   `json:"it"`
	Num           int8    `json:"n"`
	PopTime       int64   `json:"pt"`
	QueueID       int32   `json:"q"`
	ReviveOffset  int64   `json:"ro"`
	StartOffset   int64   `json:"so"`
	Topic         string  `json:"t"`
}

// rmqAckMsg is store/pop/AckMsg as fastjson writes it.
type rmqAckMsg struct {
	AckOffset     int64  `json:"ao"`
	BrokerName    string `json:"bn"`
	ConsumerGroup string `json:"c"`
	PopTime       int64  `json:"pt"`
	QueueID       int32  `json:"q"`
	StartOffset   int64  `json:"so"`
	Topic         string `json:"t"`
}

func benchCk(i int) *PopCheckPoint {
	return &PopCheckPoint{
		Group: benchGroup, Topic: benchTopic, QueueID: int32(i % 4), StartOffset: int64(i),
		PopTime: benchPopTime + int64(i), InvisibleTime: benchInvisible, ReviveQid: int32(i % benchReviveQueue),
		BrokerName: benchBroker, Offsets: []int64{int64(i)},
	}
}

// cpuNanos is the process's user+system CPU time.
func cpuNanos(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// journalPop writes pop i's checkpoint and ack as the service does and
// returns the bytes appended.
func journalPop(b *testing.B, j *journal, ck *PopCheckPoint, i int) int64 {
	before := j.size
	ck.QueueID, ck.StartOffset, ck.PopTime = int32(i%4), int64(i), benchPopTime+int64(i)
	ck.ReviveQid, ck.Offsets[0], ck.Acked = int32(i%benchReviveQueue), int64(i), 0
	if err := j.appendCk(ck); err != nil {
		b.Fatal(err)
	}
	if err := j.flush(); err != nil {
		b.Fatal(err)
	}
	if err := j.appendAck(ck.key(), int64(i)); err != nil {
		b.Fatal(err)
	}
	if err := j.flush(); err != nil {
		b.Fatal(err)
	}
	return j.size - before
}

// reviveWriter builds RocketMQ 5's ck and ack messages into a reused
// record buffer.
type reviveWriter struct {
	host  netip.AddrPort
	props []byte
	rec   []byte
	req   commitlog.PutRequest
	batch []*commitlog.PutRequest
}

func newReviveWriter() *reviveWriter {
	w := &reviveWriter{host: netip.MustParseAddrPort("127.0.0.1:10911")}
	w.batch = []*commitlog.PutRequest{&w.req}
	return w
}

func (w *reviveWriter) put(b *testing.B, s *commitlog.Store, qid int32, body []byte, tag, uniq string, deliverMs int64) int64 {
	w.props = message.Append(w.props[:0], "TAGS", tag)
	w.props = message.Append(w.props, "UNIQ_KEY", uniq)
	w.props = message.Append(w.props, "TIMER_DELIVER_MS", strconv.FormatInt(deliverMs, 10))
	m := commitlog.Message{
		Topic: benchReviveTopic, QueueID: qid, BornTimestamp: time.Now().UnixMilli(),
		BornHost: w.host, StoreHost: w.host, Body: body, Properties: string(w.props),
	}
	var err error
	if w.rec, err = commitlog.AppendRecord(w.rec[:0], &m); err != nil {
		b.Fatal(err)
	}
	w.req = commitlog.PutRequest{Topic: benchReviveTopic, QueueID: qid, Records: w.rec, Count: 1}
	s.Put(w.batch)
	if w.req.Result.Status != commitlog.PutOK {
		b.Fatal(w.req.Result.Status, w.req.Result.Err)
	}
	return int64(w.req.Result.WroteBytes) + commitlog.CQEntrySize
}

// revivePop writes pop i's ck and ack messages and returns the commit-log
// and consume-queue bytes written.
func (w *reviveWriter) revivePop(b *testing.B, s *commitlog.Store, i int) int64 {
	qid := int32(i % benchReviveQueue)
	popTime := benchPopTime + int64(i)
	ck := rmqCheckPoint{
		BrokerName: benchBroker, CID: benchGroup, QueueOffDiff: []int32{0}, InvisibleTime: benchInvisible,
		Num: 1, PopTime: popTime, QueueID: int32(i % 4), StartOffset: int64(i), Topic: benchTopic,
	}
	body, _ := json.Marshal(&ck)
	uniq := benchTopic + "@" + strconv.Itoa(i%4) + "@" + strconv.Itoa(i) + "@" + benchGroup + "@" +
		strconv.FormatInt(popTime, 10) + "@" + benchBroker + "@ck"
	n := w.put(b, s, qid, body, "ck", uniq, popTime+benchInvisible-1000) // ackTimeInterval
	ack := rmqAckMsg{
		AckOffset: int64(i), BrokerName: benchBroker, ConsumerGroup: benchGroup, PopTime: popTime,
		QueueID: int32(i % 4), StartOffset: int64(i), Topic: benchTopic,
	}
	body, _ = json.Marshal(&ack)
	uniq = benchTopic + "@" + strconv.Itoa(i%4) + "@" + strconv.Itoa(i) + "@" + benchGroup + "@" +
		strconv.FormatInt(popTime, 10) + "@" + benchBroker + "@ack"
	return n + w.put(b, s, qid, body, "ack", uniq, popTime+benchInvisible)
}

func openBenchStore(b *testing.B) *commitlog.Store {
	cfg := commitlog.DefaultConfig()
	cfg.StorePathRootDir = b.TempDir()
	cfg.MappedFileSizeCommitLog = 256 << 20
	cfg.FlushDiskType = commitlog.AsyncFlush
	cfg.DiskUsage = func(string) (uint64, uint64, error) { return 10, 100, nil }
	s, err := commitlog.Open(cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// waitDispatched waits until the revive queues hold want entries in all.
func waitDispatched(b *testing.B, s *commitlog.Store, want int64) {
	deadline := time.Now().Add(time.Minute)
	for {
		var have int64
		for q := int32(0); q < benchReviveQueue; q++ {
			have += s.MaxOffsetInQueue(benchReviveTopic, q)
		}
		if have >= want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("dispatched %d of %d revive records", have, want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func BenchmarkPopCheckpointWrite(b *testing.B) {
	b.Run("journal", func(b *testing.B) {
		j, _, err := openJournal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer j.close()
		ck := benchCk(0)
		empty := map[ckKey]*PopCheckPoint{}
		var wrote int64
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuNanos(b)
		for i := 0; i < b.N; i++ {
			wrote += journalPop(b, j, ck, i)
			if j.size >= compactBytes {
				if err := j.flush(); err != nil {
					b.Fatal(err)
				}
				if err := j.rewrite(empty); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(cpuNanos(b)-cpu)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(wrote)/float64(b.N), "wbytes/op")
	})
	b.Run("revive", func(b *testing.B) {
		s := openBenchStore(b)
		w := newReviveWriter()
		w.revivePop(b, s, 0) // the queues' first entries
		waitDispatched(b, s, 2)
		var wrote int64
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuNanos(b)
		for i := 1; i <= b.N; i++ {
			wrote += w.revivePop(b, s, i)
		}
		waitDispatched(b, s, 2*int64(b.N)+2)
		b.StopTimer()
		b.ReportMetric(float64(cpuNanos(b)-cpu)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(wrote)/float64(b.N), "wbytes/op")
	})
}

// BenchmarkPopCheckpointRead: one op reads back and parses revivePops pops
// (2*revivePops records); ns/pop is the figure to compare.
func BenchmarkPopCheckpointRead(b *testing.B) {
	b.Run("journal", func(b *testing.B) {
		dir := b.TempDir()
		j, _, err := openJournal(dir)
		if err != nil {
			b.Fatal(err)
		}
		ck := benchCk(0)
		for i := 0; i < revivePops; i++ {
			journalPop(b, j, ck, i)
		}
		if err := j.close(); err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, "checkpoint.log")
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			// openJournal rewrites the file with the live (here: no)
			// checkpoints, so each replay gets the full file back.
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			j, cks, err := openJournal(dir)
			if err != nil {
				b.Fatal(err)
			}
			if len(cks) != 0 {
				b.Fatalf("%d checkpoints live after replay", len(cks))
			}
			b.StopTimer()
			j.close()
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*revivePops), "ns/pop")
	})
	b.Run("revive", func(b *testing.B) {
		s := openBenchStore(b)
		w := newReviveWriter()
		for i := 0; i < revivePops; i++ {
			w.revivePop(b, s, i)
		}
		waitDispatched(b, s, 2*revivePops)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			n := 0
			for q := int32(0); q < benchReviveQueue; q++ {
				for off := int64(0); ; {
					r := s.GetMessage(benchReviveTopic, q, off, 32, nil)
					if r.Status != commitlog.Found {
						break
					}
					for _, rec := range r.Messages {
						m, err := commitlog.DecodeRecord(rec)
						if err != nil {
							b.Fatal(err)
						}
						if message.Get(m.Properties, "TAGS") == "ck" {
							var ck rmqCheckPoint
							err = json.Unmarshal(m.Body, &ck)
						} else {
							var ack rmqAckMsg
							err = json.Unmarshal(m.Body, &ack)
						}
						if err != nil {
							b.Fatal(err)
						}
						n++
					}
					off = r.NextBeginOffset
				}
			}
			if n != 2*revivePops {
				b.Fatalf("read %d of %d revive records", n, 2*revivePops)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*revivePops), "ns/pop")
	})
}
