package remoting

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strconv"
)

// FrameHead is what a request says about itself before its header is
// decoded: enough to route it and to refuse it. A refusal decided from the
// head (RefuseFunc) costs no header decode, no extFields map, no body copy
// and no Command: under overload most requests
// are refused, so that is where goodput is won or lost.
type FrameHead struct {
	Code      int32
	Flag      int32
	Opaque    int32
	Serialize SerializeType
	// ReadAt (unix ns) is when the head was read, as Command.ReadAt.
	ReadAt int64
}

// IsResponse reports whether the RPC_TYPE bit marks the frame a response.
func (h *FrameHead) IsResponse() bool { return h.Flag&FlagResponse != 0 }

// IsOneway reports whether the sender expects no answer.
func (h *FrameHead) IsOneway() bool { return h.Flag&FlagOneway != 0 }

// RequestCode is the frame's code read as a request code.
func (h *FrameHead) RequestCode() RequestCode { return RequestCode(h.Code) }

// Refusal is how a request is refused from its head: a busy answer of
// Kind (WaitMillis and QueueSize for the clean-queue kinds), or none at
// all when Silent (a one-way request refused OVERLOAD).
type Refusal struct {
	Kind       BusyKind
	WaitMillis int64
	QueueSize  int
	Silent     bool
}

// RefuseFunc looks at a request's head before its header is decoded; true
// refuses it, and the frame is skipped unread. It runs on the reading
// goroutine and must not block.
type RefuseFunc func(*FrameHead) (Refusal, bool)

// MayRefuseFunc says from a request's code alone, with no side effects,
// whether the RefuseFunc could refuse it now; false sends the frame
// straight to the full decode without its head being read. The head is
// not free: fastjson and the Go client write extFields between code and
// opaque, so reading it means skipping the whole custom header, work
// wasted on every request that is then accepted (5 % of the broker's CPU
// at 16 publishers x 256 in flight). It runs on the reading goroutine and
// must not block.
type MayRefuseFunc func(code int32) bool

// peekHeaderWord reads the header-length word of a frame whose payload of
// length bytes is next in br, without consuming it: the header's length and
// serialization. ok is false when it cannot be peeked or claims more than
// the frame holds.
func peekHeaderWord(br *bufio.Reader, length int) (headerLen int, ser SerializeType, ok bool) {
	word, err := br.Peek(4)
	if err != nil {
		return 0, 0, false
	}
	w := binary.BigEndian.Uint32(word)
	headerLen = int(w & headerLengthMask)
	if headerLen > length-4 {
		return 0, 0, false
	}
	return headerLen, SerializeType(w >> 24), true
}

// peekCode reads the request code of a frame whose payload of length bytes
// is next in br, without consuming it: the binary header's fixed field, or
// a JSON header's first key when that key is "code" (fastjson's and the Go
// client's order). ok false says nothing about the frame: the caller reads
// the whole head instead.
func peekCode(br *bufio.Reader, length int) (code int32, ok bool) {
	headerLen, ser, ok := peekHeaderWord(br, length)
	if !ok {
		return 0, false
	}
	switch ser {
	case SerializeRocketMQ:
		if headerLen < rocketMQFixedHeader || 4+rocketMQFixedHeader > br.Size() {
			return 0, false
		}
		b, err := br.Peek(4 + 2)
		if err != nil {
			return 0, false
		}
		return int32(int16(binary.BigEndian.Uint16(b[4:]))), true
	case SerializeJSON:
		// `{"code":` and up to 11 digits: enough for any int32.
		n := min(headerLen, 32, br.Size()-4)
		b, err := br.Peek(4 + n)
		if err != nil {
			return 0, false
		}
		b = b[4:]
		i := skipJSONSpace(b, 0)
		if i >= len(b) || b[i] != '{' {
			return 0, false
		}
		i = skipJSONSpace(b, i+1)
		if !hasJSONLiteral(b, i, `"code"`) {
			return 0, false
		}
		i = skipJSONSpace(b, i+len(`"code"`))
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		v, end, ok := scanJSONInt(b, skipJSONSpace(b, i+1), -1<<31, 1<<31-1)
		// A number cut by the peek window could read short: it must end
		// inside the window.
		if !ok || end >= len(b) {
			return 0, false
		}
		return int32(v), true
	}
	return 0, false
}

// peekHead reads the head of a frame whose payload of length bytes is next
// in br, without consuming it, when the header fits br's buffer and the
// head can be read without decoding the whole header; ok false sends the
// frame down the full decode, which judges it.
func peekHead(br *bufio.Reader, length int) (FrameHead, bool) {
	headerLen, ser, ok := peekHeaderWord(br, length)
	if !ok {
		return FrameHead{}, false
	}
	h := FrameHead{Serialize: ser}
	switch h.Serialize {
	case SerializeRocketMQ:
		if headerLen < rocketMQFixedHeader || 4+rocketMQFixedHeader > br.Size() {
			return FrameHead{}, false
		}
		b, err := br.Peek(4 + rocketMQFixedHeader)
		if err != nil {
			return FrameHead{}, false
		}
		b = b[4:]
		h.Code = int32(int16(binary.BigEndian.Uint16(b)))
		h.Opaque = int32(binary.BigEndian.Uint32(b[5:]))
		h.Flag = int32(binary.BigEndian.Uint32(b[9:]))
		return h, true
	case SerializeJSON:
		if 4+headerLen > br.Size() {
			return FrameHead{}, false
		}
		b, err := br.Peek(4 + headerLen)
		if err != nil {
			return FrameHead{}, false
		}
		return h, scanJSONHead(b[4:], &h)
	}
	return FrameHead{}, false
}

// scanJSONHead reads code, flag and opaque from a JSON header, stopping as
// soon as it has all three: keys it passes on the way are skipped, and so
// is the extFields object, with IndexByte rather than a string scan. It
// does not validate what it skips or what follows; a header it cannot
// read this way is left to the full decode.
func scanJSONHead(b []byte, h *FrameHead) bool {
	const need = seenCode | seenFlag | seenOpaque
	var seen uint
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipJSONSpace(b, i+1)
	for seen != need {
		k, ok := scanJSONString(b, i)
		if !ok || k.esc {
			return false
		}
		key := b[k.start:k.end]
		i = skipJSONSpace(b, int(k.end)+1)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipJSONSpace(b, i+1)
		var v int64
		switch string(key) {
		case "code":
			v, i, ok = scanJSONInt(b, i, -1<<31, 1<<31-1)
			h.Code, seen = int32(v), seen|seenCode
		case "flag":
			v, i, ok = scanJSONInt(b, i, -1<<31, 1<<31-1)
			h.Flag, seen = int32(v), seen|seenFlag
		case "opaque":
			v, i, ok = scanJSONInt(b, i, -1<<31, 1<<31-1)
			h.Opaque, seen = int32(v), seen|seenOpaque
		case "version":
			_, i, ok = scanJSONInt(b, i, -1<<15, 1<<15-1)
		case "language", "remark", "serializeTypeCurrentRPC":
			if hasJSONLiteral(b, i, "null") {
				i += len("null")
			} else {
				var s span
				s, ok = scanJSONString(b, i)
				i = int(s.end) + 1
			}
		case "extFields":
			i, ok = skipJSONFlatObject(b, i)
		default:
			return false
		}
		if !ok {
			return false
		}
		i = skipJSONSpace(b, i)
		if i >= len(b) || b[i] != ',' {
			// The header ended (or broke) before all three were read.
			return seen == need
		}
		i = skipJSONSpace(b, i+1)
	}
	return true
}

// skipJSONFlatObject skips an object of string or number values starting
// at b[i] == '{' (null is also accepted) and returns the index after it.
// Only quotes and braces are looked at: what is inside the strings is not
// checked, that is the full decode's business.
func skipJSONFlatObject(b []byte, i int) (int, bool) {
	if hasJSONLiteral(b, i, "null") {
		return i + len("null"), true
	}
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i++
	for ; i < len(b); i++ {
		// Between strings there are only a colon, a comma, digits and
		// spaces, a few bytes: a byte loop finds the next quote or brace
		// sooner than bytes.IndexAny, which builds its set on every call
		// (it was 6 % of the broker's CPU under overload).
		switch b[i] {
		case '}':
			return i + 1, true
		case '{':
			return 0, false // nested: not a header RocketMQ writes
		}
		if b[i] != '"' {
			continue
		}
		// A string: its closing quote is the next one not escaped by an
		// odd run of backslashes. i is left on it, for the loop to step
		// past.
		for {
			q := bytes.IndexByte(b[i+1:], '"')
			if q < 0 {
				return 0, false
			}
			i += 1 + q
			n := 0
			for n < i && b[i-1-n] == '\\' {
				n++
			}
			if n%2 == 0 {
				break
			}
		}
	}
	return 0, false
}

// busyJSONPrefix is a busy answer's JSON header up to its opaque, per kind:
// the same bytes appendJSONHeader writes for BusyResponse's Command, fixed
// but for the opaque and the remark (TestBusyTemplateMatchesEncoder).
var busyJSONPrefix = func() (t [numBusyKinds]string) {
	for k := range t {
		t[k] = `{"code":` + strconv.Itoa(int(BusyKind(k).Code())) + `,"extFields":{},"flag":` +
			strconv.Itoa(int(FlagResponse)) + `,"language":"` + languageNames[LangGo] + `","opaque":`
	}
	return t
}()

var busyJSONSuffix = `","serializeTypeCurrentRPC":"JSON","version":` + strconv.Itoa(int(Version)) + `}`

// appendBusyFrame appends the busy answer b stands for as one frame: from
// the template for a JSON request, with the opaque and the remark patched
// in, allocating nothing; for a ROCKETMQ one by encoding its Command.
func appendBusyFrame(dst []byte, b *busyFrame) []byte {
	if b.serialize != SerializeJSON {
		c := Command{Code: int32(b.kind.Code()), Language: LangGo, Version: Version, Opaque: b.opaque,
			Flag: FlagResponse, Remark: b.kind.Remark(b.waitMillis, int(b.queueSize)), Serialize: b.serialize}
		dst, _ = c.AppendFrame(dst)
		return dst
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	dst = append(dst, busyJSONPrefix[b.kind]...)
	dst = strconv.AppendInt(dst, int64(b.opaque), 10)
	dst = append(dst, `,"remark":"`...)
	dst = b.kind.appendRemark(dst, b.waitMillis, int(b.queueSize))
	dst = append(dst, busyJSONSuffix...)
	headerLen := len(dst) - start - 8
	binary.BigEndian.PutUint32(dst[start:], uint32(4+headerLen))
	binary.BigEndian.PutUint32(dst[start+4:], uint32(SerializeJSON)<<24|uint32(headerLen))
	return dst
}

// busyFrame is a busy answer to encode without a Command.
type busyFrame struct {
	readAt     int64
	waitMillis int64
	opaque     int32
	queueSize  int32
	kind       BusyKind
	serialize  SerializeType
}
