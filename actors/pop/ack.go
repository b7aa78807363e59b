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
	if e.Mark == normalTopicMark && (h.QueueID < 0 || int(h.QueueID) >= tc.ReadQueueNums) {
		r.ReplyCode(remoting.MessageIllegal, "queueId["+strconv.Itoa(int(h.QueueID))+"] is illegal, topic:["+h.Topic+
			"] topicConfig.readQueueNums:["+strconv.Itoa(tc.ReadQueueNums)+"] consumer:["+r.RemoteAddr()+"]")
		return h, e, false
	}
	return h, e, true
}

// ackLocked marks the offset acked in its checkpoint. A handle re-issued
// by CHANGE_MESSAGE_INVISIBLETIME is built by the client from the topic it
// names, so its mark may say "normal" for a message read from the retry
// topic: both are tried. Under s.mu.
func (s *Service) ackLocked(h remoting.AckMessageRequestHeader, e ExtraInfo) bool {
	topics := [2]string{e.RealTopic(h.Topic, h.ConsumerGroup), PopRetryTopic(h.Topic, h.ConsumerGroup)}
	for i, t := range topics {
		if i == 1 && e.Mark != normalTopicMark {
			break
		}
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
	realTopic := e.RealTopic(h.Topic, h.ConsumerGroup)
	// The checkpoint the handle names decides the topic the new one is
	// of (see ackLocked).
	if e.Mark == normalTopicMark {
		if _, ok := s.cks[ckKey{h.ConsumerGroup, realTopic, h.QueueID, e.CkOffset, e.PopTime}]; !ok {
			if _, ok := s.cks[ckKey{h.ConsumerGroup, PopRetryTopic(h.Topic, h.ConsumerGroup), h.QueueID, e.CkOffset, e.PopTime}]; ok {
				realTopic = PopRetryTopic(h.Topic, h.ConsumerGroup)
			}
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
