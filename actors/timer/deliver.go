package timer

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/schedule"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/commitlog/timer"
	"github.com/sluice-mq/sluice/remoting/message"
)

// deliverJob is one due message on its way back to its real topic.
type deliverJob struct {
	actors.AppendJob
	s    *TimerMessageStore
	due  int64 // ms: the end of its slot's tick
	sent int64 // ms, by Tick's clock
	ok   bool
	buf  []byte
}

func (s *TimerMessageStore) job(i int) *deliverJob {
	if i < len(s.jobs) {
		j := s.jobs[i]
		j.ok = false
		return j
	}
	j := &deliverJob{s: s}
	j.Done = j.done
	// Only jobs with a request are taken back by the fast-failure sweep;
	// if this one were, the put did not happen and is retried.
	j.Cancelled = func(*actors.AppendJob) { j.finish(false, 0, "taken back from the writer before the put") }
	s.jobs = append(s.jobs, j)
	return j
}

func (j *deliverJob) done(*actors.AppendJob) {
	res := j.Put.Result
	if res.Status == commitlog.PutOK {
		j.finish(true, res.StoreTimestamp, "")
		return
	}
	// FLUSH_DISK_TIMEOUT too: RocketMQ's doPut retries it (a duplicate,
	// never a loss).
	failure := "put " + res.Status.String()
	if res.Err != nil {
		failure += ": " + res.Err.Error()
	}
	j.finish(false, 0, failure)
}

// finish records one put's outcome. The batch's last one wakes the broker.
func (j *deliverJob) finish(ok bool, storeTS int64, failure string) {
	s := j.s
	if cap(j.buf) > keepBufferBytes && ok {
		j.buf, j.Put.Records = nil, nil
	}
	s.mu.Lock()
	if ok {
		j.ok = true
		s.stats.Delivered++
		s.stats.LastDelivery = time.UnixMilli(storeTS)
		s.stats.LatenessMillis = j.sent - j.due
		s.lateness.observe(j.sent - j.due)
	} else {
		s.failed++
		s.lastErr = failure
	}
	s.inFlight--
	last := s.inFlight == 0
	s.mu.Unlock()
	s.pending.Done()
	if last && s.cfg.Wake != nil && !s.stopped.Load() {
		s.cfg.Wake()
	}
}

// dequeue is TimerDequeueGetService + the put services: slots whose tick
// is over are read, newest unit first; a roll unit is indexed again, any
// other becomes a put of the real message, handed to the writer at once.
// One batch is in the writer at a time (the next starts once all of its
// puts answered); a slot is done (and the read time moves past it) only once every
// put of it answered PutOK, so the checkpoint never claims an undelivered
// message. Failed puts are tried again after retryAfter, as they were. It
// reports whether due work is left. Under tickMu.
func (s *TimerMessageStore) dequeue(now time.Time) bool {
	nowMs := now.UnixMilli()
	s.mu.Lock()
	if s.inFlight > 0 {
		s.mu.Unlock()
		return false
	}
	if s.failed > 0 {
		if s.retryAt.IsZero() {
			s.retryAt = now.Add(retryAfter)
			s.stats.Retries++
			s.logRetry(now)
		}
		if now.Before(s.retryAt) {
			s.mu.Unlock()
			return false
		}
		if st := s.store.CheckStoreStatus(); st != commitlog.PutOK {
			s.retryAt = now.Add(retryAfter)
			s.stats.Retries++
			s.stats.BusyBackoffs++
			s.lastErr = "store " + st.String()
			s.mu.Unlock()
			return false
		}
		// The failed puts go again, as encoded.
		var todo []*deliverJob
		for _, j := range s.jobs[:s.failedBatch] {
			if !j.ok {
				todo = append(todo, j)
			}
		}
		s.failed, s.retryAt = 0, time.Time{}
		s.submit(todo)
		return false
	}
	if !s.retryAt.IsZero() && now.Before(s.retryAt) {
		s.mu.Unlock()
		return false
	}
	s.retryAt = time.Time{}
	s.mu.Unlock()
	if st := s.store.CheckStoreStatus(); st != commitlog.PutOK && (s.inSlot || s.ix.Due(nowMs)) {
		s.mu.Lock()
		s.stats.BusyBackoffs++
		s.mu.Unlock()
		s.retryLater(now, "store "+st.String())
		return false
	}

	p := s.cfg.PrecisionMs
	n, bytes := 0, 0
	for n < s.cfg.BatchSize && bytes < batchBytes {
		if !s.inSlot {
			if s.ix.Pending() == 0 {
				s.ix.SkipTo(nowMs) // nothing to read on the way
			}
			if !s.ix.Due(nowMs) {
				break
			}
			s.cursor = s.ix.BeginSlot()
			s.inSlot = true
		}
		if s.cursor.Done() {
			s.ix.EndSlot()
			s.inSlot = false
			continue
		}
		before := s.cursor
		u, err := s.ix.Next(&s.cursor)
		if err != nil {
			if errors.Is(err, timer.ErrChainDamaged) {
				s.log.Error().Err(err).Msg("timer log damaged")
				continue
			}
			s.cursor = before
			s.retryLater(now, err.Error())
			break
		}
		if u.Roll() {
			if err := s.ix.Reroll(u); err != nil {
				s.cursor = before
				s.retryLater(now, "re-index a rolled message: "+err.Error())
				break
			}
			s.mu.Lock()
			s.stats.Rolled++
			s.mu.Unlock()
			continue
		}
		j := s.job(n)
		if err := s.messageTimeup(j, &u, nowMs); err != nil {
			var pass *passOverError
			if !errors.As(err, &pass) {
				s.cursor = before
				s.retryLater(now, err.Error())
				break
			}
			s.log.Error().Int64("queueOffset", u.QueueOffset).Int64("commitLogOffset", u.OffsetPy).Str("reason", pass.reason).
				Msg("timer message passed over")
			s.mu.Lock()
			s.stats.PassedOver++
			s.mu.Unlock()
			continue
		}
		j.due = u.SlotMs + p
		n++
		bytes += len(j.buf)
		// Handed over at once, so the writer stores this batch while the
		// rest of it is read; the writer's window paces the loop.
		s.mu.Lock()
		s.inFlight++
		s.failedBatch = n
		s.mu.Unlock()
		s.pending.Add(1)
		if !s.writer.Submit(&j.AppendJob, s.stop) {
			j.finish(false, 0, "stopped before the put")
			break
		}
	}
	return n > 0
}

// submit hands jobs to the writer; called with s.mu held, it releases it.
func (s *TimerMessageStore) submit(jobs []*deliverJob) {
	s.inFlight = len(jobs)
	s.mu.Unlock()
	s.pending.Add(len(jobs))
	for i, j := range jobs {
		if !s.writer.Submit(&j.AppendJob, s.stop) {
			for _, k := range jobs[i:] {
				k.finish(false, 0, "stopped before the put")
			}
			return
		}
	}
}

// retryLater makes delivery wait retryAfter. Under tickMu.
func (s *TimerMessageStore) retryLater(now time.Time, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAt = now.Add(retryAfter)
	s.stats.Retries++
	s.lastErr = reason
	s.logRetry(now)
}

// logRetry logs at most once per retryLogEvery. Under s.mu.
func (s *TimerMessageStore) logRetry(now time.Time) {
	if now.Sub(s.lastLog) < retryLogEvery {
		return
	}
	s.lastLog = now
	s.log.Warn().Int64("readTimeMs", s.ix.ReadMs()).Str("reason", s.lastErr).Uint64("retries", s.stats.Retries).
		Msg("timer messages not delivered yet; trying again in 100 ms")
}

// messageTimeup is TimerMessageStore#convert + #convertMessage: the real
// message rebuilt from the parked record — topic REAL_TOPIC, queue
// REAL_QID (both then cleared: Java clears them after encoding the
// properties, so its delivered messages still carry them; what Java
// means is followed here, as the schedule service does with DELAY),
// TIMER_ENQUEUE_MS (when it was indexed; Long.MAX_VALUE if it was already
// late) and TIMER_DEQUEUE_MS (now) set, TIMER_ROLL_TIMES counting its
// rolls, TIMER_OUT_MS, UNIQ_KEY and every other property kept; body, flag,
// sysFlag, born and store hosts, born timestamp and reconsume times as
// stored.
func (s *TimerMessageStore) messageTimeup(j *deliverJob, u *timer.Unit, nowMs int64) error {
	msg, err := s.parked(u.OffsetPy)
	if err != nil {
		return err
	}
	topic, qid, reason := schedule.RealDestination(msg.Properties)
	if reason != "" {
		return &passOverError{reason}
	}
	props := msg.Properties
	props = message.Set(props, PropertyTimerEnqueueMS, strconv.FormatInt(u.EnqueueMs, 10))
	if u.Rolls > 0 {
		rolls := int64(u.Rolls)
		if v, ok := message.Lookup(props, PropertyTimerRollTimes); ok {
			if n, err := strconv.ParseInt(v, 10, 32); err == nil {
				rolls += n
			}
		}
		props = message.Set(props, PropertyTimerRollTimes, strconv.FormatInt(rolls, 10))
	}
	props = message.Set(props, PropertyTimerDequeueMS, strconv.FormatInt(nowMs, 10))
	props = message.Delete(props, message.PropertyRealTopic)
	props = message.Delete(props, message.PropertyRealQueueID)
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
		Properties:     props,
	}
	// The store checks the body against maxMessageSize; it was stored once.
	if j.buf, err = commitlog.AppendRecordLimit(j.buf[:0], &m, math.MaxInt32); err != nil {
		return &passOverError{fmt.Sprintf("encode the message of the record at %d: %v", u.OffsetPy, err)}
	}
	j.Put = commitlog.PutRequest{Topic: topic, QueueID: qid, Records: j.buf, Count: 1}
	j.sent = nowMs
	return nil
}
