package namesrv

import (
	"errors"
	"strings"
)

// TopicMaxLength is the longest topic name RocketMQ 4.x accepts
// (TopicValidator.TOPIC_MAX_LENGTH).
const TopicMaxLength = 127

// Errors of ValidateTopic, worded as RocketMQ 4.9's TopicValidator words
// its remarks so that a tool shows the message it knows.
var (
	ErrTopicBlank   = errors.New("The specified topic is blank.")
	ErrTopicIllegal = errors.New("The specified topic contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$")
	ErrTopicTooLong = errors.New("The specified topic is longer than topic max length.")
)

// ValidateTopic checks a topic name as TopicValidator#validateTopic does:
// not blank, only ^[%|a-zA-Z0-9_-]+$, at most TopicMaxLength bytes.
func ValidateTopic(topic string) error {
	if strings.TrimSpace(topic) == "" {
		return ErrTopicBlank
	}
	for i := 0; i < len(topic); i++ {
		if !topicChar(topic[i]) {
			return ErrTopicIllegal
		}
	}
	if len(topic) > TopicMaxLength {
		return ErrTopicTooLong
	}
	return nil
}

func topicChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '%', c == '|', c == '_', c == '-':
		return true
	}
	return false
}
