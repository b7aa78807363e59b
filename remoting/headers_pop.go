package remoting

import "strconv"

// RocketMQ 5's pop consumption codes (RequestCode.java, 5.x). They pass 16
// bits, so they travel in JSON headers only (Command.Code is Java's int).
const (
	PopMessage                 RequestCode = 200050
	AckMessage                 RequestCode = 200051
	PeekMessage                RequestCode = 200052
	ChangeMessageInvisibleTime RequestCode = 200053
	Notification               RequestCode = 200054
	PollingInfo                RequestCode = 200055
	PopRollback                RequestCode = 200056
	BatchAckMessage            RequestCode = 200151
)

// Response codes of the pop model and of RocketMQ 5's topic message types.
const (
	NoMessage      ResponseCode = 208
	PollingFull    ResponseCode = 209
	PollingTimeout ResponseCode = 210
	// MessageIllegalOperation is ILLEGAL_OPERATION. (A send whose type
	// conflicts with its topic's message.type is MESSAGE_ILLEGAL on the
	// remoting front, as the proxy maps MESSAGE_PROPERTY_CONFLICT_WITH_TYPE.)
	MessageIllegalOperation ResponseCode = 604
)

func init() {
	for c, n := range map[RequestCode]string{
		PopMessage: "POP_MESSAGE", AckMessage: "ACK_MESSAGE", PeekMessage: "PEEK_MESSAGE",
		ChangeMessageInvisibleTime: "CHANGE_MESSAGE_INVISIBLETIME", Notification: "NOTIFICATION",
		PollingInfo: "POLLING_INFO", PopRollback: "POP_ROLLBACK", BatchAckMessage: "BATCH_ACK_MESSAGE",
	} {
		requestCodeNames[c] = n
	}
	for c, n := range map[ResponseCode]string{
		NoMessage: "NO_MESSAGE", PollingFull: "POLLING_FULL", PollingTimeout: "POLLING_TIMEOUT",
		MessageIllegalOperation: "ILLEGAL_OPERATION",
	} {
		responseCodeNames[c] = n
	}
}

// PopMessageRequestHeader is POP_MESSAGE's header (5.x).
type PopMessageRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	MaxMsgNums    int32
	InvisibleTime int64
	PollTime      int64
	BornTime      int64
	InitMode      int32
	ExpType       string
	Exp           string
	Order         bool
	AttemptID     string
}

// DecodePopMessageRequestHeader decodes a 200050 request.
func DecodePopMessageRequestHeader(cmd *Command) (PopMessageRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := PopMessageRequestHeader{
		ConsumerGroup: e.str("consumerGroup", true),
		Topic:         e.str("topic", true),
		QueueID:       e.int32("queueId", true),
		MaxMsgNums:    e.int32("maxMsgNums", true),
		InvisibleTime: e.int64("invisibleTime", true),
		PollTime:      e.int64("pollTime", true),
		BornTime:      e.int64("bornTime", true),
		InitMode:      e.int32("initMode", true),
		ExpType:       e.str("expType", false),
		Exp:           e.str("exp", false),
		Order:         e.bool("order"),
		AttemptID:     e.str("attemptId", false),
	}
	return h, e.err
}

// Encode writes the header into a request's extFields (tests, tools).
func (h *PopMessageRequestHeader) Encode(cmd *Command) {
	if cmd.ExtFields == nil {
		cmd.ExtFields = make(map[string]string, 12)
	}
	f := cmd.ExtFields
	f["consumerGroup"], f["topic"] = h.ConsumerGroup, h.Topic
	f["queueId"] = strconv.Itoa(int(h.QueueID))
	f["maxMsgNums"] = strconv.Itoa(int(h.MaxMsgNums))
	f["invisibleTime"] = strconv.FormatInt(h.InvisibleTime, 10)
	f["pollTime"] = strconv.FormatInt(h.PollTime, 10)
	f["bornTime"] = strconv.FormatInt(h.BornTime, 10)
	f["initMode"] = strconv.Itoa(int(h.InitMode))
	if h.ExpType != "" {
		f["expType"] = h.ExpType
	}
	if h.Exp != "" {
		f["exp"] = h.Exp
	}
	f["order"] = strconv.FormatBool(h.Order)
	if h.AttemptID != "" {
		f["attemptId"] = h.AttemptID
	}
}

// PopMessageResponseHeader is POP_MESSAGE's answer header.
type PopMessageResponseHeader struct {
	PopTime         int64
	InvisibleTime   int64
	ReviveQid       int32
	RestNum         int64
	StartOffsetInfo string
	MsgOffsetInfo   string
	OrderCountInfo  string
}

// Encode writes the header into resp's extFields.
func (h *PopMessageResponseHeader) Encode(resp *Command) {
	resp.ExtFields = map[string]string{
		"popTime":       strconv.FormatInt(h.PopTime, 10),
		"invisibleTime": strconv.FormatInt(h.InvisibleTime, 10),
		"reviveQid":     strconv.Itoa(int(h.ReviveQid)),
		"restNum":       strconv.FormatInt(h.RestNum, 10),
	}
	if h.StartOffsetInfo != "" {
		resp.ExtFields["startOffsetInfo"] = h.StartOffsetInfo
	}
	if h.MsgOffsetInfo != "" {
		resp.ExtFields["msgOffsetInfo"] = h.MsgOffsetInfo
	}
	if h.OrderCountInfo != "" {
		resp.ExtFields["orderCountInfo"] = h.OrderCountInfo
	}
}

// DecodePopMessageResponseHeader reads an answer's header (tests, tools).
func DecodePopMessageResponseHeader(cmd *Command) (PopMessageResponseHeader, error) {
	e := fieldReader{cmd: cmd}
	h := PopMessageResponseHeader{
		PopTime:         e.int64("popTime", true),
		InvisibleTime:   e.int64("invisibleTime", true),
		ReviveQid:       e.int32("reviveQid", true),
		RestNum:         e.int64("restNum", true),
		StartOffsetInfo: e.str("startOffsetInfo", false),
		MsgOffsetInfo:   e.str("msgOffsetInfo", false),
		OrderCountInfo:  e.str("orderCountInfo", false),
	}
	return h, e.err
}

// AckMessageRequestHeader is ACK_MESSAGE's header; CHANGE_MESSAGE_INVISIBLETIME
// adds InvisibleTime (ChangeInvisibleTimeRequestHeader).
type AckMessageRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	ExtraInfo     string
	Offset        int64
	InvisibleTime int64 // CHANGE_MESSAGE_INVISIBLETIME only
}

// DecodeAckMessageRequestHeader decodes a 200051 or 200053 request.
func DecodeAckMessageRequestHeader(cmd *Command) (AckMessageRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := AckMessageRequestHeader{
		ConsumerGroup: e.str("consumerGroup", true),
		Topic:         e.str("topic", true),
		QueueID:       e.int32("queueId", true),
		ExtraInfo:     e.str("extraInfo", true),
		Offset:        e.int64("offset", true),
	}
	if cmd.RequestCode() == ChangeMessageInvisibleTime {
		h.InvisibleTime = e.int64("invisibleTime", true)
	}
	return h, e.err
}

// Encode writes the header into a request's extFields (tests, tools).
func (h *AckMessageRequestHeader) Encode(cmd *Command) {
	if cmd.ExtFields == nil {
		cmd.ExtFields = make(map[string]string, 6)
	}
	f := cmd.ExtFields
	f["consumerGroup"], f["topic"], f["extraInfo"] = h.ConsumerGroup, h.Topic, h.ExtraInfo
	f["queueId"] = strconv.Itoa(int(h.QueueID))
	f["offset"] = strconv.FormatInt(h.Offset, 10)
	if cmd.RequestCode() == ChangeMessageInvisibleTime {
		f["invisibleTime"] = strconv.FormatInt(h.InvisibleTime, 10)
	}
}

// ChangeInvisibleTimeResponseHeader is CHANGE_MESSAGE_INVISIBLETIME's answer.
type ChangeInvisibleTimeResponseHeader struct {
	PopTime       int64
	InvisibleTime int64
	ReviveQid     int32
}

// Encode writes the header into resp's extFields.
func (h *ChangeInvisibleTimeResponseHeader) Encode(resp *Command) {
	resp.ExtFields = map[string]string{
		"popTime":       strconv.FormatInt(h.PopTime, 10),
		"invisibleTime": strconv.FormatInt(h.InvisibleTime, 10),
		"reviveQid":     strconv.Itoa(int(h.ReviveQid)),
	}
}

// DecodeChangeInvisibleTimeResponseHeader reads an answer's header.
func DecodeChangeInvisibleTimeResponseHeader(cmd *Command) (ChangeInvisibleTimeResponseHeader, error) {
	e := fieldReader{cmd: cmd}
	h := ChangeInvisibleTimeResponseHeader{
		PopTime:       e.int64("popTime", true),
		InvisibleTime: e.int64("invisibleTime", true),
		ReviveQid:     e.int32("reviveQid", true),
	}
	return h, e.err
}
