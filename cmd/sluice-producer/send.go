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
	seq      atomic.Uint64
	claimed  atomic.Int64
}

// newProducer fetches the route; without one there is nothing to do.
func newProducer(ctx context.Context, cfg *config, warn io.Writer) (*producer, error) {
	p := &producer{
		cfg:    cfg,
		router: &router{namesrv: cfg.namesrv, topic: cfg.topic, timeout: cfg.timeout, tls: cfg.tls},
		pool:   &clientPool{dialTimeout: cfg.timeout, tls: cfg.tls, credentials: cfg.credentials, clients: map[string]*poolEntry{}},
		stats:  newStats(),
		warn:   warn,
		body:   makeBody(cfg.bodySize),
	}
	if err := p.router.refresh(ctx); err != nil {
		return nil, err
	}
	p.idPrefix = uniqPrefix()
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
	for range p.cfg.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.sender(ctx)
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

// sender keeps up to window messages of its own in flight. With a window
// of 1 it is a synchronous sender, as RocketMQ's benchmark's threads are.
func (p *producer) sender(ctx context.Context) {
	if p.cfg.window == 1 {
		for p.claim(ctx) {
			p.send()
		}
		return
	}
	sem := make(chan struct{}, p.cfg.window)
	var wg sync.WaitGroup
	for p.claim(ctx) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			p.claimed.Add(-1)
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			p.send()
		}()
	}
	wg.Wait()
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

// send sends one message, retrying a busy answer on another broker.
func (p *producer) send() {
	start := time.Now()
	id := p.idPrefix + fmt.Sprintf("%016X", p.seq.Add(1))
	pb := message.Append(nil, message.PropertyUniqClientMessageIDKeyIdx, id)
	pb = message.Append(pb, message.PropertyWaitStoreMsgOK, "true")
	if p.cfg.keys {
		pb = message.Append(pb, message.PropertyKeys, id)
	}
	if p.cfg.delayLevel > 0 {
		pb = message.Append(pb, message.PropertyDelayTimeLevel, strconv.Itoa(p.cfg.delayLevel))
	}
	props := string(pb)
	p.stats.attempted.Add(1)
	avoid := ""
	for attempt := 0; ; attempt++ {
		q, ok := p.router.pick(avoid)
		if !ok {
			p.stats.failed(kindOther, "no publish queue")
			p.stats.lose(kindOther)
			return
		}
		kind, retryable, reason := p.attempt(q, props)
		if kind == outcomeOK {
			p.stats.succeeded(q.broker, time.Since(start))
			return
		}
		p.stats.failed(kind, reason)
		if !retryable || attempt >= p.cfg.retries {
			p.stats.lose(kind)
			return
		}
		p.stats.retries.Add(1)
		avoid = q.broker
	}
}

// attempt sends to one queue. A failure is retryable when the message was
// certainly not stored: a busy answer (the broker refuses those before
// they reach the store) or a connection that could not be made. After a
// timeout or a lost connection the message may have been stored, and a
// retry would duplicate it.
func (p *producer) attempt(q publishQueue, props string) (outcome, bool, string) {
	c, err := p.pool.get(q.addr)
	if err != nil {
		return kindOther, true, "connect: " + dialCause(err).Error()
	}
	req := remoting.NewRequest(remoting.SendMessage, p.header(q, props), p.body)
	resp, err := c.Invoke(context.Background(), req, p.cfg.timeout)
	switch {
	case errors.Is(err, remoting.ErrTimeout):
		return kindTimeout, false, ""
	case err != nil:
		p.pool.drop(q.addr, c)
		return kindOther, false, "connection lost"
	}
	return classify(resp)
}

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

// header is SendMessageRequestHeader as rocketmq-client-go encodes it
// (internal/request.go), field for field.
func (p *producer) header(q publishQueue, props string) map[string]string {
	return map[string]string{
		"producerGroup":         p.cfg.group,
		"topic":                 p.cfg.topic,
		"defaultTopic":          defaultTopic,
		"defaultTopicQueueNums": strconv.Itoa(defaultTopicQueueNums),
		"queueId":               strconv.Itoa(q.queueID),
		"sysFlag":               "0",
		"bornTimestamp":         strconv.FormatInt(time.Now().UnixMilli(), 10),
		"flag":                  "0",
		"properties":            props,
		"reconsumeTimes":        "0",
		"unitMode":              "false",
		"maxReconsumeTimes":     "0",
		"batch":                 "false",
	}
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

// clientPool holds one connection per broker address, shared by every
// sender: the Go client does the same, so the broker sees the same number
// of connections.
type clientPool struct {
	dialTimeout time.Duration
	tls         *tls.Config
	credentials *remoting.Credentials // sign every send (aclEnable)
	mu          sync.Mutex
	clients     map[string]*poolEntry
	closed      bool
}

// poolEntry has a lock of its own, so that a broker that is slow to accept
// does not hold up sends to the others.
type poolEntry struct {
	mu     sync.Mutex
	client *remoting.Client
}

var errPoolClosed = errors.New("producer closed")

func (cp *clientPool) get(addr string) (*remoting.Client, error) {
	cp.mu.Lock()
	if cp.closed {
		cp.mu.Unlock()
		return nil, errPoolClosed
	}
	e := cp.clients[addr]
	if e == nil {
		e = &poolEntry{}
		cp.clients[addr] = e
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
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{DialTimeout: cp.dialTimeout, TLS: cp.tls, Credentials: cp.credentials})
	if err != nil {
		return nil, err
	}
	e.client = c
	return c, nil
}

// drop forgets c if it is still the connection for addr and has died.
func (cp *clientPool) drop(addr string, c *remoting.Client) {
	select {
	case <-c.Done():
	default:
		return
	}
	cp.mu.Lock()
	e := cp.clients[addr]
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
	cp.clients = map[string]*poolEntry{}
	cp.mu.Unlock()
	for _, e := range entries {
		e.mu.Lock()
		if e.client != nil {
			e.client.Close()
		}
		e.mu.Unlock()
	}
}
