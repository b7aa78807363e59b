package send

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/timer"
	"github.com/sluice-mq/sluice/actors/transaction"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// A send that asks for something Sluice does not do yet is refused with a
// clear answer and a log line, never acknowledged and then treated as
// something else: a delayed or timer message would be delivered at once
// (in a batch, in a transaction, or while its service is not running;
// deleting a timer message is not supported). So is a
// transactional message Sluice cannot honour: in a batch (RocketMQ refuses
// those too), by sysFlag alone (it would be stored where nothing reads
// it), or any with rejectTransactionMessage=true.

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

// checkUnhonoured returns the refusal for a send, or for one message of a
// batch: the answer RocketMQ gives where it has one
// (rejectTransactionMessage=true for a half message, MESSAGE_ILLEGAL for a
// transactional batch), MESSAGE_ILLEGAL naming the property otherwise. A
// single message with TRAN_MSG=true is not refused: it is stored as a half
// message (actors/transaction).
func (p *Handlers) checkUnhonoured(h *remoting.SendMessageRequestHeader, props string, batch bool) (unhonoured, remoting.ResponseCode, string, bool) {
	if tx := transaction.IsTransactional(props); tx || txHalf(h.SysFlag) {
		switch {
		case p.RejectTransactionMessage:
			return refusedTransaction, remoting.NoPermission,
				"the broker[" + p.ID.StoreHost.Addr().String() + "] sending transaction message is forbidden", true
		case batch:
			return refusedTransaction, remoting.MessageIllegal, "a batch cannot carry a transactional message (" +
				message.PropertyTransactionPrepared + "=true or a prepared sysFlag), as RocketMQ's CommitLog#asyncPutMessages " +
				"refuses; the message was not stored", true
		case !tx:
			return refusedTransaction, remoting.MessageIllegal, "sysFlag " + strconv.Itoa(int(h.SysFlag)) +
				" marks a transactional half message but property " + message.PropertyTransactionPrepared +
				" is not true: no consumer and no transaction check would ever read it; the message was not stored", true
		}
	}
	delayed := false
	if v, ok := message.Lookup(props, message.PropertyDelayTimeLevel); ok {
		level, err := strconv.Atoi(v)
		delayed = err == nil && level > 0
		switch {
		case err != nil:
			return refusedDelay, remoting.MessageIllegal, "property " + message.PropertyDelayTimeLevel + "=" + v +
				" is not a delay level; the message was not stored", true
		case level <= 0:
		case batch:
			return refusedDelay, remoting.MessageIllegal, "a batch cannot carry a delayed message (" +
				message.PropertyDelayTimeLevel + "=" + v + "), as RocketMQ's CommitLog#asyncPutMessages refuses; the message was not stored", true
		case transaction.IsTransactional(props):
			// Java delays the message when it is committed; Sluice's commit
			// path does not yet, so it is refused rather than delivered at once.
			return refusedDelay, remoting.MessageIllegal, "a transactional message cannot carry a delay level here yet (" +
				message.PropertyDelayTimeLevel + "=" + v + "); the message was not stored", true
		case !p.delayHonoured():
			return refusedDelay, remoting.MessageIllegal, "delayed messages are not served by this broker now (property " +
				message.PropertyDelayTimeLevel + "=" + v + "): the schedule service is not running; the message was not stored", true
		}
	}
	// A delay level wins over timer properties (they are dropped, as in
	// HookUtils#checkIfTimerMessage).
	if !delayed && timer.IsTimerMessage(props) {
		if v, ok := message.Lookup(props, timer.PropertyTimerDelUniqKey); ok {
			return refusedTimer, remoting.MessageIllegal, "deleting a timer message (property " + timer.PropertyTimerDelUniqKey + "=" + v +
				") is not supported by this broker yet; the message was not stored", true
		}
		switch {
		case batch:
			return refusedTimer, remoting.MessageIllegal, "a batch cannot carry a timer message (" + timerProperty(props) +
				"): it would be stored and delivered at once; the message was not stored", true
		case transaction.IsTransactional(props):
			// As for delay levels: Java times the committed message; Sluice's
			// commit path does not yet.
			return refusedTimer, remoting.MessageIllegal, "a transactional message cannot carry a timer here yet (" + timerProperty(props) +
				"); the message was not stored", true
		case p.Timers == nil:
			// timerWheelEnable=false: RocketMQ's WHEEL_TIMER_NOT_ENABLE answer.
			return refusedTimer, remoting.SystemError, timer.NotEnabledRemark, true
		case !p.Timers.Started():
			return refusedTimer, remoting.MessageIllegal, "timer messages are not served by this broker now (" + timerProperty(props) +
				"): the timer service is not running; the message was not stored", true
		}
	}
	return 0, remoting.Success, "", false
}

// timerProperty names the timer property a message carries, for remarks.
func timerProperty(props string) string {
	for _, name := range [...]string{message.PropertyTimerDelaySec, message.PropertyTimerDelayMS, message.PropertyTimerDeliverMS} {
		if v, ok := message.Lookup(props, name); ok {
			return "property " + name + "=" + v
		}
	}
	return "timer properties"
}

// txHalf reports a sysFlag that marks a prepared or rolled-back
// transactional message: the store keeps such records out of consume
// queues, so storing one as it is would acknowledge a message nobody can
// consume.
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
