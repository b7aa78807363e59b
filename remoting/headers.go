package remoting

import "strconv"

// The custom headers of the requests the broker and the name server serve,
// and of the answers they give, as RocketMQ's *RequestHeader and
// *ResponseHeader classes define them (field names are the wire keys).
// Decode functions take a request; Encode methods fill an answer's (or a
// request's) extFields.

// SendMessageRequestHeader is SEND_MESSAGE's header; SEND_MESSAGE_V2 and
// SEND_BATCH_MESSAGE carry the same fields under one-letter keys
// (SendMessageRequestHeaderV2).
type SendMessageRequestHeader struct {
	ProducerGroup         string
	Topic                 string
	DefaultTopic          string
	DefaultTopicQueueNums int32
	QueueID               int32
	SysFlag               int32
	BornTimestamp         int64
	Flag                  int32
	Properties            string
	ReconsumeTimes        int32
	UnitMode              bool
	MaxReconsumeTimes     int32
	Batch                 bool
}

// sendHeaderKeys are the V1 names and their V2 letters, in field order.
var sendHeaderKeys = [...][2]string{
	{"producerGroup", "a"}, {"topic", "b"}, {"defaultTopic", "c"}, {"defaultTopicQueueNums", "d"},
	{"queueId", "e"}, {"sysFlag", "f"}, {"bornTimestamp", "g"}, {"flag", "h"}, {"properties", "i"},
	{"reconsumeTimes", "j"}, {"unitMode", "k"}, {"maxReconsumeTimes", "l"}, {"batch", "m"},
}

// DecodeSendMessageRequestHeader decodes the header of a 10, 310, 320, 324
// or 325 request.
func DecodeSendMessageRequestHeader(cmd *Command) (SendMessageRequestHeader, error) {
	v := 0
	if code := cmd.RequestCode(); code == SendMessageV2 || code == SendBatchMessage || code == SendReplyMessageV2 {
		v = 1
	}
	k := func(i int) string { return sendHeaderKeys[i][v] }
	e := fieldReader{cmd: cmd}
	h := SendMessageRequestHeader{
		ProducerGroup:         e.str(k(0), true),
		Topic:                 e.str(k(1), true),
		DefaultTopic:          e.str(k(2), true),
		DefaultTopicQueueNums: e.int32(k(3), true),
		QueueID:               e.int32(k(4), true),
		SysFlag:               e.int32(k(5), true),
		BornTimestamp:         e.int64(k(6), true),
		Flag:                  e.int32(k(7), true),
		Properties:            e.str(k(8), false),
		ReconsumeTimes:        e.int32(k(9), false),
		UnitMode:              e.bool(k(10)),
		MaxReconsumeTimes:     e.int32(k(11), false),
		Batch:                 e.bool(k(12)),
	}
	return h, e.err
}

// SendMessageResponseHeader is a successful send's answer.
type SendMessageResponseHeader struct {
	// MsgID is the offsetMsgId. When it is empty the id is one record's,
	// MsgIDHost (the store host's part, in hex) followed by MsgIDOffset,
	// its commit-log offset — written into the frame without a string.
	MsgID         string
	MsgIDHost     string
	MsgIDOffset   int64
	QueueID       int32
	QueueOffset   int64
	TransactionID string
	// MsgRegion and TraceOn are the MessageConst properties RocketMQ adds
	// to the answer (MSG_REGION, TRACE_ON).
	MsgRegion string
	TraceOn   bool
}

// Encode sets resp's typed Fields to the header, in key order (so a
// frame is the same bytes as when the header was a sorted map); with a
// resp from NewAnswer it allocates nothing.
func (h *SendMessageResponseHeader) Encode(resp *Command) {
	msgID := StringField("msgId", h.MsgID)
	if h.MsgID == "" {
		msgID = Field{Key: "msgId", Str: h.MsgIDHost, Num: h.MsgIDOffset, Kind: FieldHex64}
	}
	resp.Fields = append(resp.Fields[:0],
		StringField("MSG_REGION", h.MsgRegion),
		BoolField("TRACE_ON", h.TraceOn),
		msgID,
		IntField("queueId", int64(h.QueueID)),
		IntField("queueOffset", h.QueueOffset))
	if h.TransactionID != "" {
		resp.Fields = append(resp.Fields, StringField("transactionId", h.TransactionID))
	}
}

// ConsumerSendMsgBackRequestHeader is CONSUMER_SEND_MSG_BACK's header.
type ConsumerSendMsgBackRequestHeader struct {
	Offset      int64
	Group       string
	DelayLevel  int32
	OriginMsgID string
	OriginTopic string
	UnitMode    bool
	// MaxReconsumeTimes is nil when the consumer did not send one (the
	// group's retryMaxTimes applies then).
	MaxReconsumeTimes *int32
}

// DecodeConsumerSendMsgBackRequestHeader decodes a 36 request.
func DecodeConsumerSendMsgBackRequestHeader(cmd *Command) (ConsumerSendMsgBackRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := ConsumerSendMsgBackRequestHeader{
		Offset:      e.int64("offset", true),
		Group:       e.str("group", true),
		DelayLevel:  e.int32("delayLevel", true),
		OriginMsgID: e.str("originMsgId", false),
		OriginTopic: e.str("originTopic", false),
		UnitMode:    e.bool("unitMode"),
	}
	if _, ok := cmd.LookupExt("maxReconsumeTimes"); ok {
		n := e.int32("maxReconsumeTimes", false)
		h.MaxReconsumeTimes = &n
	}
	return h, e.err
}

// Pull sysFlag bits (PullSysFlag).
const (
	PullFlagCommitOffset = 1 << 0
	PullFlagSuspend      = 1 << 1
	PullFlagSubscription = 1 << 2
	PullFlagClassFilter  = 1 << 3
)

// PullMessageRequestHeader is PULL_MESSAGE's header.
type PullMessageRequestHeader struct {
	ConsumerGroup        string
	Topic                string
	QueueID              int32
	QueueOffset          int64
	MaxMsgNums           int32
	SysFlag              int32
	CommitOffset         int64
	SuspendTimeoutMillis int64
	Subscription         string
	SubVersion           int64
	ExpressionType       string
}

// DecodePullMessageRequestHeader decodes a 11 request.
func DecodePullMessageRequestHeader(cmd *Command) (PullMessageRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := PullMessageRequestHeader{
		ConsumerGroup:        e.str("consumerGroup", true),
		Topic:                e.str("topic", true),
		QueueID:              e.int32("queueId", true),
		QueueOffset:          e.int64("queueOffset", true),
		MaxMsgNums:           e.int32("maxMsgNums", true),
		SysFlag:              e.int32("sysFlag", true),
		CommitOffset:         e.int64("commitOffset", true),
		SuspendTimeoutMillis: e.int64("suspendTimeoutMillis", true),
		Subscription:         e.str("subscription", false),
		SubVersion:           e.int64("subVersion", true),
		ExpressionType:       e.str("expressionType", false),
	}
	return h, e.err
}

// PullMessageResponseHeader is a pull's answer.
type PullMessageResponseHeader struct {
	SuggestWhichBrokerID int64
	NextBeginOffset      int64
	MinOffset            int64
	MaxOffset            int64
}

// Encode sets resp's typed Fields to the header, in key order; with a
// resp from NewAnswer it allocates nothing.
func (h *PullMessageResponseHeader) Encode(resp *Command) {
	resp.Fields = append(resp.Fields[:0],
		IntField("maxOffset", h.MaxOffset),
		IntField("minOffset", h.MinOffset),
		IntField("nextBeginOffset", h.NextBeginOffset),
		IntField("suggestWhichBrokerId", h.SuggestWhichBrokerID))
}

// TopicQueueRequestHeader is the header of the requests that name one
// queue: GET_MAX_OFFSET, GET_MIN_OFFSET, GET_EARLIEST_MSG_STORETIME
// (GetMaxOffsetRequestHeader and its siblings).
type TopicQueueRequestHeader struct {
	Topic   string
	QueueID int32
}

// DecodeTopicQueueRequestHeader decodes a one-queue request.
func DecodeTopicQueueRequestHeader(cmd *Command) (TopicQueueRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := TopicQueueRequestHeader{Topic: e.str("topic", true), QueueID: e.int32("queueId", true)}
	return h, e.err
}

// SearchOffsetRequestHeader is SEARCH_OFFSET_BY_TIMESTAMP's header.
type SearchOffsetRequestHeader struct {
	Topic     string
	QueueID   int32
	Timestamp int64
}

// DecodeSearchOffsetRequestHeader decodes a 29 request.
func DecodeSearchOffsetRequestHeader(cmd *Command) (SearchOffsetRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := SearchOffsetRequestHeader{Topic: e.str("topic", true), QueueID: e.int32("queueId", true), Timestamp: e.int64("timestamp", true)}
	return h, e.err
}

// OffsetResponseHeader is the answer of the offset look-ups
// (GetMaxOffsetResponseHeader, QueryConsumerOffsetResponseHeader …).
type OffsetResponseHeader struct{ Offset int64 }

// Encode writes the header into resp's extFields.
func (h OffsetResponseHeader) Encode(resp *Command) {
	resp.ExtFields = map[string]string{"offset": strconv.FormatInt(h.Offset, 10)}
}

// QueryMessageRequestHeader is QUERY_MESSAGE's header: the messages indexed
// under topic#key stored in [BeginTimestamp, EndTimestamp] ms. A request
// whose ext field _UNIQUE_KEY_QUERY (UniqueMsgQueryFlag) is "true" looks up
// a unique key (a msgId) and gets at most defaultQueryMaxNum answers.
type QueryMessageRequestHeader struct {
	Topic          string
	Key            string
	MaxNum         int32
	BeginTimestamp int64
	EndTimestamp   int64
}

// UniqueMsgQueryFlag is MixAll.UNIQUE_MSG_QUERY_FLAG, the ext field that
// marks a QUERY_MESSAGE by unique key.
const UniqueMsgQueryFlag = "_UNIQUE_KEY_QUERY"

// DecodeQueryMessageRequestHeader decodes a 12 request (every field is
// @CFNotNull).
func DecodeQueryMessageRequestHeader(cmd *Command) (QueryMessageRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := QueryMessageRequestHeader{
		Topic: e.str("topic", true), Key: e.str("key", true), MaxNum: e.int32("maxNum", true),
		BeginTimestamp: e.int64("beginTimestamp", true), EndTimestamp: e.int64("endTimestamp", true),
	}
	return h, e.err
}

// Encode writes the header into req's extFields (a tool's request).
func (h *QueryMessageRequestHeader) Encode(req *Command) {
	if req.ExtFields == nil {
		req.ExtFields = make(map[string]string, 6)
	}
	req.ExtFields["topic"] = h.Topic
	req.ExtFields["key"] = h.Key
	req.ExtFields["maxNum"] = strconv.Itoa(int(h.MaxNum))
	req.ExtFields["beginTimestamp"] = strconv.FormatInt(h.BeginTimestamp, 10)
	req.ExtFields["endTimestamp"] = strconv.FormatInt(h.EndTimestamp, 10)
}

// QueryMessageResponseHeader is QUERY_MESSAGE's answer header: where the
// index was when it answered.
type QueryMessageResponseHeader struct {
	IndexLastUpdateTimestamp int64
	IndexLastUpdatePhyoffset int64
}

// Encode writes the header into resp's extFields.
func (h QueryMessageResponseHeader) Encode(resp *Command) {
	resp.ExtFields = map[string]string{
		"indexLastUpdateTimestamp": strconv.FormatInt(h.IndexLastUpdateTimestamp, 10),
		"indexLastUpdatePhyoffset": strconv.FormatInt(h.IndexLastUpdatePhyoffset, 10),
	}
}

// DecodeQueryMessageResponseHeader decodes a QUERY_MESSAGE answer's header.
func DecodeQueryMessageResponseHeader(cmd *Command) (QueryMessageResponseHeader, error) {
	e := fieldReader{cmd: cmd}
	h := QueryMessageResponseHeader{
		IndexLastUpdateTimestamp: e.int64("indexLastUpdateTimestamp", true),
		IndexLastUpdatePhyoffset: e.int64("indexLastUpdatePhyoffset", true),
	}
	return h, e.err
}

// ViewMessageRequestHeader is VIEW_MESSAGE_BY_ID's header: a commit-log
// offset (the one an offset msgId carries).
type ViewMessageRequestHeader struct{ Offset int64 }

// DecodeViewMessageRequestHeader decodes a 33 request.
func DecodeViewMessageRequestHeader(cmd *Command) (ViewMessageRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := ViewMessageRequestHeader{Offset: e.int64("offset", true)}
	return h, e.err
}

// Encode writes the header into req's extFields (a tool's request).
func (h ViewMessageRequestHeader) Encode(req *Command) {
	if req.ExtFields == nil {
		req.ExtFields = make(map[string]string, 1)
	}
	req.ExtFields["offset"] = strconv.FormatInt(h.Offset, 10)
}

// GetEarliestMsgStoretimeRequestHeader is GET_EARLIEST_MSG_STORETIME's
// header (RocketMQ 5 adds bname, which a one-broker Sluice ignores).
type GetEarliestMsgStoretimeRequestHeader = TopicQueueRequestHeader

// DecodeGetEarliestMsgStoretimeRequestHeader decodes a 32 request.
func DecodeGetEarliestMsgStoretimeRequestHeader(cmd *Command) (GetEarliestMsgStoretimeRequestHeader, error) {
	return DecodeTopicQueueRequestHeader(cmd)
}

// GetEarliestMsgStoretimeResponseHeader is its answer: the store time (ms)
// of the queue's first message still stored, -1 when there is none.
type GetEarliestMsgStoretimeResponseHeader struct{ Timestamp int64 }

// Encode writes the header into resp's extFields.
func (h GetEarliestMsgStoretimeResponseHeader) Encode(resp *Command) {
	resp.ExtFields = map[string]string{"timestamp": strconv.FormatInt(h.Timestamp, 10)}
}

// CreateTopicRequestHeader is UPDATE_AND_CREATE_TOPIC's header.
type CreateTopicRequestHeader struct {
	Topic           string
	DefaultTopic    string
	ReadQueueNums   int32
	WriteQueueNums  int32
	Perm            int32
	TopicFilterType string
	TopicSysFlag    int32
	Order           bool
}

// DecodeCreateTopicRequestHeader decodes a 17 request.
func DecodeCreateTopicRequestHeader(cmd *Command) (CreateTopicRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := CreateTopicRequestHeader{
		Topic:           e.str("topic", true),
		DefaultTopic:    e.str("defaultTopic", false),
		ReadQueueNums:   e.int32("readQueueNums", true),
		WriteQueueNums:  e.int32("writeQueueNums", true),
		Perm:            e.int32("perm", true),
		TopicFilterType: e.str("topicFilterType", false),
		TopicSysFlag:    e.int32("topicSysFlag", false),
		Order:           e.bool("order"),
	}
	return h, e.err
}

// TopicRequestHeader is the header of requests that name a topic:
// DELETE_TOPIC_IN_BROKER, GET_ROUTEINFO_BY_TOPIC, DELETE_TOPIC_IN_NAMESRV
// (which may add clusterName).
type TopicRequestHeader struct {
	Topic       string
	ClusterName string
}

// DecodeTopicRequestHeader decodes a one-topic request.
func DecodeTopicRequestHeader(cmd *Command) (TopicRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := TopicRequestHeader{Topic: e.str("topic", true), ClusterName: e.str("clusterName", false)}
	return h, e.err
}

// ConsumerGroupRequestHeader is GET_CONSUMER_LIST_BY_GROUP's header.
type ConsumerGroupRequestHeader struct{ ConsumerGroup string }

// DecodeConsumerGroupRequestHeader decodes a 38 request.
func DecodeConsumerGroupRequestHeader(cmd *Command) (ConsumerGroupRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := ConsumerGroupRequestHeader{ConsumerGroup: e.str("consumerGroup", true)}
	return h, e.err
}

// UnregisterClientRequestHeader is UNREGISTER_CLIENT's header.
type UnregisterClientRequestHeader struct {
	ClientID      string
	ProducerGroup string
	ConsumerGroup string
}

// DecodeUnregisterClientRequestHeader decodes a 35 request.
func DecodeUnregisterClientRequestHeader(cmd *Command) (UnregisterClientRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := UnregisterClientRequestHeader{
		ClientID:      e.str("clientID", false),
		ProducerGroup: e.str("producerGroup", false),
		ConsumerGroup: e.str("consumerGroup", false),
	}
	return h, e.err
}

// ConsumerOffsetRequestHeader is the header of QUERY_CONSUMER_OFFSET and
// UPDATE_CONSUMER_OFFSET (CommitOffset only for the update).
type ConsumerOffsetRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	CommitOffset  int64
}

// DecodeQueryConsumerOffsetRequestHeader decodes a 14 request.
func DecodeQueryConsumerOffsetRequestHeader(cmd *Command) (ConsumerOffsetRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := ConsumerOffsetRequestHeader{
		ConsumerGroup: e.str("consumerGroup", true),
		Topic:         e.str("topic", true),
		QueueID:       e.int32("queueId", true),
	}
	return h, e.err
}

// DecodeUpdateConsumerOffsetRequestHeader decodes a 15 request.
func DecodeUpdateConsumerOffsetRequestHeader(cmd *Command) (ConsumerOffsetRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := ConsumerOffsetRequestHeader{
		ConsumerGroup: e.str("consumerGroup", true),
		Topic:         e.str("topic", true),
		QueueID:       e.int32("queueId", true),
		CommitOffset:  e.int64("commitOffset", true),
	}
	return h, e.err
}

// RegisterBrokerRequestHeader is REGISTER_BROKER's header.
type RegisterBrokerRequestHeader struct {
	BrokerName             string
	BrokerAddr             string
	ClusterName            string
	HAServerAddr           string
	BrokerID               int64
	HeartbeatTimeoutMillis int64
	Compressed             bool
	BodyCrc32              int32
}

// DecodeRegisterBrokerRequestHeader decodes a 103 request.
func DecodeRegisterBrokerRequestHeader(cmd *Command) (RegisterBrokerRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := RegisterBrokerRequestHeader{
		BrokerName:             e.str("brokerName", true),
		BrokerAddr:             e.str("brokerAddr", true),
		ClusterName:            e.str("clusterName", true),
		HAServerAddr:           e.str("haServerAddr", true),
		BrokerID:               e.int64("brokerId", true),
		HeartbeatTimeoutMillis: e.int64("heartbeatTimeoutMillis", false),
		Compressed:             e.bool("compressed"),
		BodyCrc32:              e.int32("bodyCrc32", false),
	}
	return h, e.err
}

// Encode writes the header into req's extFields.
func (h *RegisterBrokerRequestHeader) Encode(req *Command) {
	req.ExtFields = map[string]string{
		"brokerName":   h.BrokerName,
		"brokerAddr":   h.BrokerAddr,
		"clusterName":  h.ClusterName,
		"haServerAddr": h.HAServerAddr,
		"brokerId":     strconv.FormatInt(h.BrokerID, 10),
		"compressed":   strconv.FormatBool(h.Compressed),
		"bodyCrc32":    strconv.Itoa(int(h.BodyCrc32)),
	}
	if h.HeartbeatTimeoutMillis > 0 {
		req.ExtFields["heartbeatTimeoutMillis"] = strconv.FormatInt(h.HeartbeatTimeoutMillis, 10)
	}
}

// UnregisterBrokerRequestHeader is UNREGISTER_BROKER's header.
type UnregisterBrokerRequestHeader struct {
	BrokerName  string
	BrokerAddr  string
	ClusterName string
	BrokerID    int64
}

// DecodeUnregisterBrokerRequestHeader decodes a 104 request.
func DecodeUnregisterBrokerRequestHeader(cmd *Command) (UnregisterBrokerRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := UnregisterBrokerRequestHeader{
		BrokerName:  e.str("brokerName", true),
		BrokerAddr:  e.str("brokerAddr", true),
		ClusterName: e.str("clusterName", true),
		BrokerID:    e.int64("brokerId", true),
	}
	return h, e.err
}

// Encode writes the header into req's extFields.
func (h *UnregisterBrokerRequestHeader) Encode(req *Command) {
	req.ExtFields = map[string]string{
		"brokerName":  h.BrokerName,
		"brokerAddr":  h.BrokerAddr,
		"clusterName": h.ClusterName,
		"brokerId":    strconv.FormatInt(h.BrokerID, 10),
	}
}

// RegisterBrokerResponseHeader is REGISTER_BROKER's answer: where a slave
// finds its master. Java leaves null fields off the wire, so empty ones
// are not written: an empty string would send a slave looking for a master
// at "".
type RegisterBrokerResponseHeader struct {
	HAServerAddr string
	MasterAddr   string
}

// Encode writes the header into resp's extFields.
func (h *RegisterBrokerResponseHeader) Encode(resp *Command) {
	if h.HAServerAddr != "" {
		resp.SetExt("haServerAddr", h.HAServerAddr)
	}
	if h.MasterAddr != "" {
		resp.SetExt("masterAddr", h.MasterAddr)
	}
}

// ReplyMessageRequestHeader is PUSH_REPLY_MESSAGE_TO_CLIENT's header: the
// reply as the replier sent it, and where and when the broker saw it.
type ReplyMessageRequestHeader struct {
	SendMessageRequestHeader
	BornHost       string
	StoreHost      string
	StoreTimestamp int64
}

// Encode writes the header into req's extFields.
func (h *ReplyMessageRequestHeader) Encode(req *Command) {
	req.ExtFields = map[string]string{
		"producerGroup":         h.ProducerGroup,
		"topic":                 h.Topic,
		"defaultTopic":          h.DefaultTopic,
		"defaultTopicQueueNums": strconv.Itoa(int(h.DefaultTopicQueueNums)),
		"queueId":               strconv.Itoa(int(h.QueueID)),
		"sysFlag":               strconv.Itoa(int(h.SysFlag)),
		"bornTimestamp":         strconv.FormatInt(h.BornTimestamp, 10),
		"flag":                  strconv.Itoa(int(h.Flag)),
		"properties":            h.Properties,
		"reconsumeTimes":        strconv.Itoa(int(h.ReconsumeTimes)),
		"unitMode":              strconv.FormatBool(h.UnitMode),
		"bornHost":              h.BornHost,
		"storeHost":             h.StoreHost,
		"storeTimestamp":        strconv.FormatInt(h.StoreTimestamp, 10),
	}
}

// EndTransactionRequestHeader is END_TRANSACTION's header: a producer's
// decision on a half message (commitOrRollback 8 commit, 12 rollback, 0
// not yet known), identified by its queue offset in the half topic
// (tranStateTableOffset) and its commit-log offset. fromTransactionCheck
// marks the answer to a CHECK_TRANSACTION_STATE. msgId is @CFNotNull in
// Java; bname is RocketMQ 5's broker name, which the Go client sends.
type EndTransactionRequestHeader struct {
	ProducerGroup        string
	TranStateTableOffset int64
	CommitLogOffset      int64
	CommitOrRollback     int32
	FromTransactionCheck bool
	MsgID                string
	TransactionID        string
	BrokerName           string
}

// DecodeEndTransactionRequestHeader decodes a 37 request.
func DecodeEndTransactionRequestHeader(cmd *Command) (EndTransactionRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := EndTransactionRequestHeader{
		ProducerGroup:        e.str("producerGroup", true),
		TranStateTableOffset: e.int64("tranStateTableOffset", true),
		CommitLogOffset:      e.int64("commitLogOffset", true),
		CommitOrRollback:     e.int32("commitOrRollback", true),
		FromTransactionCheck: e.bool("fromTransactionCheck"),
		MsgID:                e.str("msgId", true),
		TransactionID:        e.str("transactionId", false),
		BrokerName:           e.str("bname", false),
	}
	return h, e.err
}

// Encode writes the header into req's extFields; empty optional fields
// are left off, as Java leaves off nulls.
func (h *EndTransactionRequestHeader) Encode(req *Command) {
	req.ExtFields = map[string]string{
		"producerGroup":        h.ProducerGroup,
		"tranStateTableOffset": strconv.FormatInt(h.TranStateTableOffset, 10),
		"commitLogOffset":      strconv.FormatInt(h.CommitLogOffset, 10),
		"commitOrRollback":     strconv.Itoa(int(h.CommitOrRollback)),
		"fromTransactionCheck": strconv.FormatBool(h.FromTransactionCheck),
		"msgId":                h.MsgID,
	}
	if h.TransactionID != "" {
		req.ExtFields["transactionId"] = h.TransactionID
	}
	if h.BrokerName != "" {
		req.ExtFields["bname"] = h.BrokerName
	}
}

// CheckTransactionStateRequestHeader is CHECK_TRANSACTION_STATE's header,
// sent by the broker to a producer of the half message's group: the half
// message's queue offset and commit-log offset (which the producer's
// END_TRANSACTION quotes back), its client id (msgId, also the
// transactionId, as Java sets both) and its offsetMsgId.
type CheckTransactionStateRequestHeader struct {
	TranStateTableOffset int64
	CommitLogOffset      int64
	MsgID                string
	TransactionID        string
	OffsetMsgID          string
}

// Encode writes the header into req's extFields; empty optional fields
// are left off.
func (h *CheckTransactionStateRequestHeader) Encode(req *Command) {
	req.ExtFields = map[string]string{
		"tranStateTableOffset": strconv.FormatInt(h.TranStateTableOffset, 10),
		"commitLogOffset":      strconv.FormatInt(h.CommitLogOffset, 10),
	}
	if h.MsgID != "" {
		req.ExtFields["msgId"] = h.MsgID
	}
	if h.TransactionID != "" {
		req.ExtFields["transactionId"] = h.TransactionID
	}
	if h.OffsetMsgID != "" {
		req.ExtFields["offsetMsgId"] = h.OffsetMsgID
	}
}

// DecodeCheckTransactionStateRequestHeader decodes a 39 request (what a
// client reads; the broker only sends it).
func DecodeCheckTransactionStateRequestHeader(cmd *Command) (CheckTransactionStateRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := CheckTransactionStateRequestHeader{
		TranStateTableOffset: e.int64("tranStateTableOffset", true),
		CommitLogOffset:      e.int64("commitLogOffset", true),
		MsgID:                e.str("msgId", false),
		TransactionID:        e.str("transactionId", false),
		OffsetMsgID:          e.str("offsetMsgId", false),
	}
	return h, e.err
}
