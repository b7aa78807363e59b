package remoting

import "strconv"

// BusyKind is one of RocketMQ's five flow-control answers. Each kind's tag,
// response code and remark are defined here and nowhere else.
type BusyKind uint8

const (
	// RejectRequest: the send processor's reject check (page cache busy or
	// transient store pool deficient) refused the request before queueing.
	RejectRequest BusyKind = iota
	// Overload: the processor's queue was full.
	Overload
	// PCSynchronized: the store found the page cache busy when the send
	// reached it.
	PCSynchronized
	// PCBusyCleanQueue: the fast-failure sweep removed a queued send while
	// the page cache was busy.
	PCBusyCleanQueue
	// TimeoutCleanQueue: the fast-failure sweep removed a request that had
	// waited in its queue past the queue's limit.
	TimeoutCleanQueue
	numBusyKinds
)

// BusyKinds lists every kind, for counters and tables.
var BusyKinds = [numBusyKinds]BusyKind{RejectRequest, Overload, PCSynchronized, PCBusyCleanQueue, TimeoutCleanQueue}

var busyTags = [numBusyKinds]string{"REJECTREQUEST", "OVERLOAD", "PC_SYNCHRONIZED", "PCBUSY_CLEAN_QUEUE", "TIMEOUT_CLEAN_QUEUE"}

// Tag is the bracketed word that starts the remark, e.g. "OVERLOAD".
func (k BusyKind) Tag() string {
	if k < numBusyKinds {
		return busyTags[k]
	}
	return "BUSY_" + strconv.Itoa(int(k))
}

func (k BusyKind) String() string { return k.Tag() }

// Code is the response code RocketMQ 4.9 answers with. PC_SYNCHRONIZED is
// SYSTEM_ERROR there (SYSTEM_BUSY only from 5.3.0): with 1 the Go client
// retries the send, on another broker when it can.
func (k BusyKind) Code() ResponseCode {
	if k == PCSynchronized {
		return SystemError
	}
	return SystemBusy
}

// Remark renders the exact remark; waitMillis and queueSize are used only by
// the two clean-queue kinds.
func (k BusyKind) Remark(waitMillis int64, queueSize int) string {
	switch k {
	case RejectRequest:
		return "[REJECTREQUEST]system busy, start flow control for a while"
	case Overload:
		return "[OVERLOAD]system busy, start flow control for a while"
	case PCSynchronized:
		return "[PC_SYNCHRONIZED]broker busy, start flow control for a while"
	case PCBusyCleanQueue, TimeoutCleanQueue:
		return "[" + k.Tag() + "]broker busy, start flow control for a while, period in queue: " +
			strconv.FormatInt(waitMillis, 10) + "ms, size of queue: " + strconv.Itoa(queueSize)
	}
	return "[" + k.Tag() + "]system busy"
}

// appendRemark appends Remark's text to dst without allocating; the
// remarks need no JSON escaping.
func (k BusyKind) appendRemark(dst []byte, waitMillis int64, queueSize int) []byte {
	switch k {
	case RejectRequest:
		return append(dst, "[REJECTREQUEST]system busy, start flow control for a while"...)
	case Overload:
		return append(dst, "[OVERLOAD]system busy, start flow control for a while"...)
	case PCSynchronized:
		return append(dst, "[PC_SYNCHRONIZED]broker busy, start flow control for a while"...)
	case PCBusyCleanQueue, TimeoutCleanQueue:
		dst = append(dst, '[')
		dst = append(dst, k.Tag()...)
		dst = append(dst, "]broker busy, start flow control for a while, period in queue: "...)
		dst = strconv.AppendInt(dst, waitMillis, 10)
		dst = append(dst, "ms, size of queue: "...)
		return strconv.AppendInt(dst, int64(queueSize), 10)
	}
	return append(append(append(dst, '['), k.Tag()...), "]system busy"...)
}

// BusyResponse answers req with kind's code and remark. The remarks of the
// kinds without figures are constants, so a refusal allocates only its
// Command; the writer times it into ConnOptions.BusyAnswerLatency.
func BusyResponse(req *Command, kind BusyKind, waitMillis int64, queueSize int) *Command {
	resp := NewResponse(req, kind.Code(), kind.Remark(waitMillis, queueSize))
	resp.busy = true
	return resp
}

// ParseBusyTag returns the busy kind whose tag starts remark, for clients
// that count busy answers by kind.
func ParseBusyTag(remark string) (BusyKind, bool) {
	for _, k := range BusyKinds {
		t := k.Tag()
		if len(remark) >= len(t)+2 && remark[0] == '[' && remark[1:1+len(t)] == t && remark[1+len(t)] == ']' {
			return k, true
		}
	}
	return 0, false
}
