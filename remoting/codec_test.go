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
	if a.ExtLen() != b.ExtLen() || !maps.Equal(a.ExtMap(), b.ExtMap()) {
		return false
	}
	return bytes.Equal(a.Body, b.Body)
}

func dump(c *Command) string {
	return fmt.Sprintf("{code %d lang %d ver %d opaque %d flag %d remark %q ext %q body %d bytes %s}",
		c.Code, c.Language, c.Version, c.Opaque, c.Flag, c.Remark, c.ExtMap(), len(c.Body), c.Serialize)
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
	want := c
	if c.Serialize == SerializeRocketMQ {
		// Java's binary decoder reads an empty value as null, an absent
		// field: the round trip drops it.
		want = withoutEmptyValues(c)
	}
	if !equalCommands(want, got) {
		t.Fatalf("round trip changed the command\n sent %s\n got  %s", dump(c), dump(got))
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Fatalf("after the only frame: %v, want io.EOF", err)
	}
	return got
}

var serializations = []SerializeType{SerializeJSON, SerializeRocketMQ}

func withoutEmptyValues(c *Command) *Command {
	cp := *c
	if c.ExtLen() > 0 {
		cp.ExtFields, cp.Fields = make(map[string]string, c.ExtLen()), nil
		c.RangeExt(func(k, v string) bool {
			if v != "" {
				cp.ExtFields[k] = v
			}
			return true
		})
	}
	return &cp
}

// The binary serialization's empty value is Java's null: the field is
// absent, so a required one is reported missing as Java reports it.
func TestRocketMQEmptyValueIsAbsent(t *testing.T) {
	frame, err := Encode(&Command{Code: 30, ExtFields: map[string]string{"topic": "", "queueId": "1"}, Serialize: SerializeRocketMQ})
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewFrameReader(bytes.NewReader(frame), 0).Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.LookupExt("topic"); ok || got.Ext("queueId") != "1" {
		t.Fatalf("ext %q", got.ExtMap())
	}
	if _, err := DecodeTopicQueueRequestHeader(got); err == nil || err.Error() != "the custom field <topic> is null" {
		t.Fatalf("decode header: %v", err)
	}
}

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

// jsonHeaderCase is a header text and the command it must decode to; a
// nil want means it must be refused.
type jsonHeaderCase struct {
	hdr  string
	want *Command
}

// checkJSONHeaderCases decodes each header with the scanner-first decoder
// and with encoding/json alone; both must agree and match want.
func checkJSONHeaderCases(t *testing.T, cases []jsonHeaderCase) {
	t.Helper()
	for _, tc := range cases {
		var fast, std Command
		errFast := decodeJSONHeader([]byte(tc.hdr), &fast)
		errStd := decodeJSONHeaderStd([]byte(tc.hdr), &std)
		if (errFast == nil) != (errStd == nil) || errFast == nil && !equalCommands(&fast, &std) {
			t.Errorf("%.200s: scanner and encoding/json disagree:\n scan %s %v\n std  %s %v", tc.hdr, dump(&fast), errFast, dump(&std), errStd)
			continue
		}
		if tc.want == nil {
			if errFast == nil {
				t.Errorf("%.200s: decoded %s, want an error", tc.hdr, dump(&fast))
			} else if !errors.Is(errFast, ErrMalformedHeader) {
				t.Errorf("%.200s: error %v does not wrap ErrMalformedHeader", tc.hdr, errFast)
			}
			continue
		}
		if errFast != nil {
			t.Errorf("%.200s: %v", tc.hdr, errFast)
		} else if !equalCommands(&fast, tc.want) {
			t.Errorf("%.200s:\n got  %s\n want %s", tc.hdr, dump(&fast), dump(tc.want))
		}
	}
}

// TestJSONHeaderVariants feeds header texts other producers write (Java's
// fastjson output, ordinals for the language, nulls, escapes, unknown
// keys) and checks that the scanner and encoding/json agree on each.
func TestJSONHeaderVariants(t *testing.T) {
	cases := []jsonHeaderCase{
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
		// fastjson sets the field once per occurrence: the last map wins
		// whole, a null one included.
		{`{"code":1,"extFields":{"a":"1"},"extFields":{"b":"2"}}`, &Command{Code: 1, Language: LangOther, ExtFields: map[string]string{"b": "2"}}},
		{`{"code":1,"extFields":{"a":"1"},"remark":"r","extFields":{"b":2}}`, &Command{Code: 1, Language: LangOther, Remark: "r", ExtFields: map[string]string{"b": "2"}}},
		{`{"code":1,"extFields":{"a":"1"},"extFields":null}`, &Command{Code: 1, Language: LangOther}},
		{`{"code":1,"code":2}`, &Command{Code: 2, Language: LangOther}},
		{`{"code":-0,"opaque":-2147483648,"flag":2147483647}`, &Command{Language: LangOther, Opaque: -2147483648, Flag: 2147483647}},
		{`{"Code":3,"unknown":[1,{"x":null}]}`, &Command{Code: 3, Language: LangOther}},
		{`{"code":1,"serializeTypeCurrentRPC":"ROCKETMQ"}`, &Command{Code: 1, Language: LangOther}},
		// Non-string extFields values: TestJSONExtFieldValues. A null one
		// is absent, also over an earlier value of its key (HashMap.put).
		{`{"code":1,"extFields":{"k":null}}`, &Command{Code: 1, Language: LangOther}},
		{`{"code":1,"extFields":{"k":"1","k":null,"j":"2"}}`, &Command{Code: 1, Language: LangOther, ExtFields: map[string]string{"j": "2"}}},
		{`{"code":1,"extFields":{"k":null,"k":"2"}}`, &Command{Code: 1, Language: LangOther, ExtFields: map[string]string{"k": "2"}}},
		{`{"code":1,"extFields":{"k":"1","j":"2","k":"3"}}`, &Command{Code: 1, Language: LangOther, ExtFields: map[string]string{"j": "2", "k": "3"}}},
		{`{"code":1,"extFields":{"k":{"x":1},"k":"2"}}`, &Command{Code: 1, Language: LangOther, ExtFields: map[string]string{"k": "2"}}},
		// fastjson refuses an extFields that is not an object.
		{`{"code":1,"extFields":""}`, nil},
		{`{"code":1,"extFields":"null"}`, nil},
		{`{"code":1,"extFields":5}`, nil},
		{`{"code":1,"extFields":true}`, nil},
		{`{"code":1,"extFields":[]}`, nil},
		{`{"code":1,"extFields":[{"a":"b"}]}`, nil},
		// Keys: fastjson refuses {0:"a"} as well; it would take {a:"b"}
		// and {'a':'b'}, which no JSON encoder writes.
		{`{"extFields":{0:"a"}}`, nil},
		{`{"extFields":{a:"b"}}`, nil},
		{`{"extFields":{'a':'b'}}`, nil},
		// Top-level ints in other forms: TestJSONTopLevelLenient.
		{`{"code":2147483648}`, nil},
		{`{"code":1.0}`, &Command{Code: 1, Language: LangOther}},
		{`{"code":1e2}`, &Command{Code: 100, Language: LangOther}},
		{`{"code":01}`, nil}, // fastjson reads 1; not JSON
		{`{"code":"1"}`, &Command{Code: 1, Language: LangOther}},
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
	checkJSONHeaderCases(t, cases)
}

// absent marks an extFields value that must leave its key out.
const absent = "\x00absent"

// TestJSONExtFieldValues: a JavaScript client writes numeric and boolean
// header fields as JSON numbers and booleans. The Java broker's fastjson
// reads each into the HashMap<String,String> as the text below; every row
// was checked against fastjson 1.2.83 parsing the same header into a class
// shaped like RemotingCommand. scan says the allocation-light scanner must
// decode it itself rather than leave it to encoding/json.
func TestJSONExtFieldValues(t *testing.T) {
	cases := []struct {
		lit  string
		want string // absent, or "" with err
		err  bool
		scan bool
	}{
		{lit: `"x"`, want: "x", scan: true},
		{lit: `"\u0031"`, want: "1", scan: true},
		// Integers keep their literal text (StringCodec: numberString).
		{lit: `0`, want: "0", scan: true},
		{lit: `-1`, want: "-1", scan: true},
		{lit: `-0`, want: "-0", scan: true},
		{lit: `1767225600123`, want: "1767225600123", scan: true},
		{lit: `9223372036854775808`, want: "9223372036854775808", scan: true},
		{lit: `-123456789012345678901234567890`, want: "-123456789012345678901234567890", scan: true},
		{lit: strings.Repeat("9", 65535), want: strings.Repeat("9", 65535), scan: true},
		{lit: "-" + strings.Repeat("9", 65534), want: "-" + strings.Repeat("9", 65534), scan: true},
		{lit: strings.Repeat("9", 65536), err: true}, // "scanNumber overflow"
		// Other numbers: BigDecimal#toString of what they parse to.
		{lit: `1.5`, want: "1.5"},
		{lit: `1.0`, want: "1.0"},
		{lit: `1.50`, want: "1.50"},
		{lit: `0.0`, want: "0.0"},
		{lit: `-0.0`, want: "0.0"},
		{lit: `1e3`, want: "1E+3"},
		{lit: `1E3`, want: "1E+3"},
		{lit: `1.23e+3`, want: "1.23E+3"},
		{lit: `12.5e1`, want: "125"},
		{lit: `100e-2`, want: "1.00"},
		{lit: `0.000001`, want: "0.000001"},
		{lit: `0.0000001`, want: "1E-7"},
		{lit: `1e-7`, want: "1E-7"},
		{lit: `1.23e-8`, want: "1.23E-8"},
		{lit: `-1.5e-3`, want: "-0.0015"},
		{lit: `0e5`, want: "0E+5"},
		{lit: `1e400`, want: "1E+400"},
		{lit: `1e-400`, want: "1E-400"},
		{lit: `123e2147483647`, want: "1.23E+2147483649"},
		{lit: `1e0000000000000000001`, want: "1E+1"},
		{lit: `1e2147483648`, err: true},  // "Exponent overflow"
		{lit: `0e-2147483649`, err: true}, // "Exponent overflow"
		{lit: `1e-2147483648`, err: true}, // "Scale out of range"
		{lit: "1." + strings.Repeat("1", 65533), want: "1." + strings.Repeat("1", 65533)},
		{lit: "1." + strings.Repeat("1", 65534), err: true}, // "scanNumber overflow"
		{lit: "1." + strings.Repeat("1", 65531) + "e1", want: "11." + strings.Repeat("1", 65530)},
		{lit: "1." + strings.Repeat("1", 65532) + "e1", err: true}, // "decimal overflow"
		{lit: `true`, want: "true", scan: true},
		{lit: `false`, want: "false", scan: true},
		{lit: `null`, want: absent, scan: true},
		// fastjson gives these their JSON text re-serialised (e.g.
		// {"x":1}); they are refused, see errCompositeValue.
		{lit: `{"x":1}`, err: true},
		{lit: `[1,2]`, err: true},
		{lit: `[]`, err: true},
		// Not JSON, though fastjson reads them ("01", "1", "-0.5").
		{lit: `01`, err: true},
		{lit: `1.`, err: true},
		{lit: `-.5`, err: true},
		{lit: `+1`, err: true},
		{lit: `tru`, err: true},
		{lit: `nul`, err: true},
		{lit: `truex`, err: true},
	}
	for _, tc := range cases {
		hdr := `{"code":310,"extFields":{"s":"v","k":` + tc.lit + `,"b":false}}`
		want := &Command{Code: 310, Language: LangOther, ExtFields: map[string]string{"s": "v", "b": "false"}}
		switch {
		case tc.err:
			want = nil
		case tc.want != absent:
			want.ExtFields["k"] = tc.want
		}
		checkJSONHeaderCases(t, []jsonHeaderCase{{hdr, want}})
		if scanned := scanJSONHeader([]byte(hdr), new(Command)); scanned != tc.scan {
			t.Errorf("%.60s: scanner decoded it itself: %v, want %v", tc.lit, scanned, tc.scan)
		}
	}

	var c Command
	err := decodeJSONHeader([]byte(`{"extFields":{"topic":{"a":1}}}`), &c)
	if err == nil || !strings.Contains(err.Error(), `"topic"`) || !strings.Contains(err.Error(), "object or array") {
		t.Errorf("object value: error %v should name the key and say why", err)
	}
}

// TestJSONTopLevelLenient: fastjson also takes the int fields of
// RemotingCommand as numeric strings, booleans, fractions (truncated) or
// null (field left as it was), and its String remark as any scalar's
// text. Rows checked against fastjson 1.2.83 as in TestJSONExtFieldValues,
// except where a comment says Sluice departs.
func TestJSONTopLevelLenient(t *testing.T) {
	code := func(n int32) *Command { return &Command{Code: n, Language: LangOther} }
	cases := []jsonHeaderCase{
		{`{"code":"10"}`, code(10)},
		{`{"code":"-10"}`, code(-10)},
		{`{"code":"+10"}`, code(10)},
		{`{"code":"010"}`, code(10)},
		{`{"code":"1,0"}`, code(10)},
		{`{"code":"10.00"}`, code(10)},
		{`{"code":"10."}`, code(10)},
		{`{"code":"1.0,0"}`, code(1)},
		{`{"code":"\u0031\u0030"}`, code(10)},
		{`{"code":""}`, code(0)},
		{`{"code":"null"}`, code(0)},
		{`{"code":"NULL"}`, code(0)},
		{`{"code":5,"code":""}`, code(5)},
		{`{"code":5,"code":"null"}`, code(5)},
		{`{"code":null}`, code(0)},
		{`{"code":5,"code":null}`, code(5)},
		{`{"code":" 10"}`, nil},
		{`{"code":"1e2"}`, nil},
		{`{"code":"10.5"}`, nil},
		{`{"code":"-"}`, nil},
		{`{"code":"+"}`, nil},
		{`{"code":","}`, nil},
		{`{"code":".0"}`, nil},
		{`{"code":"1.0.0"}`, nil},
		{`{"code":"--1"}`, nil},
		{`{"code":"١٠"}`, nil}, // Java's parseInt takes Arabic-Indic digits (10); Sluice only ASCII
		{`{"code":true}`, code(1)},
		{`{"code":false}`, code(0)},
		{`{"code":10.0}`, code(10)},
		{`{"code":10.9}`, code(10)},
		{`{"code":-10.9}`, code(-10)},
		{`{"code":1e2}`, code(100)},
		{`{"code":1.5e1}`, code(15)},
		{`{"code":1e-100}`, code(0)},
		{`{"code":-1e-100}`, code(0)},
		{`{"code":0e-200}`, code(0)},
		{`{"code":1e-101}`, nil}, // scale beyond 100: intValueExact
		{`{"code":5e-101}`, nil},
		{`{"code":{}}`, nil},
		{`{"code":[]}`, nil},
		{`{"code":4294967306.5}`, nil}, // Java wraps to 10
		{`{"code":2147483648}`, nil},   // past Java's int
		{`{"code":"2147483648"}`, nil},
		{`{"version":"317","opaque":"7","flag":"1"}`, &Command{Language: LangOther, Version: 317, Opaque: 7, Flag: 1}},
		{`{"opaque":2147483647.9}`, &Command{Language: LangOther, Opaque: 2147483647}},
		{`{"opaque":-2147483648.9}`, &Command{Language: LangOther, Opaque: -2147483648}},
		{`{"opaque":2147483648.0}`, nil}, // Java wraps to -2147483648
		{`{"opaque":5,"opaque":null}`, &Command{Language: LangOther, Opaque: 5}},
		{`{"flag":"-2147483648"}`, &Command{Language: LangOther, Flag: -2147483648}},
		{`{"flag":"-2147483649"}`, nil},
		{`{"flag":2147483648}`, nil},
		{`{"remark":null}`, code(0)},
		{`{"remark":"a","remark":null}`, &Command{Language: LangOther, Remark: "a"}},
		{`{"remark":5}`, &Command{Language: LangOther, Remark: "5"}},
		{`{"remark":1.5e3}`, &Command{Language: LangOther, Remark: "1.5E+3"}},
		{`{"remark":true}`, &Command{Language: LangOther, Remark: "true"}},
		{`{"remark":{"a":1}}`, nil}, // Java: its JSON text, see errCompositeValue
	}
	checkJSONHeaderCases(t, cases)

	// The error that closes the connection names the field.
	for hdr, field := range map[string]string{`{"opaque":"x"}`: "opaque", `{"flag":1e11}`: "flag",
		`{"code":4000000000}`: "code", `{"version":[]}`: "version", `{"remark":[1]}`: "remark"} {
		var c Command
		if err := decodeJSONHeader([]byte(hdr), &c); err == nil || !strings.Contains(err.Error(), field+": ") && !strings.Contains(err.Error(), field+" ") {
			t.Errorf("%s: error %v does not name %s", hdr, err, field)
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
