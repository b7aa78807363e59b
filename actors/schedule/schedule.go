package schedule

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
)

// Timings of RocketMQ's ScheduleMessageService.
const (
	// DelayForAWhile is how soon a level whose put failed (or whose store
	// was busy) is tried again (DELAY_FOR_A_WHILE), and the period at which
	// the broker should call Tick.
	DelayForAWhile = 100 * time.Millisecond
	// waitForShutdown bounds how long Stop waits for puts in the writer
	// (WAIT_FOR_SHUTDOWN).
	waitForShutdown = 5 * time.Second
	// DefaultBatchSize is how many due messages of one level go to the
	// writer together.
	DefaultBatchSize = 32
	// retryLogEvery rate-limits a level's "delivery failed" log line.
	retryLogEvery = 10 * time.Second
)

// Appender is the writer's side the service needs: *actors.Writer.
type Appender interface {
	Submit(job *actors.AppendJob, stop <-chan struct{}) bool
}

// Config is what New needs.
type Config struct {
	Store  *commitlog.Store
	Writer Appender
	// Dir is <storePathRootDir>/config, where delayOffset.json lives; ""
	// keeps progress in memory only.
	Dir string
	// FlushDelayOffsetInterval (flushDelayOffsetInterval, commitlog.Config):
	// how often Tick writes delayOffset.json when it changed; 10 s if zero.
	FlushDelayOffsetInterval time.Duration
	// BatchSize caps one level's puts in the writer at a time;
	// DefaultBatchSize if zero.
	BatchSize int
	// Wake, if set, is called when a level's batch is done, so the broker
	// can call Tick again at once rather than at its next period: due
	// messages then flow at the writer's pace, not a batch per period. It
	// runs where the put's Done runs (the writer's goroutine, or the
	// group-commit one under SYNC_FLUSH) and must not block.
	Wake func()
	Log  zerolog.Logger
}

// ScheduleMessageService delivers SCHEDULE_TOPIC_XXXX's due messages to
// their real topics (see the package comment). Tick is called by one
// goroutine at a time (the schedule actor); Stop, Persist, Inspect and
// BuildRunningStats from any.
type ScheduleMessageService struct {
	cfg    Config
	store  *commitlog.Store
	writer Appender
	log    zerolog.Logger
	path   string
	levels []*delayLevel
	// other holds the offsets delayOffset.json has for levels the
	// configuration no longer has, written back unchanged.
	other map[int32]int64

	stop     chan struct{}
	stopOnce sync.Once
	stopped  atomic.Bool
	stopErr  error
	// pending counts puts handed to the writer whose Done has not run.
	pending sync.WaitGroup

	// tickMu is held by Tick; under it, Tick's own fields.
	tickMu      sync.Mutex
	lastPersist time.Time
	entries     []commitlog.QueueEntry

	// lateness counts deliveries by how late they were stored.
	lateness latenessHistogram

	version   atomic.Int64 // bumped by every offset change
	persistMu sync.Mutex
	persisted int64 // version last written (under persistMu)
}

// delayLevel is one level: its queue, its progress and its batch in the
// writer (RocketMQ keeps a DeliverDelayedMessageTimerTask per level).
type delayLevel struct {
	s       *ScheduleMessageService
	level   int32
	queueID int32
	delay   int64 // ms
	loaded  bool  // delayOffset.json had it

	// jobs is the batch's reusable jobs; Tick touches them only while
	// inFlight is 0.
	jobs []*deliverJob

	// mu serialises the level's changes: Tick's pass and the writer's Done
	// callbacks. Readers (Inspect, Persist, BuildRunningStats, other
	// goroutines) take no lock: what they show is in atomics, written
	// under mu.
	mu sync.Mutex
	// offset is the next queue offset to deliver: every entry below it
	// was put back (or passed over); this is what delayOffset.json holds.
	offset atomic.Int64
	// ahead holds queue offsets above offset already delivered: a later
	// put of a batch answered PutOK while an earlier one failed. They are
	// not put again when the failed one is retried. At most a batch.
	ahead    map[int64]struct{}
	inFlight atomic.Int32
	failures int          // puts of the batch that failed
	busyFail bool         // one of them because the page cache was busy
	retryAt  atomic.Int64 // UnixNano; the level waits until then
	lastErr  atomic.Pointer[string]
	lastLog  time.Time
	// For Inspect: as of the last pass (ms; 0: not known).
	nextDue      atomic.Int64 // the first entry not yet due
	headDue      atomic.Int64 // the first entry not yet delivered
	lateness     atomic.Int64 // ms: the last delivery's store time after its due time
	lastDelivery atomic.Int64
	delivered    atomic.Uint64
	retries      atomic.Uint64
	busyBackoffs atomic.Uint64
	passedOver   atomic.Uint64
}

// New loads delayOffset.json (or its .bak), corrects each level's offset
// into its queue's bounds (correctDelayOffset) and marks the store's
// schedule service started, so that from now on the send path parks
// delayed messages: the caller must Tick it from then on, and Stop it.
func New(cfg Config) (*ScheduleMessageService, error) {
	if cfg.Store == nil || cfg.Writer == nil {
		return nil, errors.New("schedule: a store and a writer are required")
	}
	if cfg.FlushDelayOffsetInterval <= 0 {
		cfg.FlushDelayOffsetInterval = 10 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	s := &ScheduleMessageService{
		cfg: cfg, store: cfg.Store, writer: cfg.Writer,
		log:  cfg.Log.With().Str("component", "schedule").Logger(),
		stop: make(chan struct{}), other: map[int32]int64{},
	}
	table := map[int32]int64{}
	if cfg.Dir != "" {
		s.path = filepath.Join(cfg.Dir, DelayOffsetFile)
		w, src, err := metadata.LoadJSON[delayOffsetWrapper](s.path, s.log)
		if err != nil {
			return nil, fmt.Errorf("schedule: %w", err)
		}
		if w.OffsetTable != nil {
			table = w.OffsetTable
		}
		if src == metadata.LoadedFile {
			s.persisted = s.version.Load() // nothing to write until something changes
		} else {
			s.persisted = -1 // repair the main file, or create it
		}
	}
	maxLevel := s.store.MaxDelayLevel()
	for level := int32(1); level <= maxLevel; level++ {
		d, _ := s.store.DelayTime(level)
		lv := &delayLevel{s: s, level: level, queueID: QueueID(level), delay: d.Milliseconds(), ahead: map[int64]struct{}{}}
		off, loaded := table[level]
		lv.offset.Store(off)
		lv.loaded = loaded
		delete(table, level)
		s.correctDelayOffset(lv)
		s.levels = append(s.levels, lv)
	}
	for level, off := range table {
		s.log.Warn().Int32("level", level).Int64("offset", off).Int32("maxDelayLevel", maxLevel).
			Msg("delayOffset.json has a level messageDelayLevel does not; its messages wait until the level is configured again")
		s.other[level] = off
	}
	s.store.SetScheduleServiceStarted(true)
	return s, nil
}

// correctDelayOffset is ScheduleMessageService#correctDelayOffset: an
// offset outside its queue (the queue's head deleted by retention, or a
// queue shorter than the file remembers) is moved to the nearest bound.
func (s *ScheduleMessageService) correctDelayOffset(lv *delayLevel) bool {
	lo := s.store.MinOffsetInQueue(metadata.RMQSysScheduleTopic, lv.queueID)
	hi := s.store.MaxOffsetInQueue(metadata.RMQSysScheduleTopic, lv.queueID)
	cur := lv.offset.Load()
	off := cur
	switch {
	case off < lo:
		off = lo
	case off > hi:
		off = hi
	}
	if off == cur {
		return false
	}
	s.log.Error().Int32("level", lv.level).Int64("offset", cur).Int64("cqMinOffset", lo).Int64("cqMaxOffset", hi).
		Int64("corrected", off).Msg("schedule CQ offset invalid; corrected")
	lv.offset.Store(off)
	clear(lv.ahead)
	s.version.Add(1)
	return true
}

// Tick runs one pass over every level (each level's
// DeliverDelayedMessageTimerTask#executeOnTimeup): due messages go to the
// writer, at most one batch per level at a time; a level whose last put
// failed waits DelayForAWhile. now is the clock messages are due by
// (time.Now in the broker). It writes delayOffset.json every
// FlushDelayOffsetInterval when it changed. It may wait for a free slot
// in the writer's window (Stop ends the wait).
func (s *ScheduleMessageService) Tick(now time.Time) {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	if s.stopped.Load() {
		return
	}
	for _, lv := range s.levels {
		s.executeOnTimeup(lv, now)
	}
	if now.Sub(s.lastPersist) >= s.cfg.FlushDelayOffsetInterval {
		s.lastPersist = now
		if err := s.Persist(); err != nil {
			s.log.Error().Err(err).Msg("cannot write delayOffset.json; delivery goes on, and a restart may deliver again what it delivered since the last write")
		}
	}
}

// Stop ends delivery (ScheduleMessageService#shutdown): no new puts, a
// wait of at most 5 s for the puts in the writer, then delayOffset.json is
// written. A Tick waiting for the writer's window gives up. Call it before
// the writer stops. Later calls return the first result.
func (s *ScheduleMessageService) Stop() error {
	s.stopOnce.Do(func() {
		s.stopped.Store(true)
		close(s.stop)
		s.store.SetScheduleServiceStarted(false)
		// Once a running Tick is over, no put is handed to the writer.
		s.tickMu.Lock()
		s.tickMu.Unlock() // taken only to wait for a running Tick
		done := make(chan struct{})
		go func() { s.pending.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitForShutdown):
			s.log.Warn().Msg("schedule: puts still in the writer at stop; their messages may be delivered again after the restart")
		}
		s.stopErr = s.Persist()
	})
	return s.stopErr
}

// LevelStats is one level as Inspect sees it.
type LevelStats struct {
	Level   int32
	QueueID int32
	Delay   time.Duration
	// Offset is the level's progress (delayOffset.json); MaxOffset the
	// queue's end; Waiting the messages between them.
	Offset, MaxOffset, Waiting int64
	// NextDue is when the first message not yet due is due, as of the
	// last pass; zero when none was waiting. HeadDue is when the oldest
	// message not yet delivered was due (or is due), as of the last pass
	// that looked at it: in the past while deliveries are held up.
	NextDue, HeadDue time.Time
	// LastDelivery is when the last message was stored back in its real
	// topic; LatenessMillis how long after its due time that was: the
	// wait for Tick (by Tick's clock), plus the wait in the writer.
	LastDelivery   time.Time
	LatenessMillis int64
	InFlight       int
	// Delivered counts messages put back; Retries the passes that found
	// the store busy or a put failed, and waited DelayForAWhile (of
	// them, BusyBackoffs because the page cache was busy); PassedOver
	// the entries skipped because their record is gone or names no real
	// topic.
	Delivered, Retries, BusyBackoffs, PassedOver uint64
	// LastError is the last failure; RetryAt when the level goes on.
	LastError string
	RetryAt   time.Time
}

// Inspect describes every level, for the actor tree and the metrics. It
// takes no lock a pass or the writer holds (only atomics and the store's
// queue ends), so it is cheap from any goroutine; its figures are each
// current, not one consistent instant.
func (s *ScheduleMessageService) Inspect() []LevelStats {
	out := make([]LevelStats, 0, len(s.levels))
	for _, lv := range s.levels {
		out = append(out, lv.stats())
	}
	return out
}

func (lv *delayLevel) stats() LevelStats {
	hi := lv.s.store.MaxOffsetInQueue(metadata.RMQSysScheduleTopic, lv.queueID)
	off := lv.offset.Load()
	st := LevelStats{
		Level: lv.level, QueueID: lv.queueID, Delay: time.Duration(lv.delay) * time.Millisecond,
		Offset: off, MaxOffset: hi, Waiting: max(0, hi-off),
		NextDue: unixMilli(lv.nextDue.Load()), HeadDue: unixMilli(lv.headDue.Load()),
		LastDelivery: unixMilli(lv.lastDelivery.Load()), LatenessMillis: lv.lateness.Load(),
		InFlight:  int(lv.inFlight.Load()),
		Delivered: lv.delivered.Load(), Retries: lv.retries.Load(), BusyBackoffs: lv.busyBackoffs.Load(),
		PassedOver: lv.passedOver.Load(),
	}
	if st.Waiting == 0 {
		st.HeadDue = time.Time{} // what the last pass saw is delivered
	}
	if e := lv.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	if ns := lv.retryAt.Load(); ns > 0 {
		st.RetryAt = time.Unix(0, ns)
	}
	return st
}

// unixMilli is the zero time for 0.
func unixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// BuildRunningStats is ScheduleMessageService#buildRunningStats for a
// GET_BROKER_RUNTIME_INFO table: scheduleMessageOffset_<level> =
// "<offset>,<maxOffset>" (String.format("%d,%d", delayOffset, maxOffset)).
// RocketMQ lists the levels of its offset table — those delayOffset.json
// had, or that delivered something; here also the levels holding
// messages that none was delivered from yet, so that waiting messages
// show. Levels delayOffset.json has that messageDelayLevel no longer has
// are listed too, as RocketMQ's table keeps them.
func (s *ScheduleMessageService) BuildRunningStats(stats map[string]string) {
	for _, lv := range s.levels {
		off := lv.offset.Load()
		hi := s.store.MaxOffsetInQueue(metadata.RMQSysScheduleTopic, lv.queueID)
		if off == 0 && hi == 0 && !lv.loaded {
			continue
		}
		stats[runningStatsKey(lv.level)] = strconv.FormatInt(off, 10) + "," + strconv.FormatInt(hi, 10)
	}
	for level, off := range s.other {
		hi := s.store.MaxOffsetInQueue(metadata.RMQSysScheduleTopic, QueueID(level))
		stats[runningStatsKey(level)] = strconv.FormatInt(off, 10) + "," + strconv.FormatInt(hi, 10)
	}
}

// runningStatsKey is RunningStats.scheduleMessageOffset's key for a level.
func runningStatsKey(level int32) string {
	return "scheduleMessageOffset_" + strconv.Itoa(int(level))
}
