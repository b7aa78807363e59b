package actors

import (
	"math/rand/v2"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// consumerSendMsgBack is SendMessageProcessor#asyncConsumerSendMsgBack: a
// consumer returns a message it failed to consume; it is written again to
// the group's retry topic, or to its dead-letter topic once it has been
// retried maxReconsumeTimes times.
//
// RocketMQ delays a retry through SCHEDULE_TOPIC_XXXX by delay level
// (10 s, 30 s, 1 min …). Sluice has no scheduled messages yet, so the
// retry is delivered at once.
func (p *SendProcessor) consumerSendMsgBack(_ actor.Context, r *Request) {
	e := extReader{cmd: r.Cmd}
	offset := e.int64("offset", true)
	group := e.str("group", true)
	delayLevel := e.int32("delayLevel", true)
	originMsgID := e.str("originMsgId", false)
	maxTimesHeader, hasMax := r.Cmd.ExtFields["maxReconsumeTimes"]
	if e.err != nil {
		r.ReplyCode(remoting.SystemError, e.err.Error())
		return
	}
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
	if Property(props, PropertyRetryTopic) == "" {
		props = SetProperty(props, PropertyRetryTopic, msg.Topic)
	}
	if originMsgID == "" {
		originMsgID = Property(props, PropertyOriginMessageID)
	}
	if originMsgID == "" {
		originMsgID = OffsetMsgID(msg.StoreHost, msg.PhysicalOffset)
	}
	props = SetProperty(props, PropertyOriginMessageID, originMsgID)

	maxTimes := int32(sg.RetryMaxTimes)
	if hasMax {
		if n, err := strconv.ParseInt(maxTimesHeader, 10, 32); err == nil {
			maxTimes = int32(n)
		}
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
