package remoting

import "strconv"

// Flag bits of a command (RemotingCommand's RPC_TYPE and RPC_ONEWAY).
const (
	FlagResponse int32 = 1 << 0
	FlagOneway   int32 = 1 << 1
)

// SerializeType is the high byte of the header-length word: how the header
// that follows is encoded.
type SerializeType byte

const (
	// SerializeJSON is RocketMQ's JSON header, the only one the Go client sends.
	SerializeJSON SerializeType = 0
	// SerializeRocketMQ is RocketMQ's compact binary header.
	SerializeRocketMQ SerializeType = 1
)

func (s SerializeType) String() string {
	switch s {
	case SerializeJSON:
		return "JSON"
	case SerializeRocketMQ:
		return "ROCKETMQ"
	}
	return "SERIALIZE_TYPE_" + strconv.Itoa(int(s))
}

// Version is the MQVersion ordinal Sluice puts on the commands it creates;
// 409 is RocketMQ 4.9.8, the broker behaviour Sluice follows.
const Version int16 = 409

// Command is one RocketMQ remoting frame: a request or a response.
//
// The "custom header" (extFields), every value a string as RocketMQ puts it
// on the wire, is in ExtFields or Fields: read it with Ext, LookupExt,
// RangeExt or ExtMap, which see both. Body aliases the buffer the frame was
// decoded from and must not be retained past that buffer's life unless
// copied.
type Command struct {
	// Code is Java's int: RocketMQ 5's pop codes (200050 …) pass 16 bits
	// in JSON headers; the ROCKETMQ binary header keeps 16 bits, as Java's.
	Code      int32
	Language  LanguageCode
	Version   int16
	Opaque    int32
	Flag      int32
	Remark    string
	ExtFields map[string]string
	// Fields is a custom header without a map, written after ExtFields:
	// how a decoded frame carries its header, and the answers built once
	// per message theirs (see Field). A key is in one of the two, never
	// both.
	Fields []Field
	Body   []byte
	// Serialize is how the header was (or will be) encoded; a response
	// answers in the serialization of its request.
	Serialize SerializeType
	// ReadAt (unix ns) is when the frame reader finished reading a
	// request; a response made by NewResponse carries its request's, so
	// the writer can time the answer. 0 for commands made here.
	ReadAt int64
	// busy marks a busy answer (BusyResponse), which the writer times.
	busy bool
}

// IsResponse reports whether the RPC_TYPE bit marks c as a response.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether the sender expects no answer. The Go client never
// sets this bit, even for its one-way calls.
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// RequestCode returns the code of a request.
func (c *Command) RequestCode() RequestCode { return RequestCode(c.Code) }

// ResponseCode returns the code of a response.
func (c *Command) ResponseCode() ResponseCode { return ResponseCode(c.Code) }

// NewRequest builds a JSON request. The opaque is set by whoever sends it.
func NewRequest(code RequestCode, ext map[string]string, body []byte) *Command {
	return &Command{Code: int32(code), Language: LangGo, Version: Version, ExtFields: ext, Body: body}
}

// NewResponse builds the answer to req: same opaque, the response bit set,
// in the serialization req used.
func NewResponse(req *Command, code ResponseCode, remark string) *Command {
	c := responseTo(req, code, remark)
	return &c
}

func responseTo(req *Command, code ResponseCode, remark string) Command {
	return Command{
		Code:      int32(code),
		Language:  LangGo,
		Version:   Version,
		Opaque:    req.Opaque,
		Flag:      FlagResponse,
		Remark:    remark,
		Serialize: req.Serialize,
		ReadAt:    req.ReadAt,
	}
}

// answerFields is how many typed Fields NewAnswer keeps room for: a send's
// answer has at most six.
const answerFields = 6

// NewAnswer is NewResponse with room for a typed header (Fields) in the
// same allocation: the answers built once per message (SEND_OK, a pull's
// FOUND) cost one allocation, where a header map and its number strings
// cost three or four more.
func NewAnswer(req *Command, code ResponseCode, remark string) *Command {
	a := &struct {
		cmd    Command
		fields [answerFields]Field
	}{}
	a.cmd = responseTo(req, code, remark)
	a.cmd.Fields = a.fields[:0]
	return &a.cmd
}

// fieldIndex is where key is in fs, searched from index from onwards and
// then from the start, or -1. A decoded header has a dozen fields on the
// hot paths: a scan, started where the key is likely, replaces a map's
// hashing (BenchmarkDecodeSendRequest).
func fieldIndex(fs []Field, key string, from int) int {
	if from >= len(fs) {
		from = 0
	}
	for n, i := 0, from; n < len(fs); n++ {
		if fs[i].Key == key {
			return i
		}
		if i++; i == len(fs) {
			i = 0
		}
	}
	return -1
}

// LookupExt returns the extField key and whether c has it, from Fields or
// ExtFields.
func (c *Command) LookupExt(key string) (string, bool) {
	if i := fieldIndex(c.Fields, key, 0); i >= 0 {
		return c.Fields[i].Value(), true
	}
	v, ok := c.ExtFields[key]
	return v, ok
}

// Ext returns the extField key, or "" if absent.
func (c *Command) Ext(key string) string {
	v, _ := c.LookupExt(key)
	return v
}

// ExtLen is how many extFields c has.
func (c *Command) ExtLen() int { return len(c.Fields) + len(c.ExtFields) }

// RangeExt calls fn for each extField, in no set order, until fn returns
// false.
func (c *Command) RangeExt(fn func(key, value string) bool) {
	for i := range c.Fields {
		if !fn(c.Fields[i].Key, c.Fields[i].Value()) {
			return
		}
	}
	for k, v := range c.ExtFields {
		if !fn(k, v) {
			return
		}
	}
}

// ExtMap returns a new map of c's extFields, nil if it has none: for
// callers that keep or forward a header, and for printing one.
func (c *Command) ExtMap() map[string]string {
	if c.ExtLen() == 0 {
		return nil
	}
	m := make(map[string]string, c.ExtLen())
	c.RangeExt(func(k, v string) bool {
		m[k] = v
		return true
	})
	return m
}

// SetExt sets an extField: in place if Fields has the key, else in
// ExtFields, created on first use.
func (c *Command) SetExt(key, value string) {
	if i := fieldIndex(c.Fields, key, 0); i >= 0 {
		c.Fields[i] = StringField(key, value)
		return
	}
	if c.ExtFields == nil {
		c.ExtFields = make(map[string]string, 8)
	}
	c.ExtFields[key] = value
}
