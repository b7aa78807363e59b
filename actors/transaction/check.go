package transaction

import (
	"encoding/binary"
	"strconv"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// maxProcessTime is TransactionalMessageServiceImpl's MAX_PROCESS_TIME_LIMIT:
// one round stops after it and the next goes on from there.
const maxProcessTime = 60 * time.Second

// putTimeout bounds the check's wait for one append; past it the round
// stops and the job is never reused.
const putTimeout = 10 * time.Second

// Offsets in a stored record (commitlog/doc.go, RocketMQ's layout) that
// the check rewrites in the copy it sends to a producer.
const (
	recQueueOffset = 20
	recPhysOffset  = 28
	recSysFlag     = 36
	recBornHost    = 48
)

// checkState is the check's reusable append: the check runs on one
// goroutine (the supervisor's actor) and waits for each of its appends.
type checkState struct {
	job   *actors.AppendJob
	done  chan struct{}
	buf   []byte
	props []byte
	// unsent are the groups a check found no producer for this round (a
	// few, for the round's log line).
	unsent map[string]int
}

// checkChannel is what the check needs of a producer's connection
// (*actors.Connection).
type checkChannel interface {
	Send(*remoting.Command) error
	Closed() bool
}

// Check is one round of TransactionalMessageServiceImpl#check over queue 0
// of the half topic, from where the last round stopped: decided half
// messages are passed; an undecided one older than transactionTimeOut (or
// its CHECK_IMMUNITY_TIME_IN_SECONDS) is re-put with TRANSACTION_CHECK_TIMES
// raised and CHECK_TRANSACTION_STATE sent about the copy to a producer of
// its group; one checked transactionCheckMax times, or born longer ago than
// fileReservedTime, goes to TRANS_CHECK_MAX_TIME_TOPIC. The round stops at
// the first half message too young to check, at one stored since it began
// (its own copies among them), at one whose decision is being stored, or
// after a minute. The progress is committed as group CID_RMQ_SYS_TRANS's
// consumer offsets, as RocketMQ keeps it.
func (s *Service) Check(now time.Time) {
	if !s.ready.Load() || s.stopping() {
		return
	}
	s.stats.rounds.Add(1)
	s.lastRound.Store(now.UnixMilli())
	s.ensureTopic(HalfTopic)
	start := now.UnixMilli()
	minOff, maxOff := s.store.MinOffsetInQueue(HalfTopic, 0), s.store.MaxOffsetInQueue(HalfTopic, 0)
	from := min(max(s.halfBase.Load(), minOff), maxOff)
	i := from
	sent, discarded := s.stats.checksSent.Load(), s.stats.discarded.Load()
	clear(s.check.unsent)
scan:
	for {
		if time.Since(now) > maxProcessTime || s.stopping() {
			break
		}
		res := s.store.GetMessage(HalfTopic, 0, i, 32, nil)
		switch res.Status {
		case commitlog.Found:
		case commitlog.NoMessageInQueue, commitlog.OffsetOverflowOne:
			break scan
		default:
			// Offsets gone (retention) or a hole: go on from where the
			// store says, as Java does for an illegal offset.
			if res.NextBeginOffset <= i {
				break scan
			}
			i = res.NextBeginOffset
			continue
		}
		for _, rec := range res.Messages {
			m, err := commitlog.DecodeRecord(rec)
			if err != nil {
				s.log.Error().Err(err).Int64("halfOffset", i).Msg("half message unreadable; skipped")
				if len(rec) >= recQueueOffset+8 {
					i = int64(binary.BigEndian.Uint64(rec[recQueueOffset:])) + 1
				}
				continue
			}
			if s.checkOne(&m, start) {
				i = m.QueueOffset
				break scan
			}
			i = m.QueueOffset + 1
		}
		i = max(i, res.NextBeginOffset)
	}
	s.advanceHalf(i)
	s.advanceOps(s.halfBase.Load())
	ev := s.log.Debug()
	if d := s.stats.checksSent.Load() - sent + s.stats.discarded.Load() - discarded; d > 0 || len(s.check.unsent) > 0 {
		ev = s.log.Info()
	}
	ev = ev.Int64("from", from).Int64("to", s.halfBase.Load()).Int64("opOffset", s.opBase.Load()).
		Uint64("checksSent", s.stats.checksSent.Load()-sent).Uint64("discarded", s.stats.discarded.Load()-discarded).
		Dur("took", time.Since(now))
	if len(s.check.unsent) > 0 {
		ev = ev.Interface("noProducerForGroup", s.check.unsent)
	}
	ev.Msg("transaction check round")
}

// checkOne handles one half message; it reports whether the round stops
// at it.
func (s *Service) checkOne(m *commitlog.StoredMessage, start int64) (stop bool) {
	o := originOf(m)
	st, tracked, inflight := s.table.lookup(o)
	switch {
	case inflight:
		return true
	case !tracked:
		return !s.discard(m, o, "its decision is no longer tracked (more than "+strconv.Itoa(maxTracked)+" half messages since)")
	case st != undecided:
		return false
	}
	now := time.Now().UnixMilli()
	times, hasTimes := checkTimes(m.Properties)
	if hasTimes && times >= s.cfg.TransactionCheckMax {
		return !s.discard(m, o, "checked "+strconv.Itoa(times)+" times (transactionCheckMax "+strconv.Itoa(s.cfg.TransactionCheckMax)+")")
	}
	if age := now - m.BornTimestamp; age > s.cfg.FileReservedTime.Milliseconds() {
		return !s.discard(m, o, "born longer ago than fileReservedTime")
	}
	if m.StoreTimestamp >= start {
		return true // stored since the round began: the next round sees it
	}
	age := now - m.BornTimestamp
	timeout := s.cfg.TransactionTimeOut.Milliseconds()
	if v, ok := message.Lookup(m.Properties, message.PropertyCheckImmunityTimeInSeconds); ok {
		immunity := timeout
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n != -1 {
			immunity = n * 1000
		}
		if age < immunity {
			// Not yet: a copy keeps it ahead of the round (RocketMQ's
			// putImmunityMsgBackToHalfQueue), and no check is counted.
			if _, ok := s.reput(m, o, times, hasTimes); !ok {
				return true
			}
			s.stats.immunityPuts.Add(1)
			return false
		}
	} else if age >= 0 && age < timeout {
		return true
	}
	next := 1
	if hasTimes {
		next = times + 1
	}
	res, ok := s.reput(m, o, next, true)
	if !ok {
		return true
	}
	s.sendCheck(res)
	return false
}

// checkTimes reads TRANSACTION_CHECK_TIMES (Java's getInt: unreadable is -1).
func checkTimes(props string) (int, bool) {
	v, ok := message.Lookup(props, message.PropertyTransactionCheckTimes)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1, true
	}
	return n, true
}

// reputResult is a copy the check stored.
type reputResult struct {
	msg commitlog.Message
	res commitlog.PutResult
}

// reput is putBackToHalfQueueReturnResult (renewHalfMessageInner): a copy of
// m at the end of the half queue, naming its original and, when setTimes,
// carrying TRANSACTION_CHECK_TIMES = times. RocketMQ's copy loses the flag
// and the reconsume times; this one keeps them.
func (s *Service) reput(m *commitlog.StoredMessage, origin int64, times int, setTimes bool) (reputResult, bool) {
	cs := &s.check
	cs.props = appendPropertiesWithout(cs.props[:0], m.Properties,
		message.PropertyTransactionCheckTimes, message.PropertyTransactionPreparedQOffset)
	if setTimes {
		cs.props = message.Append(cs.props, message.PropertyTransactionCheckTimes, strconv.Itoa(times))
	}
	cs.props = message.Append(cs.props, message.PropertyTransactionPreparedQOffset, strconv.FormatInt(origin, 10))
	r := reputResult{msg: commitlog.Message{
		Topic: HalfTopic, QueueID: m.QueueID, Flag: m.Flag, SysFlag: m.SysFlag,
		BornTimestamp: m.BornTimestamp, BornHost: m.BornHost, StoreHost: m.StoreHost,
		ReconsumeTimes: m.ReconsumeTimes, Body: m.Body,
		// A string of its own: sendCheck needs it after the next put reuses
		// the scratch.
		Properties: string(cs.props),
	}}
	res, ok := s.putSync(&r.msg)
	if !ok {
		s.log.Error().Stringer("status", res.Status).Err(res.Err).Int64("halfOffset", m.QueueOffset).
			Msg("PutBackToHalfQueueReturnResult write failed; the next round tries again")
		return r, false
	}
	r.res = res
	s.table.addReput(res.QueueOffset, origin)
	return r, true
}

// sendCheck is sendCheckMessage and Broker2Client#checkProducerTransactionState:
// CHECK_TRANSACTION_STATE, one-way, about the copy just stored, with the
// copy as body as the producer's topic and queue (MessageDecoder#encode of
// the message with REAL_TOPIC and REAL_QID), to the producer of the
// message's group heard from last, or, when its connection is gone, to
// another one of the group.
func (s *Service) sendCheck(r reputResult) {
	m := r.msg
	group := message.Get(m.Properties, message.PropertyProducerGroup)
	m.Topic = message.Get(m.Properties, message.PropertyRealTopic)
	qid, _ := strconv.Atoi(message.Get(m.Properties, message.PropertyRealQueueID))
	m.QueueID = int32(qid)
	body, err := commitlog.AppendRecordLimit(nil, &m, s.id.MaxMessageSize)
	if err != nil || m.Topic == "" {
		s.log.Error().Err(err).Int64("halfOffset", r.res.QueueOffset).Msg("check message not encoded")
		return
	}
	be := binary.BigEndian
	be.PutUint64(body[recQueueOffset:], uint64(r.res.QueueOffset))
	be.PutUint64(body[recPhysOffset:], uint64(r.res.WroteOffset))
	bornLen := 8
	if int32(be.Uint32(body[recSysFlag:]))&commitlog.SysFlagBornHostV6 != 0 {
		bornLen = 20
	}
	be.PutUint64(body[recBornHost+bornLen:], uint64(r.res.StoreTimestamp))
	uniq := transactionID(m.Properties)
	hdr := remoting.CheckTransactionStateRequestHeader{
		TranStateTableOffset: r.res.QueueOffset,
		CommitLogOffset:      r.res.WroteOffset,
		MsgID:                uniq,
		TransactionID:        uniq,
		OffsetMsgID:          message.OffsetMsgID(s.id.StoreHost, r.res.WroteOffset),
	}
	tried := ""
	if ch, ok := s.meta.Producers.AvailableChannel(group); ok {
		if s.sendTo(ch, &hdr, body) {
			return
		}
		tried = ch.ID()
	}
	for _, ch := range s.meta.Producers.ChannelsOf(group) {
		if ch.ID() != tried && s.sendTo(ch, &hdr, body) {
			return
		}
	}
	// As in RocketMQ the copy stays, counted as checked: the next round
	// asks again.
	s.stats.checksUnsent.Add(1)
	if s.check.unsent == nil {
		s.check.unsent = make(map[string]int)
	}
	if _, ok := s.check.unsent[group]; ok || len(s.check.unsent) < 16 {
		s.check.unsent[group]++
	}
}

func (s *Service) sendTo(ch metadata.Channel, hdr *remoting.CheckTransactionStateRequestHeader, body []byte) bool {
	c, ok := ch.(checkChannel)
	if !ok || c.Closed() {
		return false
	}
	cmd := remoting.NewRequest(remoting.CheckTransactionState, nil, body)
	hdr.Encode(cmd)
	cmd.Flag |= remoting.FlagOneway
	cmd.Opaque = s.opaque.Add(1)
	if err := c.Send(cmd); err != nil {
		s.log.Warn().Err(err).Str("channel", ch.ID()).Msg("check transaction state not sent; trying another producer of the group")
		return false
	}
	s.stats.checksSent.Add(1)
	return true
}

// discard is DefaultTransactionalMessageCheckListener#resolveDiscardMsg: the
// half message goes to TRANS_CHECK_MAX_TIME_TOPIC (1 queue) and its
// original is closed. It reports whether it was stored.
func (s *Service) discard(m *commitlog.StoredMessage, origin int64, why string) bool {
	s.ensureTopic(CheckMaxTimeTopic)
	d := commitlog.Message{
		Topic: CheckMaxTimeTopic, QueueID: 0, Flag: m.Flag, SysFlag: m.SysFlag,
		BornTimestamp: m.BornTimestamp, BornHost: m.BornHost, StoreHost: m.StoreHost,
		ReconsumeTimes: m.ReconsumeTimes, Body: m.Body, Properties: m.Properties,
	}
	res, ok := s.putSync(&d)
	if !ok {
		s.log.Error().Stringer("status", res.Status).Err(res.Err).Int64("halfOffset", m.QueueOffset).
			Msg("Put checked-too-many-time half message to TRANS_CHECK_MAX_TIME_TOPIC failed; the next round tries again")
		return false
	}
	s.table.set(origin, closed)
	s.stats.discarded.Add(1)
	s.log.Warn().Int64("halfOffset", m.QueueOffset).Int64("originalOffset", origin).
		Str("msgId", transactionID(m.Properties)).Str("producerGroup", message.Get(m.Properties, message.PropertyProducerGroup)).
		Str("realTopic", message.Get(m.Properties, message.PropertyRealTopic)).Str("reason", why).
		Int64("storedAt", res.QueueOffset).
		Msg("half message discarded to system topic " + CheckMaxTimeTopic + " without a decision")
	return true
}

// putSync appends one record through the writer and waits for it.
func (s *Service) putSync(m *commitlog.Message) (commitlog.PutResult, bool) {
	cs := &s.check
	if cs.job == nil {
		done := make(chan struct{}, 1)
		cs.done = done
		cs.job = &actors.AppendJob{Done: func(*actors.AppendJob) { done <- struct{}{} }}
	}
	var err error
	cs.buf, err = commitlog.AppendRecordLimit(cs.buf[:0], m, s.id.MaxMessageSize)
	if err != nil {
		return commitlog.PutResult{Status: commitlog.PutMessageIllegal, Err: err}, false
	}
	cs.job.Put = commitlog.PutRequest{Topic: m.Topic, QueueID: m.QueueID, Records: cs.buf, Count: 1}
	if !s.writer.Submit(cs.job, s.quit) {
		return commitlog.PutResult{Status: commitlog.PutServiceNotAvailable}, false
	}
	t := time.NewTimer(putTimeout)
	defer t.Stop()
	select {
	case <-cs.done:
	case <-t.C:
		// The writer still holds the job and its buffer: never reuse them.
		cs.job, cs.buf = nil, nil
		return commitlog.PutResult{Status: commitlog.PutUnknownError}, false
	}
	res := cs.job.Put.Result
	return res, res.Status.Stored()
}

// ensureTopic creates one of the transaction system topics with one queue,
// as TransactionalMessageBridge#selectTopicConfig and
// createTopicOfTranCheckMaxTime do.
func (s *Service) ensureTopic(topic string) {
	if _, ok := s.meta.Topics.Select(topic); ok {
		return
	}
	if _, _, err := s.meta.Topics.CreateTopicInSendMessageBackMethod(topic, 1, metadata.PermRead|metadata.PermWrite, 0); err != nil {
		s.log.Warn().Err(err).Str("topic", topic).Msg("transaction system topic not created")
	}
}

// advanceHalf records the half queue's progress (updateConsumeOffset) and
// moves the decision table's floor after it.
func (s *Service) advanceHalf(i int64) {
	if i != s.halfBase.Load() {
		s.halfBase.Store(i)
		s.meta.Offsets.CommitOffset(ConsumerGroup, HalfTopic, 0, i)
	}
	s.table.passed(i)
}

// advanceOps moves the op queue's progress over the op records whose half
// message is behind the check (calculateOpOffset: the leading run of
// done ones).
func (s *Service) advanceOps(halfBase int64) {
	minOff, maxOff := s.store.MinOffsetInQueue(OpTopic, 0), s.store.MaxOffsetInQueue(OpTopic, 0)
	j := min(max(s.opBase.Load(), minOff), maxOff)
scan:
	for j < maxOff {
		res := s.store.GetMessage(OpTopic, 0, j, 32, nil)
		if res.Status != commitlog.Found {
			if res.NextBeginOffset <= j {
				break
			}
			j = res.NextBeginOffset
			continue
		}
		for _, rec := range res.Messages {
			m, err := commitlog.DecodeRecord(rec)
			if err != nil {
				break scan
			}
			if c, err := strconv.ParseInt(string(m.Body), 10, 64); err == nil && c >= halfBase {
				break scan
			}
			j = m.QueueOffset + 1
		}
		j = max(j, res.NextBeginOffset)
	}
	if j != s.opBase.Load() {
		s.opBase.Store(j)
		s.meta.Offsets.CommitOffset(ConsumerGroup, OpTopic, 0, j)
	}
}
