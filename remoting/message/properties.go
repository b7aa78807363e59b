package message

import "strings"

// Separators of the properties string (MessageConst NAME_VALUE_SEPARATOR
// and PROPERTY_SEPARATOR).
const (
	NameValueSeparator = '\x01'
	PropertySeparator  = '\x02'
)

// Property names (MessageConst), by the constants' values.
const (
	PropertyKeys                       = "KEYS"
	PropertyTags                       = "TAGS"
	PropertyWaitStoreMsgOK             = "WAIT"
	PropertyDelayTimeLevel             = "DELAY"
	PropertyRetryTopic                 = "RETRY_TOPIC"
	PropertyRealTopic                  = "REAL_TOPIC"
	PropertyRealQueueID                = "REAL_QID"
	PropertyTransactionPrepared        = "TRAN_MSG"
	PropertyProducerGroup              = "PGROUP"
	PropertyMinOffset                  = "MIN_OFFSET"
	PropertyMaxOffset                  = "MAX_OFFSET"
	PropertyBuyerID                    = "BUYER_ID"
	PropertyOriginMessageID            = "ORIGIN_MESSAGE_ID"
	PropertyTransferFlag               = "TRANSFER_FLAG"
	PropertyCorrectionFlag             = "CORRECTION_FLAG"
	PropertyMQ2Flag                    = "MQ2_FLAG"
	PropertyReconsumeTime              = "RECONSUME_TIME"
	PropertyMsgRegion                  = "MSG_REGION"
	PropertyTraceSwitch                = "TRACE_ON"
	PropertyUniqClientMessageIDKeyIdx  = "UNIQ_KEY"
	PropertyExtendUniqInfo             = "EXTEND_UNIQ_INFO"
	PropertyMaxReconsumeTimes          = "MAX_RECONSUME_TIMES"
	PropertyConsumeStartTimestamp      = "CONSUME_START_TIME"
	PropertyTransactionPreparedQOffset = "TRAN_PREPARED_QUEUE_OFFSET"
	PropertyTransactionID              = "__transactionId__"
	PropertyTransactionCheckTimes      = "TRANSACTION_CHECK_TIMES"
	PropertyCheckImmunityTimeInSeconds = "CHECK_IMMUNITY_TIME_IN_SECONDS"
	PropertyInstanceID                 = "INSTANCE_ID"
	PropertyCorrelationID              = "CORRELATION_ID"
	PropertyMessageReplyToClient       = "REPLY_TO_CLIENT"
	PropertyMessageTTL                 = "TTL"
	PropertyReplyMessageArriveTime     = "ARRIVE_TIME"
	PropertyPushReplyTime              = "PUSH_REPLY_TIME"
	PropertyCluster                    = "CLUSTER"
	PropertyMessageType                = "MSG_TYPE"
	PropertyShardingKey                = "__SHARDINGKEY"
	PropertyTimerDeliverMS             = "TIMER_DELIVER_MS"
	PropertyTimerDelaySec              = "TIMER_DELAY_SEC"
	PropertyTimerDelayMS               = "TIMER_DELAY_MS"
	PropertyTimerOutMS                 = "TIMER_OUT_MS"
)

// Text is what the codec reads: a properties string as a string (headers)
// or as bytes (a stored record, read in place).
type Text interface{ ~string | ~[]byte }

// next splits the first item off props.
func next[T Text](props T) (item, rest T) {
	for i := 0; i < len(props); i++ {
		if props[i] == PropertySeparator {
			return props[:i], props[i+1:]
		}
	}
	return props, props[len(props):]
}

// split returns an item's name and value, and whether Java would keep it:
// both non-empty, split at the first NAME_VALUE_SEPARATOR.
func split[T Text](item T) (name, value T, ok bool) {
	for i := 0; i < len(item); i++ {
		if item[i] == NameValueSeparator {
			return item[:i], item[i+1:], i > 0 && i < len(item)-1
		}
	}
	return item, item[len(item):], false
}

// Lookup returns the value of name and whether props has it; the last of
// repeated names wins. It does not allocate.
func Lookup[T Text](props T, name string) (value T, found bool) {
	for len(props) > 0 {
		var item T
		item, props = next(props)
		if len(item) <= len(name) || item[len(name)] != NameValueSeparator {
			continue
		}
		if k, v, ok := split(item); ok && string(k) == name {
			value, found = v, true
		}
	}
	return value, found
}

// Get returns the value of name in props, or "" (the last of repeated
// names wins).
func Get(props, name string) string {
	v, _ := Lookup(props, name)
	return v
}

// Each calls fn for every item Java would keep, in order (repeated names
// included: callers that need one value per name use Lookup).
func Each[T Text](props T, fn func(name, value T)) {
	for len(props) > 0 {
		var item T
		item, props = next(props)
		if k, v, ok := split(item); ok {
			fn(k, v)
		}
	}
}

// Append appends one item to dst, in the trailing-separator form the
// clients write.
func Append(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, NameValueSeparator)
	dst = append(dst, value...)
	return append(dst, PropertySeparator)
}

// Set returns props with name set to value: every earlier item of that name
// is removed and the new one appended. An empty value removes the name, as
// Java would drop it when it parses the result.
func Set(props, name, value string) string {
	var b strings.Builder
	b.Grow(len(props) + len(name) + len(value) + 2)
	for rest := props; len(rest) > 0; {
		var item string
		item, rest = next(rest)
		k, _, ok := split(item)
		if !ok || k == name {
			continue
		}
		b.WriteString(item)
		b.WriteByte(PropertySeparator)
	}
	if value != "" {
		b.WriteString(name)
		b.WriteByte(NameValueSeparator)
		b.WriteString(value)
		b.WriteByte(PropertySeparator)
	}
	return b.String()
}

// Delete returns props without name.
func Delete(props, name string) string {
	if _, ok := Lookup(props, name); !ok {
		return props
	}
	return Set(props, name, "")
}

// Canonical reports whether props already reads the same item by item as
// Java's parse of it: no item Java would drop and no repeated name. It does
// not allocate; Normalize is needed only when it returns false.
func Canonical(props string) bool {
	for rest := props; len(rest) > 0; {
		var item string
		item, rest = next(rest)
		k, _, ok := split(item)
		if !ok {
			if len(item) == 0 && len(rest) == 0 {
				return true // the trailing separator
			}
			return false
		}
		if _, dup := Lookup(rest, k); dup {
			return false
		}
	}
	return true
}

// Normalize returns props as Java stores them after parsing them into a
// map: items Java drops are gone and a repeated name keeps only its last
// value (at the position of that last item, so order is otherwise kept).
// Filtering, storage and delivery then agree on every value.
func Normalize(props string) string {
	if Canonical(props) {
		return props
	}
	var b strings.Builder
	b.Grow(len(props))
	for rest := props; len(rest) > 0; {
		var item string
		item, rest = next(rest)
		k, _, ok := split(item)
		if !ok {
			continue
		}
		if _, later := Lookup(rest, k); later {
			continue
		}
		b.WriteString(item)
		b.WriteByte(PropertySeparator)
	}
	return b.String()
}
