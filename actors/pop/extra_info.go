package pop

import (
	"errors"
	"strconv"
	"strings"

	"github.com/sluice-mq/sluice/actors/metadata"
)

// ExtraInfoUtil's retry marks: which topic a receipt handle's message was
// read from.
const (
	normalTopicMark  = "0"
	retryTopicMark   = "1"
	retryTopicMarkV2 = "2"
)

// keySeparator is MessageConst.KEY_SEPARATOR.
const keySeparator = " "

// PopRetryTopic is KeyBuilder.buildPopRetryTopicV1 (enableRetryTopicV2 is
// false by default in RocketMQ 5): %RETRY%<group>_<topic>.
func PopRetryTopic(topic, group string) string {
	return metadata.RetryGroupTopicPrefix + group + "_" + topic
}

func retryMark(topic string) string {
	if strings.HasPrefix(topic, metadata.RetryGroupTopicPrefix) {
		if strings.Contains(topic, "+") {
			return retryTopicMarkV2
		}
		return retryTopicMark
	}
	return normalTopicMark
}

// BuildExtraInfo is ExtraInfoUtil.buildExtraInfo with the message's queue
// offset: "ckOffset popTime invisibleTime reviveQid mark brokerName queueId
// msgOffset", the string RocketMQ puts in PROPERTY_POP_CK and the proxy
// wraps in its receipt handle.
func BuildExtraInfo(ckOffset, popTime, invisibleTime int64, reviveQid int32, topic, brokerName string, queueID int32, msgOffset int64) string {
	b := make([]byte, 0, 64+len(brokerName))
	b = strconv.AppendInt(b, ckOffset, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, popTime, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, invisibleTime, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(reviveQid), 10)
	b = append(b, ' ')
	b = append(b, retryMark(topic)...)
	b = append(b, ' ')
	b = append(b, brokerName...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(queueID), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, msgOffset, 10)
	return string(b)
}

// ExtraInfo is a parsed extraInfo string.
type ExtraInfo struct {
	CkOffset      int64
	PopTime       int64
	InvisibleTime int64
	ReviveQid     int32
	Mark          string
	BrokerName    string
	QueueID       int32
	MsgOffset     int64 // -1 when absent (7-field form)
}

var errExtraInfo = errors.New("extraInfo is malformed")

// ParseExtraInfo splits extraInfo as ExtraInfoUtil does; the 7-field
// form (no message offset) is accepted, as RocketMQ accepts it.
func ParseExtraInfo(s string) (ExtraInfo, error) {
	f := strings.Split(s, keySeparator)
	if len(f) < 7 {
		return ExtraInfo{}, errExtraInfo
	}
	var e ExtraInfo
	var err error
	n := func(i int) int64 {
		if err != nil {
			return 0
		}
		var v int64
		v, err = strconv.ParseInt(f[i], 10, 64)
		return v
	}
	e.CkOffset, e.PopTime, e.InvisibleTime = n(0), n(1), n(2)
	e.ReviveQid = int32(n(3))
	e.Mark, e.BrokerName = f[4], f[5]
	e.QueueID = int32(n(6))
	e.MsgOffset = -1
	if len(f) > 7 {
		e.MsgOffset = n(7)
	}
	if err != nil {
		return ExtraInfo{}, errExtraInfo
	}
	switch e.Mark {
	case normalTopicMark, retryTopicMark, retryTopicMarkV2:
	default:
		return ExtraInfo{}, errExtraInfo
	}
	return e, nil
}

// RealTopic is ExtraInfoUtil.getRealTopic: the topic the message was read
// from, given the topic the consumer names.
func (e ExtraInfo) RealTopic(topic, group string) string {
	switch e.Mark {
	case retryTopicMark:
		return PopRetryTopic(topic, group)
	case retryTopicMarkV2:
		return metadata.RetryGroupTopicPrefix + group + "+" + topic
	}
	return topic
}
