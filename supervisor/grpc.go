package supervisor

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/sluice-mq/sluice/actors/grpcfront"
)

// openGRPC starts the gRPC front (RocketMQ 5 clients) on grpcServerPort
// with the same routes, gate and draining flag as the remoting port, and
// the same TLS modes (its connections go through the same wrapper).
func (b *Broker) openGRPC() error {
	if b.cfg.GRPCServerPort == 0 {
		return nil
	}
	addr := net.JoinHostPort(b.cfg.BindAddress, strconv.Itoa(b.cfg.GRPCServerPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("grpc: listen on %s: %w", addr, err)
	}
	var wrapped net.Listener = ln
	if w := b.tls.wrapConn(); w != nil {
		wrapped = &wrapListener{Listener: ln, wrap: w}
	}
	opts := grpcfront.Options{
		Routes:         b.routes,
		Draining:       &b.draining,
		Topic:          b.grpcTopic,
		ClusterName:    b.cfg.BrokerClusterName,
		BrokerName:     b.cfg.BrokerName,
		BrokerID:       b.cfg.BrokerID,
		MaxMessageSize: b.cfg.Store.MaxMessageSize,
		Log:            b.log,
	}
	// gRPC producers join their topics' producer groups, so the
	// transaction check reaches them over their telemetry streams.
	opts.RegisterProducer = func(ch *grpcfront.ProducerChannel, clientID, group string) {
		b.svc.meta.Producers.Register(ch, clientID, "GRPC", 0, group)
	}
	opts.UnregisterProducer = func(ch *grpcfront.ProducerChannel) { b.svc.meta.Producers.ChannelClosed(ch) }
	if b.acl != nil {
		opts.Gate = b.gate
		opts.Secret = b.acl.SecretOf
	}
	b.grpc = grpcfront.New(wrapped, opts)
	go func() {
		if err := b.grpc.Serve(); err != nil {
			b.log.Error().Err(err).Msg("grpc: serve")
		}
	}()
	b.log.Info().Str("addr", ln.Addr().String()).Int("grpcServerPort", ln.Addr().(*net.TCPAddr).Port).
		Msg("gRPC front (RocketMQ 5 clients) listening")
	return nil
}

// GRPCAddr is the gRPC front's address, "" when it is off.
func (b *Broker) GRPCAddr() string {
	if b.grpc == nil {
		return ""
	}
	return b.grpc.Addr().String()
}

func (b *Broker) stopGRPC() {
	if b.grpc != nil {
		b.grpc.Stop(2 * time.Second)
	}
}

// grpcTopic describes a topic for QueryRoute. An unknown topic with
// autoCreateTopicEnable is routed with the default queue count, as a 4.x
// client routes by TBW102: its first send creates it.
func (b *Broker) grpcTopic(topic string) (grpcfront.TopicRoute, bool) {
	tc, ok := b.svc.meta.Topics.Select(topic)
	if !ok {
		if !b.cfg.AutoCreateTopicEnable {
			return grpcfront.TopicRoute{}, false
		}
		n := b.cfg.DefaultTopicQueueNums
		return grpcfront.TopicRoute{ReadQueues: n, WriteQueues: n, Perm: 6}, true
	}
	mt := tc.Attributes["message.type"]
	if mt == "" {
		mt = tc.Attributes["+message.type"]
	}
	return grpcfront.TopicRoute{ReadQueues: tc.ReadQueueNums, WriteQueues: tc.WriteQueueNums, Perm: tc.Perm, MessageType: mt}, true
}

// wrapListener wraps each accepted connection (TLS detection).
type wrapListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l *wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}
