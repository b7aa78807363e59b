package actors

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// BrokerIdentity is what request handlers need to know about the broker
// they run in.
type BrokerIdentity struct {
	ClusterName string
	BrokerName  string
	BrokerID    int64
	// StoreHost is brokerIP1:listenPort, written into every record and into
	// every offsetMsgId.
	StoreHost netip.AddrPort
	// RegionID is answered in MSG_REGION ("DefaultRegion").
	RegionID string
	// MaxMessageSize is the body limit (maxMessageSize).
	MaxMessageSize int
}

// SendProcessor is RocketMQ's SendMessageProcessor: SEND_MESSAGE,
// SEND_MESSAGE_V2, SEND_BATCH_MESSAGE and CONSUMER_SEND_MSG_BACK. It parses
// and encodes each message on its own goroutine, outside the writer's
// critical section, re-checks the page cache (PC_SYNCHRONIZED) and hands
// the encoded records to the writer.
type SendProcessor struct {
	ID     BrokerIdentity
	Store  *commitlog.Store
	Writer *Writer
	Meta   *metadata.Managers
	Log    zerolog.Logger
	// Stats is the send processor's counters (PC_SYNCHRONIZED answers are
	// counted here).
	Stats *ProcessorStats
	// Stop aborts a wait for the writer at shutdown.
	Stop <-chan struct{}

	jobs sync.Pool
}

// Handlers returns the processor's request handlers.
func (p *SendProcessor) Handlers() map[remoting.RequestCode]HandlerFunc {
	return map[remoting.RequestCode]HandlerFunc{
		remoting.SendMessage:         p.sendMessage,
		remoting.SendMessageV2:       p.sendMessage,
		remoting.SendBatchMessage:    p.sendMessage,
		remoting.ConsumerSendMsgBack: p.consumerSendMsgBack,
	}
}

// sendJob is an AppendJob with the state its answer needs; pooled, so
// that the steady-state send path allocates no record buffer.
type sendJob struct {
	AppendJob
	p     *SendProcessor
	buf   []byte
	sizes []int32
}

func (p *SendProcessor) getJob() *sendJob {
	if j, ok := p.jobs.Get().(*sendJob); ok {
		return j
	}
	j := &sendJob{p: p}
	j.Done = j.done
	j.Cancelled = func(*AppendJob) { p.putJob(j) }
	return j
}

func (p *SendProcessor) putJob(j *sendJob) {
	if cap(j.buf) > 1<<20 {
		j.buf = nil // don't pin a rare big batch's buffer
	}
	j.Req, j.buf, j.sizes = nil, j.buf[:0], j.sizes[:0]
	j.Put = commitlog.PutRequest{}
	p.jobs.Put(j)
}

func (p *SendProcessor) sendMessage(_ actor.Context, r *Request) {
	h, err := ParseSendHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	tc, code, remark := p.msgCheck(r, &h)
	if code != remoting.Success {
		r.ReplyCode(code, remark)
		return
	}
	queueID := h.QueueID
	if queueID < 0 {
		queueID = rand.Int32N(int32(max(tc.WriteQueueNums, 1)))
	}
	topic := h.Topic
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
		}
	}

	j := p.getJob()
	j.Req = r
	m := commitlog.Message{
		Topic:          topic,
		QueueID:        queueID,
		Flag:           h.Flag,
		SysFlag:        h.SysFlag,
		BornTimestamp:  h.BornTimestamp,
		BornHost:       bornHost(r),
		StoreHost:      p.ID.StoreHost,
		ReconsumeTimes: h.ReconsumeTimes,
		Body:           r.Cmd.Body,
		Properties:     h.Properties,
	}
	var count int
	if r.Cmd.RequestCode() == remoting.SendBatchMessage {
		count, err = p.encodeBatch(j, &m)
	} else {
		err = p.encode(j, &m)
		count = 1
	}
	if err != nil {
		p.putJob(j)
		r.ReplyCode(remoting.MessageIllegal, illegalRemark(err, p.ID.MaxMessageSize))
		return
	}
	p.submit(j, topic, queueID, count)
}

// submit re-checks the store (PC_SYNCHRONIZED) and hands the job over.
func (p *SendProcessor) submit(j *sendJob, topic string, queueID int32, count int) {
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
func (p *SendProcessor) msgCheck(r *Request, h *SendMessageRequestHeader) (metadata.TopicConfig, remoting.ResponseCode, string) {
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
			tc.String() + " Producer: " + r.Conn.RemoteAddr()
	}
	return tc, remoting.Success, ""
}

// encode appends m to the job as one stored record, remembering its size
// for the answer's message ids.
func (p *SendProcessor) encode(j *sendJob, m *commitlog.Message) error {
	before := len(j.buf)
	var err error
	if j.buf, err = commitlog.AppendRecordLimit(j.buf, m, p.ID.MaxMessageSize); err != nil {
		return err
	}
	j.sizes = append(j.sizes, int32(len(j.buf)-before))
	return nil
}

// encodeBatch decodes the client's batch body (TOTALSIZE MAGIC BODYCRC FLAG
// BODYLEN BODY PROPLEN PROPERTIES per message) into stored records.
func (p *SendProcessor) encodeBatch(j *sendJob, m *commitlog.Message) (int, error) {
	body := m.Body
	count := 0
	for len(body) > 0 {
		if len(body) < 20 {
			return 0, errBatchTruncated
		}
		total := int(int32(binary.BigEndian.Uint32(body)))
		if total < 22 || total > len(body) {
			return 0, errBatchTruncated
		}
		rec := body[:total]
		body = body[total:]
		flag := int32(binary.BigEndian.Uint32(rec[12:]))
		bodyLen := int(int32(binary.BigEndian.Uint32(rec[16:])))
		if bodyLen < 0 || 20+bodyLen+2 > total {
			return 0, errBatchTruncated
		}
		inner := rec[20 : 20+bodyLen]
		propLen := int(binary.BigEndian.Uint16(rec[20+bodyLen:]))
		if 22+bodyLen+propLen != total {
			return 0, errBatchTruncated
		}
		props := rec[22+bodyLen:]
		one := *m
		one.Flag = flag
		one.Body = inner
		one.Properties = unsafeString(props)
		if err := p.encode(j, &one); err != nil {
			return 0, err
		}
		count++
	}
	if count == 0 {
		return 0, errBatchTruncated
	}
	return count, nil
}

var errBatchTruncated = errors.New("batch body is truncated or malformed")

// done runs on the writer's goroutine once the records are stored.
func (j *sendJob) done(_ *AppendJob) {
	p, r, res := j.p, j.Req, j.Put.Result
	resp := p.putResultResponse(r, j, res)
	p.putJob(j)
	r.Reply(resp)
}

// putResultResponse is SendMessageProcessor#handlePutMessageResult.
func (p *SendProcessor) putResultResponse(r *Request, j *sendJob, res commitlog.PutResult) *remoting.Command {
	var code remoting.ResponseCode
	var remark string
	switch res.Status {
	case commitlog.PutOK:
		code = remoting.Success
	case commitlog.PutFlushDiskTimeout:
		code = remoting.FlushDiskTimeout
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
	resp := remoting.NewResponse(r.Cmd, code, remark)
	if code != remoting.Success && code != remoting.FlushDiskTimeout {
		return resp
	}
	resp.ExtFields = make(map[string]string, 6)
	resp.ExtFields["queueId"] = strconv.Itoa(int(j.Put.QueueID))
	resp.ExtFields["queueOffset"] = strconv.FormatInt(res.QueueOffset, 10)
	resp.ExtFields["msgId"] = p.msgIDs(j, res.WroteOffset)
	resp.ExtFields["MSG_REGION"] = p.ID.RegionID
	resp.ExtFields["TRACE_ON"] = "true"
	return resp
}

func errOr(err error, s string) error {
	if err != nil {
		return err
	}
	return errors.New(s)
}

// msgIDs renders the offsetMsgId of each stored record, comma-joined for a
// batch, as RocketMQ answers.
func (p *SendProcessor) msgIDs(j *sendJob, first int64) string {
	if len(j.sizes) <= 1 {
		return OffsetMsgID(p.ID.StoreHost, first)
	}
	var b strings.Builder
	b.Grow(len(j.sizes) * 33)
	off := first
	for i, n := range j.sizes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(OffsetMsgID(p.ID.StoreHost, off))
		off += int64(n)
	}
	return b.String()
}

// OffsetMsgID is MessageDecoder#createMessageId: the store host's IP and
// port and the record's commit-log offset, in upper-case hex.
func OffsetMsgID(storeHost netip.AddrPort, phys int64) string {
	var raw [16 + 4 + 8]byte
	n := 0
	if a := storeHost.Addr().Unmap(); a.Is4() {
		ip := a.As4()
		n = copy(raw[:], ip[:])
	} else {
		ip := a.As16()
		n = copy(raw[:], ip[:])
	}
	binary.BigEndian.PutUint32(raw[n:], uint32(storeHost.Port()))
	binary.BigEndian.PutUint64(raw[n+4:], uint64(phys))
	const upperHex = "0123456789ABCDEF"
	var out [2 * len(raw)]byte
	for i, b := range raw[:n+12] {
		out[2*i], out[2*i+1] = upperHex[b>>4], upperHex[b&0xF]
	}
	return string(out[:2*(n+12)])
}

// bornHost is the producer's address as the broker sees it.
func bornHost(r *Request) netip.AddrPort {
	ap, err := netip.ParseAddrPort(r.Conn.RemoteAddr())
	if err != nil {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
