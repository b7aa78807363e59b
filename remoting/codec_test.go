package remoting

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// equalCommands compares what the wire carries: a nil and an empty map or
// body are the same frame.
func equalCommands(a, b *Command) bool {
	if a.Code != b.Code || a.Language != b.Language || a.Version != b.Version ||
		a.Opaque != b.Opaque || a.Flag != b.Flag || a.Remark != b.Remark || a.Serialize != b.Serialize {
		return false
	}
	if len(a.ExtFields) != len(b.ExtFields) || !maps.Equal(a.ExtFields, b.ExtFields) {
		return false
	}
	return bytes.Equal(a.Body, b.Body)
}

func dump(c *Command) string {
	return fmt.Sprintf("{code %d lang %d ver %d opaque %d flag %d remark %q ext %q body %d bytes %s}",
		c.Code, c.Language, c.Version, c.Opaque, c.Flag, c.Remark, c.ExtFields, len(c.Body), c.Serialize)
}

// roundTrip encodes c, reads it back through a FrameReader and checks that
// exactly one equal frame comes out.
func roundTrip(t *testing.T, c *Command) *Command {
	t.Helper()
	frame, err := Encode(c)
	if err != nil {
		t.Fatalf("encode %s: %v", dump(c), err)
	}
	if got := int(binary.BigEndian.Uint32(frame)); got != len(frame)-4 {
		t.Fatalf("length field %d, frame has %d bytes after it", got, len(frame)-4)
	}
	if st := SerializeType(frame[4]); st != c.Serialize {
		t.Fatalf("serialize type byte %d, want %d", st, c.Serialize)
	}
	fr := NewFrameReader(bytes.NewReader(frame), 0)
	got, err := fr.Next()
	if err != nil {
		t.Fatalf("decode %s: %v", dump(c), err)
	}
	if !equalCommands(c, got) {
		t.Fatalf("round trip changed the command\n sent %s\n got  %s", dump(c), dump(got))
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Fatalf("after the only frame: %v, want io.EOF", err)
	}
	return got
}

var serializations = []SerializeType{SerializeJSON, SerializeRocketMQ}

func manyExt(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("key%03d", i)] = strings.Repeat("v", i)
	}
	return m
}

// oddStrings are remark and extFields contents that stress both encoders:
// quoting, control characters, multi-byte and 4-byte UTF-8, the
// separators RocketMQ uses inside properties.
var oddStrings = []string{
	"",
	"plain",
	`quote " backslash \ slash /`,
	"tab\tnewline\ncr\rnul\x00bell\x07esc\x1bdel\x7f",
	"properties\x01v\x02UNIQ_KEY\x01ABC\x02",
	"héllo wörld ✓ 日本語 𝄞 😀",
	"\u2028\u2029 <html>&amp;",
	"\ufffd replacement",
	strings.Repeat("long ", 1000),
}

func TestRoundTrip(t *testing.T) {
	for _, st := range serializations {
		t.Run(st.String(), func(t *testing.T) {
			roundTrip(t, &Command{Serialize: st})
			roundTrip(t, &Command{Code: -1, Language: LangJava, Version: -1, Opaque: -1, Flag: -1, Serialize: st})
			roundTrip(t, &Command{Code: 32767, Language: LangNodeJS, Version: 32767, Opaque: 2147483647,
				Flag: FlagResponse | FlagOneway, Remark: "r", ExtFields: map[string]string{"a": "1"}, Body: []byte{0}, Serialize: st})
			roundTrip(t, &Command{Code: -32768, Version: -32768, Opaque: -2147483648, Flag: -2147483648, Serialize: st})
			for lang := range 256 {
				roundTrip(t, &Command{Code: 10, Language: LanguageCode(lang), Serialize: st})
			}
			for _, n := range []int{0, 1, 14, 32, 33, 200} {
				roundTrip(t, &Command{Code: 10, ExtFields: manyExt(n), Serialize: st})
			}
			roundTrip(t, &Command{Code: 10, ExtFields: map[string]string{"": "", "empty": ""}, Serialize: st})
			for _, s := range oddStrings {
				roundTrip(t, &Command{Code: 11, Remark: s, ExtFields: map[string]string{s: s, "k": s}, Serialize: st})
			}
			for _, n := range []int{0, 1, 1024, 4 << 20} {
				body := bytes.Repeat([]byte{0xAB, 0x00, '"', '\\'}, n/4+1)[:n]
				roundTrip(t, &Command{Code: 10, ExtFields: sendMessageExt(), Body: body, Serialize: st})
			}
		})
	}
}

// TestGoClientJSONHeader decodes the header exactly as the Go client writes
// it (reference §1.1), field order and all.
func TestGoClientJSONHeader(t *testing.T) {
	hdr := `{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"TestTopic"}}`
	frame := binary.BigEndian.AppendUint32(nil, uint32(4+len(hdr)))
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(hdr)))
	frame = append(frame, hdr...)
	if !bytes.Equal(frame[:8], []byte{0, 0, 0, 0x70, 0, 0, 0, 0x6c}) {
		t.Fatalf("first 8 bytes % x, reference says 00 00 00 70 00 00 00 6c", frame[:8])
	}
	c, err := NewFrameReader(bytes.NewReader(frame), 0).Next()
	if err != nil {
		t.Fatal(err)
	}
	want := &Command{Code: 105, Language: LangGo, Version: 317, Opaque: 1,
		ExtFields: map[string]string{"topic": "TestTopic"}, Serialize: SerializeJSON}
	if !equalCommands(c, want) {
		t.Fatalf("got %s\nwant %s", dump(c), dump(want))
	}
	if c.RequestCode() != GetRouteInfoByTopic || c.IsResponse() || c.IsOneway() {
		t.Fatalf("code %s response %v oneway %v", c.RequestCode(), c.IsResponse(), c.IsOneway())
	}
}

// TestJSONHeaderVariants feeds header texts other producers write (Java's
// fastjson output, ordinals for the language, nulls, escapes, unknown
// keys) and checks that the scanner and encoding/json agree on each.
func TestJSONHeaderVariants(t *testing.T) {
	cases := []struct {
		hdr  string
		want *Command // nil: must fail
	}{
		{`{"code":0,"extFields":{"msgId":"AC11000100002A9F0000000000000000","queueId":"1","queueOffset":"0"},"flag":1,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":409}`,
			&Command{Language: LangJava, Version: 409, Opaque: 7, Flag: 1,
				ExtFields: map[string]string{"msgId": "AC11000100002A9F0000000000000000", "queueId": "1", "queueOffset": "0"}}},
		{`{}`, &Command{Language: LangOther}},
		{" \t\r\n{ \"code\" : 1 , \"extFields\" : { } } \n", &Command{Code: 1, Language: LangOther}},
		{`{"code":1,"language":9}`, &Command{Code: 1, Language: LangGo}},
		{`{"code":1,"language":200}`, &Command{Code: 1, Language: 200}},
		{`{"code":1,"language":"KLINGON"}`, &Command{Code: 1, Language: LangOther}},
		{`{"code":1,"language":null,"remark":null,"extFields":null}`, &Command{Code: 1, Language: LangOther}},
		{`{"code":1,"language":"GO","remark":"a\"b\\c\/d\b\f\n\r\t\u0001\u00e9\u2028"}`,
			&Command{Code: 1, Language: LangGo, Remark: "a\"b\\c/d\b\f\n\r\t\x01é\u2028"}},
		{`{"code":1,"remark":"\ud834\udd1e"}`, &Command{Code: 1, Language: LangOther, Remark: "𝄞"}},
		{`{"code":1,"remark":"\ud834x"}`, &Command{Code: 1, Language: LangOther, Remark: "\ufffdx"}},
		{"{\"code\":1,\"remark\":\"bad \xff utf8\"}", &Command{Code: 1, Language: LangOther, Remark: "bad \ufffd utf8"}},
		{`{"code":1,"extFields":{"k":"1","k":"2"}}`, &Command{Code: 1, Language: LangOther, ExtFields: map[string]string{"k": "2"}}},
		{`{"code":1,"extFields":{"a":"1"},"extFields":{"b":"2"}}`, &Command{Code: 1, Language: LangOther, ExtFields: map[string]string{"a": "1", "b": "2"}}},
		{`{"code":1,"code":2}`, &Command{Code: 2, Language: LangOther}},
		{`{"code":-0,"opaque":-2147483648,"flag":2147483647}`, &Command{Language: LangOther, Opaque: -2147483648, Flag: 2147483647}},
		{`{"Code":3,"unknown":[1,{"x":null}]}`, &Command{Code: 3, Language: LangOther}},
		{`{"code":1,"serializeTypeCurrentRPC":"ROCKETMQ"}`, &Command{Code: 1, Language: LangOther}},
		{`{"code":1,"extFields":{"k":5}}`, nil}, // the Go client rejects this too
		{`{"code":1,"extFields":{"k":null}}`, &Command{Code: 1, Language: LangOther, ExtFields: map[string]string{"k": ""}}},
		{`{"code":32768}`, nil},
		{`{"code":1.0}`, nil},
		{`{"code":1e2}`, nil},
		{`{"code":01}`, nil},
		{`{"code":"1"}`, nil},
		{`{"opaque":2147483648}`, nil},
		{`{"code":1,}`, nil},
		{`{"code":1}x`, nil},
		{`{"code":1}{}`, nil},
		{`{"remark":"ctl` + "\x01" + `"}`, nil},
		{`{"remark":"\x"}`, nil},
		{`{"remark":"\u12"}`, nil},
		{`[]`, nil},
		{``, nil},
		{`{`, nil},
		{`{"code"`, nil},
		{`{"code":`, nil},
		{`{"extFields":{"a":"b"`, nil},
		{`null`, &Command{Language: LangOther}}, // encoding/json: null leaves the struct alone
	}
	for _, tc := range cases {
		var fast, std Command
		errFast := decodeJSONHeader([]byte(tc.hdr), &fast)
		errStd := decodeJSONHeaderStd([]byte(tc.hdr), &std)
		if (errFast == nil) != (errStd == nil) || errFast == nil && !equalCommands(&fast, &std) {
			t.Errorf("%s: scanner and encoding/json disagree:\n scan %s %v\n std  %s %v", tc.hdr, dump(&fast), errFast, dump(&std), errStd)
			continue
		}
		if tc.want == nil {
			if errFast == nil {
				t.Errorf("%s: decoded %s, want an error", tc.hdr, dump(&fast))
			} else if !errors.Is(errFast, ErrMalformedHeader) {
				t.Errorf("%s: error %v does not wrap ErrMalformedHeader", tc.hdr, errFast)
			}
			continue
		}
		if errFast != nil {
			t.Errorf("%s: %v", tc.hdr, errFast)
		} else if !equalCommands(&fast, tc.want) {
			t.Errorf("%s:\n got  %s\n want %s", tc.hdr, dump(&fast), dump(tc.want))
		}
	}
}

// TestJSONOutputParses checks the encoder against encoding/json: always
// valid JSON, every extFields value a string, fields as given.
func TestJSONOutputParses(t *testing.T) {
	invalid := string([]byte{'a', 0xff, 'b', 0xc3})
	strs := append(append([]string{}, oddStrings...), invalid)
	for _, s := range strs {
		c := &Command{Code: 10, Language: LangGo, Version: 317, Opaque: 3, Flag: 1, Remark: s,
			ExtFields: map[string]string{"k": s, s: "v", "n": "123"}}
		frame, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		hl := int(binary.BigEndian.Uint32(frame[4:]) & headerLengthMask)
		hdr := frame[8 : 8+hl]
		var generic map[string]any
		if err := json.Unmarshal(hdr, &generic); err != nil {
			t.Fatalf("header %q is not JSON: %v", hdr, err)
		}
		ext, ok := generic["extFields"].(map[string]any)
		if !ok {
			t.Fatalf("extFields missing or not an object in %s", hdr)
		}
		for k, v := range ext {
			if _, ok := v.(string); !ok {
				t.Fatalf("extFields[%q] = %#v is not a string", k, v)
			}
		}
		want := s
		if !utf8.ValidString(s) {
			want = "a\ufffdb\ufffd" // each bad byte, as encoding/json does
		}
		if generic["remark"] != want || ext["k"] != want || generic["language"] != "GO" {
			t.Fatalf("remark %q ext %q language %v, want %q", generic["remark"], ext["k"], generic["language"], want)
		}
		for _, key := range []string{"code", "flag", "opaque", "version"} {
			if _, ok := generic[key].(float64); !ok {
				t.Fatalf("%s is %#v, want a number", key, generic[key])
			}
		}
	}
}

func TestResponseAnswersInRequestSerialization(t *testing.T) {
	for _, st := range serializations {
		req := NewRequest(SendMessage, map[string]string{"topic": "T"}, []byte("body"))
		req.Opaque, req.Serialize = 99, st
		req = roundTrip(t, req)
		resp := NewResponse(req, TopicNotExist, "no route")
		if resp.Serialize != st || resp.Opaque != 99 || !resp.IsResponse() || resp.IsOneway() || resp.ResponseCode() != TopicNotExist {
			t.Fatalf("%s: response %s", st, dump(resp))
		}
		resp.SetExt("queueOffset", "12")
		got := roundTrip(t, resp)
		if got.Flag&FlagResponse == 0 || got.Opaque != 99 || got.Ext("queueOffset") != "12" || got.Ext("missing") != "" {
			t.Fatalf("%s: decoded response %s", st, dump(got))
		}
	}
}

func frameWith(word uint32, header, body []byte) []byte {
	f := binary.BigEndian.AppendUint32(nil, uint32(4+len(header)+len(body)))
	f = binary.BigEndian.AppendUint32(f, word)
	f = append(f, header...)
	return append(f, body...)
}

func TestMalformedFrames(t *testing.T) {
	good, err := Encode(benchSendRequest(SerializeRocketMQ))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty stream", nil, io.EOF},
		{"cut in length", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"length 0", []byte{0, 0, 0, 0}, ErrFrameTooSmall},
		{"length 3", []byte{0, 0, 0, 3, 0, 0, 0}, ErrFrameTooSmall},
		{"length negative", []byte{0xff, 0xff, 0xff, 0xff}, ErrFrameTooSmall},
		{"length min int32", []byte{0x80, 0, 0, 0}, ErrFrameTooSmall},
		{"length above max", []byte{0x7f, 0xff, 0xff, 0xff}, ErrFrameTooLarge},
		{"cut in payload", good[:len(good)-1], io.ErrUnexpectedEOF},
		{"cut after length", good[:4], io.ErrUnexpectedEOF},
		{"header length beyond frame", frameWith(100, []byte("{}"), nil), ErrHeaderLength},
		{"header length beyond frame, binary", frameWith(1<<24|0xffffff, nil, nil), ErrHeaderLength},
		{"bad JSON", frameWith(5, []byte("{nope"), nil), ErrMalformedHeader},
		{"JSON not an object", frameWith(2, []byte("[]"), nil), ErrMalformedHeader},
		{"unknown serialize type", frameWith(2<<24|2, []byte("{}"), nil), ErrSerializeType},
		{"serialize type 0xff", frameWith(0xff<<24, nil, nil), ErrSerializeType},
		{"empty binary header", frameWith(1<<24, nil, nil), ErrMalformedHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewFrameReader(bytes.NewReader(tc.input), 1<<20).Next()
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v (%v), want %v", err, c, tc.want)
			}
			if c != nil {
				t.Fatalf("command %s returned with error", dump(c))
			}
		})
	}
}

// TestOversizeFrameNotAllocated makes sure a peer's length field alone
// cannot make the reader allocate: the stream holds only the 4-byte
// length, so reading any further would also show as ErrUnexpectedEOF.
func TestOversizeFrameNotAllocated(t *testing.T) {
	const max = 1 << 20
	lengths := []uint32{max - 4 + 1, 16<<20 - 4, 1<<31 - 1}
	for _, n := range lengths {
		input := binary.BigEndian.AppendUint32(nil, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := NewFrameReader(bytes.NewReader(input), max).Next()
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("length %d: %v, want ErrFrameTooLarge", n, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
			t.Fatalf("length %d: %d bytes allocated before rejecting", n, grew)
		}
	}
	// Exactly at the limit is fine.
	frame := frameWith(2, []byte("{}"), make([]byte, max-4-4-2))
	if _, err := NewFrameReader(bytes.NewReader(frame), max).Next(); err != nil {
		t.Fatalf("frame of exactly the maximum: %v", err)
	}
}

func TestDecodeShortPayload(t *testing.T) {
	for n := range 4 {
		if _, err := Decode(make([]byte, n)); !errors.Is(err, ErrFrameTooSmall) {
			t.Fatalf("payload of %d bytes: %v", n, err)
		}
	}
}

// TestTruncatedBinaryHeader cuts a valid ROCKETMQ header at every byte and
// corrupts each length field: each must be an error, never a panic.
func TestTruncatedBinaryHeader(t *testing.T) {
	c := &Command{Code: 10, Remark: "remark", ExtFields: map[string]string{"topic": "T", "queueId": "3"}, Serialize: SerializeRocketMQ}
	frame, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	header := frame[8:]
	for n := range len(header) {
		var got Command
		if err := decodeRocketMQHeader(header[:n], &got); !errors.Is(err, ErrMalformedHeader) {
			t.Fatalf("header cut to %d of %d bytes: %v (%s)", n, len(header), err, dump(&got))
		}
		if _, err := Decode(frameWith(1<<24|uint32(n), header[:n], nil)[4:]); !errors.Is(err, ErrMalformedHeader) {
			t.Fatalf("frame with header cut to %d: %v", n, err)
		}
	}
	// Offsets of the length fields: remark at 13, extFields after the
	// remark, then the first key length (int16) and value length (int32).
	remarkAt := 13
	extAt := remarkAt + 4 + len(c.Remark)
	keyAt := extAt + 4
	corrupt := []struct {
		name string
		at   int
		val  []byte
	}{
		{"remark length negative", remarkAt, []byte{0xff, 0xff, 0xff, 0xff}},
		{"remark length huge", remarkAt, []byte{0x7f, 0xff, 0xff, 0xff}},
		{"remark length one too many", remarkAt, []byte{0, 0, 0, byte(len(header) - remarkAt - 4 - 4 + 1)}},
		{"extFields length negative", extAt, []byte{0x80, 0, 0, 0}},
		{"extFields length beyond header", extAt, []byte{0, 0, 1, 0}},
		{"key length beyond", keyAt, []byte{0xff, 0xff}},
		{"value length negative", keyAt + 2 + len("queueId"), []byte{0xff, 0xff, 0xff, 0xfe}},
		{"value length beyond", keyAt + 2 + len("queueId"), []byte{0, 0, 0x10, 0}},
	}
	for _, tc := range corrupt {
		h := bytes.Clone(header)
		copy(h[tc.at:], tc.val)
		var got Command
		if err := decodeRocketMQHeader(h, &got); !errors.Is(err, ErrMalformedHeader) {
			t.Errorf("%s: %v (%s)", tc.name, err, dump(&got))
		}
	}
	// A key length that leaves no room for the value length.
	h := append(make([]byte, 13), 0, 0, 0, 0) // fixed part, empty remark
	h = binary.BigEndian.AppendUint32(h, 3)
	h = append(h, 0, 1, 'k')
	var got Command
	if err := decodeRocketMQHeader(h, &got); !errors.Is(err, ErrMalformedHeader) {
		t.Errorf("key without value length: %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	buf := []byte("keep")
	out, err := (&Command{Serialize: 7}).AppendFrame(buf)
	if !errors.Is(err, ErrSerializeType) || string(out) != "keep" {
		t.Fatalf("unknown serialize type: %v, buffer %q", err, out)
	}
	long := strings.Repeat("k", 1<<16)
	out, err = (&Command{ExtFields: map[string]string{long: "v"}, Serialize: SerializeRocketMQ}).AppendFrame(buf)
	if !errors.Is(err, ErrMalformedHeader) || string(out) != "keep" {
		t.Fatalf("key over 65535 bytes: %v, buffer %q", err, out)
	}
	out, err = (&Command{Remark: strings.Repeat("r", 1<<24), Serialize: SerializeJSON}).AppendFrame(buf)
	if !errors.Is(err, ErrMalformedHeader) || string(out) != "keep" {
		t.Fatalf("header over 24 bits: %v, buffer %q", err, out)
	}
	// The longest key the binary header can carry still round-trips.
	roundTrip(t, &Command{ExtFields: map[string]string{long[:1<<16-1]: "v"}, Serialize: SerializeRocketMQ})
}

// TestAppendFrameNoAllocs: a writer reusing its buffer encodes for free.
func TestAppendFrameNoAllocs(t *testing.T) {
	for _, st := range serializations {
		c := benchSendRequest(st)
		buf, err := c.AppendFrame(nil)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			buf, err = c.AppendFrame(buf[:0])
		})
		if err != nil || allocs != 0 {
			t.Fatalf("%s: %v allocs per AppendFrame (err %v), want 0", st, allocs, err)
		}
	}
}

func TestCodeNames(t *testing.T) {
	if SendMessage.String() != "SEND_MESSAGE" || RequestCode(9999).String() != "REQUEST_CODE_9999" {
		t.Fatal(SendMessage.String(), RequestCode(9999).String())
	}
	if SystemBusy.String() != "SYSTEM_BUSY" || ResponseCode(999).String() != "RESPONSE_CODE_999" {
		t.Fatal(SystemBusy.String(), ResponseCode(999).String())
	}
	for i, n := range languageNames {
		if ParseLanguage(n) != LanguageCode(i) || LanguageCode(i).String() != n {
			t.Fatalf("language %d %s", i, n)
		}
	}
	if LangGo != 9 || LangJava != 0 || LangNodeJS != 13 || ParseLanguage("nope") != LangOther {
		t.Fatal("language codes differ from LanguageCode.java")
	}
	if SerializeType(5).String() != "SERIALIZE_TYPE_5" {
		t.Fatal(SerializeType(5).String())
	}
}
