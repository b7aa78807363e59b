package remoting

import (
	"bytes"
	"testing"
)

// sendMessageExt is the custom header the Go client puts on a
// SEND_MESSAGE (10) request (internal/request.go:SendMessageRequestHeader),
// with values like those in testdata/frames/10_SEND_MESSAGE.bin.
func sendMessageExt() map[string]string {
	return map[string]string{
		"producerGroup":         "bench-producer",
		"topic":                 "TestTopic",
		"queueId":               "1",
		"sysFlag":               "0",
		"bornTimestamp":         "1767225600123",
		"flag":                  "0",
		"reconsumeTimes":        "0",
		"unitMode":              "false",
		"maxReconsumeTimes":     "0",
		"defaultTopic":          "TBW102",
		"defaultTopicQueueNums": "4",
		"batch":                 "false",
		"properties":            "UNIQ_KEY\x01C0A8000100002A9F0000000000000001\x02WAIT\x01true\x02",
		"bname":                 "broker-a",
	}
}

func benchSendRequest(st SerializeType) *Command {
	c := NewRequest(SendMessage, sendMessageExt(), bytes.Repeat([]byte{'x'}, 1024))
	c.Opaque = 42
	c.Version = 317
	c.Serialize = st
	return c
}

func benchEncode(b *testing.B, st SerializeType) {
	c := benchSendRequest(st)
	buf, err := c.AppendFrame(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, err = c.AppendFrame(buf[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchDecode(b *testing.B, st SerializeType) {
	frame, err := Encode(benchSendRequest(st))
	if err != nil {
		b.Fatal(err)
	}
	payload := frame[4:]
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// benchReadFrame includes what FrameReader adds to Decode: the length
// check and the per-frame buffer.
func benchReadFrame(b *testing.B, st SerializeType) {
	frame, err := Encode(benchSendRequest(st))
	if err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(frame)
	fr := NewFrameReader(r, 0)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(frame)
		if _, err := fr.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSendMessageJSON(b *testing.B)     { benchEncode(b, SerializeJSON) }
func BenchmarkEncodeSendMessageRocketMQ(b *testing.B) { benchEncode(b, SerializeRocketMQ) }
func BenchmarkDecodeSendMessageJSON(b *testing.B)     { benchDecode(b, SerializeJSON) }
func BenchmarkDecodeSendMessageRocketMQ(b *testing.B) { benchDecode(b, SerializeRocketMQ) }
func BenchmarkReadFrameSendMessageJSON(b *testing.B)  { benchReadFrame(b, SerializeJSON) }
func BenchmarkReadFrameSendMessageRocketMQ(b *testing.B) {
	benchReadFrame(b, SerializeRocketMQ)
}
