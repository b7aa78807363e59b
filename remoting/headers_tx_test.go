package remoting

import (
	"testing"
)

// END_TRANSACTION as rocketmq-client-go encodes it (EndTransactionRequestHeader
// .Encode: every field, commitLogOffset through strconv.Itoa, bname).
func TestDecodeEndTransactionRequestHeader(t *testing.T) {
	ext := map[string]string{
		"producerGroup": "PG", "tranStateTableOffset": "7", "commitLogOffset": "123456",
		"commitOrRollback": "8", "fromTransactionCheck": "true", "msgId": "7F00000100002A9F0000000000000000",
		"transactionId": "C0A80001000018B4AAC2", "bname": "broker-a",
	}
	got, err := DecodeEndTransactionRequestHeader(NewRequest(EndTransaction, ext, nil))
	want := EndTransactionRequestHeader{
		ProducerGroup: "PG", TranStateTableOffset: 7, CommitLogOffset: 123456, CommitOrRollback: 8,
		FromTransactionCheck: true, MsgID: "7F00000100002A9F0000000000000000", TransactionID: "C0A80001000018B4AAC2", BrokerName: "broker-a",
	}
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	// Encode then decode is the identity.
	req := NewRequest(EndTransaction, nil, nil)
	want.Encode(req)
	if again, err := DecodeEndTransactionRequestHeader(req); err != nil || again != want {
		t.Fatalf("round trip: %+v, %v", again, err)
	}
	// fromTransactionCheck and transactionId are optional; a Java client
	// leaves them off when null.
	for _, k := range []string{"fromTransactionCheck", "transactionId", "bname"} {
		delete(ext, k)
	}
	if got, err := DecodeEndTransactionRequestHeader(NewRequest(EndTransaction, ext, nil)); err != nil || got.FromTransactionCheck || got.TransactionID != "" {
		t.Fatalf("optional fields absent: %+v, %v", got, err)
	}
}

// The @CFNotNull fields are required, with Java's remark; numbers must
// parse.
func TestEndTransactionRequestHeaderErrors(t *testing.T) {
	full := func() map[string]string {
		return map[string]string{"producerGroup": "PG", "tranStateTableOffset": "0", "commitLogOffset": "0", "commitOrRollback": "12", "msgId": "m"}
	}
	for _, k := range []string{"producerGroup", "tranStateTableOffset", "commitLogOffset", "commitOrRollback", "msgId"} {
		ext := full()
		delete(ext, k)
		_, err := DecodeEndTransactionRequestHeader(NewRequest(EndTransaction, ext, nil))
		if err == nil || err.Error() != "the custom field <"+k+"> is null" {
			t.Errorf("without %s: %v", k, err)
		}
	}
	ext := full()
	ext["commitLogOffset"] = "x"
	if _, err := DecodeEndTransactionRequestHeader(NewRequest(EndTransaction, ext, nil)); err == nil ||
		err.Error() != `the custom field <commitLogOffset> is not a number: "x"` {
		t.Fatalf("bad number: %v", err)
	}
}

// CHECK_TRANSACTION_STATE as the Go client decodes it
// (CheckTransactionStateRequestHeader.Decode reads these five keys).
func TestCheckTransactionStateRequestHeader(t *testing.T) {
	h := CheckTransactionStateRequestHeader{
		TranStateTableOffset: 3, CommitLogOffset: 4096, MsgID: "uniq", TransactionID: "uniq", OffsetMsgID: "7F00000100002A9F0000000000001000",
	}
	req := NewRequest(CheckTransactionState, nil, nil)
	h.Encode(req)
	want := map[string]string{
		"tranStateTableOffset": "3", "commitLogOffset": "4096", "msgId": "uniq", "transactionId": "uniq",
		"offsetMsgId": "7F00000100002A9F0000000000001000",
	}
	if req.ExtLen() != len(want) {
		t.Fatalf("ext fields %v, want %v", req.ExtMap(), want)
	}
	for k, v := range want {
		if req.Ext(k) != v {
			t.Fatalf("%s = %q, want %q", k, req.Ext(k), v)
		}
	}
	if got, err := DecodeCheckTransactionStateRequestHeader(req); err != nil || got != h {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// A half message without a client id (no UNIQ_KEY): Java leaves the
	// null fields off.
	req = NewRequest(CheckTransactionState, nil, nil)
	(&CheckTransactionStateRequestHeader{TranStateTableOffset: 1, CommitLogOffset: 2}).Encode(req)
	if req.ExtLen() != 2 {
		t.Fatalf("empty ids written: %v", req.ExtMap())
	}
}
