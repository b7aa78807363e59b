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
	// next is where the search for the next key in cmd.Fields starts: a
	// decoder reads keys in its field order, and the Java client writes
	// them in that order (SEND_MESSAGE_V2's a, b, c …), so a lookup is
	// usually one comparison.
	next int
}

func (e *fieldReader) fail(msg string) {
	if e.err == nil {
		e.err = HeaderError(msg)
	}
}

func (e *fieldReader) raw(key string, required bool) (string, bool) {
	v, ok := e.lookup(key)
	if !ok && required {
		e.fail("the custom field <" + key + "> is null")
	}
	return v, ok
}

func (e *fieldReader) lookup(key string) (string, bool) {
	if i := fieldIndex(e.cmd.Fields, key, e.next); i >= 0 {
		e.next = i + 1
		return e.cmd.Fields[i].Value(), true
	}
	v, ok := e.cmd.ExtFields[key]
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

// decodedExt collects a decoded header's extFields into Command.Fields,
// with a map's rules: a repeated key keeps its last value, and a null
// value makes the key absent (Java's decodeCommandCustomHeader reads a
// null as a missing field). Real clients never repeat a key, so a repeat
// is looked for only when the key's bit in a 64-bit filter is already
// set; the common header costs one allocation, the slice.
type decodedExt struct {
	fields []Field
	bits   uint64
}

func newDecodedExt(n int) decodedExt { return decodedExt{fields: make([]Field, 0, n)} }

// keyBit hashes a key to one of 64 bits from its length and its first and
// last bytes (FNV-1 steps, top bits taken). Two keys of a header sharing a
// bit (four of SEND_MESSAGE_V2's fourteen do) only cost a search
// of the fields collected so far.
func keyBit(k string) uint64 {
	const prime = 0x01000193
	h := uint32(len(k)) * prime
	if len(k) > 0 {
		h = (h ^ uint32(k[0])) * prime
		h = (h ^ uint32(k[len(k)-1])) * prime
	}
	return 1 << (h >> 26)
}

func (d *decodedExt) put(k, v string, null bool) {
	bit := keyBit(k)
	if d.bits&bit != 0 {
		if i := fieldIndex(d.fields, k, 0); i >= 0 {
			if null {
				d.fields = append(d.fields[:i], d.fields[i+1:]...)
			} else {
				d.fields[i].Str = v
			}
			return
		}
	}
	d.bits |= bit
	if !null {
		d.fields = append(d.fields, StringField(k, v))
	}
}

// set puts the fields on c, leaving c.Fields nil when none is left.
func (d *decodedExt) set(c *Command) {
	if len(d.fields) > 0 {
		c.Fields = d.fields
	}
}
