package actors

import (
	"strconv"

	"github.com/sluice-mq/sluice/remoting"
)

// extReader decodes a request's custom header (extFields) the way Java's
// RemotingCommand#decodeCommandCustomHeader does: a missing required field
// is an error ("the custom field <name> is null"); numbers and booleans are
// parsed from their string form.
type extReader struct {
	cmd *remoting.Command
	err error
}

func (e *extReader) fail(msg string) {
	if e.err == nil {
		e.err = headerError(msg)
	}
}

// headerError is answered SYSTEM_ERROR with its text as the remark.
type headerError string

func (h headerError) Error() string { return string(h) }

func (e *extReader) raw(key string, required bool) (string, bool) {
	v, ok := e.cmd.ExtFields[key]
	if !ok && required {
		e.fail("the custom field <" + key + "> is null")
	}
	return v, ok
}

func (e *extReader) str(key string, required bool) string {
	v, _ := e.raw(key, required)
	return v
}

func (e *extReader) int64(key string, required bool) int64 {
	v, ok := e.raw(key, required)
	if !ok || (v == "" && !required) {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		e.fail("the custom field <" + key + "> is not a number: " + strconv.Quote(v))
	}
	return n
}

func (e *extReader) int32(key string, required bool) int32 {
	v, ok := e.raw(key, required)
	if !ok || (v == "" && !required) {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		e.fail("the custom field <" + key + "> is not a 32-bit number: " + strconv.Quote(v))
	}
	return int32(n)
}

func (e *extReader) bool(key string, required bool) bool {
	v, ok := e.raw(key, required)
	if !ok || (v == "" && !required) {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.fail("the custom field <" + key + "> is not a boolean: " + strconv.Quote(v))
	}
	return b
}

// SendMessageRequestHeader is SEND_MESSAGE's header; SEND_MESSAGE_V2 and
// SEND_BATCH_MESSAGE carry the same fields under one-letter keys.
type SendMessageRequestHeader struct {
	ProducerGroup         string
	Topic                 string
	DefaultTopic          string
	DefaultTopicQueueNums int32
	QueueID               int32
	SysFlag               int32
	BornTimestamp         int64
	Flag                  int32
	Properties            string
	ReconsumeTimes        int32
	UnitMode              bool
	MaxReconsumeTimes     int32
	Batch                 bool
}

// sendHeaderKeys are the V1 names and their V2 letters, in field order.
var sendHeaderKeys = [...][2]string{
	{"producerGroup", "a"}, {"topic", "b"}, {"defaultTopic", "c"}, {"defaultTopicQueueNums", "d"},
	{"queueId", "e"}, {"sysFlag", "f"}, {"bornTimestamp", "g"}, {"flag", "h"}, {"properties", "i"},
	{"reconsumeTimes", "j"}, {"unitMode", "k"}, {"maxReconsumeTimes", "l"}, {"batch", "m"},
}

// ParseSendHeader decodes the header of a 10, 310 or 320 request.
func ParseSendHeader(cmd *remoting.Command) (SendMessageRequestHeader, error) {
	v := 0
	if code := cmd.RequestCode(); code == remoting.SendMessageV2 || code == remoting.SendBatchMessage {
		v = 1
	}
	k := func(i int) string { return sendHeaderKeys[i][v] }
	e := extReader{cmd: cmd}
	h := SendMessageRequestHeader{
		ProducerGroup:         e.str(k(0), true),
		Topic:                 e.str(k(1), true),
		DefaultTopic:          e.str(k(2), true),
		DefaultTopicQueueNums: e.int32(k(3), true),
		QueueID:               e.int32(k(4), true),
		SysFlag:               e.int32(k(5), true),
		BornTimestamp:         e.int64(k(6), true),
		Flag:                  e.int32(k(7), true),
		Properties:            e.str(k(8), false),
		ReconsumeTimes:        e.int32(k(9), false),
		UnitMode:              e.bool(k(10), false),
		MaxReconsumeTimes:     e.int32(k(11), false),
		Batch:                 e.bool(k(12), false),
	}
	return h, e.err
}
