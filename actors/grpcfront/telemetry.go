package grpcfront

import (
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/sluice-mq/sluice/remoting/rmqv2"
)

// session is one client's state: its group and type from heartbeats and
// settings, and its telemetry stream while one is open.
type session struct {
	group      string
	clientType pb.ClientType
	lastSeen   time.Time
	stream     grpc.BidiStreamingServer[pb.TelemetryCommand, pb.TelemetryCommand]
	// producer is the session's channel for transaction checks (nil for
	// consumers); topics are the producer's publishing topics.
	producer *ProducerChannel
	topics   []string
}

// maxSessions bounds the table: a client id past it is served but not
// remembered (its telemetry still answers).
const maxSessions = 65536

func (s *Server) touch(clientID, group string, t pb.ClientType) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.sessions[clientID]
	if !ok {
		if len(s.sessions) >= maxSessions {
			return
		}
		se = &session{}
		s.sessions[clientID] = se
	}
	if group != "" {
		se.group = group
	}
	if t != pb.ClientType_CLIENT_TYPE_UNSPECIFIED {
		se.clientType = t
	}
	se.lastSeen = time.Now()
}

// registerProducer (re)registers a producer session's channel for each
// of its topics' producer groups.
func (s *Server) registerProducer(clientID string, se *session) {
	if s.opts.RegisterProducer == nil {
		return
	}
	s.mu.Lock()
	ch, topics := se.producer, append([]string(nil), se.topics...)
	s.mu.Unlock()
	if ch == nil {
		return
	}
	for _, t := range topics {
		s.opts.RegisterProducer(ch, clientID, producerGroupOf(t))
	}
}

func (s *Server) forget(clientID string) {
	s.mu.Lock()
	delete(s.sessions, clientID)
	s.mu.Unlock()
}

// Telemetry is the settings stream: each Settings the client sends is
// answered with the server's settings merged in, as the proxy's
// ClientActivity does (backoff policy, request timeout, publishing's
// body limit, subscription's receive batch and long-polling limits).
func (s *Server) Telemetry(ss grpc.BidiStreamingServer[pb.TelemetryCommand, pb.TelemetryCommand]) error {
	s.stats.Requests[rpcTelemetry].Add(1)
	c := callOf(ss.Context())
	if c.clientID == "" {
		return ss.Send(&pb.TelemetryCommand{Status: status(pb.Code_CLIENT_ID_REQUIRED, "x-mq-client-id header is required")})
	}
	defer func() {
		s.mu.Lock()
		se, ok := s.sessions[c.clientID]
		ok = ok && se.stream == ss
		if ok {
			if se.producer != nil {
				se.producer.mu.Lock()
				se.stream, se.producer.closed = nil, true
				se.producer.mu.Unlock()
			} else {
				se.stream = nil
			}
		}
		s.mu.Unlock()
		if ok && se.producer != nil && s.opts.UnregisterProducer != nil {
			s.opts.UnregisterProducer(se.producer)
		}
	}()
	// The transaction check sends on this stream too (ProducerChannel):
	// one sender at a time.
	send := func(cmd *pb.TelemetryCommand) error {
		s.mu.Lock()
		var p *ProducerChannel
		if se, ok := s.sessions[c.clientID]; ok {
			p = se.producer
		}
		s.mu.Unlock()
		if p != nil {
			p.mu.Lock()
			defer p.mu.Unlock()
		}
		return ss.Send(cmd)
	}
	for {
		cmd, err := ss.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch x := cmd.GetCommand().(type) {
		case *pb.TelemetryCommand_Settings:
			st := x.Settings
			group := ""
			if sub := st.GetSubscription(); sub != nil {
				group = sub.GetGroup().GetName()
			}
			s.touch(c.clientID, group, st.GetClientType())
			s.mu.Lock()
			se, ok := s.sessions[c.clientID]
			if ok {
				if se.producer == nil && st.GetClientType() == pb.ClientType_PRODUCER {
					se.producer = &ProducerChannel{s: s, clientID: c.clientID, se: se}
				}
				if se.producer != nil {
					se.producer.mu.Lock()
					se.stream, se.producer.closed = ss, false
					se.producer.mu.Unlock()
				} else {
					se.stream = ss
				}
				se.topics = se.topics[:0]
				for _, r := range st.GetPublishing().GetTopics() {
					se.topics = append(se.topics, r.GetName())
				}
			}
			s.mu.Unlock()
			if ok {
				s.registerProducer(c.clientID, se)
			}
			out, bad := s.serverSettings(st)
			if bad != nil {
				if err := send(&pb.TelemetryCommand{Status: bad}); err != nil {
					return err
				}
				continue
			}
			if err := send(&pb.TelemetryCommand{Status: okStatus(), Command: &pb.TelemetryCommand_Settings{Settings: out}}); err != nil {
				return err
			}
		case *pb.TelemetryCommand_ThreadStackTrace, *pb.TelemetryCommand_VerifyMessageResult:
			// Answers to commands this broker never sends: nothing to do.
		default:
			if err := send(&pb.TelemetryCommand{Status: status(pb.Code_NOT_IMPLEMENTED, "telemetry command %T is not implemented by Sluice", x)}); err != nil {
				return err
			}
		}
	}
}

// The proxy's defaults (ProxyConfig): producers retry 3 times with an
// exponential backoff of 10 ms ×2 up to 1 s; consumers back off by the
// 4.x delay levels 1s 5s 10s 30s 1m 2m ... 2h; a receive takes at most 32
// messages and polls at most 20 s; requests time out after 3 s.
var consumerBackoff = []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
	2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute, 6 * time.Minute, 7 * time.Minute, 8 * time.Minute,
	9 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour}

const (
	producerMaxAttempts  = 3
	consumerMaxAttempts  = 17
	receiveBatchSize     = 32
	longPollingTimeout   = 20 * time.Second
	defaultRequestTimout = 3 * time.Second
)

func (s *Server) serverSettings(in *pb.Settings) (*pb.Settings, *pb.Status) {
	out := proto.Clone(in).(*pb.Settings)
	if out.RequestTimeout == nil {
		out.RequestTimeout = durationpb.New(defaultRequestTimout)
	}
	switch in.GetClientType() {
	case pb.ClientType_PRODUCER:
		out.BackoffPolicy = &pb.RetryPolicy{MaxAttempts: producerMaxAttempts, Strategy: &pb.RetryPolicy_ExponentialBackoff{
			ExponentialBackoff: &pb.ExponentialBackoff{Initial: durMillis(10), Max: durMillis(1000), Multiplier: 2}}}
		pub := in.GetPublishing()
		if pub == nil {
			return nil, status(pb.Code_BAD_REQUEST, "producer settings carry no publishing")
		}
		p := proto.Clone(pub).(*pb.Publishing)
		p.MaxBodySize = int32(s.opts.MaxMessageSize)
		p.ValidateMessageType = true
		out.PubSub = &pb.Settings_Publishing{Publishing: p}
	case pb.ClientType_SIMPLE_CONSUMER, pb.ClientType_PUSH_CONSUMER:
		next := make([]*durationpb.Duration, len(consumerBackoff))
		for i, d := range consumerBackoff {
			next[i] = durationpb.New(d)
		}
		out.BackoffPolicy = &pb.RetryPolicy{MaxAttempts: consumerMaxAttempts, Strategy: &pb.RetryPolicy_CustomizedBackoff{
			CustomizedBackoff: &pb.CustomizedBackoff{Next: next}}}
		sub := in.GetSubscription()
		if sub == nil {
			return nil, status(pb.Code_BAD_REQUEST, "consumer settings carry no subscription")
		}
		c := proto.Clone(sub).(*pb.Subscription)
		fifo := false
		batch := int32(receiveBatchSize)
		c.Fifo, c.ReceiveBatchSize = &fifo, &batch
		c.LongPollingTimeout = durationpb.New(longPollingTimeout)
		out.PubSub = &pb.Settings_Subscription{Subscription: c}
	default:
		return nil, status(pb.Code_UNRECOGNIZED_CLIENT_TYPE, "client type %s is not served by Sluice", in.GetClientType())
	}
	return out, nil
}
