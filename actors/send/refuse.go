package send

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// A send that asks for something Sluice does not do yet is refused with a
// clear answer and a log line, never acknowledged and then treated as
// something else: a transactional half message would be stored and never
// delivered, a delayed one delivered at once.

// unhonoured is one feature a send may ask for and Sluice refuses.
type unhonoured int

const (
	refusedTransaction unhonoured = iota
	refusedDelay
	refusedTimer
	refusedKinds
)

var unhonouredNames = [refusedKinds]string{"transactional message", "delayed message", "timer message"}

// refusals counts refused sends by feature and rate-limits their log
// lines: one a second per feature, with the count since the last one, so
// that a misconfigured producer cannot flood the log.
type refusals struct {
	count   [refusedKinds]atomic.Uint64
	logged  [refusedKinds]atomic.Uint64
	lastLog [refusedKinds]atomic.Int64
}

func (rs *refusals) note(log zerolog.Logger, kind unhonoured, r *actors.Request, topic, remark string) {
	n := rs.count[kind].Add(1)
	now := time.Now().UnixNano()
	last := rs.lastLog[kind].Load()
	if now-last < int64(time.Second) || !rs.lastLog[kind].CompareAndSwap(last, now) {
		return
	}
	since := n - rs.logged[kind].Swap(n)
	log.Warn().Str("refused", unhonouredNames[kind]).Str("topic", topic).Str("client", r.RemoteAddr()).
		Uint64("refusedSinceLastLine", since).Uint64("refusedTotal", n).Str("remark", remark).
		Msg("send refused: the message asks for a feature Sluice does not implement yet")
}

// checkUnhonoured returns the refusal for a single send, if any: the
// answer RocketMQ gives where it has one (rejectTransactionMessage=true for
// a half message), MESSAGE_ILLEGAL naming the property otherwise.
func (p *Handlers) checkUnhonoured(h *remoting.SendMessageRequestHeader, props string) (unhonoured, remoting.ResponseCode, string, bool) {
	if v, ok := message.Lookup(props, message.PropertyTransactionPrepared); (ok && strings.EqualFold(v, "true")) || txHalf(h.SysFlag) {
		return refusedTransaction, remoting.NoPermission,
			"the broker[" + p.ID.StoreHost.Addr().String() + "] sending transaction message is forbidden", true
	}
	if v, ok := message.Lookup(props, message.PropertyDelayTimeLevel); ok {
		if level, err := strconv.Atoi(v); err != nil || level > 0 {
			return refusedDelay, remoting.MessageIllegal, "delayed messages are not supported by this broker yet (property " +
				message.PropertyDelayTimeLevel + "=" + v + "); the message was not stored", true
		}
	}
	for _, name := range [...]string{message.PropertyTimerDeliverMS, message.PropertyTimerDelaySec, message.PropertyTimerDelayMS} {
		if v, ok := message.Lookup(props, name); ok {
			return refusedTimer, remoting.MessageIllegal, "timer messages are not supported by this broker yet (property " +
				name + "=" + v + "); the message was not stored", true
		}
	}
	return 0, remoting.Success, "", false
}

// txHalf reports a sysFlag that marks a prepared or rolled-back
// transactional message: the store keeps such records out of consume
// queues, so accepting one would acknowledge a message nobody can consume.
func txHalf(sysFlag int32) bool {
	t := sysFlag & (commitlog.SysFlagTxPrepared | commitlog.SysFlagTxCommit)
	return t == commitlog.SysFlagTxPrepared || t == commitlog.SysFlagTxRollback
}

// innerRefusal is a batch whose inner message asks for what checkUnhonoured
// refuses.
type innerRefusal struct {
	kind   unhonoured
	remark string
}

func (e *innerRefusal) Error() string { return e.remark }
