package grpcfront

import (
	"errors"
	"fmt"
	"sync"

	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	pb "github.com/sluice-mq/sluice/remoting/rmqv2"
)

// ProducerChannel is a gRPC producer as the broker's producer manager
// sees it (metadata.Channel and the transaction check's channel): the
// check's CHECK_TRANSACTION_STATE is sent on the client's telemetry
// stream as a RecoverOrphanedTransactionCommand, as the proxy does.
type ProducerChannel struct {
	s        *Server
	clientID string
	mu       sync.Mutex // serializes sends on the stream
	se       *session
	closed   bool
}

// ID identifies the channel (the client id; one stream per client).
func (c *ProducerChannel) ID() string { return "grpc:" + c.clientID }

// Notify is for consumers; a producer has nothing to rebalance.
func (c *ProducerChannel) Notify(string) {}

// Closed reports whether the client's telemetry stream has ended.
func (c *ProducerChannel) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

var errNotCheck = errors.New("grpc producer channel: only CHECK_TRANSACTION_STATE is sent to gRPC producers")

// Send translates CHECK_TRANSACTION_STATE; the half message's offsets are
// remembered so the client's EndTransaction (source SERVER_CHECK) finds
// them.
func (c *ProducerChannel) Send(cmd *remoting.Command) error {
	if cmd.RequestCode() != remoting.CheckTransactionState {
		return errNotCheck
	}
	h, err := remoting.DecodeCheckTransactionStateRequestHeader(cmd)
	if err != nil {
		return fmt.Errorf("check transaction state: %w", err)
	}
	sm, err := commitlog.DecodeRecord(cmd.Body)
	if err != nil {
		return fmt.Errorf("check transaction state: the half message: %w", err)
	}
	topic := message.Get(sm.Properties, "REAL_TOPIC")
	if topic == "" {
		topic = sm.Topic
	}
	txID := h.TransactionID
	if txID == "" {
		txID = h.MsgID
	}
	c.s.txs.put(txID, halfMessage{group: message.Get(sm.Properties, message.PropertyProducerGroup), topic: topic,
		msgID: message.Get(sm.Properties, message.PropertyUniqClientMessageIDKeyIdx), queueOffset: h.TranStateTableOffset,
		commitLogOffset: h.CommitLogOffset})
	m := c.s.toProto(topic, &sm, "", 0)
	m.SystemProperties.ReceiptHandle, m.SystemProperties.InvisibleDuration = nil, nil
	m.SystemProperties.MessageType = pb.MessageType_TRANSACTION
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.se.stream == nil {
		return errors.New("grpc producer channel: the telemetry stream is closed")
	}
	return c.se.stream.Send(&pb.TelemetryCommand{Command: &pb.TelemetryCommand_RecoverOrphanedTransactionCommand{
		RecoverOrphanedTransactionCommand: &pb.RecoverOrphanedTransactionCommand{Message: m, TransactionId: txID}}})
}
