package timer

import (
	"math"
	"strconv"

	"github.com/sluice-mq/sluice/actors/schedule"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// TimerTopic is TimerMessageStore.TIMER_TOPIC: where timer messages wait.
const TimerTopic = "rmq_sys_wheel_timer"

// MessageConst names of RocketMQ 5's timer properties that
// remoting/message does not list.
const (
	PropertyTimerEnqueueMS  = "TIMER_ENQUEUE_MS"
	PropertyTimerDequeueMS  = "TIMER_DEQUEUE_MS"
	PropertyTimerRollTimes  = "TIMER_ROLL_TIMES"
	PropertyTimerDelUniqKey = "TIMER_DEL_UNIQKEY"
)

// Defaults of MessageStoreConfig.
const (
	DefaultPrecisionMs     = 1000
	DefaultMaxDelaySec     = 3 * 24 * 3600
	DefaultRollWindowSlots = 2 * 24 * 3600
)

// RoundPrecision is MessageStoreConfig#setTimerPrecisionMs: the precision
// is one of 100, 200, 500 or 1000 ms, the largest not above ms (100 below
// 100).
func RoundPrecision(ms int64) int64 {
	candidates := [...]int64{100, 200, 500, 1000}
	for i := 1; i < len(candidates); i++ {
		if ms < candidates[i] {
			return candidates[i-1]
		}
	}
	return candidates[len(candidates)-1]
}

// IsTimerMessage is HookUtils#checkIfTimerMessage without its side
// effect: properties asking for a timer (TIMER_DELIVER_MS,
// TIMER_DELAY_SEC or TIMER_DELAY_MS) that are not already a timer
// message's delivery (TIMER_OUT_MS set). The caller checks a delay level
// first: DELAY > 0 wins and the timer properties are dropped
// (DropTimerProperties).
func IsTimerMessage(props string) bool {
	if _, ok := message.Lookup(props, message.PropertyTimerOutMS); ok {
		return false
	}
	for _, name := range [...]string{message.PropertyTimerDeliverMS, message.PropertyTimerDelayMS, message.PropertyTimerDelaySec} {
		if _, ok := message.Lookup(props, name); ok {
			return true
		}
	}
	return false
}

// DropTimerProperties is checkIfTimerMessage's branch for a message with a
// delay level: its timer properties are cleared, the level applies.
func DropTimerProperties(props string) string {
	for _, name := range [...]string{message.PropertyTimerDeliverMS, message.PropertyTimerDelaySec, message.PropertyTimerDelayMS} {
		if _, ok := message.Lookup(props, name); ok {
			props = message.Delete(props, name)
		}
	}
	return props
}

// Refusal is a send RocketMQ answers with an error: its code and remark.
type Refusal struct {
	Code   remoting.ResponseCode
	Remark string
}

func (r *Refusal) Error() string { return r.Remark }

// IllegalRemark is SendMessageProcessor's remark for WHEEL_TIMER_MSG_ILLEGAL.
func IllegalRemark(maxDelaySec int64) string {
	return "timer message illegal, the delay time should not be bigger than the max delay " +
		strconv.FormatInt(maxDelaySec*1000, 10) + "ms; or if set del msg, the delay time should be bigger than the current time"
}

// NotEnabledRemark is SendMessageProcessor's remark for WHEEL_TIMER_NOT_ENABLE.
const NotEnabledRemark = "accurate timer message is not enabled, timerWheelEnable is false"

// ToTimerTopic is HookUtils#transformTimerMessage for the send path, on a
// message about to be encoded (m.Properties as stored) that
// IsTimerMessage: its delivery time is TIMER_DELAY_SEC (seconds from now),
// else TIMER_DELAY_MS (ms from now), else TIMER_DELIVER_MS (epoch ms).
//
//   - Not a number: refused, MESSAGE_ILLEGAL (WHEEL_TIMER_MSG_ILLEGAL).
//   - In the future: further than maxDelaySec away is refused the same way;
//     otherwise the time is rounded down to the precision (a time on a
//     tick goes one tick earlier: the slot is read once its tick is over),
//     written as TIMER_OUT_MS, and m is parked in rmq_sys_wheel_timer
//     queue 0 with REAL_TOPIC and REAL_QID. It reports true.
//   - Now or past: m is left as it is and stored in its topic, delivered at
//     once, as RocketMQ does.
//
// A sum that overflows (Java would wrap around) is refused as too far.
func ToTimerTopic(m *commitlog.Message, nowMs, precisionMs, maxDelaySec int64) (bool, *Refusal) {
	illegal := &Refusal{Code: remoting.MessageIllegal, Remark: IllegalRemark(maxDelaySec)}
	var deliverMs int64
	if v, ok := message.Lookup(m.Properties, message.PropertyTimerDelaySec); ok {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil || sec > (math.MaxInt64-nowMs)/1000 {
			return false, illegal
		}
		deliverMs = nowMs + max(sec, -1)*1000 // any past time is now
	} else if v, ok := message.Lookup(m.Properties, message.PropertyTimerDelayMS); ok {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms > math.MaxInt64-nowMs {
			return false, illegal
		}
		deliverMs = nowMs + max(ms, -1)
	} else {
		v, _ := message.Lookup(m.Properties, message.PropertyTimerDeliverMS)
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false, illegal
		}
		deliverMs = ms
	}
	if deliverMs <= nowMs {
		return false, nil
	}
	if deliverMs-nowMs > maxDelaySec*1000 {
		return false, illegal
	}
	if deliverMs%precisionMs == 0 {
		deliverMs -= precisionMs
	} else {
		deliverMs = deliverMs / precisionMs * precisionMs
	}
	m.Properties = message.Set(m.Properties, message.PropertyTimerOutMS, strconv.FormatInt(deliverMs, 10))
	schedule.Park(m, TimerTopic, 0)
	return true, nil
}
