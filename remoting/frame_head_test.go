package remoting

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"
)

// A busy answer from the template is byte for byte the frame BusyResponse's
// Command encodes to, for every kind and both serializations.
func TestBusyTemplateMatchesEncoder(t *testing.T) {
	for _, ser := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		for _, kind := range BusyKinds {
			for _, opaque := range []int32{0, 7, -1, 1<<31 - 1, -1 << 31} {
				req := &Command{Opaque: opaque, Serialize: ser}
				want, err := BusyResponse(req, kind, 12, 345).AppendFrame(nil)
				if err != nil {
					t.Fatal(err)
				}
				b := busyFrame{opaque: opaque, kind: kind, serialize: ser, waitMillis: 12, queueSize: 345}
				if got := appendBusyFrame([]byte("x"), &b)[1:]; !bytes.Equal(got, want) {
					t.Errorf("%s %s opaque %d:\n got %q\nwant %q", ser, kind, opaque, got, want)
				}
			}
		}
	}
}

// frameOf encodes c as a frame.
func frameOf(t testing.TB, c *Command) []byte {
	t.Helper()
	f, err := c.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func sendRequest(ser SerializeType, opaque int32, flag int32) *Command {
	c := NewRequest(SendMessageV2, map[string]string{"a": "ProducerGroup", "b": "Topic", "e": "3",
		"i": `KEYS` + "\x01" + `k}"{\\`, "n": "false"}, bytes.Repeat([]byte("x"), 1024))
	c.Opaque, c.Flag, c.Serialize = opaque, flag, ser
	return c
}

// peekHead reads code, opaque and flag of our own encoding (extFields before
// the rest, with braces and quotes in a value), of the Go client's key
// order (code first, extFields last) and of the binary header, and leaves
// the frame where it was.
func TestPeekHead(t *testing.T) {
	goClient := []byte(`{"code":310,"language":"GO","version":317,"opaque":42,"flag":2,"remark":"","extFields":{"a":"g"}}`)
	cases := map[string][]byte{
		"ours JSON":     frameOf(t, sendRequest(SerializeJSON, 42, FlagOneway)),
		"ours ROCKETMQ": frameOf(t, sendRequest(SerializeRocketMQ, 42, FlagOneway)),
		"go client":     append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(4+len(goClient))), uint32(len(goClient))), goClient...),
	}
	for name, frame := range cases {
		br := bufio.NewReaderSize(bytes.NewReader(frame[4:]), 32<<10)
		length := len(frame) - 4
		h, ok := peekHead(br, length)
		if !ok || h.Code != int32(SendMessageV2) || h.Opaque != 42 || h.Flag != FlagOneway {
			t.Errorf("%s: head %+v ok %v", name, h, ok)
		}
		if br.Buffered() != length && br.Buffered() < 4 {
			t.Errorf("%s: peek consumed the frame", name)
		}
		if c, err := Decode(mustRead(t, br, length)); err != nil || c.Opaque != 42 {
			t.Errorf("%s: frame after the peek: %v %v", name, c, err)
		}
	}
}

func mustRead(t *testing.T, br *bufio.Reader, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := br.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// A header peekHead cannot read cheaply goes to the full decode, which
// judges it, rather than being refused on a guess.
func TestPeekHeadFallsBack(t *testing.T) {
	for name, header := range map[string]string{
		"unknown key":   `{"bogus":1,"code":310,"flag":0,"opaque":1}`,
		"missing flag":  `{"code":310,"opaque":1}`,
		"nested ext":    `{"code":310,"extFields":{"a":{}},"flag":0,"opaque":1}`,
		"cut":           `{"code":310,"extFields":{"a":"b`,
		"not an object": `[1]`,
		"empty":         ``,
	} {
		frame := append(binary.BigEndian.AppendUint32(nil, uint32(len(header))), header...)
		br := bufio.NewReader(bytes.NewReader(frame))
		if h, ok := peekHead(br, len(frame)); ok {
			t.Errorf("%s: read a head %+v", name, h)
		}
	}
}

// framesOf is n copies of frame, for a reader to refuse.
func framesOf(frame []byte, n int) []byte { return bytes.Repeat(frame, n) }

// A refusal from the head allocates nothing: no Command, no header map, no
// payload buffer; the busy answer goes into the reader's reused buffer.
func TestRefusalAllocatesNothing(t *testing.T) {
	const n = 200
	frame := frameOf(t, sendRequest(SerializeJSON, 7, 0))
	src := bytes.NewReader(nil)
	br := bufio.NewReaderSize(src, 32<<10)
	fr := newFrameReader(br, 0, nil, 0, nil)
	refuse := func(h *FrameHead) (Refusal, bool) { return Refusal{Kind: Overload}, true }
	data := framesOf(frame, n)
	allocs := testing.AllocsPerRun(20, func() {
		src.Reset(data)
		br.Reset(src)
		fr.refused, fr.refusedAt = fr.refused[:0], fr.refusedAt[:0]
		for range n {
			if c, err := fr.next(refuse); c != nil || err != nil {
				t.Fatalf("refused frame gave %v %v", c, err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per %d refusals, want 0", allocs, n)
	}
	// The answers are the busy answers to each request, in order.
	want := frameOf(t, BusyResponse(&Command{Opaque: 7}, Overload, 0, 0))
	if !bytes.Equal(fr.refused, framesOf(want, n)) || len(fr.refusedAt) != n {
		t.Errorf("refused answers: %d bytes, %d times; want %d bytes", len(fr.refused), len(fr.refusedAt), n*len(want))
	}
}

// A frame refuse declines is read and decoded as without it.
func TestRefuseDeclinedDecodes(t *testing.T) {
	frame := frameOf(t, sendRequest(SerializeJSON, 9, 0))
	fr := newFrameReader(bufio.NewReader(bytes.NewReader(framesOf(frame, 3))), 0, nil, 0, nil)
	calls := 0
	refuse := func(h *FrameHead) (Refusal, bool) { calls++; return Refusal{}, calls == 2 }
	var got []*Command
	for {
		c, err := fr.next(refuse)
		if err != nil {
			break
		}
		if c != nil {
			got = append(got, c)
		}
	}
	if calls != 3 || len(got) != 2 || got[0].Ext("b") != "Topic" || len(got[1].Body) != 1024 || len(fr.refusedAt) != 1 {
		t.Errorf("calls %d, decoded %d, refused %d", calls, len(got), len(fr.refusedAt))
	}
}

// BenchmarkRefusal is the reading side's CPU per request refused from its
// head (refuse), beside the same request decoded and answered with a
// BusyResponse Command (decode, the path every refusal took before), in
// one run: compare the two ns/op. accept is a request whose head is peeked
// and not refused, then decoded: beside decode, what the peek adds to an
// accepted request (there without the BusyResponse).
func BenchmarkRefusal(b *testing.B) {
	const n = 256
	frame := frameOf(b, sendRequest(SerializeJSON, 7, 0))
	data := framesOf(frame, n)
	for _, mode := range []string{"refuse", "decode", "accept"} {
		b.Run(mode, func(b *testing.B) {
			src := bytes.NewReader(nil)
			br := bufio.NewReaderSize(src, 32<<10)
			fr := newFrameReader(br, 0, nil, 0, nil)
			var refuse RefuseFunc
			switch mode {
			case "refuse":
				refuse = func(h *FrameHead) (Refusal, bool) { return Refusal{Kind: Overload}, true }
			case "accept":
				refuse = func(h *FrameHead) (Refusal, bool) { return Refusal{}, false }
			}
			var out []byte
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for i := 0; i < b.N; i++ {
				if i%n == 0 {
					src.Reset(data)
					br.Reset(src)
					fr.refused, out = fr.refused[:0], out[:0]
					fr.refusedAt = fr.refusedAt[:0]
				}
				c, err := fr.next(refuse)
				if err != nil {
					b.Fatal(err)
				}
				if c != nil && mode == "decode" {
					out, _ = BusyResponse(c, Overload, 0, 0).AppendFrame(out)
				}
			}
		})
	}
}

// Every frame the real Go client sent (testdata/frames) has a head
// peekHead reads, equal to what the full decode finds: the Go client's
// requests are refused without a header decode.
func TestPeekHeadGoldenFrames(t *testing.T) {
	for name, frame := range goldenFrames(t) {
		c, err := NewFrameReader(bytes.NewReader(frame), 0).Next()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		br := bufio.NewReaderSize(bytes.NewReader(frame[4:]), 32<<10)
		h, ok := peekHead(br, len(frame)-4)
		if !ok || h.Code != c.Code || h.Opaque != c.Opaque || h.Flag != c.Flag || h.Serialize != c.Serialize {
			t.Errorf("%s: head %+v ok %v, decoded code %d opaque %d flag %d", name, h, ok, c.Code, c.Opaque, c.Flag)
		}
	}
}

// FuzzPeekHead: peekHead never panics, and a head it reads from a header
// the full decode accepts is the decoded one.
func FuzzPeekHead(f *testing.F) {
	for _, frame := range goldenFrames(f) {
		f.Add(frame[4:])
	}
	f.Add([]byte("\x00\x00\x00\x1a{\"code\":1,\"extFields\":{\"a\":\"\\\\\\\"}\"}"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		h, ok := peekHead(bufio.NewReader(bytes.NewReader(payload)), len(payload))
		if !ok {
			return
		}
		c, err := Decode(payload)
		if err == nil && (h.Code != c.Code || h.Opaque != c.Opaque || h.Flag != c.Flag) {
			t.Fatalf("head %+v, decoded code %d opaque %d flag %d", h, c.Code, c.Opaque, c.Flag)
		}
	})
}

// peekCode reads the code of our JSON, the Go client's JSON and the binary
// header without consuming anything, and declines headers whose first key
// is not "code" or whose number is cut or malformed.
func TestPeekCode(t *testing.T) {
	jsonFrame := func(h string) []byte {
		return append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(4+len(h))), uint32(len(h))), h...)
	}
	cases := []struct {
		name  string
		frame []byte
		code  int32
		ok    bool
	}{
		{"ours JSON", frameOf(t, sendRequest(SerializeJSON, 42, 0)), int32(SendMessageV2), true},
		{"ours ROCKETMQ", frameOf(t, sendRequest(SerializeRocketMQ, 42, 0)), int32(SendMessageV2), true},
		{"go client", jsonFrame(`{"code":310,"language":"GO","opaque":42,"flag":0,"extFields":{}}`), 310, true},
		{"spaces", jsonFrame(` { "code" : -7 , "flag":0}`), -7, true},
		{"pop code", jsonFrame(`{"code":200050,"flag":0}`), 200050, true},
		{"code not first", jsonFrame(`{"flag":0,"code":310}`), 0, false},
		{"fraction", jsonFrame(`{"code":31.5,"flag":0}`), 0, false},
		{"over int32", jsonFrame(`{"code":2147483648,"flag":0}`), 0, false},
		{"cut", jsonFrame(`{"code":310`), 0, false},
		{"not an object", jsonFrame(`["code",310]`), 0, false},
	}
	for _, c := range cases {
		br := bufio.NewReaderSize(bytes.NewReader(c.frame[4:]), 32<<10)
		code, ok := peekCode(br, len(c.frame)-4)
		if ok != c.ok || (ok && code != c.code) {
			t.Errorf("%s: got %d %v, want %d %v", c.name, code, ok, c.code, c.ok)
		}
		if br.Buffered() != len(c.frame)-4 {
			t.Errorf("%s: peekCode consumed bytes", c.name)
		}
	}
}

// With mayRefuse declining a code, refuse is never asked and the frame
// decodes whole; when mayRefuse says yes, refuse decides as before; a
// header peekCode cannot read goes to refuse as without mayRefuse.
func TestMayRefuseGatesHeadRead(t *testing.T) {
	frame := frameOf(t, sendRequest(SerializeJSON, 9, 0))
	for _, tc := range []struct {
		name                string
		may                 bool
		wantRefuse, wantCmd int
	}{{"declined", false, 0, 3}, {"asked", true, 3, 0}} {
		fr := newFrameReader(bufio.NewReader(bytes.NewReader(framesOf(frame, 3))), 0, nil, 0, nil)
		var asked []int32
		fr.mayRefuse = func(code int32) bool { asked = append(asked, code); return tc.may }
		refused := 0
		refuse := func(h *FrameHead) (Refusal, bool) { refused++; return Refusal{Kind: Overload}, true }
		cmds := 0
		for {
			c, err := fr.next(refuse)
			if err != nil {
				break
			}
			if c != nil {
				cmds++
				if c.Opaque != 9 || c.RequestCode() != SendMessageV2 || len(c.Body) != 1024 {
					t.Errorf("%s: decoded %+v", tc.name, c)
				}
			}
		}
		if len(asked) != 3 || asked[0] != int32(SendMessageV2) || refused != tc.wantRefuse || cmds != tc.wantCmd {
			t.Errorf("%s: mayRefuse asked %v, refuse called %d times, %d commands; want 3 asks, %d, %d",
				tc.name, asked, refused, cmds, tc.wantRefuse, tc.wantCmd)
		}
	}
}

// skipJSONFlatObject ends after the brace that closes the object, whatever
// the strings before it hold (escaped quotes and backslashes, braces) and
// however closely the brace follows them, and refuses what is not a flat
// object.
func TestSkipJSONFlatObject(t *testing.T) {
	for _, c := range []struct {
		in  string
		end int // -1: refused
	}{
		{`{}`, 2},
		{`null,`, 4},
		{`{"a":"b"}`, 9},
		{`{"a":"b"},"x"`, 9},
		{`{"a":"b","c":12 , "d":"e"}`, 26},
		{`{"a":"\"}"}`, 11},
		{`{"a":"\\"}`, 10},
		{`{"a":"\\\"}"}`, 13},
		{`{"a":"{}"}`, 10},
		{`{"a":{"b":"c"}}`, -1},
		{`{"a":"b"`, -1},
		{`{"a":"b}`, -1},
		{`{"a":"\"}`, -1},
		{`"a"`, -1},
	} {
		end, ok := skipJSONFlatObject([]byte(c.in), 0)
		if !ok {
			end = -1
		}
		if end != c.end {
			t.Errorf("%s: end %d, want %d", c.in, end, c.end)
		}
	}
}
