package actors

import (
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// AdminProcessor is RocketMQ's AdminBrokerProcessor, the default processor:
// offsets by queue and time, queue locks for orderly consumers, and topic
// administration.
type AdminProcessor struct {
	Meta  *metadata.Managers
	Store *commitlog.Store
}

// Handlers returns the processor's request handlers.
func (p *AdminProcessor) Handlers() map[remoting.RequestCode]HandlerFunc {
	return map[remoting.RequestCode]HandlerFunc{
		remoting.GetMaxOffset:                  p.getMaxOffset,
		remoting.GetMinOffset:                  p.getMinOffset,
		remoting.SearchOffsetByTimestamp:       p.searchOffsetByTimestamp,
		remoting.LockBatchMQ:                   p.lockBatchMQ,
		remoting.UnlockBatchMQ:                 p.unlockBatchMQ,
		remoting.UpdateAndCreateTopic:          p.updateAndCreateTopic,
		remoting.GetAllTopicConfig:             p.getAllTopicConfig,
		remoting.DeleteTopicInBroker:           p.deleteTopic,
		remoting.GetAllSubscriptionGroupConfig: p.getAllSubscriptionGroupConfig,
	}
}

func replyOffset(r *Request, off int64) {
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.ExtFields = map[string]string{"offset": strconv.FormatInt(off, 10)}
	r.Reply(resp)
}

func (p *AdminProcessor) topicQueue(r *Request) (string, int32, *extReader) {
	e := &extReader{cmd: r.Cmd}
	return e.str("topic", true), e.int32("queueId", true), e
}

func (p *AdminProcessor) getMaxOffset(_ actor.Context, r *Request) {
	topic, qid, e := p.topicQueue(r)
	if e.err != nil {
		r.ReplyCode(remoting.SystemError, e.err.Error())
		return
	}
	replyOffset(r, p.Store.MaxOffsetInQueue(topic, qid))
}

func (p *AdminProcessor) getMinOffset(_ actor.Context, r *Request) {
	topic, qid, e := p.topicQueue(r)
	if e.err != nil {
		r.ReplyCode(remoting.SystemError, e.err.Error())
		return
	}
	replyOffset(r, p.Store.MinOffsetInQueue(topic, qid))
}

func (p *AdminProcessor) searchOffsetByTimestamp(_ actor.Context, r *Request) {
	topic, qid, e := p.topicQueue(r)
	ts := e.int64("timestamp", true)
	if e.err != nil {
		r.ReplyCode(remoting.SystemError, e.err.Error())
		return
	}
	replyOffset(r, p.Store.OffsetByTimestamp(topic, qid, ts))
}

func (p *AdminProcessor) lockBatchMQ(_ actor.Context, r *Request) {
	body, err := metadata.DecodeLockBatchRequest(r.Cmd.Body)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	locked := p.Meta.Locks.TryLockBatch(body.ConsumerGroup, body.MqSet, body.ClientID)
	r.ReplyBody(metadata.EncodeLockBatchResponse(locked))
}

func (p *AdminProcessor) unlockBatchMQ(_ actor.Context, r *Request) {
	body, err := metadata.DecodeLockBatchRequest(r.Cmd.Body)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	p.Meta.Locks.UnlockBatch(body.ConsumerGroup, body.MqSet, body.ClientID)
	r.ReplyCode(remoting.Success, "")
}

// updateAndCreateTopic is AdminBrokerProcessor#updateAndCreateTopic; the
// topic manager persists the change and its change hook re-registers the
// broker with the name servers.
func (p *AdminProcessor) updateAndCreateTopic(_ actor.Context, r *Request) {
	e := extReader{cmd: r.Cmd}
	tc := metadata.TopicConfig{
		TopicName:       e.str("topic", true),
		ReadQueueNums:   int(e.int32("readQueueNums", true)),
		WriteQueueNums:  int(e.int32("writeQueueNums", true)),
		Perm:            int(e.int32("perm", true)),
		TopicFilterType: e.str("topicFilterType", false),
		TopicSysFlag:    int(e.int32("topicSysFlag", false)),
		Order:           e.bool("order", false),
	}
	if e.err != nil {
		r.ReplyCode(remoting.SystemError, e.err.Error())
		return
	}
	if err := metadata.ValidateTopic(tc.TopicName); err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	if p.Meta.Topics.IsSystemTopic(tc.TopicName) {
		r.ReplyCode(remoting.SystemError, metadata.RemarkSystemTopicConflict(tc.TopicName))
		return
	}
	if tc.ReadQueueNums <= 0 || tc.WriteQueueNums <= 0 {
		r.ReplyCode(remoting.SystemError, "readQueueNums and writeQueueNums must be positive")
		return
	}
	if err := p.Meta.Topics.UpdateTopicConfig(tc); err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	r.ReplyCode(remoting.Success, "")
}

func (p *AdminProcessor) getAllTopicConfig(_ actor.Context, r *Request) {
	r.ReplyJSON(p.Meta.Topics.Snapshot())
}

// deleteTopic drops the topic's config, its consumer offsets and its
// consume queues; its messages leave the commit log with retention.
func (p *AdminProcessor) deleteTopic(_ actor.Context, r *Request) {
	e := extReader{cmd: r.Cmd}
	topic := e.str("topic", true)
	if e.err != nil {
		r.ReplyCode(remoting.SystemError, e.err.Error())
		return
	}
	if err := metadata.ValidateTopic(topic); err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	if p.Meta.Topics.IsSystemTopic(topic) {
		r.ReplyCode(remoting.SystemError, metadata.RemarkSystemTopicConflict(topic))
		return
	}
	if _, err := p.Meta.Topics.DeleteTopic(topic); err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	p.Meta.Offsets.RemoveTopic(topic)
	if err := p.Store.DeleteTopic(topic); err != nil {
		r.ReplyCode(remoting.SystemError, "delete consume queues of "+topic+": "+err.Error())
		return
	}
	r.ReplyCode(remoting.Success, "")
}

func (p *AdminProcessor) getAllSubscriptionGroupConfig(_ actor.Context, r *Request) {
	body, err := p.Meta.SubscriptionGroups.Encode()
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	r.ReplyBody(body)
}
