package remoting

import (
	"bytes"
	"strconv"
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

// sendMessageExtV2 is sendMessageExt as SEND_MESSAGE_V2 (310) carries it:
// the same values under one-letter keys (bname has no letter).
func sendMessageExtV2() map[string]string {
	v2 := map[string]string{}
	for k, v := range sendMessageExt() {
		for _, pair := range sendHeaderKeys {
			if pair[0] == k {
				v2[pair[1]] = v
			}
		}
	}
	return v2
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

// BenchmarkSendAnswer builds a SEND_OK answer and writes it into a reused
// buffer, the way the send path does once per message: with its header as
// the sorted map it used to be (the baseline, with the message id and queue
// offset as strings) and as typed fields in the answer's allocation.
func BenchmarkSendAnswer(b *testing.B) {
	req := NewRequest(SendMessageV2, nil, nil)
	buf := make([]byte, 0, 1024)
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			resp := NewResponse(req, Success, "")
			resp.ExtFields = make(map[string]string, 6)
			resp.ExtFields["msgId"] = string(appendHex64([]byte("7F00000100002A9F"), uint64(i)<<10))
			resp.ExtFields["queueId"] = strconv.Itoa(3)
			resp.ExtFields["queueOffset"] = strconv.FormatInt(int64(1000000+i), 10)
			resp.ExtFields["MSG_REGION"] = "DefaultRegion"
			resp.ExtFields["TRACE_ON"] = strconv.FormatBool(true)
			buf, _ = resp.AppendFrame(buf[:0])
		}
	})
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			resp := NewAnswer(req, Success, "")
			(&SendMessageResponseHeader{MsgIDHost: "7F00000100002A9F", MsgIDOffset: int64(i) << 10, QueueID: 3,
				QueueOffset: int64(1000000 + i), MsgRegion: "DefaultRegion", TraceOn: true}).Encode(resp)
			buf, _ = resp.AppendFrame(buf[:0])
		}
	})
}

// BenchmarkDecodeSendRequest is what the broker does with a send frame
// before the send processor sees it: decode the frame and its typed
// header, for the Go client's SEND_MESSAGE (V1 keys) and the Java
// client's SEND_MESSAGE_V2 (one-letter keys).
func BenchmarkDecodeSendRequest(b *testing.B) {
	for _, tc := range []struct {
		name string
		code RequestCode
		ext  map[string]string
	}{{"V1", SendMessage, sendMessageExt()}, {"V2", SendMessageV2, sendMessageExtV2()}} {
		for _, st := range serializations {
			b.Run(tc.name+"/"+st.String(), func(b *testing.B) {
				c := NewRequest(tc.code, tc.ext, bytes.Repeat([]byte{'x'}, 1024))
				c.Serialize = st
				frame, err := Encode(c)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					cmd, err := Decode(frame[4:])
					if err != nil {
						b.Fatal(err)
					}
					if _, err := DecodeSendMessageRequestHeader(cmd); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
