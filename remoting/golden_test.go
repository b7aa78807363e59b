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
				got, ok := c.ExtFields[k]
				if !ok {
					t.Errorf("extField %q missing (have %q)", k, c.ExtFields)
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
