package timer

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/actors/schedule"
	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/commitlog/timer"
	"github.com/sluice-mq/sluice/remoting/message"
)

// Files under <storePathRootDir>.
const (
	// LogDir is the timer log (RocketMQ's getTimerLogPath; the units are
	// Sluice's, see commitlog/timer).
	LogDir = "timerlog"
	// CheckpointFile is the progress file under config/ (RocketMQ's
	// timercheck holds the same three numbers in binary).
	CheckpointFile = "timercheck.json"
)

// Timings and sizes.
const (
	// retryAfter is how soon a delivery that failed, or found the store
	// busy, is tried again (RocketMQ's dequeue put waits 500 ms × precision
	// / 1 s; the schedule service's DELAY_FOR_A_WHILE is used here too).
	retryAfter = schedule.DelayForAWhile
	// DefaultBatchSize is how many due messages go to the writer together.
	DefaultBatchSize = 1024
	// DefaultEnqueueBatch bounds the consume-queue entries one Tick
	// indexes, so that a backlog does not hold up deliveries.
	DefaultEnqueueBatch = 4096
	// DefaultFileSize is mappedFileSizeTimerLog's default, 100 MB.
	DefaultFileSize = 100 << 20
	waitForShutdown = 5 * time.Second
	retryLogEvery   = 10 * time.Second
	batchBytes      = 1 << 20
	keepBufferBytes = 1 << 20
)

// Config is what New needs.
type Config struct {
	Store  *commitlog.Store
	Writer schedule.Appender
	// RootDir is storePathRootDir: the log goes in <RootDir>/timerlog, the
	// checkpoint in <RootDir>/config/timercheck.json.
	RootDir string
	// PrecisionMs (timerPrecisionMs, 1000) is rounded as RocketMQ rounds
	// it (RoundPrecision).
	PrecisionMs int64
	// MaxDelaySec (timerMaxDelaySec, 3 days): a send further ahead is
	// refused.
	MaxDelaySec int64
	// RollWindowSlots (timerRollWindowSlot, 2 days of 1 s slots): the
	// wheel's size; messages due further ahead are rolled.
	RollWindowSlots int
	// FileSize is one timer-log file (mappedFileSizeTimerLog, 100 MB).
	FileSize int64
	// FlushInterval (timerFlushIntervalMs, 1 s): how often the log is
	// synced and the checkpoint written.
	FlushInterval time.Duration
	BatchSize     int
	EnqueueBatch  int
	// Wake, if set, asks the broker for another Tick at once: a batch was
	// stored, or a Tick left work (a backlog to index, due messages). It
	// may run where a put's Done runs (the writer's goroutine, or the
	// group-commit one under SYNC_FLUSH) and must not block.
	Wake func()
	Log  zerolog.Logger
}

// checkpoint is timercheck.json: TimerCheckpoint's fields.
type checkpoint struct {
	// LastReadTimeMs: every slot before it was delivered.
	LastReadTimeMs int64 `json:"lastReadTimeMs"`
	// LastTimerLogFlushPos: the log was synced up to here.
	LastTimerLogFlushPos int64 `json:"lastTimerLogFlushPos"`
	// LastTimerQueueOffset: every entry of rmq_sys_wheel_timer's queue
	// before it is in the synced log.
	LastTimerQueueOffset int64 `json:"lastTimerQueueOffset"`
}

// TimerMessageStore is RocketMQ 5's TimerMessageStore as broker logic:
// it indexes the messages parked in rmq_sys_wheel_timer (enqueue) and puts
// each back into its real topic and queue once due (dequeue), through the
// writer. Tick is called by one goroutine at a time (the timer actor);
// Stop, Inspect and BuildRunningStats from any.
type TimerMessageStore struct {
	cfg    Config
	store  *commitlog.Store
	writer schedule.Appender
	log    zerolog.Logger
	path   string

	stop     chan struct{}
	stopOnce sync.Once
	stopped  atomic.Bool
	started  atomic.Bool
	stopErr  error
	pending  sync.WaitGroup

	// tickMu is held by Tick; under it, the index and Tick's fields.
	tickMu      sync.Mutex
	ix          *timer.Index
	queueOffset int64 // next rmq_sys_wheel_timer entry to index
	cursor      timer.Cursor
	inSlot      bool
	entries     []commitlog.QueueEntry
	lastCkpt    time.Time
	ckpt        checkpoint // the last one written
	ckptIdle    bool       // nothing was pending when it was written
	closed      bool

	// mu guards the batch and the figures Inspect reads.
	mu       sync.Mutex
	jobs     []*deliverJob
	inFlight int
	failed   int
	// failedBatch is the size of the batch in s.jobs the failures are in.
	failedBatch int
	retryAt     time.Time
	lastErr     string
	lastLog     time.Time
	stats       Stats
	lateness    latenessHistogram
	rate        rateWindow
}

// Stats is the timer service as Inspect sees it.
type Stats struct {
	PrecisionMs int64
	MaxDelaySec int64
	// Pending is how many messages are indexed and not yet delivered;
	// Behind how many entries of rmq_sys_wheel_timer are not yet indexed.
	Pending, Behind int64
	QueueOffset     int64 // next rmq_sys_wheel_timer entry to index
	MaxQueueOffset  int64
	// ReadTime is the next slot to read: every message due before it was
	// delivered.
	ReadTime time.Time
	// OldestDue is when the earliest pending message falls due (its slot's
	// end), OldestDueCount how many fall due then; zero when none is pending.
	OldestDue      time.Time
	OldestDueCount int32
	// LatenessMillis is how long after its due time the last delivered
	// message was handed to the writer; LastDelivery when it was stored.
	LatenessMillis int64
	LastDelivery   time.Time
	InFlight       int
	// Enqueued counts messages indexed; Delivered those stored back in
	// their topic; Rolled the re-indexings of messages due beyond the
	// wheel; PassedOver the entries skipped (record gone or unreadable);
	// Retries the passes that found the store busy or a put failed.
	Enqueued, Delivered, Rolled, PassedOver, Retries uint64
	// BusyBackoffs counts the passes that found the store busy (page cache,
	// disk) and waited instead of putting.
	BusyBackoffs uint64
	// EnqueueTps and DequeueTps are the rates over the last second.
	EnqueueTps, DequeueTps float64
	// Lateness counts deliveries by how long after their due time they
	// were handed to the writer (the schedule service's bounds, ms; the
	// last bucket is unbounded); LatenessSumMillis is their sum.
	Lateness          []tree.Bucket
	LatenessSumMillis float64
	LastError         string
	RetryAt           time.Time
	// DiskBytes is the timer log's size; Checkpoint when timercheck.json
	// was last written.
	DiskBytes  int64
	Checkpoint time.Time
}

// New opens the timer log, resumes from timercheck.json (or, without it,
// from the log's earliest slot and the timer queue's start: everything is
// delivered, some messages twice) and returns the service. The caller must
// Tick it and Stop it; sends are parked in rmq_sys_wheel_timer once
// Started reports true (from New on).
func New(cfg Config) (*TimerMessageStore, error) {
	if cfg.Store == nil || cfg.Writer == nil || cfg.RootDir == "" {
		return nil, errors.New("timer: a store, a writer and a root directory are required")
	}
	if cfg.PrecisionMs <= 0 {
		cfg.PrecisionMs = DefaultPrecisionMs
	}
	if p := RoundPrecision(cfg.PrecisionMs); p != cfg.PrecisionMs {
		cfg.Log.Warn().Int64("timerPrecisionMs", cfg.PrecisionMs).Int64("used", p).
			Msg("timerPrecisionMs is one of 100, 200, 500 or 1000 (as RocketMQ's setter rounds it)")
		cfg.PrecisionMs = p
	}
	if cfg.MaxDelaySec <= 0 {
		cfg.MaxDelaySec = DefaultMaxDelaySec
	}
	if cfg.RollWindowSlots < 2 {
		cfg.RollWindowSlots = DefaultRollWindowSlots
	}
	if cfg.FileSize <= 0 {
		cfg.FileSize = DefaultFileSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.EnqueueBatch <= 0 {
		cfg.EnqueueBatch = DefaultEnqueueBatch
	}
	s := &TimerMessageStore{
		cfg: cfg, store: cfg.Store, writer: cfg.Writer,
		log:  cfg.Log.With().Str("component", "timer").Logger(),
		path: filepath.Join(cfg.RootDir, "config", CheckpointFile),
		stop: make(chan struct{}),
	}
	ck, src, err := metadata.LoadJSON[checkpoint](s.path, s.log)
	if err != nil {
		return nil, fmt.Errorf("timer: %w", err)
	}
	icfg := timer.Config{Dir: filepath.Join(cfg.RootDir, LogDir), PrecisionMs: cfg.PrecisionMs, Slots: cfg.RollWindowSlots, FileSize: cfg.FileSize}
	readMs := ck.LastReadTimeMs
	if src == metadata.LoadedNothing {
		earliest, found, err := timer.EarliestSlot(icfg)
		if err != nil {
			return nil, err
		}
		readMs = time.Now().UnixMilli()
		if found {
			readMs = min(readMs, earliest)
			s.log.Warn().Str("file", s.path).Int64("fromSlotMs", readMs).
				Msg("timer log without a checkpoint: delivering everything it holds, some messages again")
		}
	}
	ix, rec, err := timer.Open(icfg, readMs)
	if err != nil {
		return nil, fmt.Errorf("timer: open the timer log: %w", err)
	}
	s.ix = ix
	s.queueOffset = max(ck.LastTimerQueueOffset, rec.MaxQueueOffset+1)
	s.ckpt = ck
	s.correctQueueOffset()
	s.log.Info().Int64("readTimeMs", ix.ReadMs()).Int64("queueOffset", s.queueOffset).Int64("units", rec.Units).
		Int64("pending", rec.Live).Int64("reindexed", rec.Reindexed).Int64("truncatedBytes", rec.TruncatedBytes).
		Int64("precisionMs", cfg.PrecisionMs).Msg("timer recover ok")
	s.stats.PrecisionMs, s.stats.MaxDelaySec = cfg.PrecisionMs, cfg.MaxDelaySec
	s.refreshStats(time.Now())
	s.started.Store(true)
	return s, nil
}

// Started reports whether timer messages are served: from New until Stop.
func (s *TimerMessageStore) Started() bool { return s.started.Load() }

// PrecisionMs and MaxDelaySec are the configuration in force.
func (s *TimerMessageStore) PrecisionMs() int64 { return s.cfg.PrecisionMs }

// MaxDelaySec is timerMaxDelaySec.
func (s *TimerMessageStore) MaxDelaySec() int64 { return s.cfg.MaxDelaySec }

// correctQueueOffset keeps the indexing offset within the timer queue
// (retention may have deleted its head). Under tickMu.
func (s *TimerMessageStore) correctQueueOffset() {
	lo := s.store.MinOffsetInQueue(TimerTopic, 0)
	hi := s.store.MaxOffsetInQueue(TimerTopic, 0)
	switch {
	case s.queueOffset < lo:
		s.log.Warn().Int64("queueOffset", s.queueOffset).Int64("minOffsetInQueue", lo).Msg("timer queue offset below the queue's start; corrected")
		s.queueOffset = lo
	case s.queueOffset > hi:
		s.log.Warn().Int64("queueOffset", s.queueOffset).Int64("maxOffsetInQueue", hi).Msg("timer queue offset beyond the queue's end; corrected")
		s.queueOffset = hi
	}
}

// Tick runs one pass: index what rmq_sys_wheel_timer gained, deliver what
// is due (at most one batch in the writer at a time), and every
// FlushInterval sync the log and write the checkpoint. now is the clock
// messages are due by. It may wait for a free slot in the writer's window
// (Stop ends the wait).
func (s *TimerMessageStore) Tick(now time.Time) {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	if s.stopped.Load() || s.closed {
		return
	}
	nowMs := now.UnixMilli()
	more := s.enqueue(nowMs)
	if err := s.ix.Flush(); err != nil {
		s.noteError(now, "write the timer log: "+err.Error())
	}
	more = s.dequeue(now) || more
	if now.Sub(s.lastCkpt) >= s.cfg.FlushInterval {
		s.lastCkpt = now
		if err := s.checkpoint(); err != nil {
			s.log.Error().Err(err).Msg("cannot write the timer checkpoint; delivery goes on, and a restart may deliver again what was delivered since the last one")
		}
	}
	s.refreshStats(now)
	if more && s.cfg.Wake != nil {
		s.cfg.Wake()
	}
}

// enqueue is TimerEnqueueGetService + TimerEnqueuePutService: the timer
// queue's new entries go into the index. It reports a backlog left.
// Under tickMu.
func (s *TimerMessageStore) enqueue(nowMs int64) bool {
	s.correctQueueOffset()
	hi := s.store.MaxOffsetInQueue(TimerTopic, 0)
	writeMs := nowMs / s.cfg.PrecisionMs * s.cfg.PrecisionMs
	n := 0
	for n < s.cfg.EnqueueBatch && s.queueOffset < hi {
		s.entries = s.store.ReadQueueEntries(TimerTopic, 0, s.queueOffset, min(256, s.cfg.EnqueueBatch-n), s.entries[:0])
		if len(s.entries) == 0 {
			return false
		}
		for _, e := range s.entries {
			if e.Size == 0 { // a hole left by a skipped corrupt region
				s.queueOffset = e.QueueOffset + 1
				continue
			}
			deliverMs, err := s.timerOut(e)
			if err != nil {
				var pass *passOverError
				if !errors.As(err, &pass) {
					s.noteError(time.UnixMilli(nowMs), err.Error())
					return false
				}
				s.log.Error().Int64("queueOffset", e.QueueOffset).Int64("commitLogOffset", e.PhysicalOffset).Str("reason", pass.reason).
					Msg("timer message passed over")
				s.mu.Lock()
				s.stats.PassedOver++
				s.mu.Unlock()
				s.queueOffset = e.QueueOffset + 1
				continue
			}
			enq := nowMs
			if deliverMs < writeMs {
				enq = timer.NeverEnqueued // late: RocketMQ puts it straight to delivery
			}
			if err := s.ix.Add(e.PhysicalOffset, e.Size, e.QueueOffset, deliverMs, enq); err != nil {
				s.noteError(time.UnixMilli(nowMs), err.Error())
				return false
			}
			s.queueOffset = e.QueueOffset + 1
			n++
			s.mu.Lock()
			s.stats.Enqueued++
			s.mu.Unlock()
		}
	}
	return s.queueOffset < hi
}

// timerOut reads a parked message's TIMER_OUT_MS.
func (s *TimerMessageStore) timerOut(e commitlog.QueueEntry) (int64, error) {
	msg, err := s.parked(e.PhysicalOffset)
	if err != nil {
		return 0, err
	}
	v, _ := message.Lookup(msg.Properties, message.PropertyTimerOutMS)
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, &passOverError{fmt.Sprintf("%s %q is not a time", message.PropertyTimerOutMS, v)}
	}
	return ms, nil
}

// parked reads the record at a commit-log offset.
func (s *TimerMessageStore) parked(offsetPy int64) (commitlog.StoredMessage, error) {
	rec, err := s.store.LookMessageByOffset(offsetPy)
	if err != nil {
		if offsetPy < s.store.MinPhyOffset() {
			return commitlog.StoredMessage{}, &passOverError{"its record was deleted by retention before it was due"}
		}
		return commitlog.StoredMessage{}, fmt.Errorf("look message by offset %d: %w", offsetPy, err)
	}
	msg, err := commitlog.DecodeRecord(rec)
	if err != nil {
		return commitlog.StoredMessage{}, &passOverError{fmt.Sprintf("the record at %d does not decode: %v", offsetPy, err)}
	}
	return msg, nil
}

// passOverError is an entry nothing can deliver.
type passOverError struct{ reason string }

func (e *passOverError) Error() string { return e.reason }

// noteError records a failure Tick will retry. Safe under tickMu.
func (s *TimerMessageStore) noteError(now time.Time, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = reason
	s.stats.Retries++
	if now.Sub(s.lastLog) >= retryLogEvery {
		s.lastLog = now
		s.log.Warn().Str("reason", reason).Uint64("retries", s.stats.Retries).Msg("timer messages held up; trying again shortly")
	}
}

// checkpoint syncs the log and writes timercheck.json (TimerFlushService),
// then deletes log files every unit of which is before the checkpoint's
// read time. Under tickMu.
func (s *TimerMessageStore) checkpoint() error {
	if err := s.ix.Sync(); err != nil {
		return err
	}
	ck := checkpoint{LastReadTimeMs: s.ix.ReadMs(), LastTimerLogFlushPos: s.ix.FlushedPos(), LastTimerQueueOffset: s.queueOffset}
	// Idle since the last write (nothing pending then or now, nothing
	// indexed): only the read time moved, over empty slots; the file as it
	// is restarts the same way, so an idle broker does not rewrite it
	// every second.
	idle := s.ix.Pending() == 0 && s.ckptIdle && ck.LastTimerLogFlushPos == s.ckpt.LastTimerLogFlushPos &&
		ck.LastTimerQueueOffset == s.ckpt.LastTimerQueueOffset
	if ck != s.ckpt && !idle {
		if err := metadata.PersistJSON(s.path, ck); err != nil {
			return fmt.Errorf("timer: %w", err)
		}
		s.ckpt = ck
		s.ckptIdle = s.ix.Pending() == 0
	}
	s.mu.Lock()
	s.stats.Checkpoint = time.Now()
	s.mu.Unlock()
	if _, err := s.ix.DeleteRead(ck.LastReadTimeMs); err != nil {
		s.log.Warn().Err(err).Msg("cannot delete a read timer-log file")
	}
	return nil
}

// Stop ends delivery: no new puts, a wait of at most 5 s for those in the
// writer, then the checkpoint and the log are written. Call it before the
// writer stops. Later calls return the first result.
func (s *TimerMessageStore) Stop() error {
	s.stopOnce.Do(func() {
		s.started.Store(false)
		s.stopped.Store(true)
		close(s.stop)
		s.tickMu.Lock()
		defer s.tickMu.Unlock()
		done := make(chan struct{})
		go func() { s.pending.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitForShutdown):
			s.log.Warn().Msg("timer: puts still in the writer at stop; their messages may be delivered again after the restart")
		}
		s.stopErr = s.checkpoint()
		s.stopErr = errors.Join(s.stopErr, s.ix.Close())
		s.closed = true
	})
	return s.stopErr
}

// Inspect describes the timer service, for the actor tree and the metrics.
func (s *TimerMessageStore) Inspect() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.InFlight, st.LastError, st.RetryAt = s.inFlight, s.lastErr, s.retryAt
	st.Lateness = make([]tree.Bucket, 0, len(s.lateness.counts))
	for i, b := range latenessBounds {
		st.Lateness = append(st.Lateness, tree.Bucket{LeMillis: b, Count: s.lateness.counts[i]})
	}
	st.Lateness = append(st.Lateness, tree.Bucket{LeMillis: -1, Count: s.lateness.counts[len(latenessBounds)]})
	st.LatenessSumMillis = float64(s.lateness.sum)
	return st
}

// latenessBounds are the lateness histogram's upper bounds in ms, the
// schedule service's.
var latenessBounds = [...]int64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000}

// latenessHistogram counts deliveries by lateness (under s.mu).
type latenessHistogram struct {
	counts [len(latenessBounds) + 1]uint64
	sum    int64
}

func (h *latenessHistogram) observe(ms int64) {
	h.sum += ms
	for i, b := range latenessBounds {
		if ms <= b {
			h.counts[i]++
			return
		}
	}
	h.counts[len(latenessBounds)]++
}

// refreshStats copies the index's figures for Inspect. Under tickMu.
func (s *TimerMessageStore) refreshStats(now time.Time) {
	p := s.cfg.PrecisionMs
	hi := s.store.MaxOffsetInQueue(TimerTopic, 0)
	t, num, ok := s.ix.NextSlot()
	disk := s.ix.DiskBytes()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.stats
	st.Pending, st.QueueOffset, st.MaxQueueOffset = s.ix.Pending(), s.queueOffset, hi
	st.Behind = max(0, hi-s.queueOffset)
	st.ReadTime = time.UnixMilli(s.ix.ReadMs())
	st.OldestDue, st.OldestDueCount = time.Time{}, 0
	if ok {
		st.OldestDue, st.OldestDueCount = time.UnixMilli(t+p), num
	}
	st.DiskBytes = disk
	st.EnqueueTps, st.DequeueTps = s.rate.update(now, st.Enqueued, st.Delivered)
}

// rateWindow turns counters into per-second rates, refreshed once a second.
type rateWindow struct {
	at                 time.Time
	enqueued, dequeued uint64
	enqTps, deqTps     float64
}

func (r *rateWindow) update(now time.Time, enqueued, dequeued uint64) (float64, float64) {
	if r.at.IsZero() {
		r.at, r.enqueued, r.dequeued = now, enqueued, dequeued
		return 0, 0
	}
	if d := now.Sub(r.at); d >= time.Second {
		r.enqTps = float64(enqueued-r.enqueued) / d.Seconds()
		r.deqTps = float64(dequeued-r.dequeued) / d.Seconds()
		r.at, r.enqueued, r.dequeued = now, enqueued, dequeued
	}
	return r.enqTps, r.deqTps
}

// BuildRunningStats adds RocketMQ 5's timer keys to a
// GET_BROKER_RUNTIME_INFO table (AdminBrokerProcessor#prepareRuntimeInfo):
// timerReadBehind (s), timerOffsetBehind, timerCongestNum (pending),
// timerEnqueueTps, timerDequeueTps.
func (s *TimerMessageStore) BuildRunningStats(stats map[string]string) {
	st := s.Inspect()
	behind := int64(0)
	if !st.ReadTime.IsZero() {
		behind = max(0, time.Since(st.ReadTime).Milliseconds()/1000)
	}
	stats["timerReadBehind"] = strconv.FormatInt(behind, 10)
	stats["timerOffsetBehind"] = strconv.FormatInt(st.Behind, 10)
	stats["timerCongestNum"] = strconv.FormatInt(st.Pending, 10)
	stats["timerEnqueueTps"] = strconv.FormatFloat(st.EnqueueTps, 'f', 1, 64)
	stats["timerDequeueTps"] = strconv.FormatFloat(st.DequeueTps, 'f', 1, 64)
}
