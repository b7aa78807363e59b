package send

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/actors/stats"
	"github.com/sluice-mq/sluice/actors/timer"
	"github.com/sluice-mq/sluice/actors/transaction"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// Handlers serves the send processor's request codes.
type Handlers struct {
	ID     metadata.BrokerIdentity
	Store  *commitlog.Store
	Writer *actors.Writer
	Meta   *metadata.Managers
	Log    zerolog.Logger
	// BrokerStats counts stored messages per topic (BrokerStatsManager);
	// nil counts nothing.
	BrokerStats *stats.Manager
	// Stats is the send processor's counters (PC_SYNCHRONIZED answers are
	// counted here).
	Stats *actors.ProcessorStats
	// Stop aborts a wait for the writer at shutdown.
	Stop <-chan struct{}
	// StoreReplyMessage (storeReplyMessageEnable) stores replies in their
	// topic as well as pushing them to the requesting client.
	StoreReplyMessage bool
	// RejectTransactionMessage (rejectTransactionMessage) refuses half
	// messages with NO_PERMISSION, as RocketMQ does.
	RejectTransactionMessage bool
	// Timers parks timer messages (TIMER_DELIVER_MS …); nil when
	// timerWheelEnable=false, and they are refused as RocketMQ refuses them.
	Timers *timer.TimerMessageStore

	jobs sync.Pool

	refused refusals

	clusterOnce sync.Once
	clusterItem string // "CLUSTER\x01<brokerClusterName>\x02", built once

	msgIDOnce   sync.Once
	msgIDPrefix string // the store host's part of an offsetMsgId, built once
}

// storedProperties is what the store keeps of a message's properties:
// Java's parse of them (a repeated name keeps its last value, so filtering,
// storage and delivery agree), less any CLUSTER the client set, since the
// broker writes its own (SendMessageProcessor puts PROPERTY_CLUSTER on
// every message). The common case allocates nothing.
func storedProperties(props string) string {
	props = message.Normalize(props)
	if _, ok := message.Lookup(props, message.PropertyCluster); ok {
		props = message.Delete(props, message.PropertyCluster)
	}
	return props
}

// clusterProperty is the CLUSTER item appended to every stored message.
func (p *Handlers) clusterProperty() string {
	p.clusterOnce.Do(func() {
		if p.ID.ClusterName != "" {
			p.clusterItem = string(message.Append(nil, message.PropertyCluster, p.ID.ClusterName))
		}
	})
	return p.clusterItem
}

// ByCode maps each request code served here to its handler.
func (p *Handlers) ByCode() map[remoting.RequestCode]actors.HandlerFunc {
	return map[remoting.RequestCode]actors.HandlerFunc{
		remoting.SendMessage:         p.sendMessage,
		remoting.SendMessageV2:       p.sendMessage,
		remoting.SendBatchMessage:    p.sendMessage,
		remoting.ConsumerSendMsgBack: p.consumerSendMsgBack,
		remoting.SendReplyMessage:    p.sendReplyMessage,
		remoting.SendReplyMessageV2:  p.sendReplyMessage,
	}
}

// sendJob is an AppendJob with the state its answer needs; pooled, so
// that the steady-state send path allocates no record buffer.
type sendJob struct {
	actors.AppendJob
	p     *Handlers
	buf   []byte
	sizes []int32
	reply *replyState // a reply's push result (SEND_REPLY_MESSAGE)
	// A half message (TRAN_MSG=true) is stored in the half topic's queue 0;
	// its answer names the queue the producer chose and the transaction id.
	half        bool
	parked      bool // a delayed message, in SCHEDULE_TOPIC_XXXX until due
	realQueueID int32
	txID        string
	txProps     []byte // its property suffix (REAL_TOPIC, REAL_QID)
}

func (p *Handlers) getJob() *sendJob {
	if j, ok := p.jobs.Get().(*sendJob); ok {
		return j
	}
	j := &sendJob{p: p}
	j.Done = j.done
	j.Cancelled = func(*actors.AppendJob) { p.putJob(j) }
	return j
}

func (p *Handlers) putJob(j *sendJob) {
	if cap(j.buf) > 1<<20 {
		j.buf = nil // don't pin a rare big batch's buffer
	}
	j.Req, j.buf, j.sizes, j.reply = nil, j.buf[:0], j.sizes[:0], nil
	j.half, j.parked, j.realQueueID, j.txID, j.txProps = false, false, 0, "", j.txProps[:0]
	j.Put = commitlog.PutRequest{}
	p.jobs.Put(j)
}

// headerMessage is the message a send's header and body describe, for
// topic and queueID (the header's or where routing put it).
func (p *Handlers) headerMessage(r *actors.Request, h *remoting.SendMessageRequestHeader, topic string, queueID int32, props string) commitlog.Message {
	return commitlog.Message{
		Topic:          topic,
		QueueID:        queueID,
		Flag:           h.Flag,
		SysFlag:        h.SysFlag,
		BornTimestamp:  h.BornTimestamp,
		BornHost:       r.BornHost(),
		StoreHost:      p.ID.StoreHost,
		ReconsumeTimes: h.ReconsumeTimes,
		Body:           r.Cmd.Body,
		Properties:     props,
	}
}

// decodeAndCheck decodes a send's header and runs msgCheck, answering the
// request itself when either fails.
func (p *Handlers) decodeAndCheck(r *actors.Request) (remoting.SendMessageRequestHeader, metadata.TopicConfig, bool) {
	h, err := remoting.DecodeSendMessageRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return h, metadata.TopicConfig{}, false
	}
	tc, code, remark := p.msgCheck(r, &h)
	if code != remoting.Success {
		r.ReplyCode(code, remark)
		return h, tc, false
	}
	return h, tc, true
}

func (p *Handlers) sendMessage(r *actors.Request) {
	h, tc, ok := p.decodeAndCheck(r)
	if !ok {
		return
	}
	props := storedProperties(h.Properties)
	batch := r.Cmd.RequestCode() == remoting.SendBatchMessage
	if remark := metadata.CheckMessageType(tc, props); remark != "" {
		// The proxy's answer on the remoting front: its
		// MESSAGE_PROPERTY_CONFLICT_WITH_TYPE maps to MESSAGE_ILLEGAL.
		p.Log.Warn().Str("topic", h.Topic).Str("client", r.RemoteAddr()).Msg("send refused: " + remark)
		r.ReplyCode(remoting.MessageIllegal, remark)
		return
	}
	if kind, code, remark, refused := p.checkUnhonoured(&h, props, batch); refused {
		if batch {
			code = remoting.MessageIllegal // CommitLog#asyncPutMessages
		}
		p.refused.note(p.Log, kind, r, h.Topic, remark)
		r.ReplyCode(code, remark)
		return
	}
	queueID := h.QueueID
	if queueID < 0 {
		queueID = rand.Int32N(int32(max(tc.WriteQueueNums, 1)))
	}
	topic := h.Topic
	toDLQ := false
	if metadata.IsRetryTopic(topic) {
		// A retry the consumer sent as a plain message (the Go client's
		// fallback): past its limit it goes to the dead-letter queue.
		maxTimes := h.MaxReconsumeTimes
		if h.ReconsumeTimes >= maxTimes && maxTimes > 0 {
			group := strings.TrimPrefix(topic, metadata.RetryGroupTopicPrefix)
			dlq, _, err := p.Meta.Topics.CreateTopicInSendMessageBackMethod(metadata.DLQTopic(group), 1, metadata.PermWrite|metadata.PermRead, 0)
			if err != nil {
				r.ReplyCode(remoting.SystemError, "create DLQ topic failed: "+err.Error())
				return
			}
			topic, queueID = dlq.TopicName, 0
			toDLQ = true
		}
	}

	j := p.getJob()
	j.Req = r
	m := p.headerMessage(r, &h, topic, queueID, props)
	m.PropertiesSuffix = p.clusterProperty()
	if !batch && transaction.IsTransactional(props) {
		// TransactionalMessageService#asyncPrepareMessage: stored as a
		// half message, answered as the send it was.
		j.txProps = transaction.ParseHalfMessageInner(&m, j.txProps)
		j.half, j.realQueueID, j.txID = true, queueID, message.Get(props, message.PropertyUniqClientMessageIDKeyIdx)
		topic, queueID = m.Topic, m.QueueID
	}
	if !batch && !j.half {
		if toDLQ {
			m.Properties = dlqProperties(m.Properties) // never delayed again
		}
		parked, refusal := p.parkTimer(&m)
		if refusal != nil {
			p.putJob(j)
			r.ReplyCode(refusal.Code, refusal.Remark)
			return
		}
		if !parked {
			var err error
			if parked, err = p.parkDelayed(&m); err != nil {
				p.putJob(j)
				r.ReplyCode(remoting.MessageIllegal, err.Error())
				return
			}
		}
		if parked {
			// Stored in SCHEDULE_TOPIC_XXXX or rmq_sys_wheel_timer until
			// due, answered with the producer's queue as Java answers
			// (setQueueId(queueIdInt)).
			j.parked, j.realQueueID = true, queueID
			topic, queueID = m.Topic, m.QueueID
		}
	}
	var count int
	var err error
	if batch {
		count, err = p.encodeBatch(j, &m)
	} else {
		err = p.encode(j, &m)
		count = 1
	}
	if err != nil {
		p.putJob(j)
		var refusal *innerRefusal
		if errors.As(err, &refusal) {
			p.refused.note(p.Log, refusal.kind, r, topic, refusal.remark)
			r.ReplyCode(remoting.MessageIllegal, refusal.remark)
			return
		}
		r.ReplyCode(remoting.MessageIllegal, illegalRemark(err, p.ID.MaxMessageSize))
		return
	}
	p.submit(j, topic, queueID, count)
}

// submit re-checks the store (PC_SYNCHRONIZED) and hands the job over.
func (p *Handlers) submit(j *sendJob, topic string, queueID int32, count int) {
	r := j.Req
	switch p.Store.CheckStoreStatus() {
	case commitlog.PutOSPageCacheBusy:
		p.putJob(j)
		if p.Stats != nil {
			p.Stats.CountBusy(remoting.PCSynchronized)
		}
		r.ReplyBusy(remoting.PCSynchronized, 0, 0)
		return
	case commitlog.PutServiceNotAvailable:
		p.putJob(j)
		r.ReplyCode(remoting.ServiceNotAvailable, serviceNotAvailableRemark)
		return
	}
	j.Put = commitlog.PutRequest{Topic: topic, QueueID: queueID, Records: j.buf, Count: count}
	if !p.Writer.Submit(&j.AppendJob, p.Stop) {
		p.putJob(j)
		r.ReplyCode(remoting.ServiceNotAvailable, "broker is shutting down")
	}
}

const serviceNotAvailableRemark = "service not available now. It may be caused by one of the following reasons: " +
	"the broker's disk is full, messages are put to the slave, message store has been shut down, etc."

func illegalRemark(err error, limit int) string {
	return "the message is illegal, maybe msg body or properties length not matched. msg body length limit " +
		strconv.Itoa(limit) + "B, msg properties length limit 32KB. (" + err.Error() + ")"
}

// msgCheck is AbstractSendMessageProcessor#msgCheck: topic name, permission,
// existence (with auto-creation from the default topic) and queue id.
func (p *Handlers) msgCheck(r *actors.Request, h *remoting.SendMessageRequestHeader) (metadata.TopicConfig, remoting.ResponseCode, string) {
	if err := metadata.ValidateTopic(h.Topic); err != nil {
		return metadata.TopicConfig{}, remoting.SystemError, err.Error()
	}
	if metadata.IsNotAllowedSendTopic(h.Topic) {
		return metadata.TopicConfig{}, remoting.NoPermission, metadata.RemarkSendForbidden(h.Topic)
	}
	tc, ok := p.Meta.Topics.Select(h.Topic)
	if !ok {
		sysFlag := 0
		if h.UnitMode {
			sysFlag = metadata.BuildTopicSysFlag(false, true)
		}
		var err error
		if metadata.IsRetryTopic(h.Topic) {
			tc, _, err = p.Meta.Topics.CreateTopicInSendMessageBackMethod(h.Topic, 1, metadata.PermRead|metadata.PermWrite, sysFlag)
		} else {
			tc, _, err = p.Meta.Topics.CreateTopicInSendMessageMethod(h.Topic, h.DefaultTopic, int(h.DefaultTopicQueueNums), sysFlag)
		}
		if err != nil {
			return tc, remoting.TopicNotExist, err.Error()
		}
	}
	if !metadata.IsWriteable(tc.Perm) {
		return tc, remoting.NoPermission, "the topic[" + h.Topic + "] sending message is forbidden"
	}
	if n := max(tc.ReadQueueNums, tc.WriteQueueNums); int(h.QueueID) >= n {
		return tc, remoting.SystemError, "request queueId[" + strconv.Itoa(int(h.QueueID)) + "] is illegal, " +
			tc.String() + " Producer: " + r.RemoteAddr()
	}
	return tc, remoting.Success, ""
}

// encode appends m to the job as one stored record, remembering its size
// for the answer's message ids.
func (p *Handlers) encode(j *sendJob, m *commitlog.Message) error {
	before := len(j.buf)
	var err error
	if j.buf, err = commitlog.AppendRecordLimit(j.buf, m, p.ID.MaxMessageSize); err != nil {
		return err
	}
	j.sizes = append(j.sizes, int32(len(j.buf)-before))
	return nil
}

// encodeBatch turns the client's batch body into stored records, one per
// message, each with the batch header's common fields.
func (p *Handlers) encodeBatch(j *sendJob, m *commitlog.Message) (int, error) {
	n := 0
	return remoting.EachBatchItem(m.Body, func(it remoting.BatchItem) error {
		one := *m
		one.Flag = it.Flag
		one.Body = it.Body
		one.Properties = storedProperties(unsafeString(it.Properties))
		// Java refuses a batch whose wrapper asks for a delay or a
		// transaction (MESSAGE_ILLEGAL); an inner message that does is
		// refused too, since it would be stored and delivered at once.
		if kind, _, remark, refused := p.checkUnhonoured(&remoting.SendMessageRequestHeader{SysFlag: one.SysFlag}, one.Properties, true); refused {
			return &innerRefusal{kind: kind, remark: "batch message " + strconv.Itoa(n) + ": " + remark}
		}
		n++
		return p.encode(j, &one)
	})
}

// done runs once the records are stored (and, with SYNC_FLUSH, synced): on
// the writer's goroutine, or the group-commit service's.
func (j *sendJob) done(_ *actors.AppendJob) {
	p, r, res := j.p, j.Req, j.Put.Result
	p.BrokerStats.PutMessage(j.Put.Topic, res.Status == commitlog.PutOK, res.MsgCount, int(res.WroteBytes))
	var resp *remoting.Command
	if j.reply != nil {
		resp = p.storedReplyResponse(r, j, res)
	} else {
		resp = p.putResultResponse(r, j, res)
	}
	p.putJob(j)
	r.Reply(resp)
}

// putResultResponse is SendMessageProcessor#handlePutMessageResult.
func (p *Handlers) putResultResponse(r *actors.Request, j *sendJob, res commitlog.PutResult) *remoting.Command {
	var code remoting.ResponseCode
	var remark string
	switch res.Status {
	case commitlog.PutOK:
		code = remoting.Success
	case commitlog.PutFlushDiskTimeout:
		code = remoting.FlushDiskTimeout
	case commitlog.PutFlushSlaveTimeout:
		code = remoting.FlushSlaveTimeout
	case commitlog.PutSlaveNotAvailable:
		code = remoting.SlaveNotAvailable
	case commitlog.PutCreateMappedFileFailed:
		code, remark = remoting.SystemError, "create mapped file failed, server is busy or broken."
	case commitlog.PutMessageIllegal:
		code, remark = remoting.MessageIllegal, illegalRemark(errOr(res.Err, "rejected by the store"), p.ID.MaxMessageSize)
	case commitlog.PutServiceNotAvailable:
		code, remark = remoting.ServiceNotAvailable, serviceNotAvailableRemark
	case commitlog.PutOSPageCacheBusy:
		if p.Stats != nil {
			p.Stats.CountBusy(remoting.PCSynchronized)
		}
		return remoting.BusyResponse(r.Cmd, remoting.PCSynchronized, 0, 0)
	default:
		code, remark = remoting.SystemError, "UNKNOWN_ERROR"
		if res.Err != nil {
			remark += ": " + res.Err.Error()
		}
	}
	if !res.Status.Stored() {
		return remoting.NewResponse(r.Cmd, code, remark)
	}
	resp := remoting.NewAnswer(r.Cmd, code, remark)
	hdr := remoting.SendMessageResponseHeader{
		QueueID:     j.Put.QueueID,
		QueueOffset: res.QueueOffset,
		MsgRegion:   p.ID.RegionID,
		TraceOn:     true,
	}
	p.setMsgID(&hdr, j, res.WroteOffset)
	if j.half {
		// The producer's queue, the half message's offsets (which its
		// END_TRANSACTION quotes), and RocketMQ 5's transactionId.
		hdr.QueueID, hdr.TransactionID = j.realQueueID, j.txID
	}
	if j.parked {
		hdr.QueueID = j.realQueueID
	}
	hdr.Encode(resp)
	return resp
}

func errOr(err error, s string) error {
	if err != nil {
		return err
	}
	return errors.New(s)
}

// setMsgID puts the offsetMsgId of each stored record in hdr,
// comma-joined for a batch, as RocketMQ answers. One record's id is the
// broker's host part and the offset, written into the frame as hex without
// building a string.
func (p *Handlers) setMsgID(hdr *remoting.SendMessageResponseHeader, j *sendJob, first int64) {
	if len(j.sizes) <= 1 {
		hdr.MsgIDHost, hdr.MsgIDOffset = p.msgIDHost(), first
		return
	}
	b := make([]byte, 0, len(j.sizes)*33)
	off := first
	for i, n := range j.sizes {
		if i > 0 {
			b = append(b, ',')
		}
		b = message.AppendOffsetMsgID(b, p.ID.StoreHost, off)
		off += int64(n)
	}
	hdr.MsgID = string(b)
}

// msgIDHost is the store host's part of every offsetMsgId this broker
// gives: the id of offset 0 without its 16 offset digits.
func (p *Handlers) msgIDHost() string {
	p.msgIDOnce.Do(func() {
		id := message.AppendOffsetMsgID(nil, p.ID.StoreHost, 0)
		p.msgIDPrefix = string(id[:len(id)-16])
	})
	return p.msgIDPrefix
}
