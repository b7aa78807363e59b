package send

import (
	"github.com/sluice-mq/sluice/actors/schedule"
	"github.com/sluice-mq/sluice/commitlog"
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
func (p *Handlers) parkDelayed(m *commitlog.Message) (bool, error) {
	return schedule.ToScheduleTopic(m, p.Store.MaxDelayLevel())
}

// dlqProperties is what a message sent to %DLQ% gets
// (msg.setDelayTimeLevel(0) in handleRetryAndDLQ and
// consumerSendMsgBack): DELAY=0, so that it is never delayed.
func dlqProperties(props string) string {
	return message.Set(props, message.PropertyDelayTimeLevel, "0")
}
