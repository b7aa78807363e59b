package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

type producer struct {
	cfg    *config
	router *router
	pool   *clientPool
	stats  *stats
	warn   io.Writer

	body     []byte
	idPrefix string
	// propsTail and propsDelay are the constant properties after UNIQ_KEY
	// (WAIT) and at the end (DELAY, when set), encoded once.
	propsTail  []byte
	propsDelay []byte
	seq        atomic.Uint64
	claimed    atomic.Int64
}

// newProducer fetches the route; without one there is nothing to do.
func newProducer(ctx context.Context, cfg *config, warn io.Writer) (*producer, error) {
	p := &producer{
		cfg:    cfg,
		router: &router{namesrv: cfg.namesrv, topic: cfg.topic, timeout: cfg.timeout, tls: cfg.tls},
		pool:   &clientPool{dialTimeout: cfg.timeout, tls: cfg.tls, credentials: cfg.credentials, clients: map[poolKey]*poolEntry{}},
		stats:  newStats(),
		warn:   warn,
		body:   makeBody(cfg.bodySize),
	}
	if err := p.router.refresh(ctx); err != nil {
		return nil, err
	}
	p.idPrefix = uniqPrefix()
	p.propsTail = message.Append(nil, message.PropertyWaitStoreMsgOK, "true")
	if cfg.delayLevel > 0 {
		p.propsDelay = message.Append(nil, message.PropertyDelayTimeLevel, strconv.Itoa(cfg.delayLevel))
	}
	return p, nil
}

func (p *producer) close() { p.pool.close() }

// makeBody returns printable bytes, so that a message looked at with any
// tool reads as text.
func makeBody(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return b
}

// uniqPrefix is the first half of every UNIQ_KEY: random bytes and the pid,
// so that two producers on one host do not collide. The second half is a
// sequence number; 32 hex digits in all, as Java's ids.
func uniqPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:6])
	pid := os.Getpid()
	b[6], b[7] = byte(pid>>8), byte(pid)
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// run sends until ctx ends or -c messages have been sent, reporting every
// interval on lines, and returns the summary.
func (p *producer) run(ctx context.Context, lines io.Writer) *summary {
	p.stats.start = time.Now()
	reportDone := make(chan struct{})
	stopReport := make(chan struct{})
	go func() {
		defer close(reportDone)
		p.report(lines, stopReport)
	}()
	// The refresher stops with the senders, also when -c ends the run.
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	refreshDone := make(chan struct{})
	go func() {
		defer close(refreshDone)
		p.refreshRoutes(refreshCtx)
	}()

	var wg sync.WaitGroup
	for i := range p.cfg.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.sender(ctx, i%p.cfg.connections)
		}()
	}
	wg.Wait()
	stopRefresh()
	close(stopReport)
	<-reportDone
	<-refreshDone
	sum := p.stats.summary(p.cfg, time.Since(p.stats.start))
	sum.RouteFallback = p.router.fallback.Load()
	return sum
}

// sender keeps up to window messages of its own in flight, as one
// pipeline: each message has a slot (its request, reused), the answers
// come back on the slots' channel from the connection's read goroutine,
// and this goroutine classifies them, counts them, retries busy ones and
// sends the next message. No goroutine per message, none per answer. With
// a window of 1 it is a synchronous sender, as RocketMQ's benchmark's
// threads are.
func (p *producer) sender(ctx context.Context, conn int) {
	back := make(chan *slot, p.cfg.window) // never blocks: a slot is in it at most once
	free := make([]*slot, 0, p.cfg.window)
	for range p.cfg.window {
		free = append(free, p.newSlot(back, conn))
	}
	inflight := 0
	// stop is nil for a context that never ends (no -d): claiming says
	// whether new messages are still taken on.
	stop, claiming := ctx.Done(), true
	for {
		for claiming && len(free) > 0 {
			if !p.claim(ctx) {
				claiming, stop = false, nil
				break
			}
			sl := free[len(free)-1]
			free = free[:len(free)-1]
			if p.begin(sl) {
				inflight++
			} else {
				free = append(free, sl)
			}
		}
		if inflight == 0 && !claiming {
			return
		}
		select {
		case sl := <-back:
			if !p.answered(sl) {
				inflight--
				free = append(free, sl)
			}
		case <-stop:
			claiming, stop = false, nil // the sends in flight finish
		}
	}
}

// slot is one message in flight: its request, header map and properties
// buffer are reused from message to message, because once the broker has
// answered a frame the writer is done with it. After a timeout or a lost
// connection the frame may still be queued, so the slot gets a new map.
type slot struct {
	conn    int // which of the --connections per broker
	req     remoting.Command
	props   []byte
	start   time.Time
	attempt int
	avoid   string
	q       publishQueue
	c       *remoting.Client

	resp *remoting.Command
	err  error
	done func(*remoting.Command, error) // InvokeAsync's callback, made once
}

func (p *producer) newSlot(back chan<- *slot, conn int) *slot {
	sl := &slot{conn: conn}
	sl.req = *remoting.NewRequest(remoting.SendMessage, p.newHeader(), p.body)
	// Runs on the read goroutine (InlineCallbacks): it only hands the
	// slot back to its sender.
	sl.done = func(resp *remoting.Command, err error) {
		sl.resp, sl.err = resp, err
		back <- sl
	}
	return sl
}

// begin starts a new message in sl; false when it ended without a send in
// flight (no queue, or every connect failed).
func (p *producer) begin(sl *slot) bool {
	sl.start = time.Now()
	sl.attempt, sl.avoid = 0, ""
	sl.props = p.appendProps(sl.props[:0])
	sl.req.ExtFields["properties"] = string(sl.props)
	sl.req.ExtFields["bornTimestamp"] = strconv.FormatInt(sl.start.UnixMilli(), 10)
	p.stats.attempted.Add(1)
	return p.launch(sl)
}

// appendProps appends a new message's properties: a fresh UNIQ_KEY (and
// KEYS, the same id), WAIT and DELAY.
func (p *producer) appendProps(b []byte) []byte {
	b = append(b, message.PropertyUniqClientMessageIDKeyIdx...)
	b = append(b, message.NameValueSeparator)
	idAt := len(b)
	b = append(b, p.idPrefix...)
	b = appendHex16(b, p.seq.Add(1))
	id := b[idAt:]
	b = append(b, message.PropertySeparator)
	b = append(b, p.propsTail...)
	if p.cfg.keys {
		b = append(b, message.PropertyKeys...)
		b = append(b, message.NameValueSeparator)
		b = append(b, id...)
		b = append(b, message.PropertySeparator)
	}
	return append(b, p.propsDelay...)
}

// appendHex16 is fmt's %016X without fmt.
func appendHex16(b []byte, v uint64) []byte {
	const digits = "0123456789ABCDEF"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[(v>>uint(shift))&0xF])
	}
	return b
}

// launch sends sl's message to the next queue, going on to another broker
// while connecting fails; false when the message ended without a send in
// flight.
func (p *producer) launch(sl *slot) bool {
	for {
		q, ok := p.router.pick(sl.avoid)
		if !ok {
			p.stats.failed(kindOther, "no publish queue")
			p.stats.lose(kindOther)
			return false
		}
		sl.q = q
		c, err := p.pool.get(q.addr, sl.conn)
		if err != nil {
			if !p.failedAttempt(sl, kindOther, true, "connect: "+dialCause(err).Error()) {
				return false
			}
			continue
		}
		sl.c = c
		sl.req.ExtFields["queueId"] = queueIDString(q.queueID)
		if err := c.InvokeAsync(&sl.req, p.cfg.timeout, sl.done); err != nil {
			// The connection was gone before the frame was queued.
			p.pool.drop(q.addr, sl.conn, c)
			p.stats.failed(kindOther, "connection lost")
			p.stats.lose(kindOther)
			return false
		}
		return true
	}
}

// failedAttempt counts a failed attempt and readies sl for a retry on
// another broker when it may have one; false when the message is lost.
func (p *producer) failedAttempt(sl *slot, kind outcome, retryable bool, reason string) bool {
	p.stats.failed(kind, reason)
	if !retryable || sl.attempt >= p.cfg.retries {
		p.stats.lose(kind)
		return false
	}
	p.stats.retries.Add(1)
	sl.attempt++
	sl.avoid = sl.q.broker
	return true
}

// answered handles the end of sl's attempt, on the sender goroutine; true
// when the message is in flight again (a retry).
func (p *producer) answered(sl *slot) bool {
	resp, err := sl.resp, sl.err
	sl.resp, sl.err = nil, nil
	var kind outcome
	var retryable bool
	var reason string
	switch {
	case errors.Is(err, remoting.ErrTimeout):
		// The frame may still be waiting to be written: leave it its map.
		sl.req.ExtFields = p.cloneHeader(sl.req.ExtFields)
		kind = kindTimeout
	case err != nil:
		sl.req.ExtFields = p.cloneHeader(sl.req.ExtFields)
		p.pool.drop(sl.q.addr, sl.conn, sl.c)
		kind, reason = kindOther, "connection lost"
	default:
		kind, retryable, reason = classify(resp)
	}
	sl.c = nil
	if kind == outcomeOK {
		p.stats.succeeded(sl.q.broker, time.Since(sl.start))
		return false
	}
	if !p.failedAttempt(sl, kind, retryable, reason) {
		return false
	}
	sl.req.ExtFields["bornTimestamp"] = strconv.FormatInt(time.Now().UnixMilli(), 10)
	return p.launch(sl)
}

// claim takes the right to send one more message.
func (p *producer) claim(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if p.cfg.count > 0 && p.claimed.Add(1) > p.cfg.count {
		return false
	}
	return true
}

// outcome classifies one attempt.
type outcome int

// The failure kinds, in report order: the five busy tags, then timeouts and
// everything else.
const (
	kindTimeout outcome = outcome(len(remoting.BusyKinds)) + iota
	kindOther
	numKinds = int(kindOther) + 1

	outcomeOK outcome = -1
)

var kindNames = func() [numKinds]string {
	var n [numKinds]string
	for i, k := range remoting.BusyKinds {
		n[i] = k.Tag()
	}
	n[kindTimeout], n[kindOther] = "timeout", "other"
	return n
}()

// classify maps an answer to its outcome.
func classify(resp *remoting.Command) (outcome, bool, string) {
	code := resp.ResponseCode()
	switch code {
	case remoting.Success, remoting.FlushDiskTimeout, remoting.FlushSlaveTimeout, remoting.SlaveNotAvailable:
		// Stored; the Go client reports these as sent, with a status.
		return outcomeOK, false, ""
	case remoting.SystemBusy:
		if k, ok := remoting.ParseBusyTag(resp.Remark); ok {
			return outcome(k), true, ""
		}
		return kindOther, true, code.String() + " " + resp.Remark
	case remoting.SystemError:
		// PC_SYNCHRONIZED is SYSTEM_ERROR up to RocketMQ 5.2 and in Sluice.
		if k, ok := remoting.ParseBusyTag(resp.Remark); ok && k == remoting.PCSynchronized {
			return outcome(k), true, ""
		}
	}
	return kindOther, false, code.String() + " " + resp.Remark
}

// newHeader is SendMessageRequestHeader as rocketmq-client-go encodes it
// (internal/request.go), field for field; queueId, bornTimestamp and
// properties are set per send.
func (p *producer) newHeader() map[string]string {
	return map[string]string{
		"producerGroup":         p.cfg.group,
		"topic":                 p.cfg.topic,
		"defaultTopic":          defaultTopic,
		"defaultTopicQueueNums": defaultTopicQueueNumsString,
		"queueId":               "0",
		"sysFlag":               "0",
		"bornTimestamp":         "0",
		"flag":                  "0",
		"properties":            "",
		"reconsumeTimes":        "0",
		"unitMode":              "false",
		"maxReconsumeTimes":     "0",
		"batch":                 "false",
	}
}

var defaultTopicQueueNumsString = strconv.Itoa(defaultTopicQueueNums)

// cloneHeader is a copy of h for a slot whose frame may still be queued.
func (p *producer) cloneHeader(h map[string]string) map[string]string {
	n := make(map[string]string, len(h))
	for k, v := range h {
		n[k] = v
	}
	return n
}

// queueIDStrings are the decimal forms of the usual queue ids, so that a
// send does not format one.
var queueIDStrings = func() [64]string {
	var s [64]string
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func queueIDString(id int) string {
	if id >= 0 && id < len(queueIDStrings) {
		return queueIDStrings[id]
	}
	return strconv.Itoa(id)
}

// refreshRoutes asks for the route again every routeRefresh, keeping the
// old one when the name server does not answer.
func (p *producer) refreshRoutes(ctx context.Context) {
	t := time.NewTicker(p.cfg.routeRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.router.refresh(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(p.warn, "sluice-producer: route refresh failed, keeping the previous route: %s\n", oneLine(err.Error()))
		}
	}
}

// clientPool holds --connections connections per broker address, shared
// by the senders round-robin. With one (the default) every sender shares
// it, as the Go and Java clients do, so the broker sees the same number of
// connections; with one per sender each publisher has its own, as nats
// bench does.
type clientPool struct {
	dialTimeout time.Duration
	tls         *tls.Config
	credentials *remoting.Credentials // sign every send (aclEnable)
	mu          sync.Mutex
	clients     map[poolKey]*poolEntry
	closed      bool
}

// poolKey names one connection: a broker address and which of its
// connections.
type poolKey struct {
	addr string
	conn int
}

// poolEntry has a lock of its own, so that a broker that is slow to accept
// does not hold up sends to the others.
type poolEntry struct {
	mu     sync.Mutex
	client *remoting.Client
}

var errPoolClosed = errors.New("producer closed")

func (cp *clientPool) get(addr string, conn int) (*remoting.Client, error) {
	k := poolKey{addr, conn}
	cp.mu.Lock()
	if cp.closed {
		cp.mu.Unlock()
		return nil, errPoolClosed
	}
	e := cp.clients[k]
	if e == nil {
		e = &poolEntry{}
		cp.clients[k] = e
	}
	cp.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client != nil {
		select {
		case <-e.client.Done():
			e.client = nil
		default:
			return e.client, nil
		}
	}
	// Callbacks run on the read goroutine: the producer's only hand the
	// answer to its sender over a channel that never blocks.
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{
		DialTimeout: cp.dialTimeout, TLS: cp.tls, Credentials: cp.credentials, InlineCallbacks: true,
	})
	if err != nil {
		return nil, err
	}
	e.client = c
	return c, nil
}

// drop forgets c if it is still the connection for addr and has died.
func (cp *clientPool) drop(addr string, conn int, c *remoting.Client) {
	select {
	case <-c.Done():
	default:
		return
	}
	cp.mu.Lock()
	e := cp.clients[poolKey{addr, conn}]
	cp.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	if e.client == c {
		e.client = nil
	}
	e.mu.Unlock()
}

func (cp *clientPool) close() {
	cp.mu.Lock()
	cp.closed = true
	entries := cp.clients
	cp.clients = map[poolKey]*poolEntry{}
	cp.mu.Unlock()
	for _, e := range entries {
		e.mu.Lock()
		if e.client != nil {
			e.client.Close()
		}
		e.mu.Unlock()
	}
}
