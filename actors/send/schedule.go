package send

import (
	"time"

	"github.com/sluice-mq/sluice/actors/schedule"
	"github.com/sluice-mq/sluice/actors/timer"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// Delay levels on the send path. actors/schedule has the logic; these are
// the three calls the handlers make.

// delayHonoured reports whether a delayed message may be stored now: only
// while the broker's schedule service delivers SCHEDULE_TOPIC_XXXX. A
// delayed send is refused otherwise, and a retry goes to its retry topic
// at once, so that nothing is acknowledged into a queue nobody reads.
func (p *Handlers) delayHonoured() bool { return p.Store.ScheduleServiceStarted() }

// parkDelayed is the delay branch of CommitLog#asyncPutMessage: a message
// with DELAY=n > 0 becomes its parked form (SCHEDULE_TOPIC_XXXX, queue
// n-1 capped at the highest level, REAL_TOPIC and REAL_QID set). Call it
// on the message about to be encoded, after the retry/DLQ routing has set
// its topic and queue, with its stored properties. It reports whether m
// changed; its error (a DELAY that is not a number) names the property.
//
// A delayed message keeps no timer property but TIMER_OUT_MS (a consumer
// retry of a timer message carries them): the level applies, as in
// HookUtils#checkIfTimerMessage.
func (p *Handlers) parkDelayed(m *commitlog.Message) (bool, error) {
	parked, err := schedule.ToScheduleTopic(m, p.Store.MaxDelayLevel())
	if parked {
		m.Properties = timer.DropTimerProperties(m.Properties)
	}
	return parked, err
}

// dlqProperties is what a message sent to %DLQ% gets
// (msg.setDelayTimeLevel(0) in handleRetryAndDLQ and
// consumerSendMsgBack): DELAY=0, so that it is never delayed.
func dlqProperties(props string) string {
	return message.Set(props, message.PropertyDelayTimeLevel, "0")
}

// parkTimer is the timer branch of HookUtils#handleScheduleMessage, before
// parkDelayed on the same message: a message with a delay level loses its
// timer properties (the level applies); a timer message due in the future
// becomes its parked form (rmq_sys_wheel_timer, TIMER_OUT_MS, REAL_TOPIC,
// REAL_QID) and parkTimer reports true; one due now or earlier is stored
// as it is. A timer beyond timerMaxDelaySec, or one that does not parse,
// is refused with RocketMQ's answer. checkUnhonoured has refused what
// Sluice cannot serve (batches, transactions, timerWheelEnable=false).
func (p *Handlers) parkTimer(m *commitlog.Message) (bool, *timer.Refusal) {
	if txHalf(m.SysFlag) || m.Topic == timer.TimerTopic {
		return false, nil
	}
	if v, ok := message.Lookup(m.Properties, message.PropertyDelayTimeLevel); ok {
		if level, err := commitlog.ParseDelayTimeLevel(v); err == nil && level > 0 {
			m.Properties = timer.DropTimerProperties(m.Properties)
			return false, nil
		}
	}
	if !timer.IsTimerMessage(m.Properties) {
		return false, nil
	}
	if p.Timers == nil {
		return false, &timer.Refusal{Code: remoting.SystemError, Remark: timer.NotEnabledRemark}
	}
	return timer.ToTimerTopic(m, time.Now().UnixMilli(), p.Timers.PrecisionMs(), p.Timers.MaxDelaySec())
}
