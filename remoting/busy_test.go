package remoting

import "testing"

// The remarks are RocketMQ's, byte for byte (BrokerFastFailure, SendMessageProcessor): clients and
// dashboards match on them.
func TestBusyAnswers(t *testing.T) {
	cases := []struct {
		kind   BusyKind
		tag    string
		code   ResponseCode
		remark string
	}{
		{RejectRequest, "REJECTREQUEST", SystemBusy, "[REJECTREQUEST]system busy, start flow control for a while"},
		{Overload, "OVERLOAD", SystemBusy, "[OVERLOAD]system busy, start flow control for a while"},
		{PCSynchronized, "PC_SYNCHRONIZED", SystemError, "[PC_SYNCHRONIZED]broker busy, start flow control for a while"},
		{PCBusyCleanQueue, "PCBUSY_CLEAN_QUEUE", SystemBusy, "[PCBUSY_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: 5ms, size of queue: 3"},
		{TimeoutCleanQueue, "TIMEOUT_CLEAN_QUEUE", SystemBusy, "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: 5ms, size of queue: 3"},
	}
	if len(cases) != len(BusyKinds) {
		t.Fatalf("%d kinds, %d cases", len(BusyKinds), len(cases))
	}
	for i, tc := range cases {
		if BusyKinds[i] != tc.kind {
			t.Errorf("BusyKinds[%d] = %v, want %v", i, BusyKinds[i], tc.kind)
		}
		if tc.kind.Tag() != tc.tag || tc.kind.String() != tc.tag {
			t.Errorf("%v: tag %q", tc.kind, tc.kind.Tag())
		}
		if tc.kind.Code() != tc.code {
			t.Errorf("%v: code %d, want %d", tc.kind, tc.kind.Code(), tc.code)
		}
		if got := tc.kind.Remark(5, 3); got != tc.remark {
			t.Errorf("%v: remark\n got  %q\n want %q", tc.kind, got, tc.remark)
		}
		k, ok := ParseBusyTag(tc.remark)
		if !ok || k != tc.kind {
			t.Errorf("ParseBusyTag(%q) = %v, %v", tc.remark, k, ok)
		}
		for _, st := range serializations {
			req := NewRequest(SendMessage, nil, nil)
			req.Opaque, req.Serialize = 77, st
			resp := roundTrip(t, BusyResponse(req, tc.kind, 5, 3))
			if resp.Opaque != 77 || !resp.IsResponse() || resp.ResponseCode() != tc.code || resp.Remark != tc.remark || resp.Serialize != st {
				t.Errorf("%v %s: response %s", tc.kind, st, dump(resp))
			}
		}
	}
	if got := PCBusyCleanQueue.Remark(0, 0); got != "[PCBUSY_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: 0ms, size of queue: 0" {
		t.Errorf("zero wait: %q", got)
	}
	if got := TimeoutCleanQueue.Remark(1234567, 8192); got != "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: 1234567ms, size of queue: 8192" {
		t.Errorf("large wait: %q", got)
	}
}

func TestParseBusyTagRejects(t *testing.T) {
	for _, s := range []string{
		"", "[", "[]", "[OVERLOAD", "OVERLOAD]system busy", " [OVERLOAD]x", "[overload]x",
		"[OVERLOADED]system busy", "[PCBUSY]x", "CODE: 2  DESC: [OVERLOAD", "[REJECTREQUEST",
	} {
		if k, ok := ParseBusyTag(s); ok {
			t.Errorf("ParseBusyTag(%q) = %v, want no match", s, k)
		}
	}
	for _, s := range []string{"[OVERLOAD]", "[OVERLOAD]anything else", "[TIMEOUT_CLEAN_QUEUE]x"} {
		if _, ok := ParseBusyTag(s); !ok {
			t.Errorf("ParseBusyTag(%q) found nothing", s)
		}
	}
}
