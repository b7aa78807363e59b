package admin

import (
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/actors/stats"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// Handlers is RocketMQ's AdminBrokerProcessor, the default processor:
// offsets by queue and time, queue locks for orderly consumers, and topic
// administration.
type Handlers struct {
	Meta  *metadata.Managers
	Store *commitlog.Store
	// ID names the broker in the MessageQueues of admin answers.
	ID metadata.BrokerIdentity
	// Stats gives the consume TPS of consume-stats answers.
	Stats *stats.Manager
	// DelayOffset reads delayOffset.json (GET_ALL_DELAY_OFFSET).
	DelayOffset func() ([]byte, error)
	// Registered, when set, asks for a registration with the name servers
	// and returns a channel that closes once they have all had it (or
	// failed to). A topic change is answered after that, as RocketMQ's
	// registerIncrementBrokerData is called before the admin answers.
	Registered func() <-chan struct{}
	// RegisterWait bounds that wait; the answer is SUCCESS either way,
	// since the topic is stored and the periodic registration carries it.
	RegisterWait time.Duration
	Log          zerolog.Logger

	// waitingAnswers counts the answers waiting on a registration, each
	// with its goroutine; bounded by maxWaitingAnswers.
	waitingAnswers atomic.Int32
}

// maxWaitingAnswers bounds the topic changes whose answers wait on the
// name servers at once. A client can send changes faster than a stalled
// name server times out; past the bound an answer goes at once, as after
// RegisterWait, rather than holding a goroutine for each.
const maxWaitingAnswers = 256

// ByCode maps each request code served here to its handler.
func (p *Handlers) ByCode() map[remoting.RequestCode]actors.HandlerFunc {
	m := map[remoting.RequestCode]actors.HandlerFunc{
		remoting.GetMaxOffset:                  p.getMaxOffset,
		remoting.GetMinOffset:                  p.getMinOffset,
		remoting.SearchOffsetByTimestamp:       p.searchOffsetByTimestamp,
		remoting.LockBatchMQ:                   p.lockBatchMQ,
		remoting.UnlockBatchMQ:                 p.unlockBatchMQ,
		remoting.UpdateAndCreateTopic:          p.updateAndCreateTopic,
		remoting.GetAllTopicConfig:             p.getAllTopicConfig,
		remoting.DeleteTopicInBroker:           p.deleteTopic,
		remoting.GetAllSubscriptionGroupConfig: p.getAllSubscriptionGroupConfig,

		remoting.GetTopicStatsInfo:                p.getTopicStatsInfo,
		remoting.GetConsumerConnectionList:        p.getConsumerConnectionList,
		remoting.GetProducerConnectionList:        p.getProducerConnectionList,
		remoting.GetConsumeStats:                  p.getConsumeStats,
		remoting.GetBrokerConsumeStats:            p.getBrokerConsumeStats,
		remoting.QueryTopicConsumeByWho:           p.queryTopicConsumeByWho,
		remoting.GetAllConsumerOffset:             p.getAllConsumerOffset,
		remoting.GetAllDelayOffset:                p.getAllDelayOffset,
		remoting.UpdateAndCreateSubscriptionGroup: p.updateAndCreateSubscriptionGroup,
		remoting.DeleteSubscriptionGroup:          p.deleteSubscriptionGroup,
		remoting.CloneGroupOffset:                 p.cloneGroupOffset,
		remoting.InvokeBrokerToResetOffset:        p.invokeBrokerToResetOffset,
		remoting.GetConsumerRunningInfo:           p.getConsumerRunningInfo,
		remoting.ConsumeMessageDirectly:           p.consumeMessageDirectly,
		remoting.GetSystemTopicListFromBroker:     p.getSystemTopicListFromBroker,
		remoting.QueryConsumeTimeSpan:             p.queryConsumeTimeSpan,
		remoting.InvokeBrokerToGetConsumerStatus:  p.invokeBrokerToGetConsumerStatus,
	}
	for c, f := range p.RefusedHandlers() {
		m[c] = f
	}
	return m
}

func replyOffset(r *actors.Request, off int64) {
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	remoting.OffsetResponseHeader{Offset: off}.Encode(resp)
	r.Reply(resp)
}

func (p *Handlers) getMaxOffset(r *actors.Request) {
	h, err := remoting.DecodeTopicQueueRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	replyOffset(r, p.Store.MaxOffsetInQueue(h.Topic, h.QueueID))
}

func (p *Handlers) getMinOffset(r *actors.Request) {
	h, err := remoting.DecodeTopicQueueRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	replyOffset(r, p.Store.MinOffsetInQueue(h.Topic, h.QueueID))
}

func (p *Handlers) searchOffsetByTimestamp(r *actors.Request) {
	h, err := remoting.DecodeSearchOffsetRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	replyOffset(r, p.Store.OffsetByTimestamp(h.Topic, h.QueueID, h.Timestamp))
}

func (p *Handlers) lockBatchMQ(r *actors.Request) {
	body, err := metadata.DecodeLockBatchRequest(r.Cmd.Body)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	locked := p.Meta.Locks.TryLockBatch(body.ConsumerGroup, body.MqSet, body.ClientID)
	r.ReplyBody(metadata.EncodeLockBatchResponse(locked))
}

func (p *Handlers) unlockBatchMQ(r *actors.Request) {
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
func (p *Handlers) updateAndCreateTopic(r *actors.Request) {
	h, err := remoting.DecodeCreateTopicRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	tc := metadata.TopicConfig{
		TopicName:       h.Topic,
		ReadQueueNums:   int(h.ReadQueueNums),
		WriteQueueNums:  int(h.WriteQueueNums),
		Perm:            int(h.Perm),
		TopicFilterType: h.TopicFilterType,
		TopicSysFlag:    int(h.TopicSysFlag),
		Order:           h.Order,
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
	// RocketMQ 5's attributes ("+message.type=FIFO", "-message.type"):
	// altered from the topic's current ones, which an update without any
	// keeps.
	current, exists := p.Meta.Topics.Select(tc.TopicName)
	mods, err := metadata.ParseAttributes(r.Cmd.Ext("attributes"))
	if err == nil {
		tc.Attributes, err = metadata.AlterTopicAttributes(!exists, current.Attributes, mods)
	}
	if err != nil {
		p.Log.Warn().Err(err).Str("topic", tc.TopicName).Msg("UPDATE_AND_CREATE_TOPIC attributes refused")
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	if err := p.Meta.Topics.UpdateTopicConfig(tc); err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	p.replyAfterRegistration(r, tc.TopicName)
}

// replyAfterRegistration answers SUCCESS once the name servers know of
// the change, from its own goroutine so that the admin processor goes on
// serving meanwhile.
func (p *Handlers) replyAfterRegistration(r *actors.Request, topic string) {
	if p.Registered == nil {
		r.ReplyCode(remoting.Success, "")
		return
	}
	done := p.Registered()
	if p.waitingAnswers.Add(1) > maxWaitingAnswers {
		p.waitingAnswers.Add(-1)
		p.notYetRegistered(topic, 0)
		r.ReplyCode(remoting.Success, "")
		return
	}
	go func() {
		defer p.waitingAnswers.Add(-1)
		t := time.NewTimer(p.RegisterWait)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			p.notYetRegistered(topic, p.RegisterWait)
		}
		r.ReplyCode(remoting.Success, "")
	}()
}

// notYetRegistered logs a topic change answered before every name server
// had it.
func (p *Handlers) notYetRegistered(topic string, waited time.Duration) {
	p.Log.Warn().Str("topic", topic).Dur("waited", waited).
		Msg("topic stored; name servers not all updated yet, the periodic registration will carry it")
}

func (p *Handlers) getAllTopicConfig(r *actors.Request) {
	r.ReplyJSON(p.Meta.Topics.Snapshot())
}

// deleteTopic drops the topic's config, its consumer offsets and its
// consume queues; its messages leave the commit log with retention.
func (p *Handlers) deleteTopic(r *actors.Request) {
	h, err := remoting.DecodeTopicRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	topic := h.Topic
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
	p.Stats.TopicDeleted(topic)
	if err := p.Store.DeleteTopic(topic); err != nil {
		r.ReplyCode(remoting.SystemError, "delete consume queues of "+topic+": "+err.Error())
		return
	}
	r.ReplyCode(remoting.Success, "")
}

func (p *Handlers) getAllSubscriptionGroupConfig(r *actors.Request) {
	body, err := p.Meta.SubscriptionGroups.Encode()
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	r.ReplyBody(body)
}
