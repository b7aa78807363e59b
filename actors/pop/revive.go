package pop

import (
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting/message"
)

// PropertyFirstPopTime is MessageConst.PROPERTY_FIRST_POP_TIME.
const PropertyFirstPopTime = "1ST_POP_TIME"

// holdCheckInterval is how often expired holds are answered.
const holdCheckInterval = 100 * time.Millisecond

// Start runs the revive and hold-expiry goroutine.
func (s *Service) Start() { go s.run() }

// Stop answers the held pops, stops the goroutine and closes the journal.
func (s *Service) Stop() error {
	var err error
	s.stopOnce.Do(func() {
		s.holdMu.Lock()
		close(s.closeStop)
		s.holdMu.Unlock()
		<-s.done
		for _, hp := range s.takeAllHolds() {
			hp.req.Resumed = true
			s.popMessage(hp.req)
		}
		s.mu.Lock()
		err = s.journal.close()
		s.mu.Unlock()
	})
	return err
}

func (s *Service) run() {
	defer close(s.done)
	holds := time.NewTicker(holdCheckInterval)
	defer holds.Stop()
	revive := time.NewTicker(s.cfg.ReviveInterval)
	defer revive.Stop()
	for {
		select {
		case <-s.closeStop:
			return
		case now := <-holds.C:
			s.expireHolds(now)
		case now := <-revive.C:
			s.ReviveDue(now)
		}
	}
}

// due is one un-acked message of a due checkpoint.
type due struct {
	ck     *PopCheckPoint
	offset int64
}

// ReviveDue is PopReviveService's pass: each un-acked message of every
// checkpoint whose invisible time has ended goes to the pop retry topic
// with reconsumeTimes+1 (poppable again at once), or to %DLQ%<group> once
// it has been reconsumed the group's retryMaxTimes. A message whose put
// fails stays un-acked and is tried again next pass.
func (s *Service) ReviveDue(now time.Time) {
	ms := now.UnixMilli()
	var work []due
	s.mu.Lock()
	for _, ck := range s.cks {
		if ck.ReviveTime() > ms {
			continue
		}
		for i, o := range ck.Offsets {
			if ck.Acked&(1<<i) == 0 {
				work = append(work, due{ck, o})
			}
		}
	}
	s.mu.Unlock()
	for _, d := range work {
		select {
		case <-s.closeStop:
			return
		default:
		}
		if err := s.reviveOne(d.ck, d.offset); err != nil {
			s.Log.Warn().Err(err).Str("group", d.ck.Group).Str("topic", d.ck.Topic).Int64("offset", d.offset).Msg("pop: revive failed; retried next pass")
			continue
		}
		s.mu.Lock()
		k := d.ck.key()
		if ck, ok := s.cks[k]; ok && ck == d.ck {
			if i := ck.index(d.offset); i >= 0 && ck.Acked&(1<<i) == 0 {
				ck.Acked |= 1 << i
				if err := s.journal.appendAck(k, d.offset); err != nil {
					s.Log.Error().Err(err).Msg("pop: checkpoint journal")
				}
				if ck.done() {
					delete(s.cks, k)
				}
			}
		}
		_ = s.journal.flush()
		s.mu.Unlock()
	}
	s.compact()
}

// compact rewrites the journal with the live checkpoints once it has
// outgrown compactBytes, so its size stays bounded by what is in flight.
func (s *Service) compact() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal.size < s.compactAt {
		return
	}
	if err := s.journal.flush(); err != nil {
		s.Log.Error().Err(err).Msg("pop: checkpoint journal")
		return
	}
	if err := s.journal.rewrite(s.cks); err != nil {
		s.Log.Error().Err(err).Msg("pop: compact the checkpoint journal")
	}
	// Live checkpoints alone past the limit: wait for twice as much.
	s.compactAt = max(compactBytes, 2*s.journal.size)
}

// reviveOne puts one message back (reviveRetry).
func (s *Service) reviveOne(ck *PopCheckPoint, offset int64) error {
	g := s.Store.GetMessage(ck.Topic, ck.QueueID, offset, 1, nil)
	if g.Status != commitlog.Found || len(g.Messages) == 0 {
		// Gone from the store (retention): nothing to bring back.
		s.Log.Warn().Str("topic", ck.Topic).Int64("offset", offset).Str("status", g.Status.String()).Msg("pop: revived message no longer in the store; dropped")
		return nil
	}
	m, err := commitlog.DecodeRecord(g.Messages[0])
	if err != nil {
		return fmt.Errorf("decode %s@%d: %w", ck.Topic, offset, err)
	}
	sg, _ := s.Meta.SubscriptionGroups.FindOrCreate(ck.Group)
	topic := ck.Topic
	if !isRetryTopic(topic) {
		topic = PopRetryTopic(ck.Topic, ck.Group)
	}
	dlq := int(m.ReconsumeTimes) >= sg.RetryMaxTimes
	queueNums := 1
	if dlq {
		topic = metadata.DLQTopic(ck.Group)
	}
	if _, _, err := s.Meta.Topics.CreateTopicInSendMessageBackMethod(topic, queueNums, metadata.PermRead|metadata.PermWrite, 0); err != nil {
		return fmt.Errorf("create %s: %w", topic, err)
	}
	props := m.Properties
	if m.ReconsumeTimes == 0 || message.Get(props, PropertyFirstPopTime) == "" {
		props = message.Set(props, PropertyFirstPopTime, strconv.FormatInt(ck.PopTime, 10))
	}
	if message.Get(props, message.PropertyRetryTopic) == "" && !isRetryTopic(m.Topic) {
		props = message.Set(props, message.PropertyRetryTopic, m.Topic)
	}
	out := commitlog.Message{Topic: topic, QueueID: 0, Flag: m.Flag, SysFlag: m.SysFlag, BornTimestamp: m.BornTimestamp,
		BornHost: s.ID.StoreHost, StoreHost: s.ID.StoreHost, ReconsumeTimes: m.ReconsumeTimes + 1, Body: m.Body, Properties: props}
	if dlq {
		out.ReconsumeTimes = m.ReconsumeTimes
	}
	rec, err := commitlog.AppendRecordLimit(nil, &out, max(len(out.Body), 1))
	if err != nil {
		return fmt.Errorf("encode revive of %s@%d: %w", ck.Topic, offset, err)
	}
	res := make(chan commitlog.PutResult, 1)
	j := &actors.AppendJob{Put: commitlog.PutRequest{Topic: topic, QueueID: 0, Records: rec, Count: 1}}
	j.Done = func(j *actors.AppendJob) { res <- j.Put.Result }
	j.Cancelled = func(*actors.AppendJob) { res <- commitlog.PutResult{Status: commitlog.PutUnknownError} }
	if !s.Writer.Submit(j, s.closeStop) {
		return fmt.Errorf("broker stopping")
	}
	var r commitlog.PutResult
	select {
	case r = <-res:
	case <-s.closeStop:
		return fmt.Errorf("broker stopping")
	}
	if r.Status != commitlog.PutOK {
		return fmt.Errorf("put %s: %s", topic, r.Status)
	}
	if dlq {
		s.dlq.Add(1)
		s.Log.Info().Str("group", ck.Group).Str("topic", ck.Topic).Int32("reconsumeTimes", m.ReconsumeTimes).Msg("pop: message past retryMaxTimes moved to the dead-letter topic")
	} else {
		s.revived.Add(1)
	}
	return nil
}

func isRetryTopic(t string) bool {
	return len(t) > len(metadata.RetryGroupTopicPrefix) && t[:len(metadata.RetryGroupTopicPrefix)] == metadata.RetryGroupTopicPrefix
}
