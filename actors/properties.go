package actors

import "strings"

// Message property names (MessageConst).
const (
	PropertyTags                = "TAGS"
	PropertyKeys                = "KEYS"
	PropertyUniqKey             = "UNIQ_CLIENT_MESSAGE_ID_KEYIDX"
	PropertyRetryTopic          = "RETRY_TOPIC"
	PropertyOriginMessageID     = "ORIGIN_MESSAGE_ID"
	PropertyReconsumeTime       = "RECONSUME_TIME"
	PropertyMaxReconsumeTimes   = "MAX_RECONSUME_TIMES"
	PropertyDelayLevel          = "DELAY"
	PropertyWaitStoreMsgOK      = "WAIT"
	PropertyTransactionPrepared = "TRAN_MSG"
)

// Separators of RocketMQ's properties string: name \x01 value \x02 …
const (
	nameValueSeparator = '\x01'
	propertySeparator  = '\x02'
)

// Property returns the value of name in an encoded properties string, or
// "" — without allocating, since it runs for every message.
func Property(props, name string) string {
	for len(props) > 0 {
		pair := props
		if i := strings.IndexByte(props, propertySeparator); i >= 0 {
			pair, props = props[:i], props[i+1:]
		} else {
			props = ""
		}
		if len(pair) > len(name) && pair[len(name)] == nameValueSeparator && pair[:len(name)] == name {
			return pair[len(name)+1:]
		}
	}
	return ""
}

// SetProperty returns props with name set to value (replacing an earlier
// value), in the trailing-separator form the Go client writes.
func SetProperty(props, name, value string) string {
	var b strings.Builder
	b.Grow(len(props) + len(name) + len(value) + 2)
	for rest := props; len(rest) > 0; {
		pair := rest
		if i := strings.IndexByte(rest, propertySeparator); i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if pair == "" || (len(pair) > len(name) && pair[len(name)] == nameValueSeparator && pair[:len(name)] == name) {
			continue
		}
		b.WriteString(pair)
		b.WriteByte(propertySeparator)
	}
	b.WriteString(name)
	b.WriteByte(nameValueSeparator)
	b.WriteString(value)
	b.WriteByte(propertySeparator)
	return b.String()
}
