package pull

import (
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/actors/stats"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// Handlers serves PULL_MESSAGE.
type Handlers struct {
	ID    metadata.BrokerIdentity
	Store *commitlog.Store
	Meta  *metadata.Managers
	Holds *HoldService
	// LongPollingEnable (longPollingEnable) parks pulls for their
	// suspendTimeoutMillis; off, they are parked ShortPollingTime.
	LongPollingEnable bool
	ShortPollingTime  time.Duration
	Log               zerolog.Logger
	// BrokerStats counts reads and the messages they hand over per
	// topic@group (BrokerStatsManager); nil counts nothing.
	BrokerStats *stats.Manager

	// Replication (README "Replication"). Slave is brokerRole=SLAVE: the
	// offsets piggy-backed on pulls are not committed there
	// (PullMessageProcessor's storeOffsetEnable). SlaveReadEnable
	// (slaveReadEnable) lets answers point the consumer at a slave.
	// MemoryForPull is accessMessageInMemoryMaxRatio percent of the
	// physical memory: a reader further than that behind the commit log's
	// end reads from disk, and with SlaveReadEnable is told to read from
	// the group's whichBrokerWhenConsumeSlowly (suggestWhichBrokerId).
	Slave           bool
	SlaveReadEnable bool
	MemoryForPull   int64
}

// ByCode maps each request code served here to its handler.
func (p *Handlers) ByCode() map[remoting.RequestCode]actors.HandlerFunc {
	return map[remoting.RequestCode]actors.HandlerFunc{remoting.PullMessage: p.pullMessage}
}

// pull is one pull being served: its header and, once checked, its filter.
type pull struct {
	req    *actors.Request
	h      remoting.PullMessageRequestHeader
	filter func(int64) bool
	sg     metadata.SubscriptionGroupConfig
}

func (p *Handlers) pullMessage(r *actors.Request) {
	h, err := remoting.DecodePullMessageRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	pl := &pull{req: r, h: h}
	if code, remark := p.check(pl); code != remoting.Success {
		r.ReplyCode(code, remark)
		return
	}
	// RocketMQ commits the piggy-backed offset on the first run only, not on
	// the re-run after a hold.
	if h.SysFlag&remoting.PullFlagCommitOffset != 0 && !r.Resumed && !p.Slave {
		p.Meta.Offsets.CommitOffset(h.ConsumerGroup, h.Topic, h.QueueID, h.CommitOffset)
	}
	resp, _ := p.read(pl)
	if resp.ResponseCode() == remoting.PullNotFound && h.SysFlag&remoting.PullFlagSuspend != 0 && !r.Resumed {
		hold := p.ShortPollingTime
		if p.LongPollingEnable {
			hold = time.Duration(h.SuspendTimeoutMillis) * time.Millisecond
		}
		if hold > 0 && p.Holds.Hold(pl, time.Now().Add(hold)) {
			return
		}
	}
	r.Reply(resp)
}

// check is PullMessageProcessor#processRequest's validation: subscription
// group, topic, queue id and subscription, in RocketMQ's order and with
// its codes.
func (p *Handlers) check(pl *pull) (remoting.ResponseCode, string) {
	h := &pl.h
	sg, ok := p.Meta.SubscriptionGroups.FindOrCreate(h.ConsumerGroup)
	if !ok {
		return remoting.SubscriptionGroupNotExist, "subscription group [" + h.ConsumerGroup + "] does not exist, " + faqSubscriptionGroup
	}
	pl.sg = sg
	if !sg.ConsumeEnable {
		return remoting.NoPermission, "subscription group no permission, " + h.ConsumerGroup
	}
	tc, ok := p.Meta.Topics.Select(h.Topic)
	if !ok {
		return remoting.TopicNotExist, metadata.RemarkTopicNotExist(h.Topic)
	}
	if !metadata.IsReadable(tc.Perm) {
		return remoting.NoPermission, "the topic[" + h.Topic + "] pulling message is forbidden"
	}
	if h.QueueID < 0 || int(h.QueueID) >= tc.ReadQueueNums {
		return remoting.SystemError, "queueId[" + strconv.Itoa(int(h.QueueID)) + "] is illegal, topic:[" + h.Topic +
			"] topicConfig.readQueueNums:[" + strconv.Itoa(tc.ReadQueueNums) + "] consumer:[" + pl.req.RemoteAddr() + "]"
	}
	if h.SysFlag&remoting.PullFlagSubscription != 0 {
		sd, err := metadata.BuildSubscriptionData(h.Topic, h.Subscription, h.ExpressionType)
		if err != nil {
			return remoting.SubscriptionParseFailed, "parse the consumer's subscription failed: " + err.Error()
		}
		if !sd.IsTagType() {
			return remoting.SystemError, "The broker does not support consumer to filter message by " + sd.ExpressionType
		}
		pl.filter = sd.Filter()
		return remoting.Success, ""
	}
	info, ok := p.Meta.Consumers.GroupInfo(h.ConsumerGroup)
	if !ok {
		return remoting.SubscriptionNotExist, "the consumer's group info not exist" + faqSubscriptionGroup
	}
	if !sg.ConsumeBroadcastEnable && info.MessageModel == "BROADCASTING" {
		return remoting.NoPermission, "the consumer group[" + h.ConsumerGroup + "] can not consume by broadcast way"
	}
	sd, ok := info.Subscriptions[h.Topic]
	if !ok {
		return remoting.SubscriptionNotExist, "the consumer's subscription not exist" + faqSubscriptionGroup
	}
	if sd.SubVersion < h.SubVersion {
		return remoting.SubscriptionNotLatest, "the consumer's subscription not latest"
	}
	if !sd.IsTagType() {
		return remoting.SystemError, "The broker does not support consumer to filter message by " + sd.ExpressionType
	}
	pl.filter = sd.Filter()
	return remoting.Success, ""
}

// suggestWhichBrokerID is PullMessageProcessor's choice of the node the
// consumer pulls from next: with slaveReadEnable, the group's
// whichBrokerWhenConsumeSlowly (1) when the read reached further back than
// the memory share (DefaultMessageStore#getMessage's
// suggestPullingFromSlave: commit-log end minus the last entry scanned >
// physical memory * accessMessageInMemoryMaxRatio / 100), else the group's
// brokerId (0); without it, always the master (0).
func (p *Handlers) suggestWhichBrokerID(pl *pull, res *commitlog.GetResult) int64 {
	if !p.SlaveReadEnable {
		return 0
	}
	scanned := res.Status == commitlog.Found || res.Status == commitlog.NoMatchedMessage || res.Status == commitlog.MessageWasRemoving
	if scanned && p.Store.MaxPhyOffset()-res.MaxPhyOffsetPulling > p.MemoryForPull {
		return pl.sg.WhichBrokerWhenConsumeSlowly
	}
	return pl.sg.BrokerID
}

const faqSubscriptionGroup = "\nSee http://rocketmq.apache.org/docs/faq/ for further details."

// read runs the store read and builds the answer (the status table of
// PullMessageProcessor and DefaultMessageStore#getMessage).
func (p *Handlers) read(pl *pull) (*remoting.Command, commitlog.GetStatus) {
	h := &pl.h
	maxNums := int(h.MaxMsgNums)
	if maxNums <= 0 {
		maxNums = 32
	}
	if c := pl.req.Conn; c != nil && c.Backlogged() {
		// The client is not reading its answers: reading messages for it
		// would only queue more bytes behind the ones it has not taken.
		// Pulls already read off its socket get a bodiless answer that
		// makes a reading client pull again at once (the socket itself is
		// paused until the queue drains).
		resp := remoting.NewResponse(pl.req.Cmd, remoting.PullRetryImmediately, "the client's answers are not being read; pull again")
		hdr := remoting.PullMessageResponseHeader{
			NextBeginOffset: h.QueueOffset,
			MinOffset:       p.Store.MinOffsetInQueue(h.Topic, h.QueueID),
			MaxOffset:       p.Store.MaxOffsetInQueue(h.Topic, h.QueueID),
		}
		hdr.Encode(resp)
		return resp, commitlog.NoMatchedMessage
	}
	res := p.Store.GetMessage(h.Topic, h.QueueID, h.QueueOffset, maxNums, pl.filter)
	var code remoting.ResponseCode
	switch res.Status {
	case commitlog.Found:
		code = remoting.Success
	case commitlog.NoMatchedMessage, commitlog.MessageWasRemoving:
		code = remoting.PullRetryImmediately
	case commitlog.OffsetOverflowOne, commitlog.OffsetFoundNull:
		code = remoting.PullNotFound
	case commitlog.OffsetTooSmall, commitlog.OffsetOverflowBadly:
		code = remoting.PullOffsetMoved
	case commitlog.NoMessageInQueue:
		code = remoting.PullNotFound
		if h.QueueOffset != 0 {
			code = remoting.PullOffsetMoved
		}
	default:
		code = remoting.PullNotFound
	}
	p.BrokerStats.GetMessage(h.ConsumerGroup, h.Topic, res.Status == commitlog.Found, res.MsgCount, res.BufferTotalSize)
	resp := remoting.NewAnswer(pl.req.Cmd, code, res.Status.String())
	hdr := remoting.PullMessageResponseHeader{NextBeginOffset: res.NextBeginOffset, MinOffset: res.MinOffset, MaxOffset: res.MaxOffset,
		SuggestWhichBrokerID: p.suggestWhichBrokerID(pl, &res)}
	hdr.Encode(resp)
	if code == remoting.Success {
		// The stored records go out as they are; they are copied once, into
		// the frame, since the mapping may be unmapped by retention while
		// the writer still holds the frame.
		body := make([]byte, 0, res.BufferTotalSize)
		for _, m := range res.Messages {
			body = append(body, m...)
		}
		resp.Body = body
	}
	return resp, res.Status
}
