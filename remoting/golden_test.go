package remoting

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// goldenKeys are the extFields the Go client must send per request code
// (reference §2), with the value when it is fixed.
var goldenKeys = map[RequestCode]map[string]string{
	GetRouteInfoByTopic: {"topic": captureTopic},
	SendMessage: {"producerGroup": captureProducerGroup, "topic": captureTopic, "defaultTopic": "TBW102",
		"defaultTopicQueueNums": "4", "queueId": "", "sysFlag": "0", "bornTimestamp": "", "flag": "0",
		"properties": "", "reconsumeTimes": "0", "unitMode": "false", "maxReconsumeTimes": "0",
		"batch": "false", "bname": captureBroker},
	SendBatchMessage: {"a": captureProducerGroup, "b": captureTopic, "c": "TBW102", "d": "4", "e": "",
		"f": "0", "g": "", "h": "0", "i": "", "j": "0", "k": "false", "l": "0", "m": "true", "n": captureBroker},
	HeartBeat:              {},
	GetConsumerListByGroup: {"consumerGroup": captureConsumerGroup},
	QueryConsumerOffset:    {"consumerGroup": captureConsumerGroup, "topic": captureTopic, "queueId": "", "bname": captureBroker},
	GetMaxOffset:           {"topic": captureTopic, "queueId": "", "bname": captureBroker},
	PullMessage: {"consumerGroup": captureConsumerGroup, "topic": captureTopic, "queueId": "", "queueOffset": "",
		"maxMsgNums": "32", "sysFlag": "", "commitOffset": "", "suspendTimeoutMillis": "20000",
		"subscription": "", "subVersion": "0", "expressionType": "TAG", "bname": captureBroker},
	UpdateConsumerOffset: {"consumerGroup": captureConsumerGroup, "topic": captureTopic, "queueId": "",
		"commitOffset": "", "bname": captureBroker},
}

// goldenFrames returns testdata/frames/*.bin, name → contents.
func goldenFrames(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(framesDir, "*.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".bin")] = b
	}
	return out
}

// TestGoldenFrames decodes every frame the real Go client sent (see
// testdata/frames/README.md) and checks what reference §1 and §2 say it
// sends.
func TestGoldenFrames(t *testing.T) {
	frames := goldenFrames(t)
	if len(frames) < len(goldenKeys) {
		t.Fatalf("%d golden frames in %s, want at least %d", len(frames), framesDir, len(goldenKeys))
	}
	seen := map[RequestCode]bool{}
	for name, frame := range frames {
		t.Run(name, func(t *testing.T) {
			codeText, rest, _ := strings.Cut(name, "_")
			n, err := strconv.Atoi(codeText)
			if err != nil {
				t.Fatalf("file name %q does not start with a code", name)
			}
			code := RequestCode(n)
			if !strings.HasPrefix(rest, code.String()) {
				t.Fatalf("file name %q does not match code name %s", name, code)
			}
			seen[code] = true

			fr := NewFrameReader(bytes.NewReader(frame), 0)
			c, err := fr.Next()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fr.Next(); err != io.EOF {
				t.Fatalf("bytes after the frame: %v", err)
			}
			if c.RequestCode() != code || c.Language != LangGo || c.Version != 317 || c.Opaque <= 0 ||
				c.Flag != 0 || c.Remark != "" || c.Serialize != SerializeJSON {
				t.Fatalf("header %s", dump(c))
			}
			// The allocation-light scanner, not encoding/json, must be
			// what decodes real client headers.
			hl := int(frame[5])<<16 | int(frame[6])<<8 | int(frame[7])
			if !scanJSONHeader(frame[8:8+hl], new(Command)) {
				t.Errorf("scanJSONHeader declined the header; decoding fell back to encoding/json")
			}
			want, ok := goldenKeys[code]
			if !ok {
				t.Fatalf("no expectations for %s; add them to goldenKeys", code)
			}
			for k, v := range want {
				got, ok := c.LookupExt(k)
				if !ok {
					t.Errorf("extField %q missing (have %q)", k, c.ExtMap())
				} else if v != "" && got != v {
					t.Errorf("extField %q = %q, want %q", k, got, v)
				}
			}
			switch code {
			case SendMessage:
				if len(c.Body) == 0 || !strings.Contains(c.Ext("properties"), "UNIQ_KEY\x01") {
					t.Errorf("send without body or UNIQ_KEY: %s", dump(c))
				}
			case HeartBeat:
				var hb struct {
					ClientID string `json:"clientID"`
				}
				if err := json.Unmarshal(c.Body, &hb); err != nil || hb.ClientID == "" {
					t.Errorf("heartbeat body %q: %v", c.Body, err)
				}
			}

			// Our encoders, both serializations, carry it unchanged.
			for _, st := range serializations {
				re := *c
				re.Serialize = st
				roundTrip(t, &re)
			}
		})
	}
	for code := range goldenKeys {
		if !seen[code] {
			t.Errorf("no golden frame for %s", code)
		}
	}
}

// nodejsFramesDir holds frames built as the JavaScript remoting client
// ali-ons writes them (testdata/frames/nodejs/README.md). They live apart
// from the Go client's captures, which TestCapture replaces wholesale.
var nodejsFramesDir = filepath.Join(framesDir, "nodejs")

// nodejsGolden is what each frame in nodejsFramesDir must hold: the exact
// header text (JSON.stringify of ali-ons' header object: its key order,
// numbers and booleans unquoted, control characters as \u00XX) and the
// extFields a Java broker's fastjson reads from it, numbers and booleans
// as their text.
var nodejsGolden = map[string]struct {
	header string
	want   *Command
}{
	"310_SEND_MESSAGE_V2_ali-ons": {
		header: `{"code":310,"language":"JAVA","opaque":3,"flag":0,"version":121,"extFields":{"a":"sluice-js-producer","b":"TestTopic","c":"TBW102","d":4,"e":1,"f":0,"g":1767225600123,"h":0,"i":"TAGS\u0001TagA\u0002KEYS\u0001key-1\u0002UNIQ_KEY\u0001C0A8000100002A9F0000000000000001\u0002","j":0,"k":false}}`,
		want: &Command{Code: int32(SendMessageV2), Language: LangJava, Version: 121, Opaque: 3,
			ExtFields: map[string]string{"a": "sluice-js-producer", "b": "TestTopic", "c": "TBW102",
				"d": "4", "e": "1", "f": "0", "g": "1767225600123", "h": "0",
				"i": "TAGS\x01TagA\x02KEYS\x01key-1\x02UNIQ_KEY\x01C0A8000100002A9F0000000000000001\x02",
				"j": "0", "k": "false"},
			Body: []byte("hello sluice"), Serialize: SerializeJSON},
	},
}

// TestNodeJSGoldenFrames decodes the JavaScript client's frames: before
// numbers and booleans in extFields were read as text, such a frame failed
// to decode and the connection was closed.
func TestNodeJSGoldenFrames(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(nodejsFramesDir, "*.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(nodejsGolden) {
		t.Fatalf("%d frames in %s, expectations for %d", len(files), nodejsFramesDir, len(nodejsGolden))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".bin")
		t.Run(name, func(t *testing.T) {
			g, ok := nodejsGolden[name]
			if !ok {
				t.Fatalf("no expectations for %s; add them to nodejsGolden", name)
			}
			frame, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(frame) < 8 {
				t.Fatalf("frame of %d bytes", len(frame))
			}
			hl := int(frame[5])<<16 | int(frame[6])<<8 | int(frame[7])
			if frame[4] != byte(SerializeJSON) || 8+hl > len(frame) || string(frame[8:8+hl]) != g.header {
				t.Fatalf("header %q\nwant   %q", frame[8:min(8+hl, len(frame))], g.header)
			}
			fr := NewFrameReader(bytes.NewReader(frame), 0)
			c, err := fr.Next()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fr.Next(); err != io.EOF {
				t.Fatalf("bytes after the frame: %v", err)
			}
			if !equalCommands(c, g.want) {
				t.Fatalf("got  %s\nwant %s", dump(c), dump(g.want))
			}
			// JavaScript clients are real clients: their headers take the
			// allocation-light path too.
			if !scanJSONHeader(frame[8:8+hl], new(Command)) {
				t.Errorf("scanJSONHeader declined the header; decoding fell back to encoding/json")
			}
			// The answer goes back in the request's serialization, with
			// string values, which the JavaScript client reads as well.
			resp := NewResponse(c, Success, "")
			resp.SetExt("queueId", c.Ext("e"))
			if got := roundTrip(t, resp); got.Serialize != SerializeJSON || got.Opaque != 3 || got.Ext("queueId") != "1" {
				t.Fatalf("response %s", dump(got))
			}
			for _, st := range serializations {
				re := *c
				re.Serialize = st
				roundTrip(t, &re)
			}
		})
	}
}
