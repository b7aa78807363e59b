package remoting

import (
	"strconv"
)

// FieldKind is how a Field's value is held, and so how it is written.
type FieldKind uint8

const (
	// FieldString is Str as it is.
	FieldString FieldKind = iota
	// FieldInt is Num in decimal (Java's Long.toString).
	FieldInt
	// FieldBool is "true" when Num is not 0, "false" otherwise.
	FieldBool
	// FieldHex64 is Str followed by Num as 16 upper-case hex digits: an
	// offsetMsgId, whose first part (the store host) is the same for every
	// message of a broker and whose last eight bytes are the commit-log
	// offset. Str must be plain ASCII (hex, in practice).
	FieldHex64
)

// Field is one entry of a typed custom header (Command.Fields): a key and a
// value kept as the number or string it is, written as text only when the
// frame is encoded. The answers the broker builds once per message (SEND_OK,
// a pull's FOUND) carry their header this way instead of in an ExtFields
// map: a map and a string per number cost allocations on every message,
// and the encoder would then sort the map's keys again for each frame.
type Field struct {
	Key  string
	Str  string
	Num  int64
	Kind FieldKind
}

// StringField, IntField and BoolField build the common kinds.
func StringField(key, v string) Field    { return Field{Key: key, Str: v} }
func IntField(key string, v int64) Field { return Field{Key: key, Num: v, Kind: FieldInt} }
func BoolField(key string, v bool) Field {
	f := Field{Key: key, Kind: FieldBool}
	if v {
		f.Num = 1
	}
	return f
}

const upperHexDigits = "0123456789ABCDEF"

// AppendValue appends the value's text, unquoted, to dst.
func (f *Field) AppendValue(dst []byte) []byte {
	switch f.Kind {
	case FieldInt:
		return strconv.AppendInt(dst, f.Num, 10)
	case FieldBool:
		return strconv.AppendBool(dst, f.Num != 0)
	case FieldHex64:
		return appendHex64(append(dst, f.Str...), uint64(f.Num))
	}
	return append(dst, f.Str...)
}

func appendHex64(dst []byte, v uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, upperHexDigits[(v>>shift)&0xF])
	}
	return dst
}

// Value is the value's text, as the peer reads it from the wire.
func (f *Field) Value() string {
	if f.Kind == FieldString {
		return f.Str
	}
	var b [64]byte
	return string(f.AppendValue(b[:0]))
}

// valueLen is an upper bound of the value's text length, for accounting.
func (f *Field) valueLen() int {
	switch f.Kind {
	case FieldInt, FieldBool:
		return 20
	case FieldHex64:
		return len(f.Str) + 16
	}
	return len(f.Str)
}

// appendJSONField writes "key":"value"; every value is a JSON string, as
// the Go client requires of extFields.
func appendJSONField(dst []byte, f *Field) []byte {
	dst = appendJSONString(dst, f.Key)
	dst = append(dst, ':')
	if f.Kind == FieldString {
		return appendJSONString(dst, f.Str)
	}
	if f.Kind == FieldHex64 {
		// The prefix goes through the quoting so that a careless caller's
		// string still yields valid JSON; the digits need none.
		dst = appendJSONString(dst, f.Str)
		return append(appendHex64(dst[:len(dst)-1], uint64(f.Num)), '"')
	}
	dst = append(dst, '"')
	return append(f.AppendValue(dst), '"')
}
