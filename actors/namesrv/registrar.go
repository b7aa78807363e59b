package namesrv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/remoting"
)

// Registration timing, RocketMQ's registerNameServerPeriod (clamped as
// BrokerController#start clamps it) and registerBrokerTimeoutMills.
const (
	DefaultRegisterPeriod  = 30 * time.Second
	MinRegisterPeriod      = 10 * time.Second
	MaxRegisterPeriod      = 60 * time.Second
	DefaultRegisterTimeout = 6 * time.Second
)

// RegistrarConfig describes the broker to the name servers.
type RegistrarConfig struct {
	// NamesrvAddrs are the name servers, see ParseNamesrvAddrs.
	NamesrvAddrs []string
	ClusterName  string
	BrokerName   string
	BrokerID     int64
	// BrokerAddr is what clients dial (brokerIP1:listenPort).
	BrokerAddr string
	// HAServerAddr is brokerIP2:haListenPort; slaves learn it from the
	// name server.
	HAServerAddr string
	// Period between registrations; 0 means DefaultRegisterPeriod, and it
	// is clamped to [MinRegisterPeriod, MaxRegisterPeriod].
	Period time.Duration
	// Timeout bounds each call to a name server, connecting included; 0
	// means DefaultRegisterTimeout.
	Timeout time.Duration
	// Topics returns the broker's topic table and its version. It is
	// called from the registrar's goroutines, once per name server per
	// registration, and must be safe for that; nil registers no topics.
	Topics func() (topicConfigs []metadata.TopicConfig, dataVersion metadata.DataVersion)
	// TLS, when not nil, is used for every connection to a name server
	// (useTLS / tls.enable).
	TLS *tls.Config
	// Credentials, when set, sign every registration (a name server with
	// ACL admits REGISTER_BROKER from admin accounts only).
	Credentials *remoting.Credentials
	// OnMasterAddress, when set, is given the master's remoting and HA
	// addresses of every successful REGISTER_BROKER answer ("" and "" when
	// the name server knows no master of the group, and always for a
	// master): BrokerController#doRegisterBrokerAll's
	// slaveSynchronize.setMasterAddr and updateHaMasterAddress. It runs on
	// the name server's registration goroutine and must not block.
	OnMasterAddress func(masterAddr, haServerAddr string)
}

// ParseNamesrvAddrs splits RocketMQ's namesrvAddr ("host:port;host:port"),
// dropping blanks.
func ParseNamesrvAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ";") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Registrar keeps a broker registered with its name servers
// (BrokerController#registerBrokerAll and BrokerOuterAPI): once at Start,
// then every period, and at once on RegisterNow; UNREGISTER_BROKER on
// Close. Each name server has its own goroutine and connection, so a dead
// one delays nobody. Only Close waits on the network; RegisterNow hands
// back a channel for a caller that chooses to wait.
type Registrar struct {
	cfg    RegistrarConfig
	log    zerolog.Logger
	period time.Duration // clamped cfg.Period; internal tests shorten it

	ctx    context.Context // cancelled by Close, aborting calls in flight
	cancel context.CancelFunc

	mu      sync.Mutex
	state   int // stateNew, stateStarted or stateClosed
	servers []*nameServer
	// next is the call that no name server has begun yet: calls made
	// meanwhile share it, so each name server's waiting list holds one
	// call per attempt begun elsewhere, not one per topic change.
	next *registerCall
	wg   sync.WaitGroup
}

const (
	stateNew = iota
	stateStarted
	stateClosed
)

// nameServer is the registrar's view of one name server. Everything but
// kick belongs to the name server's goroutine.
type nameServer struct {
	addr string
	kick chan struct{} // capacity 1: registrations asked for coalesce
	// waiting are the RegisterNow calls that this name server's next
	// registration answers; guarded by Registrar.mu.
	waiting []*registerCall

	client     *remoting.Client
	registered bool // at least one success
	failing    bool // the last attempt failed; its error has been logged
}

// NewRegistrar prepares registration; nothing is sent before Start.
func NewRegistrar(cfg RegistrarConfig, log zerolog.Logger) *Registrar {
	if cfg.Period <= 0 {
		cfg.Period = DefaultRegisterPeriod
	}
	cfg.Period = min(max(cfg.Period, MinRegisterPeriod), MaxRegisterPeriod)
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultRegisterTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Registrar{cfg: cfg, log: log, period: cfg.Period, ctx: ctx, cancel: cancel}
	for _, addr := range cfg.NamesrvAddrs {
		r.servers = append(r.servers, &nameServer{addr: addr, kick: make(chan struct{}, 1)})
	}
	return r
}

// Start registers with every name server at once and then every period.
// It does not wait for the answers. Calls after the first, or after
// Close, do nothing.
func (r *Registrar) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != stateNew {
		return
	}
	r.state = stateStarted
	for _, ns := range r.servers {
		r.wg.Add(1)
		go r.run(ns)
	}
}

// registerCall is one RegisterNow call: done closes once every name
// server has finished an attempt that began after the call, so the topic
// table it sent is at least as new as the caller's change.
type registerCall struct {
	pending int // name servers still to finish; guarded by Registrar.mu
	done    chan struct{}
}

// RegisterNow asks for a registration with every name server without
// waiting for it, as RocketMQ's registerIncrementBrokerData after a topic
// is created. Requests made while one is pending are merged into it.
//
// The channel closes once every name server has answered, failed or
// timed out (about the Timeout each) on a registration sent after this
// call; at once if the registrar is not running. RocketMQ's admin answers
// UPDATE_AND_CREATE_TOPIC only after that, so a client that produces right
// after creating a topic finds its route rather than TBW102's.
func (r *Registrar) RegisterNow() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != stateStarted || len(r.servers) == 0 {
		done := make(chan struct{})
		close(done)
		return done
	}
	if r.next != nil {
		// Every name server has it waiting and has been kicked.
		return r.next.done
	}
	reg := &registerCall{pending: len(r.servers), done: make(chan struct{})}
	r.next = reg
	for _, ns := range r.servers {
		ns.waiting = append(ns.waiting, reg)
		select {
		case ns.kick <- struct{}{}:
		default:
		}
	}
	return reg.done
}

// takeWaiting hands over the calls that ns's next registration answers.
func (r *Registrar) takeWaiting(ns *nameServer) []*registerCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := ns.waiting
	ns.waiting = nil
	if n := len(w); n > 0 && w[n-1] == r.next {
		r.next = nil // begun here: a later change needs a later attempt
	}
	return w
}

// answered counts one name server's attempt against each call in w.
func (r *Registrar) answered(w []*registerCall) {
	if len(w) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, reg := range w {
		if reg.pending--; reg.pending == 0 {
			close(reg.done)
		}
	}
}

// Close stops registering and sends UNREGISTER_BROKER to every name
// server, waiting at most about the timeout for their answers.
func (r *Registrar) Close() {
	r.mu.Lock()
	prev := r.state
	r.state = stateClosed
	r.mu.Unlock()
	r.cancel()
	if prev == stateStarted {
		r.wg.Wait()
	}
}

func (r *Registrar) run(ns *nameServer) {
	defer r.wg.Done()
	defer func() {
		if ns.client != nil {
			ns.client.Close()
		}
		// Closed: nobody waits for a registration that will not come.
		// RegisterNow adds no more once the state is closed, which Close
		// sets before this goroutine can get here.
		r.answered(r.takeWaiting(ns))
	}()
	ticker := time.NewTicker(r.period)
	defer ticker.Stop()
	for {
		// Taken before the request is built, so every call answered here
		// came before the topic snapshot it sends.
		waiting := r.takeWaiting(ns)
		r.register(ns)
		r.answered(waiting)
		select {
		case <-r.ctx.Done():
			r.unregister(ns)
			return
		case <-ticker.C:
		case <-ns.kick:
		}
		if r.ctx.Err() != nil {
			r.unregister(ns)
			return
		}
	}
}

func (r *Registrar) register(ns *nameServer) {
	resp, err := r.invoke(r.ctx, ns, r.registerRequest())
	if r.ctx.Err() != nil {
		return // closing: the failure is ours, not the name server's
	}
	if err == nil && resp.ResponseCode() != remoting.Success {
		err = fmt.Errorf("register broker with %s refused: %s %s", ns.addr, resp.ResponseCode(), resp.Remark)
	}
	switch {
	case err != nil && !ns.failing:
		ns.failing = true
		r.log.Warn().Err(err).Str("namesrv", ns.addr).Msg("register broker failed; retrying every period, logging again on recovery")
	case err != nil:
		r.log.Debug().Err(err).Str("namesrv", ns.addr).Msg("register broker failed again")
	}
	if err == nil && r.cfg.OnMasterAddress != nil {
		r.cfg.OnMasterAddress(resp.Ext("masterAddr"), resp.Ext("haServerAddr"))
	}
	switch {
	case err != nil:
	case ns.failing || !ns.registered:
		ns.failing, ns.registered = false, true
		r.log.Info().Str("namesrv", ns.addr).Str("brokerName", r.cfg.BrokerName).
			Str("brokerAddr", r.cfg.BrokerAddr).Msg("registered with name server")
	default:
		r.log.Debug().Str("namesrv", ns.addr).Msg("registration refreshed")
	}
}

func (r *Registrar) unregister(ns *nameServer) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	req := remoting.NewRequest(remoting.UnregisterBroker, nil, nil)
	(&remoting.UnregisterBrokerRequestHeader{
		BrokerName: r.cfg.BrokerName, BrokerAddr: r.cfg.BrokerAddr, ClusterName: r.cfg.ClusterName, BrokerID: r.cfg.BrokerID,
	}).Encode(req)
	resp, err := r.invoke(ctx, ns, req)
	if err == nil && resp.ResponseCode() != remoting.Success {
		err = fmt.Errorf("unregister broker with %s refused: %s %s", ns.addr, resp.ResponseCode(), resp.Remark)
	}
	if err != nil {
		r.log.Warn().Err(err).Str("namesrv", ns.addr).Msg("unregister broker failed; the name server will expire it")
		return
	}
	r.log.Info().Str("namesrv", ns.addr).Str("brokerName", r.cfg.BrokerName).Msg("unregistered from name server")
}

// registerRequest builds REGISTER_BROKER from a fresh topic snapshot.
func (r *Registrar) registerRequest() *remoting.Command {
	body := RegisterBrokerBody{FilterServerList: []string{}}
	body.TopicConfigSerializeWrapper.TopicConfigTable = map[string]metadata.TopicConfig{}
	if r.cfg.Topics != nil {
		topics, version := r.cfg.Topics()
		body.TopicConfigSerializeWrapper.DataVersion = version
		for _, tc := range topics {
			body.TopicConfigSerializeWrapper.TopicConfigTable[tc.TopicName] = tc
		}
	}
	data := body.Encode()
	req := remoting.NewRequest(remoting.RegisterBroker, nil, data)
	(&remoting.RegisterBrokerRequestHeader{
		BrokerName: r.cfg.BrokerName, BrokerAddr: r.cfg.BrokerAddr, ClusterName: r.cfg.ClusterName,
		HAServerAddr: r.cfg.HAServerAddr, BrokerID: r.cfg.BrokerID,
		BodyCrc32: int32(crc32.ChecksumIEEE(data) & 0x7fffffff),
	}).Encode(req)
	return req
}

// invoke sends req to ns within the timeout, connecting first if there is
// no live connection. A call that fails for any reason drops the
// connection, so the next attempt starts from a fresh one.
func (r *Registrar) invoke(parent context.Context, ns *nameServer, req *remoting.Command) (*remoting.Command, error) {
	ctx, cancel := context.WithTimeout(parent, r.cfg.Timeout)
	defer cancel()
	if ns.client != nil {
		select {
		case <-ns.client.Done():
			ns.client.Close()
			ns.client = nil
		default:
		}
	}
	if ns.client == nil {
		c, err := remoting.Dial(ctx, ns.addr, remoting.ClientOptions{DialTimeout: r.cfg.Timeout, TLS: r.cfg.TLS, Credentials: r.cfg.Credentials})
		if err != nil {
			return nil, fmt.Errorf("connect to name server: %w", err)
		}
		ns.client = c
	}
	resp, err := ns.client.Invoke(ctx, req, r.cfg.Timeout)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			ns.client.Close()
			ns.client = nil
		}
		return nil, err
	}
	return resp, nil
}
