package supervisor_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// A feature Sluice does not implement yet is refused with a clear answer,
// through the unmodified Go client, and nothing is stored: never SEND_OK
// for a message that would then be treated as something else.
func TestUnhonouredSendsAreRefused(t *testing.T) {
	// rejectTransactionMessage=true: RocketMQ's own refusal of half
	// messages (they are honoured otherwise, see transaction_test.go).
	ns, b := startCluster(t, func(c *supervisor.Config) { c.RejectTransactionMessage = true })
	const topic = "RefusedTopic"
	stored := func() (n int64) {
		for q := int32(0); q < 8; q++ {
			n += b.Store().MaxOffsetInQueue(topic, q)
		}
		return n
	}
	p := newProducer(t, ns.Addr())
	if res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("plain"))); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("plain send: %v %v", res, err)
	}

	// Timer messages are honoured (timer_test.go), but not in a batch:
	// they would be stored and delivered at once.
	timer := primitive.NewMessage(topic, []byte("timer"))
	timer.WithProperty("TIMER_DELAY_SEC", "5")
	if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("batch-plain")), timer); err == nil || !strings.Contains(err.Error(), "TIMER_DELAY_SEC=5") {
		t.Fatalf("batch with a timer message: err = %v, want a refusal naming TIMER_DELAY_SEC", err)
	}

	inner := primitive.NewMessage(topic, []byte("batch-delayed"))
	inner.WithDelayTimeLevel(1)
	if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("batch-plain")), inner); err == nil || !strings.Contains(err.Error(), "CODE: 13") {
		t.Fatalf("batch with a delayed message: err = %v, want MESSAGE_ILLEGAL", err)
	}

	tp, err := rocketmq.NewTransactionProducer(committer{},
		producer.WithNameServer([]string{ns.Addr()}), producer.WithGroupName("tx-"+instance(t)), producer.WithInstanceName(instance(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	// Not shut down when the test ends: see newProducer.
	_, err = tp.SendMessageInTransaction(context.Background(), primitive.NewMessage(topic, []byte("half")))
	if err == nil || !strings.Contains(err.Error(), "CODE: 16") || !strings.Contains(err.Error(), "sending transaction message is forbidden") {
		t.Fatalf("transactional send: err = %v, want NO_PERMISSION as rejectTransactionMessage=true answers", err)
	}

	// A half message by sysFlag alone (no TRAN_MSG) would be kept out of
	// the consume queues: refused too.
	c := dial(t, b.Addr())
	hdr := sendHeader(topic, 0, "")
	hdr["sysFlag"] = strconv.Itoa(0x4)
	if resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, hdr, []byte("half by flag"))); resp.ResponseCode() != remoting.NoPermission {
		t.Fatalf("prepared sysFlag: %s %q", resp.ResponseCode(), resp.Remark)
	}
	// DELAY=0 asks for nothing.
	if resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, string(message.Append(nil, "DELAY", "0"))), []byte("level 0"))); resp.ResponseCode() != remoting.Success {
		t.Fatalf("DELAY=0: %s %q", resp.ResponseCode(), resp.Remark)
	}

	// Dispatch to the consume queues is asynchronous: wait for the two
	// accepted messages, then nothing else may be there.
	poll.Until(t, "the two accepted messages dispatched", func() bool { return stored() >= 2 })
	if n := stored(); n != 2 {
		t.Fatalf("%d messages stored, want the plain one and the DELAY=0 one", n)
	}
	if b.Logs.Count("send refused") == 0 {
		t.Fatal("no log line for the refused sends")
	}
}

// committer commits every local transaction; the broker refuses the half
// message before it is consulted.
type committer struct{}

func (committer) ExecuteLocalTransaction(*primitive.Message) primitive.LocalTransactionState {
	return primitive.CommitMessageState
}

func (committer) CheckLocalTransaction(*primitive.MessageExt) primitive.LocalTransactionState {
	return primitive.CommitMessageState
}
