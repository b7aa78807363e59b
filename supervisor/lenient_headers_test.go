package supervisor_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// rawJSONFrame builds a JSON-serialized request frame by hand, with the
// extFields values as given: a JavaScript client writes numbers and
// booleans as JSON numbers and booleans, which Sluice's own encoder never
// does.
func rawJSONFrame(t *testing.T, code remoting.RequestCode, opaque int32, ext map[string]any, body []byte) []byte {
	t.Helper()
	header, err := json.Marshal(map[string]any{
		"code": int(code), "language": "JAVA", "version": 317, "opaque": opaque, "flag": 0,
		"extFields": ext, "serializeTypeCurrentRPC": "JSON",
	})
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 8, 8+len(header)+len(body))
	total := 4 + len(header) + len(body)
	frame[0], frame[1], frame[2], frame[3] = byte(total>>24), byte(total>>16), byte(total>>8), byte(total)
	frame[4], frame[5], frame[6], frame[7] = 0, byte(len(header)>>16), byte(len(header)>>8), byte(len(header))
	frame = append(frame, header...)
	return append(frame, body...)
}

// asStrings is ext as the Go and Java clients write it: every value as
// its text.
func asStrings(ext map[string]any) map[string]any {
	out := make(map[string]any, len(ext))
	for k, v := range ext {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// Every header field of every served request code, sent as a JSON number
// or boolean, gets the answer the same request gets with strings — the
// Java broker reads such values as their text.
func TestNumericAndBooleanHeaderFieldsAreReadAsText(t *testing.T) {
	ns, b := startCluster(t, nil)
	const topic = "LenientTopic"
	now := time.Now().UnixMilli()
	send := map[string]any{
		"producerGroup": "pg", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": 4, "queueId": 1,
		"sysFlag": 0, "bornTimestamp": now, "flag": 0, "properties": "TAGS\x01a\x02", "reconsumeTimes": 0,
		"unitMode": false, "maxReconsumeTimes": 16, "batch": false,
	}
	v2 := map[string]any{"a": "pg", "b": topic, "c": "TBW102", "d": 4, "e": 1, "f": 0, "g": now, "h": 0,
		"i": "TAGS\x01a\x02", "j": 0, "k": false, "l": 16, "m": false}
	batchHdr := maps.Clone(v2)
	batchHdr["m"] = true
	batchBody := remoting.AppendBatchItem(nil, remoting.BatchItem{Body: []byte("in a batch"), Properties: []byte("TAGS\x01a\x02")})
	pull := map[string]any{
		"consumerGroup": "cg", "topic": topic, "queueId": 1, "queueOffset": 0, "maxMsgNums": 32, "sysFlag": 4,
		"commitOffset": 0, "suspendTimeoutMillis": 0, "subscription": "*", "subVersion": 0, "expressionType": "TAG",
	}
	type step struct {
		code remoting.RequestCode
		ext  map[string]any
		body []byte
		// same lists the answer's extFields that must match; the code and
		// remark always must.
		same []string
		addr string
	}
	steps := []step{
		{code: remoting.SendMessage, ext: send, body: []byte("v1"), same: []string{"queueId"}},
		{code: remoting.SendMessageV2, ext: v2, body: []byte("v2"), same: []string{"queueId"}},
		{code: remoting.SendBatchMessage, ext: batchHdr, body: batchBody, same: []string{"queueId"}},
		{code: remoting.PullMessage, ext: pull, same: []string{"minOffset", "suggestWhichBrokerId"}},
		{code: remoting.UpdateConsumerOffset, ext: map[string]any{"consumerGroup": "cg", "topic": topic, "queueId": 1, "commitOffset": 2}},
		{code: remoting.QueryConsumerOffset, ext: map[string]any{"consumerGroup": "cg", "topic": topic, "queueId": 1}, same: []string{"offset"}},
		{code: remoting.GetMaxOffset, ext: map[string]any{"topic": topic, "queueId": 1}},
		{code: remoting.GetMinOffset, ext: map[string]any{"topic": topic, "queueId": 1}, same: []string{"offset"}},
		{code: remoting.SearchOffsetByTimestamp, ext: map[string]any{"topic": topic, "queueId": 1, "timestamp": now - 60_000}, same: []string{"offset"}},
		{code: remoting.UpdateAndCreateTopic, ext: map[string]any{"topic": "LenientCreated", "readQueueNums": 2, "writeQueueNums": 2,
			"perm": 6, "topicSysFlag": 0, "order": false, "topicFilterType": "SINGLE_TAG"}},
		{code: remoting.ConsumerSendMsgBack, ext: map[string]any{"offset": -1, "group": "cg", "delayLevel": 0, "maxReconsumeTimes": 16, "unitMode": false}},
		{code: remoting.GetConsumerListByGroup, ext: map[string]any{"consumerGroup": "nobody"}},
		{code: remoting.DeleteTopicInBroker, ext: map[string]any{"topic": "LenientCreated"}},
		{code: remoting.GetRouteInfoByTopic, ext: map[string]any{"topic": topic}, addr: ns.Addr()},
		{code: remoting.UnregisterBroker, ext: map[string]any{"brokerName": "nope", "brokerAddr": "127.0.0.1:1", "clusterName": "c", "brokerId": 0}, addr: ns.Addr()},
		{code: remoting.RegisterBroker, ext: map[string]any{"brokerName": "lenient", "brokerAddr": "127.0.0.1:2", "clusterName": "c",
			"haServerAddr": "", "brokerId": 0, "compressed": false, "bodyCrc32": 0}, addr: ns.Addr()},
	}
	conns := map[string]*rawConn{}
	for _, st := range steps {
		addr := st.addr
		if addr == "" {
			addr = b.Addr()
		}
		c := conns[addr]
		if c == nil {
			c = dialRaw(t, addr)
			conns[addr] = c
		}
		text := c.call(t, rawJSONFrame(t, st.code, c.next(), asStrings(st.ext), st.body))
		typed := c.call(t, rawJSONFrame(t, st.code, c.next(), st.ext, st.body))
		if typed.Code != text.Code || typed.Remark != text.Remark {
			t.Errorf("%s: with numbers and booleans %d %q, with strings %d %q", st.code, typed.Code, typed.Remark, text.Code, text.Remark)
			continue
		}
		for _, k := range st.same {
			if typed.Ext(k) != text.Ext(k) {
				t.Errorf("%s: %s = %q with numbers and booleans, %q with strings", st.code, k, typed.Ext(k), text.Ext(k))
			}
		}
		t.Logf("%s: both %d %q", st.code, typed.Code, typed.Remark)
	}
	// The sends were stored twice each (three messages per flavour, the
	// batch's one included), both forms alike.
	poll.Within(t, 10*time.Second, "dispatch", func() bool { return b.Store().MaxOffsetInQueue(topic, 1) >= 6 })
	if got := b.Store().MaxOffsetInQueue(topic, 1); got != 6 {
		t.Errorf("queue 1 holds %d messages, want 6", got)
	}
}

// rawConn writes hand-made frames and reads the answers.
type rawConn struct {
	nc     net.Conn
	fr     *remoting.FrameReader
	opaque int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{nc: nc, fr: remoting.NewFrameReader(bufio.NewReader(nc), 0)}
}

func (c *rawConn) next() int32 { c.opaque++; return c.opaque }

func (c *rawConn) call(t *testing.T, frame []byte) *remoting.Command {
	t.Helper()
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(frame); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := c.fr.Next()
	if err != nil {
		t.Fatalf("read answer: %v (the connection was closed: the frame was refused)", err)
	}
	return resp
}
