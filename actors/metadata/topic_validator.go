package metadata

import (
	"errors"
	"strings"
)

// System topic names (RocketMQ's TopicValidator constants).
const (
	AutoCreateTopicKeyTopic      = "TBW102"
	RMQSysScheduleTopic          = "SCHEDULE_TOPIC_XXXX"
	RMQSysBenchmarkTopic         = "BenchmarkTest"
	RMQSysTransHalfTopic         = "RMQ_SYS_TRANS_HALF_TOPIC"
	RMQSysTraceTopic             = "RMQ_SYS_TRACE_TOPIC"
	RMQSysTransOpHalfTopic       = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	RMQSysTransCheckMaxTimeTopic = "TRANS_CHECK_MAX_TIME_TOPIC"
	RMQSysSelfTestTopic          = "SELF_TEST_TOPIC"
	RMQSysOffsetMovedEvent       = "OFFSET_MOVED_EVENT"
	SystemTopicPrefix            = "rmq_sys_"
	ReplyTopicPostfix            = "REPLY_TOPIC"
	RetryGroupTopicPrefix        = "%RETRY%"
	DLQGroupTopicPrefix          = "%DLQ%"
	TopicMaxLength               = 127
	ValidTopicPattern            = "^[%|a-zA-Z0-9_-]+$"
)

// Topic validation remarks, word for word from TopicValidator#validateTopic
// (all answered with SYSTEM_ERROR).
const (
	RemarkTopicBlank   = "The specified topic is blank."
	RemarkTopicIllegal = "The specified topic contains illegal characters, allowing only " + ValidTopicPattern
	RemarkTopicTooLong = "The specified topic is longer than topic max length."
	// RemarkFAQSuffix is FAQUrl.suggestTodo(APPLY_TOPIC_URL), which
	// RocketMQ appends to "topic not exist" and "no route" remarks.
	RemarkFAQSuffix = "\nSee http://rocketmq.apache.org/docs/faq/ for further details."
)

// ErrInvalidTopic is wrapped by every ValidateTopic failure; the wrapping
// error's text is RocketMQ's remark, so the caller can use err.Error() as
// the response remark.
var ErrInvalidTopic = errors.New("invalid topic")

// ValidateTopic applies TopicValidator#validateTopic: not blank, only
// characters of ^[%|a-zA-Z0-9_-]+$, at most 127 characters, checked in that
// order. Topic names become directory names in the store, so this is also
// what keeps them away from '/', '.', '..' and NUL: none of those can pass.
func ValidateTopic(topic string) error {
	if strings.TrimSpace(topic) == "" {
		return &remarkError{RemarkTopicBlank, ErrInvalidTopic}
	}
	if !validName(topic) {
		return &remarkError{RemarkTopicIllegal, ErrInvalidTopic}
	}
	if len(topic) > TopicMaxLength {
		return &remarkError{RemarkTopicTooLong, ErrInvalidTopic}
	}
	return nil
}

// ValidateGroup applies the client-side Validators#checkGroup rule (same
// character class, at most 255 characters). The Java 4.x broker does not
// check group names itself; the retry topic %RETRY%<group> is validated as a
// topic when it is created, which is what protects the store.
func ValidateGroup(group string) error {
	switch {
	case strings.TrimSpace(group) == "":
		return errors.New("the specified group is blank")
	case !validName(group):
		return errors.New("the specified group contains illegal characters, allowing only " + ValidTopicPattern)
	case len(group) > 255:
		return errors.New("the specified group is longer than group max length 255")
	}
	return nil
}

// validName is TopicValidator#isTopicOrGroupIllegal inverted, byte by byte:
// every accepted character is ASCII, so any multi-byte rune fails.
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '%', c == '|', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// IsSystemTopic reports the fixed part of TopicValidator's system topic set
// (and the rmq_sys_ prefix). TopicConfigManager.IsSystemTopic adds the
// names that depend on the broker's configuration (cluster, broker, reply
// topic), which Java adds to the same static set at start.
func IsSystemTopic(topic string) bool {
	switch topic {
	case AutoCreateTopicKeyTopic, RMQSysScheduleTopic, RMQSysBenchmarkTopic,
		RMQSysTransHalfTopic, RMQSysTraceTopic, RMQSysTransOpHalfTopic,
		RMQSysTransCheckMaxTimeTopic, RMQSysSelfTestTopic, RMQSysOffsetMovedEvent:
		return true
	}
	return strings.HasPrefix(topic, SystemTopicPrefix)
}

// IsNotAllowedSendTopic reports the topics clients may not send to
// (TopicValidator's NOT_ALLOWED_SEND_TOPIC_SET); Java answers NO_PERMISSION
// with RemarkSendForbidden.
func IsNotAllowedSendTopic(topic string) bool {
	switch topic {
	case RMQSysScheduleTopic, RMQSysTransHalfTopic, RMQSysTransOpHalfTopic,
		RMQSysTransCheckMaxTimeTopic, RMQSysSelfTestTopic, RMQSysOffsetMovedEvent:
		return true
	}
	return false
}

// RemarkSendForbidden is the NO_PERMISSION remark for IsNotAllowedSendTopic.
func RemarkSendForbidden(topic string) string {
	return "Sending message to topic[" + topic + "] is forbidden."
}

// RemarkSystemTopicConflict is the SYSTEM_ERROR remark UPDATE_AND_CREATE_TOPIC
// gives for a system topic.
func RemarkSystemTopicConflict(topic string) string {
	return "The topic[" + topic + "] is conflict with system topic."
}

// RemarkTopicNotExist is the TOPIC_NOT_EXIST remark of the send and pull
// paths, FAQ suffix included.
func RemarkTopicNotExist(topic string) string {
	return "topic[" + topic + "] not exist, apply first please!" + RemarkFAQSuffix
}

// RetryTopic is MixAll#getRetryTopic.
func RetryTopic(group string) string { return RetryGroupTopicPrefix + group }

// DLQTopic is MixAll#getDLQTopic.
func DLQTopic(group string) string { return DLQGroupTopicPrefix + group }

// IsRetryTopic reports a %RETRY% topic.
func IsRetryTopic(topic string) bool { return strings.HasPrefix(topic, RetryGroupTopicPrefix) }

// IsDLQTopic reports a %DLQ% topic.
func IsDLQTopic(topic string) bool { return strings.HasPrefix(topic, DLQGroupTopicPrefix) }
