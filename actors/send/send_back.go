package send

import (
	"math/rand/v2"
	"strconv"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// consumerSendMsgBack is SendMessageProcessor#asyncConsumerSendMsgBack: a
// consumer returns a message it failed to consume; it is written again to
// the group's retry topic, or to its dead-letter topic once it has been
// retried maxReconsumeTimes times.
//
// RocketMQ delays a retry through SCHEDULE_TOPIC_XXXX by delay level
// (10 s, 30 s, 1 min …). Sluice has no scheduled messages yet, so the
// retry is delivered at once.
func (p *Handlers) consumerSendMsgBack(r *actors.Request) {
	h, err := remoting.DecodeConsumerSendMsgBackRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	offset, group, delayLevel, originMsgID := h.Offset, h.Group, h.DelayLevel, h.OriginMsgID
	sg, ok := p.Meta.SubscriptionGroups.FindOrCreate(group)
	if !ok {
		r.ReplyCode(remoting.SubscriptionGroupNotExist, "subscription group not exist, "+group)
		return
	}
	if sg.RetryQueueNums <= 0 {
		r.ReplyCode(remoting.Success, "")
		return
	}
	rec, err := p.Store.LookMessageByOffset(offset)
	if err != nil {
		r.ReplyCode(remoting.SystemError, "look message by offset failed, "+strconv.FormatInt(offset, 10))
		return
	}
	msg, err := commitlog.DecodeRecord(rec)
	if err != nil {
		r.ReplyCode(remoting.SystemError, "look message by offset failed, "+strconv.FormatInt(offset, 10))
		return
	}

	props := msg.Properties
	if message.Get(props, message.PropertyRetryTopic) == "" {
		props = message.Set(props, message.PropertyRetryTopic, msg.Topic)
	}
	if originMsgID == "" {
		originMsgID = message.Get(props, message.PropertyOriginMessageID)
	}
	if originMsgID == "" {
		originMsgID = message.OffsetMsgID(msg.StoreHost, msg.PhysicalOffset)
	}
	props = message.Set(props, message.PropertyOriginMessageID, originMsgID)

	maxTimes := int32(sg.RetryMaxTimes)
	if h.MaxReconsumeTimes != nil {
		maxTimes = *h.MaxReconsumeTimes
	}
	topic := metadata.RetryTopic(group)
	queueID := rand.Int32N(int32(sg.RetryQueueNums))
	queueNums := sg.RetryQueueNums
	if msg.ReconsumeTimes >= maxTimes || delayLevel < 0 {
		topic, queueID, queueNums = metadata.DLQTopic(group), 0, 1
	}
	if _, _, err := p.Meta.Topics.CreateTopicInSendMessageBackMethod(topic, queueNums, metadata.PermRead|metadata.PermWrite, 0); err != nil {
		r.ReplyCode(remoting.SystemError, "topic["+topic+"] not exist: "+err.Error())
		return
	}

	j := p.getJob()
	j.Req = r
	m := commitlog.Message{
		Topic:          topic,
		QueueID:        queueID,
		Flag:           msg.Flag,
		SysFlag:        msg.SysFlag,
		BornTimestamp:  msg.BornTimestamp,
		BornHost:       msg.BornHost,
		StoreHost:      p.ID.StoreHost,
		ReconsumeTimes: msg.ReconsumeTimes + 1,
		Body:           msg.Body,
		Properties:     props,
	}
	if err := p.encode(j, &m); err != nil {
		p.putJob(j)
		r.ReplyCode(remoting.MessageIllegal, illegalRemark(err, p.ID.MaxMessageSize))
		return
	}
	p.submit(j, topic, queueID, 1)
}
