package remoting

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestDecodeSendMessageRequestHeaderV1AndV2(t *testing.T) {
	v1 := map[string]string{
		"producerGroup": "PG", "topic": "T", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": "3", "sysFlag": "0", "bornTimestamp": "1700000000000", "flag": "0",
		"properties": "TAGS\x01a\x02", "reconsumeTimes": "1", "unitMode": "FALSE", "maxReconsumeTimes": "16", "batch": "True",
	}
	v2 := map[string]string{}
	for i, k := range sendHeaderKeys {
		v2[k[1]] = v1[sendHeaderKeys[i][0]]
	}
	want := SendMessageRequestHeader{
		ProducerGroup: "PG", Topic: "T", DefaultTopic: "TBW102", DefaultTopicQueueNums: 4, QueueID: 3,
		BornTimestamp: 1700000000000, Properties: "TAGS\x01a\x02", ReconsumeTimes: 1, MaxReconsumeTimes: 16, Batch: true,
	}
	for code, ext := range map[RequestCode]map[string]string{SendMessage: v1, SendMessageV2: v2, SendBatchMessage: v2} {
		got, err := DecodeSendMessageRequestHeader(NewRequest(code, ext, nil))
		if err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", code, got, err, want)
		}
	}
}

func TestHeaderErrorsAreJavas(t *testing.T) {
	_, err := DecodePullMessageRequestHeader(NewRequest(PullMessage, map[string]string{"consumerGroup": "G"}, nil))
	var he HeaderError
	if !errors.As(err, &he) || err.Error() != "the custom field <topic> is null" {
		t.Fatalf("missing field: %v", err)
	}
	_, err = DecodeTopicQueueRequestHeader(NewRequest(GetMaxOffset, map[string]string{"topic": "T", "queueId": "x"}, nil))
	if err == nil || err.Error() != `the custom field <queueId> is not a 32-bit number: "x"` {
		t.Fatalf("bad number: %v", err)
	}
	// Boolean.parseBoolean never fails.
	h, err := DecodeCreateTopicRequestHeader(NewRequest(UpdateAndCreateTopic, map[string]string{
		"topic": "T", "readQueueNums": "8", "writeQueueNums": "8", "perm": "6", "order": "yes"}, nil))
	if err != nil || h.Order {
		t.Fatalf("order=yes: %+v, %v", h, err)
	}
}

func TestConsumerSendMsgBackMaxReconsumeTimes(t *testing.T) {
	ext := map[string]string{"offset": "100", "group": "G", "delayLevel": "0"}
	h, err := DecodeConsumerSendMsgBackRequestHeader(NewRequest(ConsumerSendMsgBack, ext, nil))
	if err != nil || h.MaxReconsumeTimes != nil {
		t.Fatalf("absent maxReconsumeTimes: %+v, %v", h, err)
	}
	ext["maxReconsumeTimes"] = "3"
	h, err = DecodeConsumerSendMsgBackRequestHeader(NewRequest(ConsumerSendMsgBack, ext, nil))
	if err != nil || h.MaxReconsumeTimes == nil || *h.MaxReconsumeTimes != 3 {
		t.Fatalf("maxReconsumeTimes=3: %+v, %v", h, err)
	}
}

func TestRegisterBrokerHeaderRoundTrip(t *testing.T) {
	in := RegisterBrokerRequestHeader{BrokerName: "b", BrokerAddr: "127.0.0.1:10911", ClusterName: "c",
		HAServerAddr: "127.0.0.1:10912", BrokerID: 0, BodyCrc32: 12345}
	req := NewRequest(RegisterBroker, nil, nil)
	in.Encode(req)
	out, err := DecodeRegisterBrokerRequestHeader(req)
	if err != nil || out != in {
		t.Fatalf("round trip: %+v, %v; want %+v", out, err, in)
	}
}

// wireFields is what a peer decodes of resp's custom header, in both
// serializations; the two must agree.
func wireFields(t *testing.T, resp *Command) map[string]string {
	t.Helper()
	var got map[string]string
	for _, ser := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		c := *resp
		c.Serialize = ser
		frame, err := Encode(&c)
		if err != nil {
			t.Fatalf("%s: encode: %v", ser, err)
		}
		back, err := Decode(frame[4:])
		if err != nil {
			t.Fatalf("%s: decode: %v", ser, err)
		}
		if got != nil && !reflect.DeepEqual(back.ExtMap(), got) {
			t.Fatalf("%s decodes %v, JSON %v", ser, back.ExtMap(), got)
		}
		got = back.ExtMap()
	}
	return got
}

func TestResponseHeadersEncode(t *testing.T) {
	req := NewRequest(SendMessage, nil, nil)
	resp := NewAnswer(req, Success, "")
	(&SendMessageResponseHeader{MsgID: "AB", QueueID: 2, QueueOffset: 7, MsgRegion: "DefaultRegion", TraceOn: true}).Encode(resp)
	want := map[string]string{"msgId": "AB", "queueId": "2", "queueOffset": "7", "MSG_REGION": "DefaultRegion", "TRACE_ON": "true"}
	if got := wireFields(t, resp); !reflect.DeepEqual(got, want) {
		t.Fatalf("send answer: %v", got)
	}
	for k, v := range want {
		if resp.Ext(k) != v {
			t.Fatalf("Ext(%q) = %q, want %q", k, resp.Ext(k), v)
		}
	}
	// Typed fields are the same bytes on the wire as the sorted map they
	// replace.
	old := NewResponse(req, Success, "")
	old.ExtFields = want
	for _, ser := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		resp.Serialize, old.Serialize = ser, ser
		a, _ := Encode(resp)
		b, _ := Encode(old)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: typed header\n%q\nmap\n%q", ser, a, b)
		}
	}
	resp.Serialize = SerializeJSON

	// One record's id, written from the host part and the offset; a
	// second Encode replaces the first header, as a map did.
	(&SendMessageResponseHeader{MsgIDHost: "7F00000100002A9F", MsgIDOffset: 0x1234, QueueOffset: 1 << 40,
		TransactionID: "tx\"1", MsgRegion: "r"}).Encode(resp)
	want = map[string]string{"msgId": "7F00000100002A9F0000000000001234", "queueId": "0", "queueOffset": "1099511627776",
		"transactionId": "tx\"1", "MSG_REGION": "r", "TRACE_ON": "false"}
	if got := wireFields(t, resp); !reflect.DeepEqual(got, want) {
		t.Fatalf("send answer with a host part: %v", got)
	}
	if resp.Ext("msgId") != want["msgId"] || resp.Ext("missing") != "" {
		t.Fatalf("Ext(msgId) = %q", resp.Ext("msgId"))
	}

	pull := NewAnswer(req, Success, "")
	(&PullMessageResponseHeader{NextBeginOffset: 5, MinOffset: 0, MaxOffset: 9}).Encode(pull)
	want = map[string]string{"nextBeginOffset": "5", "minOffset": "0", "maxOffset": "9", "suggestWhichBrokerId": "0"}
	if got := wireFields(t, pull); !reflect.DeepEqual(got, want) {
		t.Fatalf("pull answer: %v", got)
	}
	// Encode works on any response, with the allocation NewAnswer saves.
	plain := NewResponse(req, Success, "")
	(&PullMessageResponseHeader{NextBeginOffset: 5, MaxOffset: 9}).Encode(plain)
	if got := wireFields(t, plain); !reflect.DeepEqual(got, want) {
		t.Fatalf("pull answer on NewResponse: %v", got)
	}
	if size := frameSizeEstimate(pull); size < len(mustEncode(t, pull)) {
		t.Fatalf("frameSizeEstimate %d is below the frame's %d bytes", size, len(mustEncode(t, pull)))
	}

	r := NewResponse(NewRequest(RegisterBroker, nil, nil), Success, "")
	(&RegisterBrokerResponseHeader{}).Encode(r)
	if r.ExtLen() != 0 {
		t.Fatalf("a master's register answer carries no address: %v", r.ExtMap())
	}
}

func mustEncode(t *testing.T, c *Command) []byte {
	t.Helper()
	b, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAnswerEncodeAllocations pins what typed fields are for: building a
// send's answer and writing it into a reused buffer allocate only the
// answer itself.
func TestAnswerEncodeAllocations(t *testing.T) {
	req := NewRequest(SendMessageV2, nil, nil)
	buf := make([]byte, 0, 1024)
	n := testing.AllocsPerRun(200, func() {
		resp := NewAnswer(req, Success, "")
		(&SendMessageResponseHeader{MsgIDHost: "7F00000100002A9F", MsgIDOffset: 123456789, QueueID: 3,
			QueueOffset: 987654321, MsgRegion: "DefaultRegion", TraceOn: true}).Encode(resp)
		var err error
		if buf, err = resp.AppendFrame(buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 {
		t.Fatalf("%.1f allocations per answer, want 1 (the answer)", n)
	}
}

func TestBatchRoundTrip(t *testing.T) {
	items := []BatchItem{{Flag: 1, Body: []byte("one"), Properties: []byte("TAGS\x01a\x02")}, {Flag: 0, Body: []byte{}, Properties: nil}}
	var body []byte
	for _, it := range items {
		body = AppendBatchItem(body, it)
	}
	var got []BatchItem
	n, err := EachBatchItem(body, func(it BatchItem) error { got = append(got, it); return nil })
	if err != nil || n != 2 {
		t.Fatalf("EachBatchItem = %d, %v", n, err)
	}
	for i := range items {
		if got[i].Flag != items[i].Flag || !bytes.Equal(got[i].Body, items[i].Body) || !bytes.Equal(got[i].Properties, items[i].Properties) {
			t.Fatalf("item %d: %+v, want %+v", i, got[i], items[i])
		}
	}
	for cut := 1; cut < len(body); cut++ {
		if _, err := EachBatchItem(body[:cut], func(BatchItem) error { return nil }); err == nil && cut != len(AppendBatchItem(nil, items[0])) {
			t.Fatalf("a body cut at %d parsed", cut)
		}
	}
	if _, err := EachBatchItem(nil, func(BatchItem) error { return nil }); !errors.Is(err, ErrBatchMalformed) {
		t.Fatalf("empty batch: %v", err)
	}
}

// The query headers as RocketMQ's tools send them (every field
// @CFNotNull) and as they read the answers.
func TestQueryHeaders(t *testing.T) {
	ext := map[string]string{"topic": "T", "key": "k1", "maxNum": "32", "beginTimestamp": "0", "endTimestamp": "9223372036854775807",
		UniqueMsgQueryFlag: "true"}
	q, err := DecodeQueryMessageRequestHeader(NewRequest(QueryMessage, ext, nil))
	want := QueryMessageRequestHeader{Topic: "T", Key: "k1", MaxNum: 32, EndTimestamp: 1<<63 - 1}
	if err != nil || q != want {
		t.Fatalf("query: %+v, %v", q, err)
	}
	req := NewRequest(QueryMessage, nil, nil)
	want.Encode(req)
	if q, err := DecodeQueryMessageRequestHeader(req); err != nil || q != want {
		t.Fatalf("query round trip: %+v, %v", q, err)
	}
	delete(ext, "maxNum")
	if _, err := DecodeQueryMessageRequestHeader(NewRequest(QueryMessage, ext, nil)); err == nil || err.Error() != "the custom field <maxNum> is null" {
		t.Fatalf("missing maxNum: %v", err)
	}
	resp := NewResponse(req, Success, "")
	QueryMessageResponseHeader{IndexLastUpdateTimestamp: 1700000000123, IndexLastUpdatePhyoffset: 4096}.Encode(resp)
	if !reflect.DeepEqual(resp.ExtMap(), map[string]string{"indexLastUpdateTimestamp": "1700000000123", "indexLastUpdatePhyoffset": "4096"}) {
		t.Fatalf("query answer: %v", resp.ExtMap())
	}
	if h, err := DecodeQueryMessageResponseHeader(resp); err != nil || h.IndexLastUpdatePhyoffset != 4096 || h.IndexLastUpdateTimestamp != 1700000000123 {
		t.Fatalf("query answer decoded: %+v, %v", h, err)
	}

	v, err := DecodeViewMessageRequestHeader(NewRequest(ViewMessageByID, map[string]string{"offset": "123456"}, nil))
	if err != nil || v.Offset != 123456 {
		t.Fatalf("view: %+v, %v", v, err)
	}
	if _, err := DecodeViewMessageRequestHeader(NewRequest(ViewMessageByID, map[string]string{"offset": "x"}, nil)); err == nil {
		t.Fatal("view: a bad offset decoded")
	}
	vr := NewRequest(ViewMessageByID, nil, nil)
	ViewMessageRequestHeader{Offset: 77}.Encode(vr)
	if vr.Ext("offset") != "77" {
		t.Fatalf("view encode: %v", vr.ExtMap())
	}

	e, err := DecodeGetEarliestMsgStoretimeRequestHeader(NewRequest(GetEarliestMsgStoretime, map[string]string{"topic": "T", "queueId": "2", "bname": "b"}, nil))
	if err != nil || e.Topic != "T" || e.QueueID != 2 {
		t.Fatalf("earliest: %+v, %v", e, err)
	}
	er := NewResponse(req, Success, "")
	GetEarliestMsgStoretimeResponseHeader{Timestamp: -1}.Encode(er)
	if er.Ext("timestamp") != "-1" {
		t.Fatalf("earliest answer: %v", er.ExtMap())
	}
	if GetEarliestMsgStoretime.String() != "GET_EARLIEST_MSG_STORETIME" || GetEarliestMsgStoretime != 32 {
		t.Fatal("code 32")
	}
}
