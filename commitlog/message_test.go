package commitlog

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

func TestTagsHashCode(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int64
	}{
		{"", 0},
		{"TagA", 2598919},
		{"中", 20013},
		{"\U0001F600", 1772899},
		{"polygenelubricants", -2147483648}, // Java's famous Integer.MIN_VALUE hash
	} {
		if got := TagsHashCode(c.s); got != c.want {
			t.Errorf("TagsHashCode(%q) = %d, want %d", c.s, got, c.want)
		}
	}
	if got := tagsCodeFromProperties([]byte("KEYS\x01k\x02TAGS\x01TagA")); got != 2598919 {
		t.Errorf("tags from properties = %d", got)
	}
}

func TestAppendRecordErrors(t *testing.T) {
	base := testMessage("T", 0, 0, 10)
	cases := []struct {
		mod  func(m *Message)
		want error
	}{
		{func(m *Message) { m.Topic = "" }, ErrTopicInvalid},
		{func(m *Message) { m.Topic = "a\x00b" }, ErrTopicInvalid},
		{func(m *Message) { m.Topic = strings.Repeat("t", 128) }, ErrTopicTooLong},
		{func(m *Message) { m.Body = make([]byte, DefaultMaxMessageSize+1) }, ErrMessageTooLarge},
		{func(m *Message) { m.Properties = strings.Repeat("p", 32768) }, ErrPropertiesTooLarge},
		{func(m *Message) { m.Properties = "A\x01\x00" }, ErrPropertiesInvalid},
	}
	for i, c := range cases {
		m := *base
		c.mod(&m)
		if _, err := AppendRecord(nil, &m); !errors.Is(err, c.want) {
			t.Errorf("case %d: err %v, want %v", i, err, c.want)
		}
	}
	m := *base
	m.Topic = strings.Repeat("t", 127)
	if _, err := AppendRecord(nil, &m); err != nil {
		t.Errorf("127-byte topic: %v", err)
	}
}

func TestAppendRecordLayoutAndCRC(t *testing.T) {
	m := testMessage("TopicX", 3, 5, 100)
	rec := encode(t, m)
	if len(rec) != RecordLen(m) || len(rec) != 91+100+len("TopicX")+len(m.Properties) {
		t.Fatalf("len %d, RecordLen %d", len(rec), RecordLen(m))
	}
	ri, err := parseRecord(rec, true)
	if err != nil {
		t.Fatal(err)
	}
	if ri.queueID != 3 || string(ri.topic) != "TopicX" || ri.tagsCode != TagsHashCode("TagB") {
		t.Errorf("parsed %+v", ri)
	}
	if got := BodyCRC(m.Body); got&0x80000000 != 0 || got == 0 {
		t.Errorf("crc %x", got)
	}
	// Every torn suffix of the record fails the check.
	for k := 0; k < len(rec); k++ {
		torn := append([]byte(nil), rec...)
		clear(torn[k:])
		if _, err := parseRecord(torn, true); err == nil {
			t.Fatalf("record torn at byte %d of %d passed the check", k, len(rec))
		}
	}
}

func TestAppendRecordAllocs(t *testing.T) {
	m := testMessage("TopicX", 1, 1, 1024)
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(1000, func() {
		var err error
		buf, err = AppendRecord(buf[:0], m)
		if err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendRecord allocates %.1f times per record", allocs)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = TagsHashCode("TagA||TagB") }); n != 0 {
		t.Fatalf("TagsHashCode allocates %.1f", n)
	}
}

// TestDecodedByGoClient stores messages, reads them back with GetMessage and
// decodes the bytes with rocketmq-client-go's own decoder.
func TestDecodedByGoClient(t *testing.T) {
	s := openTestStore(t, testConfig(t.TempDir()))
	v6 := testMessage("TopicV6", 0, 0, 33)
	v6.BornHost = netip.MustParseAddrPort("[2001:db8::1]:40000")
	v6.StoreHost = netip.MustParseAddrPort("[2001:db8::2]:10911")
	msgs := []*Message{testMessage("TopicGo", 2, 0, 10), testMessage("TopicGo", 2, 1, 500), testMessage("TopicGo", 2, 2, 0)}
	res := put(t, s, msgs...)
	res6 := put(t, s, v6)
	settle(t, s)

	got := s.GetMessage("TopicGo", 2, 0, 32, nil)
	if got.Status != Found || got.MsgCount != 3 || got.NextBeginOffset != 3 || got.MaxOffset != 3 {
		t.Fatalf("GetMessage: %+v", got)
	}
	decoded := primitive.DecodeMessage(bytes.Join(got.Messages, nil))
	if len(decoded) != 3 {
		t.Fatalf("decoded %d messages", len(decoded))
	}
	phys := res.WroteOffset
	for i, d := range decoded {
		m := msgs[i]
		if d.Topic != "TopicGo" || !bytes.Equal(d.Body, m.Body) || d.Queue.QueueId != 2 || d.QueueOffset != int64(i) {
			t.Errorf("msg %d: topic %q queue %d offset %d body ok %v", i, d.Topic, d.Queue.QueueId, d.QueueOffset, bytes.Equal(d.Body, m.Body))
		}
		if d.CommitLogOffset != phys || d.StoreTimestamp != res.StoreTimestamp || d.BornTimestamp != m.BornTimestamp || d.Flag != 7 {
			t.Errorf("msg %d: phys %d (want %d) storeTS %d (want %d)", i, d.CommitLogOffset, phys, d.StoreTimestamp, res.StoreTimestamp)
		}
		if d.BornHost != "10.1.2.3:50000" || d.StoreHost != "192.168.0.10:10911" {
			t.Errorf("msg %d hosts %q %q", i, d.BornHost, d.StoreHost)
		}
		if d.BodyCRC != int32(BodyCRC(m.Body)) {
			t.Errorf("msg %d crc %d", i, d.BodyCRC)
		}
		if d.GetTags() != []string{"TagA", "TagB"}[i%2] || d.MsgId != "ID"+string(rune('0'+i)) {
			t.Errorf("msg %d tags %q id %q", i, d.GetTags(), d.MsgId)
		}
		if d.StoreSize != int32(len(got.Messages[i])) {
			t.Errorf("msg %d store size %d", i, d.StoreSize)
		}
		phys += int64(len(got.Messages[i]))
	}
	if !strings.HasPrefix(decoded[0].OffsetMsgId, "C0A8000A00002A9F") {
		t.Errorf("offset msg id %s", decoded[0].OffsetMsgId)
	}

	g6 := s.GetMessage("TopicV6", 0, 0, 1, nil)
	d6 := primitive.DecodeMessage(g6.Messages[0])
	if len(d6) != 1 || d6[0].BornHost != "2001:db8::1:40000" || d6[0].StoreHost != "2001:db8::2:10911" ||
		d6[0].SysFlag&0x30 != 0x30 || d6[0].CommitLogOffset != res6.WroteOffset || !bytes.Equal(d6[0].Body, v6.Body) {
		t.Fatalf("ipv6 decoded %+v", d6[0])
	}
}

// DecodeRecord (decode.go) must invert AppendRecord plus what Put fills in.
func TestDecodeRecordRoundTrip(t *testing.T) {
	s := openTestStore(t, testConfig(t.TempDir()))
	m := testMessage("RT", 3, 9, 77)
	m.BornHost = netip.MustParseAddrPort("[2001:db8::7]:1234")
	m.ReconsumeTimes, m.PreparedTransactionOffset = 2, 99
	r := put(t, s, m)
	settle(t, s)
	rec, err := s.LookMessageByOffset(r.WroteOffset)
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if d.Topic != m.Topic || d.QueueID != 3 || !bytes.Equal(d.Body, m.Body) || d.Properties != m.Properties ||
		d.BornHost != m.BornHost || d.StoreHost != m.StoreHost || d.ReconsumeTimes != 2 || d.PreparedTransactionOffset != 99 ||
		d.QueueOffset != r.QueueOffset || d.PhysicalOffset != r.WroteOffset || d.StoreTimestamp != r.StoreTimestamp || d.StoreSize != r.WroteBytes {
		t.Fatalf("decoded %+v", d)
	}
	again, _ := AppendRecord(nil, &d.Message)
	if len(again) != len(rec) || !bytes.Equal(again[offBodyCRC:offQueueOffset], rec[offBodyCRC:offQueueOffset]) {
		t.Fatal("re-encoding differs")
	}
}
