package schedule

import (
	"fmt"
	"strconv"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting/message"
)

// QueueID is the SCHEDULE_TOPIC_XXXX queue of a delay level
// (ScheduleMessageService#delayLevel2QueueId).
func QueueID(level int32) int32 { return level - 1 }

// Level is the delay level a SCHEDULE_TOPIC_XXXX queue holds
// (ScheduleMessageService#queueId2DelayLevel).
func Level(queueID int32) int32 { return queueID + 1 }

// ToScheduleTopic is the delay branch of CommitLog#asyncPutMessage, for the
// send path to call on a message about to be encoded: when m asks for a
// delay (DELAY > 0) and is neither a prepared nor a rolled-back
// transactional message, it becomes its parked form — topic
// SCHEDULE_TOPIC_XXXX, queue level-1, with REAL_TOPIC and REAL_QID set to
// where it was going. A level above maxLevel is stored as maxLevel, DELAY
// included, as Java's setDelayTimeLevel(max) does. m.Properties must be the
// properties as they will be stored (message.Normalize'd); the broker's
// PropertiesSuffix is left as it is.
//
// A transactional half message already turned into its
// RMQ_SYS_TRANS_HALF_TOPIC form is not delayed either: Java would park it
// with REAL_TOPIC naming the half topic and later discard it as a [BUG]
// (its Java producer strips DELAY from transactional messages; the Go
// client does not). Its delay applies when it is committed, to the
// message put back into its real topic.
//
// It reports whether m was changed. A DELAY that is not a number is an
// error and m is unchanged: Java's Integer.parseInt throws there and the
// send fails.
func ToScheduleTopic(m *commitlog.Message, maxLevel int32) (bool, error) {
	if txHalfOrRollback(m.SysFlag) || m.Topic == metadata.RMQSysTransHalfTopic {
		return false, nil
	}
	v, ok := message.Lookup(m.Properties, message.PropertyDelayTimeLevel)
	if !ok {
		return false, nil
	}
	level, err := commitlog.ParseDelayTimeLevel(v)
	if err != nil {
		return false, fmt.Errorf("property %s=%q: %w", message.PropertyDelayTimeLevel, v, err)
	}
	if level <= 0 {
		return false, nil
	}
	if maxLevel < 1 {
		return false, fmt.Errorf("property %s=%s: the store has no delay levels", message.PropertyDelayTimeLevel, v)
	}
	props := m.Properties
	if level > maxLevel {
		level = maxLevel
		props = message.Set(props, message.PropertyDelayTimeLevel, strconv.Itoa(int(level)))
	}
	m.Properties = props
	Park(m, metadata.RMQSysScheduleTopic, QueueID(level))
	return true, nil
}

// Park is what delayed and timer messages share on the way in
// (CommitLog's "Backup real topic, queueId"): REAL_TOPIC and REAL_QID are
// set to where m was going, and m goes to topic's queueID instead.
func Park(m *commitlog.Message, topic string, queueID int32) {
	props := message.Set(m.Properties, message.PropertyRealTopic, m.Topic)
	m.Properties = message.Set(props, message.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)))
	m.Topic = topic
	m.QueueID = queueID
}

// RealDestination is what they share on the way out: the real topic and
// queue a parked message's properties name. reason is non-empty when they
// name none that can be delivered to (a bug: the message is passed over).
func RealDestination(props string) (topic string, queueID int32, reason string) {
	topic, _ = message.Lookup(props, message.PropertyRealTopic)
	qidText, _ := message.Lookup(props, message.PropertyRealQueueID)
	qid, qerr := strconv.ParseInt(qidText, 10, 32)
	switch {
	case metadata.ValidateTopic(topic) != nil:
		return "", 0, fmt.Sprintf("[BUG] %s %q is not a topic", message.PropertyRealTopic, topic)
	case qerr != nil || qid < 0:
		return "", 0, fmt.Sprintf("[BUG] %s %q is not a queue id", message.PropertyRealQueueID, qidText)
	case topic == metadata.RMQSysTransHalfTopic:
		return "", 0, "[BUG] the real topic of schedule msg is " + topic + ", discard the msg"
	}
	return topic, int32(qid), ""
}

// txHalfOrRollback: Java delays only TRANSACTION_NOT_TYPE and
// TRANSACTION_COMMIT_TYPE messages.
func txHalfOrRollback(sysFlag int32) bool {
	t := sysFlag & commitlog.SysFlagTxRollback
	return t == commitlog.SysFlagTxPrepared || t == commitlog.SysFlagTxRollback
}
