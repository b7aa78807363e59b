package remoting

import (
	"strconv"
	"strings"
)

// HeaderError is a custom header that cannot be decoded. The broker
// answers it SYSTEM_ERROR with its text as the remark, as the Java broker
// answers the RemotingCommandException of decodeCommandCustomHeader.
type HeaderError string

func (h HeaderError) Error() string { return string(h) }

// fieldReader decodes a request's custom header (extFields) the way Java's
// RemotingCommand#decodeCommandCustomHeader does: a missing @CFNotNull field
// is an error ("the custom field <name> is null"); numbers are parsed from
// their text (Integer.parseInt / Long.parseLong), booleans with
// Boolean.parseBoolean — "true" in any case is true, anything else false.
// The first error is kept, so a decoder reads every field in straight-line
// code and checks once.
type fieldReader struct {
	cmd *Command
	err error
}

func (e *fieldReader) fail(msg string) {
	if e.err == nil {
		e.err = HeaderError(msg)
	}
}

func (e *fieldReader) raw(key string, required bool) (string, bool) {
	v, ok := e.cmd.ExtFields[key]
	if !ok && required {
		e.fail("the custom field <" + key + "> is null")
	}
	return v, ok
}

func (e *fieldReader) str(key string, required bool) string {
	v, _ := e.raw(key, required)
	return v
}

func (e *fieldReader) int64(key string, required bool) int64 {
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

func (e *fieldReader) int32(key string, required bool) int32 {
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

// bool is Boolean.parseBoolean: it never fails.
func (e *fieldReader) bool(key string) bool {
	v, _ := e.raw(key, false)
	return strings.EqualFold(v, "true")
}
