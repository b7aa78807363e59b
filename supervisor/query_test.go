package supervisor_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// javaMessage is what RocketMQ's MessageDecoder#clientDecode fills in of a
// MessageClientExt, as the Java tools read query answers.
type javaMessage struct {
	storeSize       int32
	queueID         int32
	queueOffset     int64
	commitLogOffset int64
	storeTimestamp  int64
	storeHost       netip.AddrPort
	topic           string
	body            []byte
	properties      map[string]string
	offsetMsgID     string
}

// msgID is MessageClientExt#getMsgId: UNIQ_KEY, else the offset msgId.
func (m *javaMessage) msgID() string {
	if id, ok := m.properties["UNIQ_KEY"]; ok {
		return id
	}
	return m.offsetMsgID
}

// javaDecodes is MessageDecoder#decodes(byteBuffer, true), written from the
// Java source (not from Sluice's encoder): records one after the other
// until the buffer is used up; a record that does not decode ends the list.
func javaDecodes(b []byte) []*javaMessage {
	var out []*javaMessage
	for len(b) > 0 {
		m, n, err := javaDecode(b)
		if err != nil {
			break
		}
		out = append(out, m)
		b = b[n:]
	}
	return out
}

func javaDecode(b []byte) (m *javaMessage, n int, err error) {
	defer func() {
		if recover() != nil { // BufferUnderflowException
			m, n, err = nil, 0, errors.New("underflow")
		}
	}()
	be := binary.BigEndian
	p := 0
	getInt := func() int32 { v := int32(be.Uint32(b[p:])); p += 4; return v }
	getLong := func() int64 { v := int64(be.Uint64(b[p:])); p += 8; return v }
	get := func(k int) []byte { v := b[p : p+k]; p += k; return v }
	m = &javaMessage{}
	m.storeSize = getInt() // 1 TOTALSIZE
	getInt()               // 2 MAGICCODE
	getInt()               // 3 BODYCRC
	m.queueID = getInt()   // 4 QUEUEID
	getInt()               // 5 FLAG
	m.queueOffset = getLong()
	m.commitLogOffset = getLong()
	sysFlag := getInt()
	getLong() // 9 BORNTIMESTAMP
	bornLen := 4
	if sysFlag&0x10 != 0 { // BORNHOST_V6_FLAG
		bornLen = 16
	}
	get(bornLen)
	getInt()
	m.storeTimestamp = getLong()
	storeLen := 4
	if sysFlag&0x20 != 0 { // STOREHOSTADDRESS_V6_FLAG
		storeLen = 16
	}
	storeIP := get(storeLen)
	port := getInt()
	ip, _ := netip.AddrFromSlice(storeIP)
	m.storeHost = netip.AddrPortFrom(ip, uint16(port))
	getInt()  // 13 RECONSUMETIMES
	getLong() // 14 PREPARED TRANSACTION OFFSET
	if bodyLen := getInt(); bodyLen > 0 {
		m.body = append([]byte(nil), get(int(bodyLen))...)
	}
	topicLen := int(int8(b[p])) // byte topicLen = byteBuffer.get()
	p++
	m.topic = string(get(topicLen))
	if propLen := int(int16(be.Uint16(get(2)))); propLen > 0 {
		m.properties = map[string]string{}
		// string2messageProperties: NAME\x01VALUE\x02 …
		for _, item := range strings.Split(string(get(propLen)), "\x02") {
			if k, v, ok := strings.Cut(item, "\x01"); ok {
				m.properties[k] = v
			}
		}
	}
	// createMessageId(storeHost bytes, commitLogOffset): hex of ip, port, offset.
	id := append(append([]byte(nil), storeIP...), 0, 0, 0, 0)
	be.PutUint32(id[len(storeIP):], uint32(port))
	id = be.AppendUint64(id, uint64(m.commitLogOffset))
	m.offsetMsgID = strings.ToUpper(hex.EncodeToString(id))
	return m, p, nil
}

// javaQueryMessage is MQClientAPIImpl#queryMessage plus the filtering of
// MQAdminImpl#queryMessage: a key query keeps the records whose KEYS hold
// the key in the topic; a unique-key query the one whose msgId is the key,
// the oldest if several.
func javaQueryMessage(t *testing.T, c *remoting.Client, topic, key string, maxNum int32, begin, end int64, uniq bool) ([]*javaMessage, remoting.QueryMessageResponseHeader, remoting.ResponseCode) {
	t.Helper()
	req := remoting.NewRequest(remoting.QueryMessage, map[string]string{
		"topic": topic, "key": key, "maxNum": strconv.Itoa(int(maxNum)),
		"beginTimestamp": strconv.FormatInt(begin, 10), "endTimestamp": strconv.FormatInt(end, 10),
		"_UNIQUE_KEY_QUERY": strconv.FormatBool(uniq), // request.addExtField(MixAll.UNIQUE_MSG_QUERY_FLAG, isUnqiueKey.toString())
	}, nil)
	resp, err := c.Invoke(context.Background(), req, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ResponseCode() != remoting.Success {
		return nil, remoting.QueryMessageResponseHeader{}, resp.ResponseCode()
	}
	// decodeCommandCustomHeader(QueryMessageResponseHeader.class): both @CFNotNull Longs.
	var h remoting.QueryMessageResponseHeader
	h.IndexLastUpdateTimestamp, err = strconv.ParseInt(resp.Ext("indexLastUpdateTimestamp"), 10, 64)
	if err != nil {
		t.Fatalf("indexLastUpdateTimestamp: %v", err)
	}
	h.IndexLastUpdatePhyoffset, err = strconv.ParseInt(resp.Ext("indexLastUpdatePhyoffset"), 10, 64)
	if err != nil {
		t.Fatalf("indexLastUpdatePhyoffset: %v", err)
	}
	var kept []*javaMessage
	for _, m := range javaDecodes(resp.Body) {
		if uniq {
			if m.msgID() == key {
				if len(kept) > 0 && kept[0].storeTimestamp > m.storeTimestamp {
					kept = kept[:0]
				}
				if len(kept) == 0 {
					kept = append(kept, m)
				}
			}
			continue
		}
		if keys, ok := m.properties["KEYS"]; ok && m.topic == topic && slices.Contains(strings.Split(keys, " "), key) {
			kept = append(kept, m)
		}
	}
	return kept, h, resp.ResponseCode()
}

// decodeMessageID is MessageDecoder#decodeMessageId: an offset msgId is
// the store host's address and port and the commit-log offset, in hex.
func decodeMessageID(t *testing.T, id string) (netip.AddrPort, int64) {
	t.Helper()
	b, err := hex.DecodeString(id)
	if err != nil || (len(b) != 16 && len(b) != 28) {
		t.Fatalf("offset msgId %q: %v", id, err)
	}
	ipLen := len(b) - 12
	ip, _ := netip.AddrFromSlice(b[:ipLen])
	port := binary.BigEndian.Uint32(b[ipLen:])
	return netip.AddrPortFrom(ip, uint16(port)), int64(binary.BigEndian.Uint64(b[ipLen+4:]))
}

// Messages sent by the Go client are found by key, by unique key (msgId)
// and by offset msgId, as RocketMQ's Java tools ask and decode.
func TestQueryMessageWithGoClient(t *testing.T) {
	ns, b := startCluster(t, nil)
	const topic = "QueryTopic"
	p := newProducer(t, ns.Addr())
	type sent struct {
		res *primitive.SendResult
		key string
	}
	var all []sent
	for i := range 20 {
		m := primitive.NewMessage(topic, []byte("body-"+strconv.Itoa(i)))
		key := "order-" + strconv.Itoa(i)
		m.WithKeys([]string{key, "batch-" + strconv.Itoa(i%2)})
		res, err := p.SendSync(context.Background(), m)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		all = append(all, sent{res, key})
	}
	c, err := remoting.Dial(context.Background(), b.Addr(), remoting.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	now := time.Now().UnixMilli()
	// Dispatch runs behind the acknowledgement: the last key shows up soon.
	poll.Within(t, 10*time.Second, "last key indexed", func() bool {
		got, _, _ := javaQueryMessage(t, c, topic, all[19].key, 32, 0, math.MaxInt64, false)
		return len(got) == 1
	})
	for i, s := range all {
		got, h, code := javaQueryMessage(t, c, topic, s.key, 32, 0, now+1000, false)
		if code != remoting.Success || len(got) != 1 || string(got[0].body) != "body-"+strconv.Itoa(i) ||
			got[0].msgID() != s.res.MsgID || got[0].offsetMsgID != s.res.OffsetMsgID {
			t.Fatalf("key %s: code %s, %d messages", s.key, code, len(got))
		}
		if h.IndexLastUpdatePhyoffset < got[0].commitLogOffset || h.IndexLastUpdateTimestamp < got[0].storeTimestamp {
			t.Fatalf("key %s: index last update %+v is before the message", s.key, h)
		}
		u, _, code := javaQueryMessage(t, c, topic, s.res.MsgID, 1, 0, now+1000, true)
		if code != remoting.Success || len(u) != 1 || string(u[0].body) != "body-"+strconv.Itoa(i) {
			t.Fatalf("unique key %s: code %s, %d messages", s.res.MsgID, code, len(u))
		}
	}
	if got, _, _ := javaQueryMessage(t, c, topic, "batch-1", 32, 0, now+1000, false); len(got) != 10 {
		t.Errorf("batch-1: %d messages, want 10", len(got))
	}
	if got, _, _ := javaQueryMessage(t, c, topic, "batch-1", 4, 0, now+1000, false); len(got) != 4 {
		t.Errorf("batch-1 with maxNum 4: %d messages", len(got))
	}
	// Nothing in the range: QUERY_NOT_FOUND, as QueryMessageProcessor answers.
	if _, _, code := javaQueryMessage(t, c, topic, "order-1", 32, 0, 1000, false); code != remoting.QueryNotFound {
		t.Errorf("query before any message: %s", code)
	}
	if _, _, code := javaQueryMessage(t, c, topic, "no-such-key", 32, 0, now+1000, false); code != remoting.QueryNotFound {
		t.Errorf("unknown key: %s", code)
	}

	// VIEW_MESSAGE_BY_ID with the offset from the offset msgId
	// (MQAdminImpl#viewMessage → MQClientAPIImpl#viewMessage).
	for i, s := range all[:3] {
		host, off := decodeMessageID(t, s.res.OffsetMsgID)
		if host.Port() != uint16(mustPort(t, b.Addr())) {
			t.Fatalf("offset msgId %s names %v, not the broker", s.res.OffsetMsgID, host)
		}
		resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.ViewMessageByID,
			map[string]string{"offset": strconv.FormatInt(off, 10)}, nil), 5*time.Second)
		if err != nil || resp.ResponseCode() != remoting.Success {
			t.Fatalf("view %s: %v %v", s.res.OffsetMsgID, resp, err)
		}
		ms := javaDecodes(resp.Body)
		if len(ms) != 1 || string(ms[0].body) != "body-"+strconv.Itoa(i) || ms[0].msgID() != s.res.MsgID {
			t.Fatalf("view %s: %d messages", s.res.OffsetMsgID, len(ms))
		}
	}
	resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.ViewMessageByID, map[string]string{"offset": "7"}, nil), 5*time.Second)
	if err != nil || resp.ResponseCode() != remoting.SystemError || !strings.Contains(resp.Remark, "can not find message by the offset, 7") {
		t.Fatalf("view at a non-record offset: %v %v", resp, err)
	}

	// GET_EARLIEST_MSG_STORETIME (MQClientAPIImpl#getEarliestMsgStoretime).
	q := all[0].res.MessageQueue
	resp, err = c.Invoke(context.Background(), remoting.NewRequest(remoting.GetEarliestMsgStoretime,
		map[string]string{"topic": topic, "queueId": strconv.Itoa(q.QueueId)}, nil), 5*time.Second)
	if err != nil || resp.ResponseCode() != remoting.Success {
		t.Fatalf("earliest: %v %v", resp, err)
	}
	first, _, _ := javaQueryMessage(t, c, topic, all[0].key, 32, 0, now+1000, false)
	if ts, err := strconv.ParseInt(resp.Ext("timestamp"), 10, 64); err != nil || ts != first[0].storeTimestamp {
		t.Fatalf("earliest store time %q, want %d (the queue's first message)", resp.Ext("timestamp"), first[0].storeTimestamp)
	}

	// The trace look-up (QUERY_MESSAGE on the trace topic by msgId) is
	// checked in TestGoClientTraceWithTraceTopicEnable: rocketmq-client-go
	// keeps one trace client per process, bound to the first test's name
	// server, so a second tracing test in the process gets none.
}

func mustPort(t *testing.T, addr string) int {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return int(ap.Port())
}
