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
// consumer returns a message it failed to consume. It goes to the group's
// dead-letter topic once it has been retried maxReconsumeTimes times, or
// at once when the consumer asks (delayLevel < 0); otherwise it is parked
// in SCHEDULE_TOPIC_XXXX with REAL_TOPIC=%RETRY%<group> and comes back to
// the retry topic when its delay level is due (delayLevel 0 means
// 3 + reconsumeTimes: 10 s, 30 s, 1 min …, capped at the highest level).
// While no schedule service runs (see delayHonoured) the retry is written
// to the retry topic at once, as before delay levels existed.
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
	dlq, level := sendBackRoute(msg.ReconsumeTimes, maxTimes, delayLevel)
	topic := metadata.RetryTopic(group)
	queueID := rand.Int32N(int32(sg.RetryQueueNums))
	queueNums := sg.RetryQueueNums
	if dlq {
		topic, queueID, queueNums = metadata.DLQTopic(group), 0, 1
		props = dlqProperties(props)
	}
	if _, _, err := p.Meta.Topics.CreateTopicInSendMessageBackMethod(topic, queueNums, metadata.PermRead|metadata.PermWrite, 0); err != nil {
		r.ReplyCode(remoting.SystemError, "topic["+topic+"] not exist: "+err.Error())
		return
	}

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
	if !dlq && p.delayHonoured() {
		m.Properties = message.Set(m.Properties, message.PropertyDelayTimeLevel, strconv.Itoa(int(level)))
		if _, err := p.parkDelayed(&m); err != nil {
			r.ReplyCode(remoting.SystemError, err.Error())
			return
		}
	}
	j := p.getJob()
	j.Req = r
	if err := p.encode(j, &m); err != nil {
		p.putJob(j)
		r.ReplyCode(remoting.MessageIllegal, illegalRemark(err, p.ID.MaxMessageSize))
		return
	}
	p.submit(j, m.Topic, m.QueueID, 1)
}

// sendBackRoute is consumerSendMsgBack's choice: the dead-letter topic
// once reconsumeTimes reached maxReconsumeTimes or when the consumer asks
// for it (a negative level), else the retry topic at delayLevel, where 0
// means 3 + reconsumeTimes (the client's default backoff).
func sendBackRoute(reconsumeTimes, maxReconsumeTimes, delayLevel int32) (dlq bool, level int32) {
	if reconsumeTimes >= maxReconsumeTimes || delayLevel < 0 {
		return true, 0
	}
	if delayLevel == 0 {
		delayLevel = 3 + reconsumeTimes
	}
	return false, delayLevel
}
