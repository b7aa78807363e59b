package send

import (
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

// SlaveRefusals are a slave's answers to the send codes: a slave's store
// takes only the master's bytes, so RocketMQ's DefaultMessageStore#
// putMessage refuses every put with SERVICE_NOT_AVAILABLE ("broke role is
// slave, so putMessage is forbidden"), which SendMessageProcessor answers
// SERVICE_NOT_AVAILABLE with its "messages are put to the slave" remark and
// the send-back path answers SYSTEM_ERROR "SERVICE_NOT_AVAILABLE" (the
// status's name). A reply message is refused too: RocketMQ pushes it to
// the requester without storing it; Sluice wants request-reply to go
// through a master. The log line is rate-limited (one a second, with the
// count), as a producer with a stale route would otherwise flood it.
func SlaveRefusals(log zerolog.Logger) map[remoting.RequestCode]actors.HandlerFunc {
	rl := &slaveRefusalLog{log: log}
	put := func(r *actors.Request) {
		rl.note(r)
		r.ReplyCode(remoting.ServiceNotAvailable, serviceNotAvailableRemark)
	}
	back := func(r *actors.Request) {
		rl.note(r)
		r.ReplyCode(remoting.SystemError, "SERVICE_NOT_AVAILABLE")
	}
	return map[remoting.RequestCode]actors.HandlerFunc{
		remoting.SendMessage:         put,
		remoting.SendMessageV2:       put,
		remoting.SendBatchMessage:    put,
		remoting.SendReplyMessage:    put,
		remoting.SendReplyMessageV2:  put,
		remoting.ConsumerSendMsgBack: back,
	}
}

type slaveRefusalLog struct {
	log     zerolog.Logger
	count   atomic.Uint64
	logged  atomic.Uint64
	lastLog atomic.Int64
}

func (l *slaveRefusalLog) note(r *actors.Request) {
	n := l.count.Add(1)
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(time.Second) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	since := n - l.logged.Swap(n)
	l.log.Warn().Stringer("code", r.Cmd.RequestCode()).Str("client", r.RemoteAddr()).
		Uint64("refusedSinceLastLine", since).Uint64("refusedTotal", n).
		Msg("broker role is SLAVE, so putMessage is forbidden: send refused SERVICE_NOT_AVAILABLE")
}
