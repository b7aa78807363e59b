package grpcfront

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
	pb "github.com/sluice-mq/sluice/remoting/rmqv2"
)

// TopicRoute is what QueryRoute needs of a topic's configuration.
type TopicRoute struct {
	ReadQueues, WriteQueues int
	Perm                    int // RocketMQ's PermName bits: 4 read, 2 write
	// MessageType is the topic's +message.type attribute ("" when unset:
	// the topic accepts every type).
	MessageType string
}

// Options configure the gRPC front.
type Options struct {
	Routes *actors.Routes
	// Draining, once true, answers new requests SERVICE_NOT_AVAILABLE,
	// as the remoting connections do.
	Draining *atomic.Bool
	// Gate, if set, admits each translated request (the plain ACL); the
	// front signs it with the caller's account once its gRPC credentials
	// are verified.
	Gate actors.RequestGate
	// Secret returns an ACL account's secret key; nil with ACL off.
	Secret func(accessKey string) (string, bool)
	// RegisterProducer, if set, registers a gRPC producer's channel with
	// the broker's producer manager under group (each telemetry settings
	// and heartbeat refreshes it), so the transaction check reaches it;
	// UnregisterProducer forgets it when its stream ends.
	RegisterProducer   func(ch *ProducerChannel, clientID, group string)
	UnregisterProducer func(ch *ProducerChannel)
	// Topic describes a topic for QueryRoute; false if it does not exist.
	Topic func(topic string) (TopicRoute, bool)
	// Broker names this broker in routes.
	ClusterName, BrokerName string
	BrokerID                int64
	MaxMessageSize          int
	// Timeout bounds the wait for a processor's answer (the proxy's
	// request timeout); past it the call answers PROXY_TIMEOUT.
	Timeout time.Duration
	Log     zerolog.Logger
}

// Server is the gRPC front: one grpc.Server on one listener.
type Server struct {
	pb.UnimplementedMessagingServiceServer
	opts    Options
	srv     *grpc.Server
	ln      net.Listener
	srvOpts actors.ServerOptions
	txs     *halfTable
	// roundRobin picks the write queue of a message without a group
	// (the proxy's selectOneByPipeline).
	roundRobin atomic.Uint32
	stats      frontStats

	mu       sync.Mutex
	sessions map[string]*session // by client id
	stopOnce sync.Once
}

// frontStats counts the front's requests by RPC and its busy answers by
// kind, for the tree and the metrics (front="grpc").
type frontStats struct {
	Requests [numRPCs]atomic.Uint64
	Busy     [16]atomic.Uint64 // by remoting.BusyKind
}

// New builds the server on ln; Serve starts it.
func New(ln net.Listener, opts Options, extra ...grpc.ServerOption) *Server {
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Second
	}
	s := &Server{opts: opts, ln: ln, txs: newHalfTable(halfTableCap, 2*time.Hour), sessions: make(map[string]*session)}
	s.srvOpts = actors.ServerOptions{Draining: opts.Draining, Gate: opts.Gate}
	sopts := append([]grpc.ServerOption{
		// Bounded: a message is at most maxMessageSize plus its headers.
		grpc.MaxRecvMsgSize(opts.MaxMessageSize + 1<<20),
		grpc.MaxConcurrentStreams(1024),
		grpc.UnaryInterceptor(s.unaryAuth),
		grpc.StreamInterceptor(s.streamAuth),
	}, extra...)
	s.srv = grpc.NewServer(sopts...)
	pb.RegisterMessagingServiceServer(s.srv, s)
	return s
}

// Serve accepts until Stop; it returns when the listener closes.
func (s *Server) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Stop ends every call: graceful for up to d, then forced.
func (s *Server) Stop(d time.Duration) {
	s.stopOnce.Do(func() {
		// Telemetry streams stay open until the client goes: past d they
		// are cut.
		t := time.AfterFunc(d, s.srv.Stop)
		s.srv.GracefulStop()
		t.Stop()
	})
}

// Inspect describes the front for the tree.
func (s *Server) Inspect(n *tree.Node) {
	n.ID, n.Name, n.Kind = "grpc", "grpc", tree.KindFront
	n.Front = &tree.FrontInfo{Front: "grpc", Addr: s.ln.Addr().String(), Requests: map[string]uint64{}, Busy: map[string]uint64{}}
	for i := range numRPCs {
		if v := s.stats.Requests[i].Load(); v != 0 {
			n.Front.Requests[rpcNames[i]] = v
		}
	}
	for _, k := range remoting.BusyKinds {
		if v := s.stats.Busy[k].Load(); v != 0 {
			n.Front.Busy[k.String()] = v
		}
	}
	s.mu.Lock()
	n.Front.Sessions = len(s.sessions)
	s.mu.Unlock()
}

// BusyCounts reports the front's busy answers by kind (for metrics).
func (s *Server) BusyCounts() map[remoting.BusyKind]uint64 {
	m := make(map[remoting.BusyKind]uint64)
	for _, k := range remoting.BusyKinds {
		m[k] = s.stats.Busy[k].Load()
	}
	return m
}

// RequestCounts reports the front's requests by RPC name (for metrics).
func (s *Server) RequestCounts() map[string]uint64 {
	m := make(map[string]uint64, numRPCs)
	for i := range numRPCs {
		m[rpcNames[i]] = s.stats.Requests[i].Load()
	}
	return m
}

// call carries what the front knows of one RPC's caller.
type call struct {
	remote   string
	clientID string
	cred     *remoting.Credentials // verified, nil when ACL is off or unsigned
	// authority is the address the client dialled (:authority).
	authority string
}

type callKey struct{}

func callOf(ctx context.Context) *call {
	if c, ok := ctx.Value(callKey{}).(*call); ok {
		return c
	}
	return &call{}
}

// submit sends cmd through the shared routing and admission and waits for
// the processor's answer (or ctx's end).
func (s *Server) submit(ctx context.Context, cmd *remoting.Command) (*remoting.Command, error) {
	return s.submitWait(ctx, cmd, s.opts.Timeout)
}

// submitWait is submit with its own bound on the wait (a held pop).
func (s *Server) submitWait(ctx context.Context, cmd *remoting.Command, wait time.Duration) (*remoting.Command, error) {
	c := callOf(ctx)
	if c.cred != nil {
		c.cred.Sign(cmd)
	}
	ch := make(chan *remoting.Command, 1)
	r := &actors.Request{Cmd: cmd, ReplyTo: func(resp *remoting.Command) { ch <- resp }}
	if resp, _ := actors.Submit(s.opts.Routes, &s.srvOpts, s.opts.Log, r, c.remote, nil); resp != nil {
		s.countBusy(resp)
		return resp, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case resp := <-ch:
		if resp == nil {
			return nil, errors.New("request dropped: the client is gone")
		}
		s.countBusy(resp)
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, errTimeout
	}
}

var errTimeout = errors.New("timed out waiting for the broker's answer")

func (s *Server) countBusy(resp *remoting.Command) {
	if k, ok := remoting.ParseBusyTag(resp.Remark); ok {
		s.stats.Busy[k].Add(1)
	}
}

// statusOf maps a remoting answer to the proxy's gRPC status
// (ResponseBuilder#buildStatus: SYSTEM_BUSY → TOO_MANY_REQUESTS, the
// remark kept, so the client's backoff policy engages).
func statusOf(resp *remoting.Command) *pb.Status {
	code := pb.Code_INTERNAL_SERVER_ERROR
	switch remoting.ResponseCode(resp.Code) {
	case remoting.Success:
		code = pb.Code_OK
	case remoting.SystemBusy:
		code = pb.Code_TOO_MANY_REQUESTS
	case remoting.RequestCodeNotSupported:
		code = pb.Code_NOT_IMPLEMENTED
	case remoting.SubscriptionGroupNotExist:
		code = pb.Code_CONSUMER_GROUP_NOT_FOUND
	case remoting.TopicNotExist:
		code = pb.Code_TOPIC_NOT_FOUND
	case remoting.NoPermission:
		code = pb.Code_FORBIDDEN
	case remoting.MessageIllegal:
		code = pb.Code_BAD_REQUEST
	case remoting.SystemError:
		// The plain ACL refuses with SYSTEM_ERROR and an AclException,
		// as RocketMQ's broker does; the proxy's answer is FORBIDDEN.
		if strings.HasPrefix(resp.Remark, "org.apache.rocketmq.acl.common.AclException") {
			code = pb.Code_FORBIDDEN
		}
	}
	msg := resp.Remark
	if msg == "" {
		msg = code.String()
	}
	return &pb.Status{Code: code, Message: msg}
}

func errStatus(err error) *pb.Status {
	if errors.Is(err, errTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return &pb.Status{Code: pb.Code_PROXY_TIMEOUT, Message: err.Error()}
	}
	return &pb.Status{Code: pb.Code_INTERNAL_SERVER_ERROR, Message: err.Error()}
}

func okStatus() *pb.Status { return &pb.Status{Code: pb.Code_OK, Message: "OK"} }

func status(code pb.Code, format string, args ...any) *pb.Status {
	return &pb.Status{Code: code, Message: fmt.Sprintf(format, args...)}
}

// authenticate verifies RocketMQ 5's credentials: the authorization
// header "MQv2-HMAC-SHA1 Credential=<ak>, SignedHeaders=x-mq-date-time,
// Signature=<hex HmacSHA1(secret, x-mq-date-time)>" (the proxy's
// AuthenticationHeader). With ACL off the header is ignored.
func (s *Server) authenticate(ctx context.Context) (context.Context, error) {
	c := &call{}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		c.remote = p.Addr.String()
	}
	md, _ := metadata.FromIncomingContext(ctx)
	c.clientID = first(md, "x-mq-client-id")
	c.authority = first(md, ":authority")
	if s.opts.Secret != nil {
		cred, err := verify(md, s.opts.Secret)
		if err != nil {
			s.opts.Log.Warn().Err(err).Str("remote", c.remote).Msg("grpc: refused: credentials")
			return nil, err
		}
		c.cred = cred
	}
	return context.WithValue(ctx, callKey{}, c), nil
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

type authStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a *authStream) Context() context.Context { return a.ctx }

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := s.authenticate(ss.Context())
	if err != nil {
		return err
	}
	return h(srv, &authStream{ServerStream: ss, ctx: ctx})
}

// endpointsOf is the address the client reached this broker at: the
// request's endpoints if it names them, else :authority, else the
// listener's address.
func (s *Server) endpointsOf(ctx context.Context, req *pb.Endpoints) *pb.Endpoints {
	if req != nil && len(req.Addresses) > 0 {
		return req
	}
	hostport := callOf(ctx).authority
	if hostport == "" {
		hostport = s.ln.Addr().String()
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, strconv.Itoa(s.ln.Addr().(*net.TCPAddr).Port)
	}
	n, _ := strconv.Atoi(port)
	scheme := pb.AddressScheme_DOMAIN_NAME
	if ip := net.ParseIP(host); ip != nil {
		scheme = pb.AddressScheme_IPv4
		if ip.To4() == nil {
			scheme = pb.AddressScheme_IPv6
		}
	}
	return &pb.Endpoints{Scheme: scheme, Addresses: []*pb.Address{{Host: host, Port: int32(n)}}}
}

func durMillis(ms int64) *durationpb.Duration {
	return durationpb.New(time.Duration(ms) * time.Millisecond)
}
