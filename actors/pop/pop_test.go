package pop

import (
	"os"
	"path/filepath"
	"testing"
)

// The handle's text is RocketMQ's: eight space-separated fields, the
// retry mark from the topic read, and ParseExtraInfo reads it back.
func TestExtraInfoRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		topic, want string
	}{
		{"T", "5 1700000000000 30000 3 0 broker-a 2 7"},
		{PopRetryTopic("T", "g"), "5 1700000000000 30000 3 1 broker-a 2 7"},
		{"%RETRY%g+T", "5 1700000000000 30000 3 2 broker-a 2 7"},
	} {
		s := BuildExtraInfo(5, 1700000000000, 30000, 3, tc.topic, "broker-a", 2, 7)
		if s != tc.want {
			t.Fatalf("%s: %q, want %q", tc.topic, s, tc.want)
		}
		e, err := ParseExtraInfo(s)
		if err != nil || e.CkOffset != 5 || e.PopTime != 1700000000000 || e.InvisibleTime != 30000 || e.ReviveQid != 3 ||
			e.BrokerName != "broker-a" || e.QueueID != 2 || e.MsgOffset != 7 || e.RealTopic("T", "g") != tc.topic {
			t.Fatalf("%s: parsed %+v %v (real topic %q)", tc.topic, e, err, e.RealTopic("T", "g"))
		}
	}
	e, err := ParseExtraInfo("5 1 2 3 0 b 1")
	if err != nil || e.MsgOffset != -1 {
		t.Fatalf("7-field form: %+v %v", e, err)
	}
	for _, bad := range []string{"", "1 2 3", "x 1 2 3 0 b 1 2", "1 2 3 4 9 b 1 2"} {
		if _, err := ParseExtraInfo(bad); err == nil {
			t.Fatalf("%q parsed", bad)
		}
	}
}

// The journal replays checkpoints and acks; a fully acked checkpoint is
// gone, a torn last line is dropped, and the replayed file holds only the
// live checkpoints.
func TestJournalReplay(t *testing.T) {
	dir := t.TempDir()
	j, cks, err := openJournal(dir)
	if err != nil || len(cks) != 0 {
		t.Fatal(cks, err)
	}
	a := &PopCheckPoint{Group: "g", Topic: "T", QueueID: 1, StartOffset: 10, PopTime: 100, InvisibleTime: 50, Offsets: []int64{10, 12}}
	b := &PopCheckPoint{Group: "g", Topic: "T", QueueID: 2, StartOffset: 0, PopTime: 100, InvisibleTime: 50, Offsets: []int64{0}}
	for _, err := range []error{j.appendCk(a), j.appendCk(b), j.appendAck(a.key(), 12), j.appendAck(b.key(), 0), j.close()} {
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, "checkpoint.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"c":"g","t":"T","q":1,"so":10,"pt":100,"a`) // torn
	f.Close()
	j2, cks, err := openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.close()
	if len(cks) != 1 {
		t.Fatalf("live checkpoints %v", cks)
	}
	got := cks[a.key()]
	if got == nil || got.Acked != 0b10 || got.unacked() != 1 || got.ReviveTime() != 150 {
		t.Fatalf("replayed %+v", got)
	}
	if j2.size == 0 {
		t.Fatal("rewritten journal is empty")
	}
}
