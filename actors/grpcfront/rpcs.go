package grpcfront

import (
	"context"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	pb "github.com/sluice-mq/sluice/remoting/rmqv2"
)

// The RPCs counted by name.
const (
	rpcQueryRoute = iota
	rpcHeartbeat
	rpcTelemetry
	rpcSendMessage
	rpcEndTransaction
	rpcQueryAssignment
	rpcNotifyClientTermination
	rpcReceiveMessage
	rpcAckMessage
	rpcChangeInvisibleDuration
	rpcForwardToDLQ
	rpcRefused
	numRPCs
)

var rpcNames = [numRPCs]string{"QueryRoute", "Heartbeat", "Telemetry", "SendMessage", "EndTransaction", "QueryAssignment", "NotifyClientTermination", "ReceiveMessage", "AckMessage", "ChangeInvisibleDuration", "ForwardMessageToDeadLetterQueue", "refused"}

// transaction sysFlag bits (MessageSysFlag).
const (
	sysFlagTransactionPrepared = 0x4
	commitType                 = 0x8
	rollbackType               = 0xC
)

// QueryRoute answers with this broker and the topic's queues, at the
// address the client reached it by (the proxy answers with itself too).
func (s *Server) QueryRoute(ctx context.Context, req *pb.QueryRouteRequest) (*pb.QueryRouteResponse, error) {
	s.stats.Requests[rpcQueryRoute].Add(1)
	name := req.GetTopic().GetName()
	if name == "" {
		return &pb.QueryRouteResponse{Status: status(pb.Code_ILLEGAL_TOPIC, "topic name cannot be empty")}, nil
	}
	tr, ok := s.opts.Topic(name)
	if !ok {
		return &pb.QueryRouteResponse{Status: status(pb.Code_TOPIC_NOT_FOUND, "topic %s not found on broker %s", name, s.opts.BrokerName)}, nil
	}
	broker := &pb.Broker{Name: s.opts.BrokerName, Id: int32(s.opts.BrokerID), Endpoints: s.endpointsOf(ctx, req.GetEndpoints())}
	types := acceptTypes(tr.MessageType)
	n := max(tr.ReadQueues, tr.WriteQueues)
	queues := make([]*pb.MessageQueue, 0, n)
	for i := range n {
		queues = append(queues, &pb.MessageQueue{Topic: req.GetTopic(), Id: int32(i), Permission: permOf(i, tr),
			Broker: broker, AcceptMessageTypes: types})
	}
	return &pb.QueryRouteResponse{Status: okStatus(), MessageQueues: queues}, nil
}

// permOf is the proxy's queue permission: read if the queue id is below
// the read count and the topic readable; likewise write.
func permOf(id int, tr TopicRoute) pb.Permission {
	r := id < tr.ReadQueues && tr.Perm&4 != 0
	w := id < tr.WriteQueues && tr.Perm&2 != 0
	switch {
	case r && w:
		return pb.Permission_READ_WRITE
	case r:
		return pb.Permission_READ
	case w:
		return pb.Permission_WRITE
	}
	return pb.Permission_NONE
}

// acceptTypes reads a topic's +message.type; unset accepts every type.
func acceptTypes(t string) []pb.MessageType {
	switch strings.ToUpper(t) {
	case "NORMAL":
		return []pb.MessageType{pb.MessageType_NORMAL}
	case "FIFO":
		return []pb.MessageType{pb.MessageType_FIFO}
	case "DELAY":
		return []pb.MessageType{pb.MessageType_DELAY}
	case "TRANSACTION":
		return []pb.MessageType{pb.MessageType_TRANSACTION}
	}
	return []pb.MessageType{pb.MessageType_NORMAL, pb.MessageType_FIFO, pb.MessageType_DELAY, pb.MessageType_TRANSACTION}
}

// Heartbeat keeps the client's session alive; the proxy's producer and
// consumer registrations are this front's telemetry sessions.
func (s *Server) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	s.stats.Requests[rpcHeartbeat].Add(1)
	c := callOf(ctx)
	if c.clientID == "" {
		return &pb.HeartbeatResponse{Status: status(pb.Code_CLIENT_ID_REQUIRED, "x-mq-client-id header is required")}, nil
	}
	if req.GetClientType() == pb.ClientType_CLIENT_TYPE_UNSPECIFIED {
		return &pb.HeartbeatResponse{Status: status(pb.Code_UNRECOGNIZED_CLIENT_TYPE, "client type is not specified")}, nil
	}
	s.touch(c.clientID, req.GetGroup().GetName(), req.GetClientType())
	s.mu.Lock()
	se := s.sessions[c.clientID]
	s.mu.Unlock()
	if se != nil {
		s.registerProducer(c.clientID, se)
	}
	return &pb.HeartbeatResponse{Status: okStatus()}, nil
}

// NotifyClientTermination ends the client's session.
func (s *Server) NotifyClientTermination(ctx context.Context, req *pb.NotifyClientTerminationRequest) (*pb.NotifyClientTerminationResponse, error) {
	s.stats.Requests[rpcNotifyClientTermination].Add(1)
	c := callOf(ctx)
	if c.clientID == "" {
		return &pb.NotifyClientTerminationResponse{Status: status(pb.Code_CLIENT_ID_REQUIRED, "x-mq-client-id header is required")}, nil
	}
	s.forget(c.clientID)
	return &pb.NotifyClientTerminationResponse{Status: okStatus()}, nil
}

// QueryAssignment assigns every readable queue of this broker (one
// broker: the proxy's assignment of a single-broker cluster).
func (s *Server) QueryAssignment(ctx context.Context, req *pb.QueryAssignmentRequest) (*pb.QueryAssignmentResponse, error) {
	s.stats.Requests[rpcQueryAssignment].Add(1)
	name := req.GetTopic().GetName()
	tr, ok := s.opts.Topic(name)
	if !ok {
		return &pb.QueryAssignmentResponse{Status: status(pb.Code_TOPIC_NOT_FOUND, "topic %s not found on broker %s", name, s.opts.BrokerName)}, nil
	}
	broker := &pb.Broker{Name: s.opts.BrokerName, Id: int32(s.opts.BrokerID), Endpoints: s.endpointsOf(ctx, req.GetEndpoints())}
	var as []*pb.Assignment
	for i := range tr.ReadQueues {
		if p := permOf(i, tr); p == pb.Permission_READ || p == pb.Permission_READ_WRITE {
			as = append(as, &pb.Assignment{MessageQueue: &pb.MessageQueue{Topic: req.GetTopic(), Id: int32(i), Permission: p,
				Broker: broker, AcceptMessageTypes: acceptTypes(tr.MessageType)}})
		}
	}
	return &pb.QueryAssignmentResponse{Status: okStatus(), Assignments: as}, nil
}

// SendMessage translates each message into SEND_MESSAGE as the proxy's
// SendMessageActivity builds it (UNIQ_KEY from the client's message id,
// TAGS, KEYS, __SHARDINGKEY from the message group and the queue chosen by
// its consistent hash, TIMER_DELIVER_MS from the delivery timestamp,
// TRAN_MSG and the prepared sysFlag for a transaction).
func (s *Server) SendMessage(ctx context.Context, req *pb.SendMessageRequest) (*pb.SendMessageResponse, error) {
	s.stats.Requests[rpcSendMessage].Add(1)
	msgs := req.GetMessages()
	if len(msgs) == 0 {
		return &pb.SendMessageResponse{Status: status(pb.Code_BAD_REQUEST, "no message to send")}, nil
	}
	topic := msgs[0].GetTopic().GetName()
	for _, m := range msgs {
		if m.GetTopic().GetName() != topic {
			return &pb.SendMessageResponse{Status: status(pb.Code_BAD_REQUEST, "messages of one request must share a topic")}, nil
		}
	}
	tr, ok := s.opts.Topic(topic)
	if !ok {
		return &pb.SendMessageResponse{Status: status(pb.Code_TOPIC_NOT_FOUND, "topic %s not found on broker %s", topic, s.opts.BrokerName)}, nil
	}
	if tr.WriteQueues <= 0 || tr.Perm&2 == 0 {
		return &pb.SendMessageResponse{Status: status(pb.Code_FORBIDDEN, "topic %s is not writeable", topic)}, nil
	}
	queue := int(s.roundRobin.Add(1)) % tr.WriteQueues
	if g := msgs[0].GetSystemProperties().GetMessageGroup(); g != "" && len(msgs) == 1 {
		queue = consistentHash(int64(javaStringHash(g)), tr.WriteQueues)
	}
	resp := &pb.SendMessageResponse{}
	codes := map[pb.Code]bool{}
	for _, m := range msgs {
		e := s.sendOne(ctx, m, queue, tr.WriteQueues)
		resp.Entries = append(resp.Entries, e)
		codes[e.Status.Code] = true
	}
	switch {
	case len(codes) > 1:
		resp.Status = status(pb.Code_MULTIPLE_RESULTS, "MULTIPLE_RESULTS")
	default:
		resp.Status = resp.Entries[0].Status
	}
	return resp, nil
}

func (s *Server) sendOne(ctx context.Context, m *pb.Message, queue, queues int) *pb.SendResultEntry {
	sp := m.GetSystemProperties()
	if sp.GetMessageId() == "" {
		return &pb.SendResultEntry{Status: status(pb.Code_ILLEGAL_MESSAGE_ID, "message id cannot be empty")}
	}
	if len(m.GetBody()) == 0 {
		return &pb.SendResultEntry{Status: status(pb.Code_MESSAGE_BODY_EMPTY, "message body cannot be empty")}
	}
	if len(m.GetBody()) > s.opts.MaxMessageSize {
		return &pb.SendResultEntry{Status: status(pb.Code_MESSAGE_BODY_TOO_LARGE, "message body is larger than %d bytes", s.opts.MaxMessageSize)}
	}
	var props []byte
	for k, v := range m.GetUserProperties() {
		if reservedProperty(k) {
			return &pb.SendResultEntry{Status: status(pb.Code_ILLEGAL_MESSAGE_PROPERTY_KEY, "property is used by system: %s", k)}
		}
		if strings.ContainsAny(k, "\x01\x02") || strings.ContainsAny(v, "\x01\x02") {
			return &pb.SendResultEntry{Status: status(pb.Code_ILLEGAL_MESSAGE_PROPERTY_KEY, "the key or value of property cannot contain control character")}
		}
		props = message.Append(props, k, v)
	}
	if sp.Tag != nil {
		if t := sp.GetTag(); t == "" || strings.Contains(t, "|") {
			return &pb.SendResultEntry{Status: status(pb.Code_ILLEGAL_MESSAGE_TAG, "tag %q is illegal", t)}
		}
		props = message.Append(props, message.PropertyTags, sp.GetTag())
	}
	if keys := sp.GetKeys(); len(keys) > 0 {
		props = message.Append(props, message.PropertyKeys, strings.Join(keys, " "))
	}
	props = message.Append(props, message.PropertyUniqClientMessageIDKeyIdx, sp.GetMessageId())
	sysFlag := 0
	if sp.GetMessageType() == pb.MessageType_TRANSACTION {
		sysFlag |= sysFlagTransactionPrepared
		props = message.Append(props, message.PropertyTransactionPrepared, "true")
		if d := sp.GetOrphanedTransactionRecoveryDuration(); d != nil {
			props = message.Append(props, message.PropertyCheckImmunityTimeInSeconds, strconv.FormatInt(int64(d.AsDuration()/time.Second), 10))
		}
	}
	if dt := sp.GetDeliveryTimestamp(); dt != nil {
		ms := dt.AsTime().UnixMilli()
		if ms-time.Now().UnixMilli() > maxDelayMillis {
			return &pb.SendResultEntry{Status: status(pb.Code_ILLEGAL_DELIVERY_TIME, "the max delay time of message is too large, max is %d ms", int64(maxDelayMillis))}
		}
		props = message.Append(props, message.PropertyTimerDeliverMS, strconv.FormatInt(ms, 10))
	}
	group := producerGroupOf(m.GetTopic().GetName())
	props = message.Append(props, message.PropertyProducerGroup, group)
	if g := sp.GetMessageGroup(); g != "" {
		props = message.Append(props, message.PropertyShardingKey, g)
	}
	if tc := sp.GetTraceContext(); tc != "" {
		props = message.Append(props, "TRACE_CONTEXT", tc)
	}
	born := time.Now().UnixMilli()
	if bt := sp.GetBornTimestamp(); bt != nil && bt.IsValid() {
		born = bt.AsTime().UnixMilli()
	}
	cmd := remoting.NewRequest(remoting.SendMessage, map[string]string{
		"producerGroup": group,
		"topic":         m.GetTopic().GetName(),
		"defaultTopic":  "TBW102",
		// An auto-created topic gets the queues QueryRoute announced.
		"defaultTopicQueueNums": strconv.Itoa(queues),
		"queueId":               strconv.Itoa(queue),
		"sysFlag":               strconv.Itoa(sysFlag),
		"bornTimestamp":         strconv.FormatInt(born, 10),
		"flag":                  "0",
		"properties":            string(props),
		"reconsumeTimes":        strconv.Itoa(int(sp.GetDeliveryAttempt())),
		"unitMode":              "false",
		"batch":                 "false",
	}, m.GetBody())
	resp, err := s.submit(ctx, cmd)
	if err != nil {
		return &pb.SendResultEntry{Status: errStatus(err)}
	}
	st := statusOf(resp)
	if resp.Code == int32(remoting.MessageIllegal) && strings.HasPrefix(resp.Remark, "TopicMessageType validate failed") {
		// The topic's +message.type refused it: the proxy's code.
		st.Code = pb.Code_MESSAGE_PROPERTY_CONFLICT_WITH_TYPE
	}
	if st.Code != pb.Code_OK {
		return &pb.SendResultEntry{Status: st}
	}
	txID := resp.Ext("transactionId")
	if sysFlag&sysFlagTransactionPrepared != 0 {
		if txID == "" {
			txID = sp.GetMessageId()
		}
		qoff, _ := strconv.ParseInt(resp.Ext("queueOffset"), 10, 64)
		s.txs.put(txID, halfMessage{group: group, queueOffset: qoff, commitLogOffset: commitLogOffsetOf(resp.Ext("msgId")),
			msgID: sp.GetMessageId(), topic: m.GetTopic().GetName()})
	}
	off, _ := strconv.ParseInt(resp.Ext("queueOffset"), 10, 64)
	return &pb.SendResultEntry{Status: st, MessageId: sp.GetMessageId(), TransactionId: txID, Offset: off}
}

// maxDelayMillis is the proxy's default maximum delay (one day).
const maxDelayMillis = 24 * 3600 * 1000

// producerGroupOf: the 5.x clients send no producer group; the proxy
// uses one per topic ("CID_" would be a consumer), and RocketMQ's proxy
// names it after nothing the client chose. Transaction checks go by it.
func producerGroupOf(topic string) string { return "PROXY_SEND-" + topic }

// commitLogOffsetOf reads the physical offset from an offset message id
// (hex: 4-byte IPv4 or 16-byte IPv6 address, 4-byte port, 8-byte offset).
func commitLogOffsetOf(msgID string) int64 {
	if len(msgID) < 16 {
		return 0
	}
	v, err := strconv.ParseUint(msgID[len(msgID)-16:], 16, 64)
	if err != nil {
		return 0
	}
	return int64(v)
}

// reservedProperty is MessageConst.STRING_HASH_SET's test: a user
// property may not take a system property's name.
func reservedProperty(k string) bool {
	switch k {
	case message.PropertyKeys, message.PropertyTags, message.PropertyDelayTimeLevel, message.PropertyTransactionPrepared,
		message.PropertyProducerGroup, message.PropertyReconsumeTime, message.PropertyUniqClientMessageIDKeyIdx,
		message.PropertyMaxReconsumeTimes, message.PropertyCheckImmunityTimeInSeconds, message.PropertyShardingKey,
		message.PropertyTimerDeliverMS, message.PropertyTimerDelaySec, message.PropertyTimerDelayMS,
		"WAIT", "MIN_OFFSET", "MAX_OFFSET", "BUYER_ID", "ORIGIN_MESSAGE_ID", "TRANSFER_FLAG", "CORRECTION_FLAG",
		"MQ2_FLAG", "RETRY_TOPIC", "REAL_TOPIC", "REAL_QID", "TRAN_PREPARED_QUEUE_OFFSET", "INSTANCE_ID",
		"CLUSTER", "TRACE_CONTEXT", "__STARTDELIVERTIME", "MSG_REGION", "TRACE_ON":
		return true
	}
	return false
}

// EndTransaction translates to END_TRANSACTION with the half message's
// offsets remembered from its send (the proxy's TransactionDataManager).
func (s *Server) EndTransaction(ctx context.Context, req *pb.EndTransactionRequest) (*pb.EndTransactionResponse, error) {
	s.stats.Requests[rpcEndTransaction].Add(1)
	var flag int
	switch req.GetResolution() {
	case pb.TransactionResolution_COMMIT:
		flag = commitType
	case pb.TransactionResolution_ROLLBACK:
		flag = rollbackType
	default:
		return &pb.EndTransactionResponse{Status: status(pb.Code_BAD_REQUEST, "transaction resolution must be COMMIT or ROLLBACK")}, nil
	}
	h, ok := s.txs.take(req.GetTransactionId())
	if !ok {
		return &pb.EndTransactionResponse{Status: status(pb.Code_INVALID_TRANSACTION_ID, "transaction %s is unknown or already ended", req.GetTransactionId())}, nil
	}
	if req.GetMessageId() != "" && req.GetMessageId() != h.msgID {
		s.txs.put(req.GetTransactionId(), h)
		return &pb.EndTransactionResponse{Status: status(pb.Code_INVALID_TRANSACTION_ID, "message id %s does not belong to transaction %s", req.GetMessageId(), req.GetTransactionId())}, nil
	}
	cmd := remoting.NewRequest(remoting.EndTransaction, nil, nil)
	eh := remoting.EndTransactionRequestHeader{ProducerGroup: h.group, TranStateTableOffset: h.queueOffset, CommitLogOffset: h.commitLogOffset,
		CommitOrRollback: int32(flag), FromTransactionCheck: req.GetSource() == pb.TransactionSource_SOURCE_SERVER_CHECK,
		MsgID: h.msgID, TransactionID: req.GetTransactionId(), BrokerName: s.opts.BrokerName}
	eh.Encode(cmd)
	resp, err := s.submit(ctx, cmd)
	if err != nil {
		s.txs.put(req.GetTransactionId(), h)
		return &pb.EndTransactionResponse{Status: errStatus(err)}, nil
	}
	st := statusOf(resp)
	if st.Code != pb.Code_OK {
		s.txs.put(req.GetTransactionId(), h)
	}
	return &pb.EndTransactionResponse{Status: st}, nil
}

// refuse answers an RPC Sluice does not serve with NOT_IMPLEMENTED
// naming it, and logs it.
func (s *Server) refuse(rpc string) *pb.Status {
	s.stats.Requests[rpcRefused].Add(1)
	s.opts.Log.Warn().Str("rpc", rpc).Msg("grpc: refused: RPC not implemented by Sluice")
	return status(pb.Code_NOT_IMPLEMENTED, "%s is not implemented by Sluice", rpc)
}

func (s *Server) PullMessage(req *pb.PullMessageRequest, ss grpc.ServerStreamingServer[pb.PullMessageResponse]) error {
	return ss.Send(&pb.PullMessageResponse{Content: &pb.PullMessageResponse_Status{Status: s.refuse("PullMessage")}})
}

func (s *Server) UpdateOffset(context.Context, *pb.UpdateOffsetRequest) (*pb.UpdateOffsetResponse, error) {
	return &pb.UpdateOffsetResponse{Status: s.refuse("UpdateOffset")}, nil
}

func (s *Server) GetOffset(context.Context, *pb.GetOffsetRequest) (*pb.GetOffsetResponse, error) {
	return &pb.GetOffsetResponse{Status: s.refuse("GetOffset")}, nil
}

func (s *Server) QueryOffset(context.Context, *pb.QueryOffsetRequest) (*pb.QueryOffsetResponse, error) {
	return &pb.QueryOffsetResponse{Status: s.refuse("QueryOffset")}, nil
}

func (s *Server) RecallMessage(context.Context, *pb.RecallMessageRequest) (*pb.RecallMessageResponse, error) {
	return &pb.RecallMessageResponse{Status: s.refuse("RecallMessage")}, nil
}

func (s *Server) SyncLiteSubscription(context.Context, *pb.SyncLiteSubscriptionRequest) (*pb.SyncLiteSubscriptionResponse, error) {
	return &pb.SyncLiteSubscriptionResponse{Status: s.refuse("SyncLiteSubscription")}, nil
}
