package grpcfront

import (
	"context"
	"hash/crc32"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	pb "github.com/sluice-mq/sluice/remoting/rmqv2"
)

// ReceiveMessage is the proxy's ReceiveMessageActivity: one POP_MESSAGE
// over every queue of the topic (queueId -1), held by the broker for the
// request's long-polling timeout; the answer streams the delivery
// timestamp, each message with its receipt handle (the pop's extraInfo,
// RocketMQ's POP_CK), then the status.
func (s *Server) ReceiveMessage(req *pb.ReceiveMessageRequest, ss grpc.ServerStreamingServer[pb.ReceiveMessageResponse]) error {
	s.stats.Requests[rpcReceiveMessage].Add(1)
	ctx := ss.Context()
	sendStatus := func(st *pb.Status) error {
		return ss.Send(&pb.ReceiveMessageResponse{Content: &pb.ReceiveMessageResponse_Status{Status: st}})
	}
	group := req.GetGroup().GetName()
	topic := req.GetMessageQueue().GetTopic().GetName()
	if group == "" {
		return sendStatus(status(pb.Code_ILLEGAL_CONSUMER_GROUP, "consumer group cannot be empty"))
	}
	if topic == "" {
		return sendStatus(status(pb.Code_ILLEGAL_TOPIC, "topic name cannot be empty"))
	}
	batch := req.GetBatchSize()
	if batch <= 0 || batch > receiveBatchSize {
		return sendStatus(status(pb.Code_BAD_REQUEST, "batch size %d is out of range [1, %d]", batch, receiveBatchSize))
	}
	invisible := req.GetInvisibleDuration().AsDuration()
	if req.GetInvisibleDuration() == nil || invisible < time.Second || invisible > 12*time.Hour {
		return sendStatus(status(pb.Code_ILLEGAL_INVISIBLE_TIME, "the invisible time %v is out of range [1s, 12h]", invisible))
	}
	poll := req.GetLongPollingTimeout().AsDuration()
	if poll < 0 {
		return sendStatus(status(pb.Code_ILLEGAL_POLLING_TIME, "the long polling timeout %v is negative", poll))
	}
	// The Node.js client asks 30 s by default: held at most the
	// settings' 20 s, as the proxy bounds it.
	poll = min(poll, longPollingTimeout)
	expType, exp := "TAG", "*"
	if f := req.GetFilterExpression(); f != nil {
		if f.GetType() == pb.FilterType_SQL {
			expType = "SQL92"
		}
		if f.GetExpression() != "" {
			exp = f.GetExpression()
		}
	}
	h := remoting.PopMessageRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: -1, MaxMsgNums: batch,
		InvisibleTime: invisible.Milliseconds(), PollTime: poll.Milliseconds(), BornTime: time.Now().UnixMilli(),
		ExpType: expType, Exp: exp, AttemptID: req.GetAttemptId()}
	cmd := remoting.NewRequest(remoting.PopMessage, nil, nil)
	h.Encode(cmd)
	resp, err := s.submitWait(ctx, cmd, poll+s.opts.Timeout)
	if err != nil {
		return sendStatus(errStatus(err))
	}
	switch remoting.ResponseCode(resp.Code) {
	case remoting.Success:
	case remoting.PollingFull, remoting.PollingTimeout, remoting.PullNotFound:
		return sendStatus(status(pb.Code_MESSAGE_NOT_FOUND, "no new message"))
	default:
		return sendStatus(statusOf(resp))
	}
	rh, err := remoting.DecodePopMessageResponseHeader(resp)
	if err != nil {
		return sendStatus(status(pb.Code_INTERNAL_SERVER_ERROR, "pop answer: %v", err))
	}
	start := startOffsets(rh.StartOffsetInfo)
	if err := ss.Send(&pb.ReceiveMessageResponse{Content: &pb.ReceiveMessageResponse_DeliveryTimestamp{
		DeliveryTimestamp: timestamppb.New(time.UnixMilli(rh.PopTime))}}); err != nil {
		return err
	}
	for rest := resp.Body; len(rest) >= 4; {
		size := int(uint32(rest[0])<<24 | uint32(rest[1])<<16 | uint32(rest[2])<<8 | uint32(rest[3]))
		if size <= 0 || size > len(rest) {
			break
		}
		sm, err := commitlog.DecodeRecord(rest[:size])
		rest = rest[size:]
		if err != nil {
			continue
		}
		handle := message.Get(sm.Properties, "POP_CK")
		if handle == "" {
			handle = buildHandle(start[sm.QueueID], rh.PopTime, rh.InvisibleTime, rh.ReviveQid, "0", s.opts.BrokerName, sm.QueueID, sm.QueueOffset)
		}
		// The proxy's receipt handle adds the commit-log offset, which
		// ForwardMessageToDeadLetterQueue sends back.
		handle += " " + strconv.FormatInt(sm.PhysicalOffset, 10)
		m := s.toProto(topic, &sm, handle, invisible)
		if err := ss.Send(&pb.ReceiveMessageResponse{Content: &pb.ReceiveMessageResponse_Message{Message: m}}); err != nil {
			return err
		}
	}
	return sendStatus(okStatus())
}

// startOffsets reads startOffsetInfo ("mark queueId offset;...") for the
// normal topic's queues (mark 0).
func startOffsets(info string) map[int32]int64 {
	m := map[int32]int64{}
	for _, one := range strings.Split(info, ";") {
		f := strings.Fields(one)
		if len(f) != 3 || f[0] != "0" {
			continue
		}
		q, err1 := strconv.Atoi(f[1])
		o, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 == nil && err2 == nil {
			m[int32(q)] = o
		}
	}
	return m
}

// buildHandle is ExtraInfoUtil.buildExtraInfo with the message offset:
// "ckOffset popTime invisibleTime reviveQid mark brokerName queueId
// msgOffset" — the receipt handle the client sends back.
func buildHandle(ckOffset, popTime, invisible int64, reviveQid int32, mark, broker string, queueID int32, offset int64) string {
	return strconv.FormatInt(ckOffset, 10) + " " + strconv.FormatInt(popTime, 10) + " " + strconv.FormatInt(invisible, 10) + " " +
		strconv.Itoa(int(reviveQid)) + " " + mark + " " + broker + " " + strconv.Itoa(int(queueID)) + " " + strconv.FormatInt(offset, 10)
}

// handle is a parsed receipt handle: the pop's extraInfo and the
// message's commit-log offset.
type handle struct {
	fields          []string
	extraInfo       string
	queueID         int32
	offset          int64
	commitLogOffset int64
}

func parseHandle(s string) (handle, bool) {
	f := strings.Split(s, " ")
	if len(f) != 9 {
		return handle{}, false
	}
	q, err1 := strconv.Atoi(f[6])
	o, err2 := strconv.ParseInt(f[7], 10, 64)
	c, err3 := strconv.ParseInt(f[8], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return handle{}, false
	}
	return handle{fields: f, extraInfo: strings.Join(f[:8], " "), queueID: int32(q), offset: o, commitLogOffset: c}, true
}

// toProto is the proxy's GrpcConverter#buildMessage.
func (s *Server) toProto(topic string, sm *commitlog.StoredMessage, receipt string, invisible time.Duration) *pb.Message {
	sp := &pb.SystemProperties{
		MessageId:         message.Get(sm.Properties, message.PropertyUniqClientMessageIDKeyIdx),
		BodyDigest:        &pb.Digest{Type: pb.DigestType_CRC32, Checksum: strconv.FormatUint(uint64(crc32.ChecksumIEEE(sm.Body)), 10)},
		BodyEncoding:      pb.Encoding_IDENTITY,
		MessageType:       pb.MessageType_NORMAL,
		BornTimestamp:     timestamppb.New(time.UnixMilli(sm.BornTimestamp)),
		BornHost:          addrHost(sm.BornHost),
		StoreTimestamp:    timestamppb.New(time.UnixMilli(sm.StoreTimestamp)),
		StoreHost:         sm.StoreHost.String(),
		ReceiptHandle:     &receipt,
		QueueId:           sm.QueueID,
		QueueOffset:       &sm.QueueOffset,
		InvisibleDuration: durationpb.New(invisible),
	}
	attempt := sm.ReconsumeTimes + 1
	sp.DeliveryAttempt = &attempt
	user := map[string]string{}
	message.Each(sm.Properties, func(k, v string) {
		switch k {
		case message.PropertyTags:
			tag := v
			sp.Tag = &tag
		case message.PropertyKeys:
			sp.Keys = strings.Fields(v)
		case message.PropertyShardingKey:
			g := v
			sp.MessageGroup = &g
			sp.MessageType = pb.MessageType_FIFO
		case message.PropertyTimerDeliverMS:
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				sp.DeliveryTimestamp = timestamppb.New(time.UnixMilli(ms))
				sp.MessageType = pb.MessageType_DELAY
			}
		case "TRACE_CONTEXT":
			tc := v
			sp.TraceContext = &tc
		default:
			if !reservedProperty(k) && k != "POP_CK" && !strings.HasPrefix(k, "TIMER_") && k != "CLUSTER" && k != "REAL_TOPIC" && k != "REAL_QID" {
				user[k] = v
			}
		}
	})
	if message.Get(sm.Properties, message.PropertyTransactionPrepared) == "true" {
		sp.MessageType = pb.MessageType_TRANSACTION
	}
	return &pb.Message{Topic: &pb.Resource{Name: topic}, UserProperties: user, SystemProperties: sp, Body: sm.Body}
}

func addrHost(ap netip.AddrPort) string { return ap.Addr().String() }

// AckMessage is ACK_MESSAGE per entry, with the queue and offset its
// receipt handle names.
func (s *Server) AckMessage(ctx context.Context, req *pb.AckMessageRequest) (*pb.AckMessageResponse, error) {
	s.stats.Requests[rpcAckMessage].Add(1)
	group, topic := req.GetGroup().GetName(), req.GetTopic().GetName()
	if len(req.GetEntries()) == 0 {
		return &pb.AckMessageResponse{Status: status(pb.Code_BAD_REQUEST, "no entry to ack")}, nil
	}
	out := &pb.AckMessageResponse{}
	codes := map[pb.Code]bool{}
	for _, e := range req.GetEntries() {
		st := s.ackOne(ctx, remoting.AckMessage, group, topic, e.GetReceiptHandle(), 0)
		out.Entries = append(out.Entries, &pb.AckMessageResultEntry{MessageId: e.GetMessageId(), ReceiptHandle: e.GetReceiptHandle(), Status: st})
		codes[st.Code] = true
	}
	out.Status = out.Entries[0].Status
	if len(codes) > 1 {
		out.Status = status(pb.Code_MULTIPLE_RESULTS, "MULTIPLE_RESULTS")
	}
	return out, nil
}

func (s *Server) ackOne(ctx context.Context, code remoting.RequestCode, group, topic, receipt string, invisibleMillis int64) *pb.Status {
	h, ok := parseHandle(receipt)
	if !ok {
		return status(pb.Code_INVALID_RECEIPT_HANDLE, "receipt handle %q is malformed", receipt)
	}
	cmd := remoting.NewRequest(code, nil, nil)
	ah := remoting.AckMessageRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: h.queueID, ExtraInfo: h.extraInfo,
		Offset: h.offset, InvisibleTime: invisibleMillis}
	ah.Encode(cmd)
	resp, err := s.submit(ctx, cmd)
	if err != nil {
		return errStatus(err)
	}
	if remoting.ResponseCode(resp.Code) == remoting.MessageIllegal {
		return status(pb.Code_INVALID_RECEIPT_HANDLE, "%s", resp.Remark)
	}
	return statusOf(resp)
}

// ChangeInvisibleDuration is CHANGE_MESSAGE_INVISIBLETIME; the answer
// carries the new receipt handle, as the proxy builds it.
func (s *Server) ChangeInvisibleDuration(ctx context.Context, req *pb.ChangeInvisibleDurationRequest) (*pb.ChangeInvisibleDurationResponse, error) {
	s.stats.Requests[rpcChangeInvisibleDuration].Add(1)
	d := req.GetInvisibleDuration().AsDuration()
	if req.GetInvisibleDuration() == nil || d < time.Second || d > 12*time.Hour {
		return &pb.ChangeInvisibleDurationResponse{Status: status(pb.Code_ILLEGAL_INVISIBLE_TIME, "the invisible time %v is out of range [1s, 12h]", d)}, nil
	}
	h, ok := parseHandle(req.GetReceiptHandle())
	if !ok {
		return &pb.ChangeInvisibleDurationResponse{Status: status(pb.Code_INVALID_RECEIPT_HANDLE, "receipt handle %q is malformed", req.GetReceiptHandle())}, nil
	}
	cmd := remoting.NewRequest(remoting.ChangeMessageInvisibleTime, nil, nil)
	ah := remoting.AckMessageRequestHeader{ConsumerGroup: req.GetGroup().GetName(), Topic: req.GetTopic().GetName(), QueueID: h.queueID,
		ExtraInfo: h.extraInfo, Offset: h.offset, InvisibleTime: d.Milliseconds()}
	ah.Encode(cmd)
	resp, err := s.submit(ctx, cmd)
	if err != nil {
		return &pb.ChangeInvisibleDurationResponse{Status: errStatus(err)}, nil
	}
	if remoting.ResponseCode(resp.Code) == remoting.MessageIllegal {
		return &pb.ChangeInvisibleDurationResponse{Status: status(pb.Code_INVALID_RECEIPT_HANDLE, "%s", resp.Remark)}, nil
	}
	if resp.Code != int32(remoting.Success) {
		return &pb.ChangeInvisibleDurationResponse{Status: statusOf(resp)}, nil
	}
	ch, err := remoting.DecodeChangeInvisibleTimeResponseHeader(resp)
	if err != nil {
		return &pb.ChangeInvisibleDurationResponse{Status: status(pb.Code_INTERNAL_SERVER_ERROR, "answer: %v", err)}, nil
	}
	next := buildHandle(h.offset, ch.PopTime, ch.InvisibleTime, ch.ReviveQid, h.fields[4], h.fields[5], h.queueID, h.offset) +
		" " + strconv.FormatInt(h.commitLogOffset, 10)
	return &pb.ChangeInvisibleDurationResponse{Status: okStatus(), ReceiptHandle: next}, nil
}

// ForwardMessageToDeadLetterQueue is the proxy's: CONSUMER_SEND_MSG_BACK
// with delay level -1 (straight to %DLQ%group), then ACK_MESSAGE of the
// handle, so the message is not redelivered.
func (s *Server) ForwardMessageToDeadLetterQueue(ctx context.Context, req *pb.ForwardMessageToDeadLetterQueueRequest) (*pb.ForwardMessageToDeadLetterQueueResponse, error) {
	s.stats.Requests[rpcForwardToDLQ].Add(1)
	group, topic := req.GetGroup().GetName(), req.GetTopic().GetName()
	h, ok := parseHandle(req.GetReceiptHandle())
	if !ok {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: status(pb.Code_INVALID_RECEIPT_HANDLE, "receipt handle %q is malformed", req.GetReceiptHandle())}, nil
	}
	ext := map[string]string{
		"offset": strconv.FormatInt(h.commitLogOffset, 10), "group": group, "delayLevel": "-1",
		"originMsgId": req.GetMessageId(), "originTopic": topic, "unitMode": "false",
		"maxReconsumeTimes": strconv.Itoa(int(req.GetMaxDeliveryAttempts())),
	}
	resp, err := s.submit(ctx, remoting.NewRequest(remoting.ConsumerSendMsgBack, ext, nil))
	if err != nil {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: errStatus(err)}, nil
	}
	if st := statusOf(resp); st.Code != pb.Code_OK {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: st}, nil
	}
	return &pb.ForwardMessageToDeadLetterQueueResponse{Status: s.ackOne(ctx, remoting.AckMessage, group, topic, req.GetReceiptHandle(), 0)}, nil
}
