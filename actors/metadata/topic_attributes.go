package metadata

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-mq/sluice/remoting/message"
)

// RocketMQ 5's topic attributes (TopicAttributes.ALL) and message types
// (TopicMessageType).
const (
	AttributeMessageType   = "message.type"
	AttributeQueueType     = "queue.type"
	AttributeCleanupPolicy = "cleanup.policy"

	MessageTypeUnspecified = "UNSPECIFIED"
	MessageTypeNormal      = "NORMAL"
	MessageTypeFIFO        = "FIFO"
	MessageTypeDelay       = "DELAY"
	MessageTypeTransaction = "TRANSACTION"
	MessageTypeMixed       = "MIXED"
)

// topicAttribute is one attribute Sluice knows: whether it may change
// after creation and the values it honours.
type topicAttribute struct {
	changeable bool
	values     []string
}

var topicAttributes = map[string]topicAttribute{
	AttributeMessageType: {true, []string{MessageTypeUnspecified, MessageTypeNormal, MessageTypeFIFO, MessageTypeDelay, MessageTypeTransaction, MessageTypeMixed}},
	// Sluice has one consume-queue kind and deletes by retention only:
	// BatchCQ and COMPACTION are refused, not silently ignored.
	AttributeQueueType:     {false, []string{"SimpleCQ"}},
	AttributeCleanupPolicy: {false, []string{"DELETE"}},
}

// ErrTopicAttribute is a malformed or refused attribute modification.
var ErrTopicAttribute = errors.New("topic attributes")

// ParseAttributes is AttributeParser.parseToMap: "+k=v,-k2" into
// {"+k": "v", "-k2": ""}.
func ParseAttributes(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		var k, v string
		if i := strings.IndexByte(kv, '='); i >= 0 {
			k, v = kv[:i], kv[i+1:]
			if !strings.Contains(k, "+") {
				return nil, fmt.Errorf("%w: add/alter attribute format is wrong: %s", ErrTopicAttribute, k)
			}
		} else {
			k = kv
			if !strings.Contains(k, "-") {
				return nil, fmt.Errorf("%w: delete attribute format is wrong: %s", ErrTopicAttribute, k)
			}
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%w: key duplication: %s", ErrTopicAttribute, k)
		}
		out[k] = v
	}
	return out, nil
}

// AlterTopicAttributes is AttributeUtil.alterCurrentAttributes: on create
// only "+k" is allowed; later "+k" adds or updates a changeable attribute
// and "-k" deletes an existing one. The result is a new map (nil when
// empty).
func AlterTopicAttributes(create bool, current, mods map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(current)+len(mods))
	for k, v := range current {
		out[k] = v
	}
	seen := map[string]bool{}
	for key, v := range mods {
		if len(key) < 2 {
			return nil, fmt.Errorf("%w: kv string format wrong", ErrTopicAttribute)
		}
		real := key[1:]
		if strings.ContainsAny(real, "+-") {
			return nil, fmt.Errorf("%w: kv string format wrong", ErrTopicAttribute)
		}
		if seen[real] {
			return nil, fmt.Errorf("%w: alter duplication key. key: %s", ErrTopicAttribute, real)
		}
		seen[real] = true
		attr, ok := topicAttributes[real]
		if !ok {
			return nil, fmt.Errorf("%w: unsupported key: %s", ErrTopicAttribute, real)
		}
		switch {
		case create && key[0] != '+':
			return nil, fmt.Errorf("%w: only add attribute is supported while creating topic. key: %s", ErrTopicAttribute, real)
		case key[0] == '+':
			if !create && !attr.changeable {
				return nil, fmt.Errorf("%w: attempt to update an unchangeable attribute. key: %s", ErrTopicAttribute, real)
			}
			valid := false
			for _, a := range attr.values {
				valid = valid || a == v
			}
			if !valid {
				return nil, fmt.Errorf("%w: value is not in set: %v (Sluice honours %s)", ErrTopicAttribute, v, strings.Join(attr.values, ", "))
			}
			out[real] = v
		case key[0] == '-':
			if _, exists := current[real]; !exists {
				return nil, fmt.Errorf("%w: attempt to delete a nonexistent key: %s", ErrTopicAttribute, real)
			}
			if !attr.changeable {
				return nil, fmt.Errorf("%w: attempt to update an unchangeable attribute. key: %s", ErrTopicAttribute, real)
			}
			delete(out, real)
		default:
			return nil, fmt.Errorf("%w: wrong format key: %s", ErrTopicAttribute, real)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// MessageTypeOf is TopicMessageType.parseFromMessageProperty over stored
// properties: TRAN_MSG=true is TRANSACTION; DELAY or a TIMER_* property
// DELAY; a sharding key (message group) FIFO; else NORMAL.
func MessageTypeOf(props string) string {
	if message.Get(props, message.PropertyTransactionPrepared) == "true" {
		return MessageTypeTransaction
	}
	for _, k := range [...]string{message.PropertyDelayTimeLevel, message.PropertyTimerDeliverMS, message.PropertyTimerDelaySec, message.PropertyTimerDelayMS} {
		if _, ok := message.Lookup(props, k); ok {
			return MessageTypeDelay
		}
	}
	if _, ok := message.Lookup(props, message.PropertyShardingKey); ok {
		return MessageTypeFIFO
	}
	return MessageTypeNormal
}

// CheckMessageType is the proxy's DefaultTopicMessageTypeValidator for a
// topic with a message.type attribute: "" when props fit, else the remark
// RocketMQ gives. Topics without the attribute take every type (RocketMQ 5
// reads a missing attribute as NORMAL; Sluice keeps the 4.x behaviour for
// topics created without one, so existing delay and transactional senders
// go on working).
func CheckMessageType(tc TopicConfig, props string) string {
	expected, ok := tc.Attributes[AttributeMessageType]
	if !ok || IsRetryTopic(tc.TopicName) || strings.HasPrefix(tc.TopicName, DLQGroupTopicPrefix) {
		return ""
	}
	actual := MessageTypeOf(props)
	if actual == expected || expected == MessageTypeMixed {
		return ""
	}
	return "TopicMessageType validate failed, the expected type is " + expected + ", but actual type is " + actual
}
