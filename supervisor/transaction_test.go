package supervisor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
	"github.com/sluice-mq/sluice/supervisor/metrics"
)

// DemoListener is rocketmq-client-go's examples/producer/transaction
// listener, unmodified: every local transaction is left unknown, and the
// check-back answers by the transaction's index — commit, rollback, or
// unknown again.
type DemoListener struct {
	localTrans       *sync.Map
	transactionIndex int32
}

func NewDemoListener() *DemoListener {
	return &DemoListener{
		localTrans: new(sync.Map),
	}
}

func (dl *DemoListener) ExecuteLocalTransaction(msg *primitive.Message) primitive.LocalTransactionState {
	nextIndex := atomic.AddInt32(&dl.transactionIndex, 1)
	fmt.Printf("nextIndex: %v for transactionID: %v\n", nextIndex, msg.TransactionId)
	status := nextIndex % 3
	dl.localTrans.Store(msg.TransactionId, primitive.LocalTransactionState(status+1))

	fmt.Printf("dl")
	return primitive.UnkonwnState
}

func (dl *DemoListener) CheckLocalTransaction(msg *primitive.MessageExt) primitive.LocalTransactionState {
	fmt.Printf("%v msg transactionID : %v\n", time.Now(), msg.TransactionId)
	v, existed := dl.localTrans.Load(msg.TransactionId)
	if !existed {
		fmt.Printf("unknown msg: %v, return Commit", msg)
		return primitive.CommitMessageState
	}
	state := v.(primitive.LocalTransactionState)
	switch state {
	case 1:
		fmt.Printf("checkLocalTransaction COMMIT_MESSAGE: %v\n", msg)
		return primitive.CommitMessageState
	case 2:
		fmt.Printf("checkLocalTransaction ROLLBACK_MESSAGE: %v\n", msg)
		return primitive.RollbackMessageState
	case 3:
		fmt.Printf("checkLocalTransaction unknown: %v\n", msg)
		return primitive.UnkonwnState
	default:
		fmt.Printf("checkLocalTransaction default COMMIT_MESSAGE: %v\n", msg)
		return primitive.CommitMessageState
	}
}

// txCluster is a name server and a broker with check intervals short
// enough for a test.
func txCluster(t *testing.T, mutate func(*supervisor.Config)) (*supervisor.NameServer, *brokertest.Broker) {
	t.Helper()
	return startCluster(t, func(c *supervisor.Config) {
		c.TransactionTimeOut = 500
		c.TransactionCheckInterval = 200
		c.TransactionCheckMax = 3
		if mutate != nil {
			mutate(c)
		}
	})
}

// heartbeatNow starts a push consumer in the producer's client instance.
// The Go client heartbeats to a broker it learnt of only every 30 s, and a
// broker checks back only with producers that heartbeat; a consumer's
// start heartbeats at once, for every producer of its instance.
func heartbeatNow(t *testing.T, nsAddr, inst, topic string, rec *received) {
	t.Helper()
	newPushConsumer(t, nsAddr, "cg-"+inst, topic, rec, consumer.WithInstance(inst))
}

// createRoutedTopic creates topic on the broker and waits until the name
// server routes it, so that a consumer starting next finds it.
func createRoutedTopic(t *testing.T, ns *supervisor.NameServer, b *brokertest.Broker, topic string) {
	t.Helper()
	createTopic(t, b.Addr(), topic, 4)
	poll.Until(t, topic+" routed", func() bool { _, ok := ns.Routes().PickupTopicRouteData(topic); return ok })
}

func txInfo(b *brokertest.Broker) *tree.TransactionInfo {
	n := b.Tree().Root.Find("transactionCheck")
	if n == nil {
		return nil
	}
	return n.Transaction
}

// storedBodies reads every message of the topic's queues from the store,
// with how often each body is there.
func storedBodies(t *testing.T, b *brokertest.Broker, topic string, queues int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for q := 0; q < queues; q++ {
		res := b.Store().GetMessage(topic, int32(q), 0, 1000, nil)
		for _, rec := range res.Messages {
			m, err := commitlog.DecodeRecord(rec)
			if err != nil {
				t.Fatal(err)
			}
			out[string(m.Body)]++
		}
	}
	return out
}

// The Go client's transaction example against Sluice: ten half messages,
// every local transaction unknown; the check-back then commits three,
// rolls four back and leaves three unknown until transactionCheckMax
// discards them to TRANS_CHECK_MAX_TIME_TOPIC. Only the three commits are
// delivered, once each.
func TestGoClientTransactionExample(t *testing.T) {
	ns, b := txCluster(t, nil)
	const topic = "TopicTest5"
	createRoutedTopic(t, ns, b, topic)
	inst := instance(t)
	p, err := rocketmq.NewTransactionProducer(
		NewDemoListener(),
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns.Addr()})),
		producer.WithRetry(1),
		producer.WithGroupName("tx-"+inst), producer.WithInstanceName(inst),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("start producer error: %s", err.Error())
	}
	// Not shut down when the test ends: see newProducer.
	rec := &received{msgs: map[string]*primitive.MessageExt{}}
	heartbeatNow(t, ns.Addr(), inst, topic, rec)

	for i := 0; i < 10; i++ {
		res, err := p.SendMessageInTransaction(context.Background(),
			primitive.NewMessage(topic, []byte("Hello RocketMQ again "+strconv.Itoa(i))))
		if err != nil {
			t.Fatalf("send message error: %s", err)
		}
		if res.Status != primitive.SendOK || res.State != primitive.UnkonwnState || res.TransactionID == "" ||
			res.TransactionID != res.MsgID {
			t.Fatalf("send %d: %s (transactionId %q, msgId %q)", i, res.String(), res.TransactionID, res.MsgID)
		}
	}
	// nextIndex = i+1; state (nextIndex%3)+1: 1 commit, 2 rollback, 3 unknown.
	want := map[string]bool{}
	for i := 0; i < 10; i++ {
		if (i+1)%3 == 0 {
			want["Hello RocketMQ again "+strconv.Itoa(i)] = true
		}
	}
	poll.Within(t, 30*time.Second, "three commits delivered", func() bool { return rec.count() == len(want) })
	poll.Within(t, 30*time.Second, "three unknown transactions discarded", func() bool {
		return b.Store().MaxOffsetInQueue("TRANS_CHECK_MAX_TIME_TOPIC", 0) == 3
	})
	for body := range rec.msgs {
		if !want[body] {
			t.Fatalf("%q delivered; want only %v", body, want)
		}
	}
	info := txInfo(b)
	poll.Until(t, "every decision recorded", func() bool { info = txInfo(b); return info.HalfPending == 0 && info.InFlight == 0 })
	if info.Committed != 3 || info.RolledBack != 4 || info.Discarded != 3 || info.ChecksSent < 10 {
		t.Fatalf("tree: %+v", info)
	}
	for body, n := range storedBodies(t, b, topic, 4) {
		if !want[body] || n != 1 {
			t.Fatalf("%q stored %d times in %s", body, n, topic)
		}
	}
	if b.Logs.Count("without a decision") != 3 {
		t.Fatalf("%d discard log lines", b.Logs.Count("without a decision"))
	}
	// The metrics say the same as the tree.
	for _, m := range []struct {
		name, label string
		want        float64
	}{
		{"sluice_transaction_ended_total", "commit", 3},
		{"sluice_transaction_ended_total", "rollback", 4},
		{"sluice_transaction_discarded_total", "", 3},
		{"sluice_transaction_half_pending", "", 0},
	} {
		if got, ok := metricValue(t, b, m.name, m.label); !ok || got != m.want {
			t.Errorf("%s{%s} = %v (found %v), want %v", m.name, m.label, got, ok, m.want)
		}
	}
}

// metricValue scrapes the broker's metrics registry for one series: the
// family's only one, or the one with a label of that value.
func metricValue(t *testing.T, b *brokertest.Broker, name, label string) (float64, bool) {
	t.Helper()
	mfs, err := metrics.NewRegistry(b.Tree, b.RuntimeInfo).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// A repeated END_TRANSACTION, one-way as producers send it or two-way,
// changes nothing; the other decision afterwards is refused. Sends the
// broker cannot honour are refused: a transactional batch, a half message
// by sysFlag alone.
func TestEndTransactionRepeated(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	c := dial(t, b.Addr())
	const topic = "TxRepeat"
	props := string(message.Append(message.Append(message.Append(nil,
		message.PropertyTransactionPrepared, "true"), message.PropertyProducerGroup, "pg"),
		message.PropertyUniqClientMessageIDKeyIdx, "UNIQ-1"))
	hdr := sendHeader(topic, 1, props)
	hdr["sysFlag"] = strconv.Itoa(int(commitlog.SysFlagTxPrepared))
	resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, hdr, []byte("once")))
	if resp.ResponseCode() != remoting.Success || resp.Ext("queueId") != "1" || resp.Ext("transactionId") != "UNIQ-1" {
		t.Fatalf("half message: %s %q %v", resp.ResponseCode(), resp.Remark, resp.ExtMap())
	}
	phys, err := strconv.ParseInt(resp.Ext("msgId")[16:], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	end := func(kind int32, oneway bool) *remoting.Command {
		req := remoting.NewRequest(remoting.EndTransaction, nil, nil)
		off, _ := strconv.ParseInt(resp.Ext("queueOffset"), 10, 64)
		(&remoting.EndTransactionRequestHeader{ProducerGroup: "pg", TranStateTableOffset: off, CommitLogOffset: phys,
			CommitOrRollback: kind, MsgID: "UNIQ-1", TransactionID: "UNIQ-1"}).Encode(req)
		if oneway {
			if err := c.InvokeOneway(req); err != nil {
				t.Fatal(err)
			}
			return nil
		}
		return invokeCmd(t, c, req)
	}
	end(8, true)
	end(8, true)
	if r := end(8, false); r.ResponseCode() != remoting.Success {
		t.Fatalf("repeated commit: %s %q", r.ResponseCode(), r.Remark)
	}
	if r := end(12, false); r.ResponseCode() != remoting.SystemError || !strings.Contains(r.Remark, "already committed") {
		t.Fatalf("rollback after commit: %s %q", r.ResponseCode(), r.Remark)
	}
	poll.Until(t, "all four ends handled, the commit dispatched", func() bool {
		i := txInfo(b)
		return i.Duplicates == 2 && i.Refused == 1 && messagesIn(b, topic, 4) >= 1 &&
			b.Store().MaxOffsetInQueue("RMQ_SYS_TRANS_OP_HALF_TOPIC", 0) >= 1
	})
	if n := messagesIn(b, topic, 4); n != 1 {
		t.Fatalf("%d messages in %s", n, topic)
	}
	if got := storedBodies(t, b, topic, 4); got["once"] != 1 {
		t.Fatalf("stored %v", got)
	}
	if n := b.Store().MaxOffsetInQueue("RMQ_SYS_TRANS_OP_HALF_TOPIC", 0); n != 1 {
		t.Fatalf("%d op records", n)
	}

	// What cannot be honoured is refused, not stored.
	hdr = sendHeader(topic, 0, "")
	hdr["sysFlag"] = "4"
	if r := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, hdr, []byte("flag only"))); r.ResponseCode() != remoting.MessageIllegal {
		t.Fatalf("prepared sysFlag without TRAN_MSG: %s %q", r.ResponseCode(), r.Remark)
	}
	batch := remoting.AppendBatchItem(nil, remoting.BatchItem{Body: []byte("b"), Properties: []byte(props)})
	bh := sendHeader(topic, 0, "")
	bh["batch"] = "true"
	if r := invokeCmd(t, c, remoting.NewRequest(remoting.SendBatchMessage, v2Header(bh), batch)); r.ResponseCode() != remoting.MessageIllegal {
		t.Fatalf("transactional batch: %s %q", r.ResponseCode(), r.Remark)
	}
	if n := messagesIn(b, topic, 4); n != 1 {
		t.Fatalf("%d messages in %s after the refusals", n, topic)
	}
}

// rejectTransactionMessage=true answers a half message as RocketMQ does.
func TestRejectTransactionMessage(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.RejectTransactionMessage = true
	b := brokertest.Start(t, cfg, supervisor.Options{})
	c := dial(t, b.Addr())
	props := string(message.Append(nil, message.PropertyTransactionPrepared, "true"))
	r := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("TxRejected", 0, props), []byte("half")))
	if r.ResponseCode() != remoting.NoPermission || !strings.Contains(r.Remark, "sending transaction message is forbidden") {
		t.Fatalf("%s %q", r.ResponseCode(), r.Remark)
	}
}

// v2Header turns a SEND_MESSAGE header into SEND_MESSAGE_V2's letters.
func v2Header(v1 map[string]string) map[string]string {
	keys := []string{"producerGroup", "topic", "defaultTopic", "defaultTopicQueueNums", "queueId", "sysFlag",
		"bornTimestamp", "flag", "properties", "reconsumeTimes", "unitMode", "maxReconsumeTimes", "batch"}
	out := map[string]string{}
	for i, k := range keys {
		out[string(rune('a'+i))] = v1[k]
	}
	return out
}

// The producer that sent a half message is gone when the check comes: the
// check goes to another producer of the group, whose answer commits it.
func TestTransactionCheckGoesToAnotherProducer(t *testing.T) {
	ns, b := txCluster(t, func(c *supervisor.Config) { c.TransactionTimeOut = 3000 })
	const topic = "TxFailover"
	createRoutedTopic(t, ns, b, topic)
	group := "tx-" + instance(t)
	newTx := func(l primitive.TransactionListener) (rocketmq.TransactionProducer, string) {
		inst := instance(t)
		p, err := rocketmq.NewTransactionProducer(l, producer.WithNameServer([]string{ns.Addr()}),
			producer.WithGroupName(group), producer.WithInstanceName(inst))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		return p, inst
	}
	connected := func(inst string) bool {
		found := false
		b.Tree().Root.Walk(func(n *tree.Node, _ int) {
			if n.Connection != nil && strings.HasSuffix(n.Connection.ClientID, "@"+inst) {
				found = true
			}
		})
		return found
	}
	// The sender sends at once, so its client knows the broker by its
	// first heartbeat, a second after its start. It is shut down below (its
	// effect is the point), with no consumer in its client to race the
	// client's Shutdown (see newProducer).
	sender, senderInst := newTx(&countingListener{state: primitive.UnkonwnState})
	res, err := sender.SendMessageInTransaction(context.Background(), primitive.NewMessage(topic, []byte("failover")))
	if err != nil || res.Status != primitive.SendOK {
		t.Fatalf("send: %v %v", res, err)
	}
	other := &countingListener{state: primitive.CommitMessageState}
	_, otherInst := newTx(other)
	heartbeatNow(t, ns.Addr(), otherInst, topic, &received{msgs: map[string]*primitive.MessageExt{}})
	poll.Until(t, "both producers heartbeat", func() bool { return connected(senderInst) && connected(otherInst) })
	// The sender goes away before the check; its group lives on in the
	// other producer.
	if err := sender.Shutdown(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the sender's connection closed", func() bool { return !connected(senderInst) })
	poll.Within(t, 30*time.Second, "committed by the other producer", func() bool { return messagesIn(b, topic, 4) == 1 })
	if other.checks.Load() == 0 {
		t.Fatal("the other producer was never asked")
	}
	if got := storedBodies(t, b, topic, 4); got["failover"] != 1 {
		t.Fatalf("stored %v", got)
	}
}

// countingListener leaves local transactions unknown and answers every
// check with state, counting them.
type countingListener struct {
	state  primitive.LocalTransactionState
	checks atomic.Int64
}

func (l *countingListener) ExecuteLocalTransaction(*primitive.Message) primitive.LocalTransactionState {
	return primitive.UnkonwnState
}

func (l *countingListener) CheckLocalTransaction(*primitive.MessageExt) primitive.LocalTransactionState {
	l.checks.Add(1)
	return l.state
}

// actors/transaction is a handler set: request logic over *actors.Request,
// never protoactor, supervisor or cmd (TestImportLayering's rule, for the
// package that list does not name).
func TestTransactionLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/actors/transaction").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var p struct{ Imports []string }
	dec := json.NewDecoder(strings.NewReader(string(out)))
	if err := dec.Decode(&p); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if len(p.Imports) == 0 {
		t.Fatal("no imports listed")
	}
	for _, imp := range p.Imports {
		if under(imp, "github.com/asynkron/protoactor-go") || under(imp, module+"/supervisor") || under(imp, module+"/cmd") {
			t.Errorf("actors/transaction imports %s", imp)
		}
	}
}
