package schedule

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting/message"
)

// A level's batch ends at BatchSize messages or once its records reach
// batchBytes, so that big messages do not multiply the memory a level
// holds; buffers above keepBufferBytes are not kept for the next batch.
const (
	batchBytes      = 1 << 20
	keepBufferBytes = 1 << 20
)

// deliverJob is one due message on its way back to its real topic: the
// writer's job, and which entry of its level it delivers.
type deliverJob struct {
	actors.AppendJob
	lv          *delayLevel
	queueOffset int64
	due         int64 // ms
	sent        int64 // ms, by Tick's clock
	submitted   int64 // ms, by the wall clock the store stamps records with
	buf         []byte
}

// job returns the level's i-th reusable job.
func (lv *delayLevel) job(i int) *deliverJob {
	if i < len(lv.jobs) {
		return lv.jobs[i]
	}
	j := &deliverJob{lv: lv}
	j.Done = j.done
	// The fast-failure sweep takes back only jobs with a request to answer,
	// so this does not happen; if it did, the put simply did not happen.
	j.Cancelled = func(*actors.AppendJob) { j.finish(false, false, 0, "taken back from the writer before the put") }
	lv.jobs = append(lv.jobs, j)
	return j
}

// done runs after the put (actors.AppendJob.Done: the writer's goroutine,
// or the group-commit one under SYNC_FLUSH; one at a time, in order).
func (j *deliverJob) done(*actors.AppendJob) {
	res := j.Put.Result
	if res.Status == commitlog.PutOK {
		j.finish(true, false, res.StoreTimestamp, "")
		return
	}
	// FLUSH_DISK_TIMEOUT too: RocketMQ's delivery wants PUT_OK, so the
	// message is put again (a duplicate, never a loss).
	failure := "put " + res.Status.String()
	if res.Err != nil {
		failure += ": " + res.Err.Error()
	}
	j.finish(false, res.Status == commitlog.PutOSPageCacheBusy, 0, failure)
}

// finish records one put's outcome; the level's offset moves only past
// delivered entries. The last job of a batch wakes the broker's actor.
func (j *deliverJob) finish(ok, busy bool, storeTS int64, failure string) {
	lv := j.lv
	s := lv.s
	if cap(j.buf) > keepBufferBytes {
		j.buf, j.Put.Records = nil, nil // don't pin a rare big message's buffer
	}
	lv.mu.Lock()
	if ok {
		lv.complete(j.queueOffset)
		lv.delivered.Add(1)
		lv.lastDelivery.Store(storeTS)
		// Tick's wait (by its clock, which tests set) plus the writer's.
		late := max(0, j.sent-j.due) + max(0, storeTS-j.submitted)
		lv.lateness.Store(late)
		s.lateness.observe(late)
	} else {
		lv.failures++
		lv.busyFail = lv.busyFail || busy
		lv.lastErr.Store(&failure)
	}
	last := lv.inFlight.Add(-1) == 0
	lv.mu.Unlock()
	// j is the level's again from here on (Tick reuses it once inFlight is 0).
	s.pending.Done()
	if last && s.cfg.Wake != nil && !s.stopped.Load() {
		s.cfg.Wake()
	}
}

// complete marks the entry at qoff delivered (or passed over), moving the
// offset over it and over the entries delivered ahead of it. Under lv.mu.
func (lv *delayLevel) complete(qoff int64) {
	off := lv.offset.Load()
	if qoff != off {
		if qoff > off {
			lv.ahead[qoff] = struct{}{}
		}
		return
	}
	off++
	for {
		if _, ok := lv.ahead[off]; !ok {
			break
		}
		delete(lv.ahead, off)
		off++
	}
	lv.offset.Store(off)
	lv.s.version.Add(1)
}

// passOver skips an entry nothing can deliver. Under lv.mu.
func (lv *delayLevel) passOver(qoff int64) {
	lv.passedOver.Add(1)
	lv.complete(qoff)
}

// retryLater makes the level wait DelayForAWhile (RocketMQ's
// scheduleNextTimerTask(offset, DELAY_FOR_A_WHILE) after a failed
// delivery), logging at most once per retryLogEvery. busy says the page
// cache was busy: the back-off flow control asks for, counted apart from
// failures. Under lv.mu.
func (s *ScheduleMessageService) retryLater(lv *delayLevel, now time.Time, reason string, busy bool) {
	lv.retryAt.Store(now.Add(DelayForAWhile).UnixNano())
	retries := lv.retries.Add(1)
	if busy {
		lv.busyBackoffs.Add(1)
	}
	lv.lastErr.Store(&reason)
	if now.Sub(lv.lastLog) < retryLogEvery {
		return
	}
	lv.lastLog = now
	s.log.Warn().Int32("level", lv.level).Int64("offset", lv.offset.Load()).Str("reason", reason).Uint64("retries", retries).
		Msg("delayed messages not delivered yet; trying again in 100 ms")
}

// correctDeliverTimestamp is DeliverDelayedMessageTimerTask's: a delivery
// time further away than the level's delay (the clock went back, or the
// levels shrank) is taken as now.
func correctDeliverTimestamp(now, deliverTimestamp, delay int64) int64 {
	if deliverTimestamp > now+delay {
		return now
	}
	return deliverTimestamp
}

// executeOnTimeup is DeliverDelayedMessageTimerTask#executeOnTimeup for one
// level: from its offset, every due entry's message is rebuilt and the
// batch handed to the writer; the first entry not yet due ends the pass.
func (s *ScheduleMessageService) executeOnTimeup(lv *delayLevel, now time.Time) {
	lv.mu.Lock()
	if lv.inFlight.Load() > 0 {
		lv.mu.Unlock()
		return
	}
	if lv.failures > 0 {
		lv.failures = 0
		reason := ""
		if e := lv.lastErr.Load(); e != nil {
			reason = *e
		}
		s.retryLater(lv, now, reason, lv.busyFail)
		lv.busyFail = false
	}
	if now.UnixNano() < lv.retryAt.Load() {
		lv.mu.Unlock()
		return
	}
	s.correctDelayOffset(lv)
	hi := s.store.MaxOffsetInQueue(metadata.RMQSysScheduleTopic, lv.queueID)
	var nextDue, headDue int64
	nowMs := now.UnixMilli()
	batch := s.cfg.BatchSize
	jobs, bytes := 0, 0
	next := lv.offset.Load()
scan:
	for jobs < batch && bytes < batchBytes && next < hi {
		s.entries = s.store.ReadQueueEntries(metadata.RMQSysScheduleTopic, lv.queueID, next, batch-jobs+len(lv.ahead), s.entries[:0])
		if len(s.entries) == 0 {
			break
		}
		for _, e := range s.entries {
			next = e.QueueOffset + 1
			if _, done := lv.ahead[e.QueueOffset]; done {
				continue
			}
			if e.Size == 0 { // a hole left by a skipped corrupt region
				lv.passOver(e.QueueOffset)
				continue
			}
			due := correctDeliverTimestamp(nowMs, e.TagsCode, lv.delay)
			if headDue == 0 {
				headDue = due
			}
			if due > nowMs {
				nextDue = due
				break scan
			}
			j := lv.job(jobs)
			if err := s.messageTimeup(j, e, due, nowMs); err != nil {
				var pass *passOverError
				if !errors.As(err, &pass) {
					s.retryLater(lv, now, err.Error(), false)
					break scan
				}
				s.log.Error().Int32("level", lv.level).Int64("queueOffset", e.QueueOffset).Int64("commitLogOffset", e.PhysicalOffset).
					Str("reason", pass.reason).Msg("delayed message passed over")
				lv.passOver(e.QueueOffset)
				continue
			}
			jobs++
			bytes += len(j.buf)
			if jobs == batch || bytes >= batchBytes {
				break scan
			}
		}
	}
	lv.nextDue.Store(nextDue)
	if headDue != 0 || next >= hi {
		// Unchanged when the pass ended before it saw an entry (a
		// failed read): the head is still the one last seen.
		lv.headDue.Store(headDue)
	}
	if jobs == 0 {
		lv.mu.Unlock()
		return
	}
	// The store-level check a send makes before the writer
	// (PC_SYNCHRONIZED): a busy page cache or a full disk would only fail
	// the puts; wait instead.
	if st := s.store.CheckStoreStatus(); st != commitlog.PutOK {
		s.retryLater(lv, now, "store "+st.String(), st == commitlog.PutOSPageCacheBusy)
		lv.mu.Unlock()
		return
	}
	lv.inFlight.Store(int32(jobs))
	todo := lv.jobs[:jobs]
	lv.mu.Unlock()
	s.pending.Add(jobs)
	for i, j := range todo {
		if !s.writer.Submit(&j.AppendJob, s.stop) {
			// Stopping: the rest never reach the writer.
			for _, k := range todo[i:] {
				k.finish(false, false, 0, "stopped before the put")
			}
			return
		}
	}
}

// passOverError is an entry nothing can deliver.
type passOverError struct{ reason string }

func (e *passOverError) Error() string { return e.reason }

// messageTimeup is ScheduleMessageService#messageTimeup: it rebuilds the
// real message from the parked record — topic REAL_TOPIC, queue REAL_QID,
// DELAY removed (Java clears it after it has encoded the properties, so
// its delivered messages still carry it; what Java means is followed
// here), body, flag, sysFlag, born and store hosts, born timestamp,
// reconsume times and every other property (UNIQ_KEY, REAL_TOPIC,
// REAL_QID, CLUSTER …) kept — and encodes it into j.
func (s *ScheduleMessageService) messageTimeup(j *deliverJob, e commitlog.QueueEntry, due, now int64) error {
	rec, err := s.store.LookMessageByOffset(e.PhysicalOffset)
	if err != nil {
		if e.PhysicalOffset < s.store.MinPhyOffset() {
			return &passOverError{"its record was deleted by retention before it was due"}
		}
		return fmt.Errorf("look message by offset %d: %w", e.PhysicalOffset, err)
	}
	msg, err := commitlog.DecodeRecord(rec)
	if err != nil {
		return fmt.Errorf("decode the record at %d: %w", e.PhysicalOffset, err)
	}
	topic, qid, reason := RealDestination(msg.Properties)
	if reason != "" {
		return &passOverError{reason}
	}
	m := commitlog.Message{
		Topic:          topic,
		QueueID:        qid,
		Flag:           msg.Flag,
		SysFlag:        msg.SysFlag,
		BornTimestamp:  msg.BornTimestamp,
		BornHost:       msg.BornHost,
		StoreHost:      msg.StoreHost,
		ReconsumeTimes: msg.ReconsumeTimes,
		Body:           msg.Body,
		Properties:     message.Delete(msg.Properties, message.PropertyDelayTimeLevel),
	}
	// The store checks the body against maxMessageSize; it was stored once.
	if j.buf, err = commitlog.AppendRecordLimit(j.buf[:0], &m, math.MaxInt32); err != nil {
		return fmt.Errorf("encode the message of the record at %d: %w", e.PhysicalOffset, err)
	}
	j.Put = commitlog.PutRequest{Topic: topic, QueueID: qid, Records: j.buf, Count: 1}
	j.queueOffset, j.due, j.sent = e.QueueOffset, due, now
	j.submitted = time.Now().UnixMilli()
	return nil
}
