package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-mq/sluice/remoting"
)

// Route decoding and queue choice, as rocketmq-client-go does them
// (internal/route.go routeData2PublishInfo, producer/selector.go).

// defaultTopic is the topic whose route stands in for a topic the name
// server does not know yet; the broker creates the real one on the first
// send (autoCreateTopicEnable). defaultTopicQueueNums is how many of its
// queues the Go client uses then.
const (
	defaultTopic          = "TBW102"
	defaultTopicQueueNums = 4
	permWrite             = 2
	masterID              = "0"
)

// topicRoute is TopicRouteData, the body of GET_ROUTEINFO_BY_TOPIC.
type topicRoute struct {
	OrderTopicConf string       `json:"orderTopicConf"`
	QueueDatas     []queueData  `json:"queueDatas"`
	BrokerDatas    []brokerData `json:"brokerDatas"`
}

type queueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
	Perm           int    `json:"perm"`
	TopicSysFlag   int    `json:"topicSysFlag"`
}

type brokerData struct {
	Cluster     string            `json:"cluster"`
	BrokerName  string            `json:"brokerName"`
	BrokerAddrs map[string]string `json:"brokerAddrs"` // broker id → host:port; "0" is the master
}

// publishQueue is one queue messages can be sent to.
type publishQueue struct {
	broker  string // broker name
	addr    string // the master's address
	queueID int
}

// decodeRoute reads a route body. A Java name server answering a client
// older than 4.9.4 writes brokerAddrs with bare integer keys ({0:"…"}),
// which encoding/json rejects, so those keys are quoted first.
func decodeRoute(body []byte) (*topicRoute, error) {
	var r topicRoute
	if err := remoting.UnmarshalLenient(body, &r); err != nil {
		return nil, fmt.Errorf("decode route: %w", err)
	}
	return &r, nil
}

// publishQueues lists the writable queues of brokers that have a master,
// brokers in name order, at most maxQueues per broker (0: no cap).
func publishQueues(r *topicRoute, maxQueues int) []publishQueue {
	masters := make(map[string]string, len(r.BrokerDatas))
	for _, b := range r.BrokerDatas {
		if addr := b.BrokerAddrs[masterID]; addr != "" {
			masters[b.BrokerName] = addr
		}
	}
	capped := func(n int) int {
		if maxQueues > 0 && n > maxQueues {
			return maxQueues
		}
		return n
	}
	var out []publishQueue
	add := func(broker string, n int) {
		addr, ok := masters[broker]
		if !ok {
			return // no master: a producer cannot send there
		}
		for q := 0; q < capped(n); q++ {
			out = append(out, publishQueue{broker: broker, addr: addr, queueID: q})
		}
	}
	// An order-topic configuration, when the name server has one, replaces
	// the queue data, as in the Go client.
	if r.OrderTopicConf != "" {
		for _, part := range strings.Split(r.OrderTopicConf, ";") {
			name, num, ok := strings.Cut(part, ":")
			n, err := strconv.Atoi(num)
			if ok && err == nil {
				add(name, n)
			}
		}
		return out
	}
	qds := append([]queueData(nil), r.QueueDatas...)
	sort.SliceStable(qds, func(i, j int) bool { return qds[i].BrokerName < qds[j].BrokerName })
	for _, qd := range qds {
		if qd.Perm&permWrite != 0 {
			add(qd.BrokerName, qd.WriteQueueNums)
		}
	}
	return out
}

// router keeps the topic's publish queues fresh and picks one per send.
type router struct {
	namesrv []string
	topic   string
	timeout time.Duration
	tls     *tls.Config

	queues   atomic.Pointer[[]publishQueue]
	fallback atomic.Bool // using TBW102's route
	next     atomic.Uint64
	nsNext   atomic.Uint64
}

// errTopicNotExist is the name server's TOPIC_NOT_EXIST.
var errTopicNotExist = errors.New("topic not known to the name server")

// refresh asks for the topic's route and, if the name server does not know
// the topic, for TBW102's, capped to 4 queues per broker as the Go client
// does. It keeps the previous queues when it fails.
func (r *router) refresh(ctx context.Context) error {
	route, err := r.lookup(ctx, r.topic)
	maxQueues := 0
	fallback := false
	if errors.Is(err, errTopicNotExist) {
		route, err = r.lookup(ctx, defaultTopic)
		if err != nil {
			return fmt.Errorf("topic %s has no route, nor has %s: %w", r.topic, defaultTopic, err)
		}
		maxQueues, fallback = defaultTopicQueueNums, true
	}
	if err != nil {
		return err
	}
	qs := publishQueues(route, maxQueues)
	if len(qs) == 0 {
		return fmt.Errorf("route of %s has no writable queue on a broker with a master", r.topic)
	}
	r.queues.Store(&qs)
	r.fallback.Store(fallback)
	return nil
}

// lookup sends GET_ROUTEINFO_BY_TOPIC to the name servers in turn until one
// answers.
func (r *router) lookup(ctx context.Context, topic string) (*topicRoute, error) {
	var errs []error
	start := int(r.nsNext.Add(1))
	for i := range r.namesrv {
		addr := r.namesrv[(start+i)%len(r.namesrv)]
		route, err := r.lookupAt(ctx, addr, topic)
		if err == nil || errors.Is(err, errTopicNotExist) {
			return route, err
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (r *router) lookupAt(ctx context.Context, addr, topic string) (*topicRoute, error) {
	c, err := remoting.Dial(ctx, addr, remoting.ClientOptions{DialTimeout: r.timeout, TLS: r.tls})
	if err != nil {
		return nil, fmt.Errorf("name server %s not reachable: %w", addr, dialCause(err))
	}
	defer c.Close()
	req := remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
	resp, err := c.Invoke(ctx, req, r.timeout)
	if err != nil {
		return nil, fmt.Errorf("route of %s from %s: %w", topic, addr, err)
	}
	switch resp.ResponseCode() {
	case remoting.Success:
	case remoting.TopicNotExist:
		return nil, fmt.Errorf("%s: %w", topic, errTopicNotExist)
	default:
		return nil, fmt.Errorf("route of %s from %s: %s: %s", topic, addr, resp.ResponseCode(), resp.Remark)
	}
	route, err := decodeRoute(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("route of %s from %s: %w", topic, addr, err)
	}
	return route, nil
}

// pick returns the next queue round-robin. With avoid set (a retry) it
// skips queues of that broker while there is another one, like the Go
// client's selector.
func (r *router) pick(avoid string) (publishQueue, bool) {
	qs := *r.queues.Load()
	n := uint64(len(qs))
	if n == 0 {
		return publishQueue{}, false
	}
	if avoid != "" {
		for range n {
			q := qs[r.next.Add(1)%n]
			if q.broker != avoid {
				return q, true
			}
		}
	}
	return qs[r.next.Add(1)%n], true
}

// brokers lists the distinct broker names in the current route.
func (r *router) brokers() []string {
	var out []string
	for _, q := range *r.queues.Load() {
		if len(out) == 0 || out[len(out)-1] != q.broker {
			out = append(out, q.broker)
		}
	}
	return out
}
