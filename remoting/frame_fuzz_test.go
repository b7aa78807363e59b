package remoting

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// fuzzMaxFrame keeps the fuzzer's frames small so that it explores
// structure, not size, and exercises the size limit.
const fuzzMaxFrame = 4096

// FuzzDecode feeds arbitrary bytes to every decoding entry point. None may
// panic; whatever decodes must re-encode to a frame that decodes equal, in
// its own serialization and, where the content allows, in the other; and
// the JSON scanner must agree with encoding/json.
func FuzzDecode(f *testing.F) {
	for _, frame := range goldenFrames(f) {
		f.Add(frame)
	}
	nodejs, err := filepath.Glob(filepath.Join(nodejsFramesDir, "*.bin"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range nodejs {
		frame, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
		if len(frame) >= 8 {
			hl := int(frame[5])<<16 | int(frame[6])<<8 | int(frame[7])
			f.Add(frame[8:min(8+hl, len(frame))]) // the bare header
		}
	}
	seeds := []*Command{
		{},
		{Code: 10, Language: LangJava, Version: 409, Opaque: 1, Flag: FlagResponse, Remark: "r\x01\"é",
			ExtFields: map[string]string{"a": "1", "b": "", "\x02": "𝄞"}, Body: []byte("body")},
		{Code: -1, Language: 200, Opaque: -1, Flag: FlagOneway, ExtFields: sendMessageExt()},
		BusyResponse(&Command{Opaque: 5}, PCBusyCleanQueue, 5, 3),
	}
	for _, c := range seeds {
		for _, st := range serializations {
			c.Serialize = st
			frame, err := Encode(c)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(frame)
			f.Add(frame[4:])                         // a payload, for Decode
			f.Add(frame[8 : len(frame)-len(c.Body)]) // a bare header
			f.Add(append(bytes.Clone(frame), frame...))
		}
	}
	for _, s := range []string{
		"", "\x00\x00\x00\x00", "\xff\xff\xff\xff", "\x7f\xff\xff\xff",
		"\x00\x00\x00\x06\x00\x00\x00\x02{}", "\x00\x00\x00\x06\x02\x00\x00\x02{}",
		"\x00\x00\x00\x04\x00\xff\xff\xff",
		`{"code":1,"remark":"\ud834\udd1e\u0000\ud800"}`,
		`{"code":1,"extFields":{"k":"1","k":"2"},"extFields":{"x":"y"}}`,
		`{"language":200,"Code":5,"extFields":null}`,
		// Values as JavaScript clients and fastjson's dialect have them:
		// extFields numbers, booleans and null; int fields as strings,
		// booleans, fractions; remarks that are not strings.
		`{"code":310,"language":"JAVA","opaque":3,"flag":0,"version":121,"extFields":{"d":4,"e":-0,"g":1767225600123,"k":false,"m":true,"x":null}}`,
		`{"extFields":{"a":1.5,"b":1e3,"c":-0.0,"d":1.23e-8,"e":0e5,"f":123456789012345678901234567890,"g":1e2147483648}}`,
		`{"extFields":{"k":"1","k":null,"j":null,"j":"2","o":{"x":[1]},"a":[]}}`,
		`{"code":"10","version":"3,17","opaque":7.9,"flag":true,"remark":5}`,
		`{"code":"","opaque":null,"flag":"-2147483648","remark":null,"remark":1e-7}`,
		`{"code":1e-101,"version":4294967306.5,"extFields":""}`,
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		fr := NewFrameReader(bytes.NewReader(data), fuzzMaxFrame)
		for range 8 {
			c, err := fr.Next()
			if err != nil {
				break
			}
			checkReencode(t, c)
		}
		if c, err := Decode(data); err == nil {
			checkReencode(t, c)
		}

		var scanned, std Command
		errScan := decodeJSONHeader(data, &scanned)
		errStd := decodeJSONHeaderStd(data, &std)
		if (errScan == nil) != (errStd == nil) || errScan == nil && !equalCommands(&scanned, &std) {
			t.Fatalf("JSON scanner and encoding/json disagree on %q:\n scan %s %v\n std  %s %v",
				data, dump(&scanned), errScan, dump(&std), errStd)
		}
		var bin Command
		_ = decodeRocketMQHeader(data, &bin)
	})
}

func checkReencode(t *testing.T, c *Command) {
	t.Helper()
	for _, st := range serializations {
		if st != c.Serialize && !wireTextValid(c) {
			continue // JSON carries only valid UTF-8
		}
		re := *c
		re.Serialize = st
		frame, err := Encode(&re)
		if err != nil {
			t.Fatalf("re-encode %s as %s: %v", dump(c), st, err)
		}
		got, err := Decode(frame[4:])
		if err != nil {
			t.Fatalf("decode re-encoded %s as %s: %v\nframe %q", dump(c), st, err, frame)
		}
		want := &re
		if st == SerializeRocketMQ {
			want = withoutEmptyValues(&re) // an empty binary value reads as absent
		}
		if !equalCommands(want, got) {
			t.Fatalf("re-encoded as %s:\n had %s\n got %s", st, dump(&re), dump(got))
		}
	}
}

func wireTextValid(c *Command) bool {
	if !utf8.ValidString(c.Remark) {
		return false
	}
	valid := true
	c.RangeExt(func(k, v string) bool {
		valid = utf8.ValidString(k) && utf8.ValidString(v)
		return valid
	})
	return valid
}
