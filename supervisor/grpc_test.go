package supervisor_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
	pb "github.com/sluice-mq/sluice/remoting/rmqv2"
	"github.com/sluice-mq/sluice/remoting/tlshelper"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// grpcFront is the gRPC front's node in the broker's tree.
func grpcFront(t *testing.T, b *brokertest.Broker) *tree.FrontInfo {
	t.Helper()
	for _, n := range b.Tree().Root.Children {
		if n.Kind == tree.KindFront && n.Front != nil && n.Front.Front == "grpc" {
			return n.Front
		}
	}
	t.Fatal("no gRPC front in the tree")
	return nil
}

// grpcClient dials the front with a Go client built from the same protos.
func grpcClient(t testing.TB, b *brokertest.Broker) pb.MessagingServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(b.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return pb.NewMessagingServiceClient(cc)
}

func grpcCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "x-mq-client-id", "go-test-client", "x-mq-protocol", "v2")
}

func wantCode(t *testing.T, what string, st *pb.Status, code pb.Code) {
	t.Helper()
	if st.GetCode() != code {
		t.Errorf("%s: got %s %q, want %s", what, st.GetCode(), st.GetMessage(), code)
	}
}

func goodMessage(topic, id string) *pb.Message {
	return &pb.Message{Topic: &pb.Resource{Name: topic}, Body: []byte("b"),
		SystemProperties: &pb.SystemProperties{MessageId: id, MessageType: pb.MessageType_NORMAL, BornTimestamp: timestamppb.Now()}}
}

// Every RPC's error paths, through a Go gRPC client built from the same
// protos: each wrong request gets the proxy's status, never silence.
func TestGRPCErrorPaths(t *testing.T) {
	b := startGRPCBroker(t, func(c *supervisor.Config) { c.AutoCreateTopicEnable = false })
	createTopic(t, b.Addr(), "GrpcErrTopic", 4)
	c := grpcClient(t, b)
	ctx := grpcCtx(t)
	bare, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// QueryRoute: empty and unknown topics.
	r, err := c.QueryRoute(ctx, &pb.QueryRouteRequest{Topic: &pb.Resource{}})
	must(t, err)
	wantCode(t, "QueryRoute empty topic", r.Status, pb.Code_ILLEGAL_TOPIC)
	r, err = c.QueryRoute(ctx, &pb.QueryRouteRequest{Topic: &pb.Resource{Name: "NoSuchTopic"}})
	must(t, err)
	wantCode(t, "QueryRoute unknown topic", r.Status, pb.Code_TOPIC_NOT_FOUND)
	// A known topic: this broker, at the address dialled, with its queues.
	r, err = c.QueryRoute(ctx, &pb.QueryRouteRequest{Topic: &pb.Resource{Name: "GrpcErrTopic"}})
	must(t, err)
	wantCode(t, "QueryRoute GrpcErrTopic", r.Status, pb.Code_OK)
	if len(r.MessageQueues) == 0 || r.MessageQueues[0].Broker.GetEndpoints().GetAddresses()[0].GetHost() != "127.0.0.1" {
		t.Errorf("QueryRoute GrpcErrTopic: %v", r.MessageQueues)
	}

	// Heartbeat: no client id, no client type.
	h, err := c.Heartbeat(bare, &pb.HeartbeatRequest{ClientType: pb.ClientType_PRODUCER})
	must(t, err)
	wantCode(t, "Heartbeat without client id", h.Status, pb.Code_CLIENT_ID_REQUIRED)
	h, err = c.Heartbeat(ctx, &pb.HeartbeatRequest{})
	must(t, err)
	wantCode(t, "Heartbeat without client type", h.Status, pb.Code_UNRECOGNIZED_CLIENT_TYPE)

	// SendMessage: none, unknown topic, no id, empty body, reserved property,
	// bad tag, delivery time too far.
	s, err := c.SendMessage(ctx, &pb.SendMessageRequest{})
	must(t, err)
	wantCode(t, "SendMessage no message", s.Status, pb.Code_BAD_REQUEST)
	s, err = c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{goodMessage("NoSuchTopic", "id1")}})
	must(t, err)
	wantCode(t, "SendMessage unknown topic", s.Status, pb.Code_TOPIC_NOT_FOUND)
	m := goodMessage("GrpcErrTopic", "")
	s, err = c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{m}})
	must(t, err)
	wantCode(t, "SendMessage without id", s.Status, pb.Code_ILLEGAL_MESSAGE_ID)
	m = goodMessage("GrpcErrTopic", "id2")
	m.Body = nil
	s, err = c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{m}})
	must(t, err)
	wantCode(t, "SendMessage empty body", s.Status, pb.Code_MESSAGE_BODY_EMPTY)
	m = goodMessage("GrpcErrTopic", "id3")
	m.UserProperties = map[string]string{"UNIQ_KEY": "x"}
	s, err = c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{m}})
	must(t, err)
	wantCode(t, "SendMessage reserved property", s.Status, pb.Code_ILLEGAL_MESSAGE_PROPERTY_KEY)
	m = goodMessage("GrpcErrTopic", "id4")
	tag := "a|b"
	m.SystemProperties.Tag = &tag
	s, err = c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{m}})
	must(t, err)
	wantCode(t, "SendMessage bad tag", s.Status, pb.Code_ILLEGAL_MESSAGE_TAG)
	m = goodMessage("GrpcErrTopic", "id5")
	m.SystemProperties.DeliveryTimestamp = timestamppb.New(time.Now().Add(48 * time.Hour))
	s, err = c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{m}})
	must(t, err)
	wantCode(t, "SendMessage delivery too far", s.Status, pb.Code_ILLEGAL_DELIVERY_TIME)

	// A topic of type FIFO refuses a normal message with the proxy's code.
	fifo := remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{"topic": "GrpcFifoTopic", "defaultTopic": "TBW102",
		"readQueueNums": "2", "writeQueueNums": "2", "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false",
		"attributes": "+message.type=FIFO"}, nil)
	if resp := invokeCmd(t, dial(t, b.Addr()), fifo); resp.ResponseCode() != remoting.Success {
		t.Fatalf("create FIFO topic: %s %q", resp.ResponseCode(), resp.Remark)
	}
	s, err = c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{goodMessage("GrpcFifoTopic", "id6")}})
	must(t, err)
	wantCode(t, "SendMessage normal to a FIFO topic", s.Status, pb.Code_MESSAGE_PROPERTY_CONFLICT_WITH_TYPE)

	// EndTransaction: no resolution, unknown transaction.
	e, err := c.EndTransaction(ctx, &pb.EndTransactionRequest{TransactionId: "nope"})
	must(t, err)
	wantCode(t, "EndTransaction no resolution", e.Status, pb.Code_BAD_REQUEST)
	e, err = c.EndTransaction(ctx, &pb.EndTransactionRequest{TransactionId: "nope", Resolution: pb.TransactionResolution_COMMIT})
	must(t, err)
	wantCode(t, "EndTransaction unknown id", e.Status, pb.Code_INVALID_TRANSACTION_ID)

	// QueryAssignment unknown topic; NotifyClientTermination without id.
	qa, err := c.QueryAssignment(ctx, &pb.QueryAssignmentRequest{Topic: &pb.Resource{Name: "NoSuchTopic"}})
	must(t, err)
	wantCode(t, "QueryAssignment unknown topic", qa.Status, pb.Code_TOPIC_NOT_FOUND)
	n, err := c.NotifyClientTermination(bare, &pb.NotifyClientTerminationRequest{})
	must(t, err)
	wantCode(t, "NotifyClientTermination without id", n.Status, pb.Code_CLIENT_ID_REQUIRED)

	// Telemetry: settings of no known client type; a producer's settings
	// come back with the server's backoff policy and body limit.
	tel, err := c.Telemetry(ctx)
	must(t, err)
	must(t, tel.Send(&pb.TelemetryCommand{Command: &pb.TelemetryCommand_Settings{Settings: &pb.Settings{}}}))
	got, err := tel.Recv()
	must(t, err)
	wantCode(t, "Telemetry no client type", got.Status, pb.Code_UNRECOGNIZED_CLIENT_TYPE)
	ct := pb.ClientType_PRODUCER
	must(t, tel.Send(&pb.TelemetryCommand{Command: &pb.TelemetryCommand_Settings{Settings: &pb.Settings{ClientType: &ct,
		PubSub: &pb.Settings_Publishing{Publishing: &pb.Publishing{}}}}}))
	got, err = tel.Recv()
	must(t, err)
	wantCode(t, "Telemetry producer settings", got.Status, pb.Code_OK)
	st := got.GetSettings()
	if st.GetBackoffPolicy().GetMaxAttempts() != 3 || st.GetBackoffPolicy().GetExponentialBackoff() == nil ||
		st.GetPublishing().GetMaxBodySize() <= 0 || st.GetRequestTimeout() == nil {
		t.Errorf("server settings: %v", st)
	}
	_ = tel.CloseSend()

	// Consumption: no group, bad batch, bad invisible time, malformed
	// and unknown receipt handles.
	grp := &pb.Resource{Name: "GID_err"}
	top := &pb.Resource{Name: "GrpcErrTopic"}
	recv := func(what string, req *pb.ReceiveMessageRequest, code pb.Code) {
		t.Helper()
		rs, err := c.ReceiveMessage(ctx, req)
		must(t, err)
		first, err := rs.Recv()
		must(t, err)
		wantCode(t, what, first.GetStatus(), code)
	}
	recv("ReceiveMessage no group", &pb.ReceiveMessageRequest{MessageQueue: &pb.MessageQueue{Topic: top}}, pb.Code_ILLEGAL_CONSUMER_GROUP)
	recv("ReceiveMessage batch 0", &pb.ReceiveMessageRequest{Group: grp, MessageQueue: &pb.MessageQueue{Topic: top}}, pb.Code_BAD_REQUEST)
	recv("ReceiveMessage no invisible time", &pb.ReceiveMessageRequest{Group: grp, MessageQueue: &pb.MessageQueue{Topic: top}, BatchSize: 1}, pb.Code_ILLEGAL_INVISIBLE_TIME)
	recv("ReceiveMessage nothing there", &pb.ReceiveMessageRequest{Group: grp, MessageQueue: &pb.MessageQueue{Topic: top}, BatchSize: 1,
		InvisibleDuration: durationpb.New(5 * time.Second)}, pb.Code_MESSAGE_NOT_FOUND)
	ack, err := c.AckMessage(ctx, &pb.AckMessageRequest{Group: grp, Topic: top})
	must(t, err)
	wantCode(t, "AckMessage no entry", ack.Status, pb.Code_BAD_REQUEST)
	ack, err = c.AckMessage(ctx, &pb.AckMessageRequest{Group: grp, Topic: top, Entries: []*pb.AckMessageEntry{{MessageId: "x", ReceiptHandle: "junk"}}})
	must(t, err)
	wantCode(t, "AckMessage malformed handle", ack.Status, pb.Code_INVALID_RECEIPT_HANDLE)
	ci, err := c.ChangeInvisibleDuration(ctx, &pb.ChangeInvisibleDurationRequest{Group: grp, Topic: top, ReceiptHandle: "junk"})
	must(t, err)
	wantCode(t, "ChangeInvisibleDuration no duration", ci.Status, pb.Code_ILLEGAL_INVISIBLE_TIME)
	ci, err = c.ChangeInvisibleDuration(ctx, &pb.ChangeInvisibleDurationRequest{Group: grp, Topic: top, ReceiptHandle: "junk",
		InvisibleDuration: durationpb.New(5 * time.Second)})
	must(t, err)
	wantCode(t, "ChangeInvisibleDuration malformed handle", ci.Status, pb.Code_INVALID_RECEIPT_HANDLE)
	fw, err := c.ForwardMessageToDeadLetterQueue(ctx, &pb.ForwardMessageToDeadLetterQueueRequest{Group: grp, Topic: top, ReceiptHandle: "junk"})
	must(t, err)
	wantCode(t, "ForwardMessageToDeadLetterQueue malformed handle", fw.Status, pb.Code_INVALID_RECEIPT_HANDLE)

	// The RPCs Sluice does not serve answer NOT_IMPLEMENTED naming the RPC.
	rec, err := c.RecallMessage(ctx, &pb.RecallMessageRequest{})
	must(t, err)
	if rec.Status.GetMessage() != "RecallMessage is not implemented by Sluice" {
		t.Errorf("RecallMessage refusal does not name the RPC: %q", rec.Status.GetMessage())
	}
	for _, call := range []func() (*pb.Status, error){
		func() (*pb.Status, error) {
			r, err := c.UpdateOffset(ctx, &pb.UpdateOffsetRequest{})
			return r.GetStatus(), err
		},
		func() (*pb.Status, error) {
			r, err := c.GetOffset(ctx, &pb.GetOffsetRequest{})
			return r.GetStatus(), err
		},
		func() (*pb.Status, error) {
			r, err := c.QueryOffset(ctx, &pb.QueryOffsetRequest{})
			return r.GetStatus(), err
		},
		func() (*pb.Status, error) {
			r, err := c.RecallMessage(ctx, &pb.RecallMessageRequest{})
			return r.GetStatus(), err
		},
	} {
		st, err := call()
		must(t, err)
		wantCode(t, "refused RPC", st, pb.Code_NOT_IMPLEMENTED)
	}
	if n := b.Logs.Count("grpc: refused: RPC not implemented by Sluice"); n < 5 {
		t.Errorf("refusals logged %d times, want one per refused call", n)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ForwardMessageToDeadLetterQueue through a Go gRPC client: a received
// message forwarded goes to %DLQ%group (read back with the remoting
// client) and is not redelivered.
func TestGRPCForwardToDeadLetterQueue(t *testing.T) {
	b := startGRPCBroker(t, nil)
	createTopic(t, b.Addr(), "GrpcDlqTopic", 1)
	c := grpcClient(t, b)
	ctx := grpcCtx(t)
	m := goodMessage("GrpcDlqTopic", "dlq-1")
	m.Body = []byte("to-the-dlq")
	s, err := c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{m}})
	must(t, err)
	wantCode(t, "send", s.Status, pb.Code_OK)
	grp := &pb.Resource{Name: "GID_grpc_dlq"}
	receive := func() []*pb.Message {
		rs, err := c.ReceiveMessage(ctx, &pb.ReceiveMessageRequest{Group: grp, MessageQueue: &pb.MessageQueue{Topic: &pb.Resource{Name: "GrpcDlqTopic"}},
			BatchSize: 8, InvisibleDuration: durationpb.New(time.Second), LongPollingTimeout: durationpb.New(time.Second)})
		must(t, err)
		var got []*pb.Message
		for {
			r, err := rs.Recv()
			if err != nil {
				return got
			}
			if msg := r.GetMessage(); msg != nil {
				got = append(got, msg)
			}
		}
	}
	got := receive()
	if len(got) != 1 || string(got[0].Body) != "to-the-dlq" || got[0].GetSystemProperties().GetMessageId() != "dlq-1" {
		t.Fatalf("received %v", got)
	}
	fw, err := c.ForwardMessageToDeadLetterQueue(ctx, &pb.ForwardMessageToDeadLetterQueueRequest{Group: grp, Topic: &pb.Resource{Name: "GrpcDlqTopic"},
		ReceiptHandle: got[0].GetSystemProperties().GetReceiptHandle(), MessageId: "dlq-1", DeliveryAttempt: 1, MaxDeliveryAttempts: 16})
	must(t, err)
	wantCode(t, "forward", fw.Status, pb.Code_OK)
	rc := dial(t, b.Addr())
	poll.Until(t, "the message is in the DLQ", func() bool {
		return slices.Contains(pullAll(t, rc, "%DLQ%GID_grpc_dlq", 0), "to-the-dlq")
	})
	// Past the 1 s invisible time it must not come back.
	time.Sleep(1500 * time.Millisecond)
	if again := receive(); len(again) != 0 {
		t.Errorf("a forwarded message was redelivered: %v", again)
	}
}

// signed adds RocketMQ 5's credentials to ctx as the clients do:
// authorization "MQv2-HMAC-SHA1 Credential=<ak>, SignedHeaders=x-mq-date-time,
// Signature=<HEX(HmacSHA1(secret, x-mq-date-time))>".
func signed(ctx context.Context, ak, secret string) context.Context {
	date := time.Now().UTC().Format("20060102T150405Z")
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(date))
	sig := strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
	return metadata.AppendToOutgoingContext(ctx, "x-mq-date-time", date,
		"authorization", "MQv2-HMAC-SHA1 Credential="+ak+", SignedHeaders=x-mq-date-time, Signature="+sig)
}

// With aclEnable the gRPC front verifies the authorization header against
// the plain ACL's accounts and signs the translated request with the
// account, so the same PlainAccessValidator checks its permissions; the
// Node.js client with sessionCredentials sends through it.
func TestGRPCACL(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "conf", "plain_acl.yml"), []byte(aclTestFile), 0o600); err != nil {
		t.Fatal(err)
	}
	b := startGRPCBroker(t, func(c *supervisor.Config) { c.AclEnable, c.RocketmqHome = true, home })
	create := remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{"topic": "AclTopic", "defaultTopic": "TBW102",
		"readQueueNums": "4", "writeQueueNums": "4", "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}, nil)
	if resp := aclInvoke(t, b.Addr(), &adminCreds, create); resp.ResponseCode() != remoting.Success {
		t.Fatalf("create AclTopic: %s %q", resp.ResponseCode(), resp.Remark)
	}
	c := grpcClient(t, b)
	send := func(ctx context.Context, topic string) (*pb.SendMessageResponse, error) {
		return c.SendMessage(ctx, &pb.SendMessageRequest{Messages: []*pb.Message{goodMessage(topic, "acl-"+topic)}})
	}
	for what, ctx := range map[string]context.Context{
		"no credentials": grpcCtx(t),
		"wrong secret":   signed(grpcCtx(t), "producerAK", "wrong"),
		"unknown key":    signed(grpcCtx(t), "nobody", "x"),
	} {
		_, err := send(ctx, "AclTopic")
		if grpcstatus.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: got %v, want Unauthenticated", what, err)
		}
	}
	resp, err := send(signed(grpcCtx(t), "producerAK", "producerSK1"), "AclTopic")
	must(t, err)
	wantCode(t, "producerAK to AclTopic", resp.Status, pb.Code_OK)
	resp, err = send(signed(grpcCtx(t), "consumerAK", "consumerSK1"), "AclTopic")
	must(t, err)
	wantCode(t, "consumerAK (SUB only) to AclTopic", resp.Status, pb.Code_FORBIDDEN)

	p := runNodeProducer(t, b, []string{"AclTopic"}, []nodeStep{{Name: "acl", Topic: "AclTopic", Body: "from-node-with-credentials"}},
		map[string]any{"accessKey": "producerAK", "secretKey": "producerSK1"})
	if r := p.next(t); !r.OK {
		t.Fatalf("Node.js send with credentials: %+v", r)
	}
}

// The gRPC front takes the remoting port's TLS modes: permissive serves
// TLS and plaintext gRPC clients alike, enforcing refuses plaintext.
func TestGRPCTLSModes(t *testing.T) {
	pki := brokertest.NewPKI(t)
	route := func(cc *grpc.ClientConn) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := pb.NewMessagingServiceClient(cc).QueryRoute(ctx, &pb.QueryRouteRequest{Topic: &pb.Resource{Name: "TBW102"}})
		return err
	}
	dialWith := func(b *brokertest.Broker, creds credentials.TransportCredentials) *grpc.ClientConn {
		cc, err := grpc.NewClient(b.GRPCAddr(), grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		return cc
	}
	tlsCreds := credentials.NewTLS(pki.Verifying())
	perm := startGRPCBroker(t, func(c *supervisor.Config) { c.TLS = pki.Server(tlshelper.Permissive) })
	must(t, route(dialWith(perm, tlsCreds)))
	must(t, route(dialWith(perm, insecure.NewCredentials())))
	enf := startGRPCBroker(t, func(c *supervisor.Config) { c.TLS = pki.Server(tlshelper.Enforcing) })
	must(t, route(dialWith(enf, tlsCreds)))
	if err := route(dialWith(enf, insecure.NewCredentials())); err == nil {
		t.Error("enforcing TLS served a plaintext gRPC client")
	}
}
