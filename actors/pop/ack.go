package pop

import (
	"strconv"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/remoting"
)

// ackMessage is AckMessageProcessor: the message at offset of the
// checkpoint the extraInfo names is acked, so it is not revived. An ack of
// a checkpoint already revived or acked succeeds, as RocketMQ's does (its
// ack record then matches nothing).
func (s *Service) ackMessage(r *actors.Request) {
	h, e, ok := s.decodeAck(r)
	if !ok {
		return
	}
	s.acks.Add(1)
	s.mu.Lock()
	s.ackLocked(h, e)
	err := s.journal.flush()
	s.mu.Unlock()
	if err != nil {
		s.Log.Error().Err(err).Msg("pop: checkpoint journal")
	}
	r.ReplyCode(remoting.Success, "")
}

// decodeAck decodes and checks an ACK_MESSAGE or CHANGE_MESSAGE_INVISIBLETIME,
// answering the request itself when it fails.
func (s *Service) decodeAck(r *actors.Request) (remoting.AckMessageRequestHeader, ExtraInfo, bool) {
	h, err := remoting.DecodeAckMessageRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return h, ExtraInfo{}, false
	}
	tc, ok := s.Meta.Topics.Select(h.Topic)
	if !ok {
		r.ReplyCode(remoting.TopicNotExist, "topic["+h.Topic+"] not exist, apply first please! "+metadata.RemarkTopicNotExist(h.Topic))
		return h, ExtraInfo{}, false
	}
	e, err := ParseExtraInfo(h.ExtraInfo)
	if err != nil {
		r.ReplyCode(remoting.MessageIllegal, "extraInfo["+h.ExtraInfo+"] is illegal: "+err.Error())
		return h, e, false
	}
	if h.QueueID < 0 || int(h.QueueID) >= tc.ReadQueueNums {
		r.ReplyCode(remoting.MessageIllegal, "queueId["+strconv.Itoa(int(h.QueueID))+"] is illegal, topic:["+h.Topic+
			"] topicConfig.readQueueNums:["+strconv.Itoa(tc.ReadQueueNums)+"] consumer:["+r.RemoteAddr()+"]")
		return h, e, false
	}
	// The offset must be in the queue the checkpoint was read from.
	real := ckTopics(h, e)[0]
	minOff, maxOff := s.Store.MinOffsetInQueue(real, h.QueueID), s.Store.MaxOffsetInQueue(real, h.QueueID)
	if h.Offset < minOff || h.Offset >= maxOff {
		r.ReplyCode(remoting.NoMessage, "offset is illegal, key:"+real+"@"+strconv.Itoa(int(h.QueueID))+", commit:"+
			strconv.FormatInt(h.Offset, 10)+", store:"+strconv.FormatInt(minOff, 10)+"~"+strconv.FormatInt(maxOff, 10))
		return h, e, false
	}
	return h, e, true
}

// ckTopics are the topics the checkpoint an ack names may be of. The
// proxy and the Java client send the real topic (the pop retry topic for
// a revived message: ReceiptHandle#getRealTopic), which RocketMQ takes as
// is; a client naming the consumer's topic gets the one the extraInfo's
// mark says, and — for a handle it rebuilt after
// CHANGE_MESSAGE_INVISIBLETIME from the consumer's topic — the retry topic
// too.
func ckTopics(h remoting.AckMessageRequestHeader, e ExtraInfo) []string {
	if isRetryTopic(h.Topic) {
		return []string{h.Topic}
	}
	if e.Mark != normalTopicMark {
		return []string{e.RealTopic(h.Topic, h.ConsumerGroup)}
	}
	return []string{h.Topic, PopRetryTopic(h.Topic, h.ConsumerGroup)}
}

// ackLocked marks the offset acked in its checkpoint. Under s.mu.
func (s *Service) ackLocked(h remoting.AckMessageRequestHeader, e ExtraInfo) bool {
	for _, t := range ckTopics(h, e) {
		k := ckKey{h.ConsumerGroup, t, h.QueueID, e.CkOffset, e.PopTime}
		ck, ok := s.cks[k]
		if !ok {
			continue
		}
		idx := ck.index(h.Offset)
		if idx < 0 || ck.Acked&(1<<idx) != 0 {
			continue
		}
		ck.Acked |= 1 << idx
		if err := s.journal.appendAck(k, h.Offset); err != nil {
			s.Log.Error().Err(err).Msg("pop: checkpoint journal")
		}
		if ck.done() {
			delete(s.cks, k)
		}
		return true
	}
	return false
}

// changeInvisibleTime is ChangeInvisibleTimeProcessor: a new checkpoint
// of the one message, invisible for the new time from now, then the old
// handle acked. The answer carries the new popTime, invisibleTime and
// reviveQid, from which the client builds the new handle.
func (s *Service) changeInvisibleTime(r *actors.Request) {
	h, e, ok := s.decodeAck(r)
	if !ok {
		return
	}
	s.changes.Add(1)
	popTime := nowMillis()
	s.mu.Lock()
	// The checkpoint the handle names decides the topic the new one is
	// of (see ckTopics).
	cands := ckTopics(h, e)
	realTopic := cands[0]
	for _, t := range cands {
		if _, ok := s.cks[ckKey{h.ConsumerGroup, t, h.QueueID, e.CkOffset, e.PopTime}]; ok {
			realTopic = t
			break
		}
	}
	ck := &PopCheckPoint{Group: h.ConsumerGroup, Topic: realTopic, QueueID: h.QueueID, StartOffset: h.Offset,
		PopTime: popTime, InvisibleTime: h.InvisibleTime, ReviveQid: e.ReviveQid, BrokerName: s.ID.BrokerName,
		Offsets: []int64{h.Offset}}
	if _, dup := s.cks[ck.key()]; !dup {
		s.cks[ck.key()] = ck
		if err := s.journal.appendCk(ck); err != nil {
			s.Log.Error().Err(err).Msg("pop: checkpoint journal")
		}
	}
	s.ackLocked(h, e)
	err := s.journal.flush()
	s.mu.Unlock()
	if err != nil {
		s.Log.Error().Err(err).Msg("pop: checkpoint journal")
	}
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	hdr := remoting.ChangeInvisibleTimeResponseHeader{PopTime: popTime, InvisibleTime: h.InvisibleTime, ReviveQid: e.ReviveQid}
	hdr.Encode(resp)
	r.Reply(resp)
}
