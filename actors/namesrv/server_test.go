// These tests live in an external package because they start a broker
// through supervisor, which will import namesrv once the name server is
// wired in.
package namesrv_test

import (
	"context"
	"hash/crc32"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/actors/namesrv"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// nameServer is a real Sluice broker on a loopback port with the name
// server's handlers routed to a processor of their own, so every test
// below goes through the real protocol.
type nameServer struct {
	addr string
	m    *namesrv.RouteInfoManager
	logs *namesrv.LogBuffer
}

func startNameServer(t *testing.T) *nameServer {
	t.Helper()
	logs := &namesrv.LogBuffer{}
	log := zerolog.New(logs)
	m := namesrv.NewRouteInfoManager(log)
	handlers := namesrv.Handlers(m, log)
	proc := &actors.Processor{
		Name:     "namesrv",
		Codes:    namesrv.Codes(),
		Capacity: 1000,
		NewHandler: func() actors.Handler {
			return actors.Mux(handlers)
		},
	}
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{Processors: []*actors.Processor{proc}})
	return &nameServer{addr: b.Addr(), m: m, logs: logs}
}

func dial(t *testing.T, addr string) *remoting.Client {
	t.Helper()
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func invoke(t *testing.T, c *remoting.Client, code remoting.RequestCode, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	resp, err := c.Invoke(context.Background(), remoting.NewRequest(code, ext, body), 10*time.Second)
	if err != nil {
		t.Fatalf("invoke %s: %v", code, err)
	}
	if !resp.IsResponse() {
		t.Fatalf("%s: answer without the response flag", code)
	}
	return resp
}

func expect(t *testing.T, resp *remoting.Command, code remoting.ResponseCode, remark string) {
	t.Helper()
	if resp.ResponseCode() != code || resp.Remark != remark {
		t.Fatalf("got %s %q, want %s %q", resp.ResponseCode(), resp.Remark, code, remark)
	}
}

func registerBody(counter int64, topics ...metadata.TopicConfig) []byte {
	table := map[string]metadata.TopicConfig{}
	for _, tc := range topics {
		table[tc.TopicName] = tc
	}
	b := namesrv.RegisterBrokerBody{TopicConfigSerializeWrapper: metadata.TopicConfigSerializeWrapper{
		DataVersion:      metadata.DataVersion{Counter: counter, Timestamp: 1700000000000},
		TopicConfigTable: table,
	}}
	return b.Encode()
}

func registerHeader(brokerName, addr string, id int64, body []byte) map[string]string {
	return map[string]string{
		"brokerName":   brokerName,
		"brokerAddr":   addr,
		"clusterName":  "DefaultCluster",
		"haServerAddr": "127.0.0.1:10912",
		"brokerId":     strconv.FormatInt(id, 10),
		"bodyCrc32":    strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)&0x7fffffff), 10),
	}
}

func testTopic(name string, queues int) metadata.TopicConfig {
	tc := metadata.NewTopicConfig(name)
	tc.ReadQueueNums, tc.WriteQueueNums = queues, queues
	return tc
}

func TestHandlersEndToEnd(t *testing.T) {
	ns := startNameServer(t)
	c := dial(t, ns.addr)

	body := registerBody(1, testTopic("T", 4))
	resp := invoke(t, c, remoting.RegisterBroker, registerHeader("b", "127.0.0.1:10911", 0, body), body)
	expect(t, resp, remoting.Success, "")
	if resp.ExtLen() != 0 {
		t.Fatalf("master's answer carries %v; Java sends no master/HA address to a master", resp.ExtMap())
	}

	resp = invoke(t, c, remoting.GetRouteInfoByTopic, map[string]string{"topic": "T"}, nil)
	expect(t, resp, remoting.Success, "")
	const wantRoute = `{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"b","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if string(resp.Body) != wantRoute {
		t.Fatalf("route body:\n got %s\nwant %s", resp.Body, wantRoute)
	}

	resp = invoke(t, c, remoting.GetRouteInfoByTopic, map[string]string{"topic": "Nope"}, nil)
	expect(t, resp, remoting.TopicNotExist,
		"No topic route info in name server for the topic: Nope\nSee http://rocketmq.apache.org/docs/faq/ for further details.")
	if len(resp.Body) != 0 {
		t.Fatalf("TOPIC_NOT_EXIST with a body: %s", resp.Body)
	}

	// A slave learns its master's addresses from the answer.
	resp = invoke(t, c, remoting.RegisterBroker, registerHeader("b", "127.0.0.1:10921", 1, nil), nil)
	expect(t, resp, remoting.Success, "")
	if resp.Ext("masterAddr") != "127.0.0.1:10911" || resp.Ext("haServerAddr") != "127.0.0.1:10912" {
		t.Fatalf("slave's answer %v", resp.ExtMap())
	}

	resp = invoke(t, c, remoting.GetBrokerClusterInfo, nil, nil)
	expect(t, resp, remoting.Success, "")
	const wantCluster = `{"brokerAddrTable":{"b":{"brokerAddrs":{"0":"127.0.0.1:10911","1":"127.0.0.1:10921"},"brokerName":"b","cluster":"DefaultCluster"}},"clusterAddrTable":{"DefaultCluster":["b"]}}`
	if string(resp.Body) != wantCluster {
		t.Fatalf("cluster info:\n got %s\nwant %s", resp.Body, wantCluster)
	}

	body = registerBody(2, testTopic("T", 4), testTopic("U", 2))
	expect(t, invoke(t, c, remoting.RegisterBroker, registerHeader("b", "127.0.0.1:10911", 0, body), body), remoting.Success, "")
	resp = invoke(t, c, remoting.GetAllTopicListFromNameServer, nil, nil)
	expect(t, resp, remoting.Success, "")
	if string(resp.Body) != `{"topicList":["T","U"]}` {
		t.Fatalf("topic list %s", resp.Body)
	}

	expect(t, invoke(t, c, remoting.DeleteTopicInNamesrv, map[string]string{"topic": "U"}, nil), remoting.Success, "")
	expect(t, invoke(t, c, remoting.GetRouteInfoByTopic, map[string]string{"topic": "U"}, nil), remoting.TopicNotExist,
		"No topic route info in name server for the topic: U\nSee http://rocketmq.apache.org/docs/faq/ for further details.")
	expect(t, invoke(t, c, remoting.DeleteTopicInNamesrv, map[string]string{"topic": "a.b"}, nil), remoting.SystemError,
		"The specified topic contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$")

	unreg := func(addr string, id int64) {
		expect(t, invoke(t, c, remoting.UnregisterBroker, map[string]string{
			"brokerName": "b", "brokerAddr": addr, "clusterName": "DefaultCluster", "brokerId": strconv.FormatInt(id, 10),
		}, nil), remoting.Success, "")
	}
	unreg("127.0.0.1:10911", 0)
	unreg("127.0.0.1:10921", 1)
	expect(t, invoke(t, c, remoting.GetRouteInfoByTopic, map[string]string{"topic": "T"}, nil), remoting.TopicNotExist,
		"No topic route info in name server for the topic: T\nSee http://rocketmq.apache.org/docs/faq/ for further details.")
}

func TestHandlersRejectBadRequests(t *testing.T) {
	ns := startNameServer(t)
	c := dial(t, ns.addr)

	expect(t, invoke(t, c, remoting.GetRouteInfoByTopic, nil, nil), remoting.SystemError, "the custom field <topic> is null")
	expect(t, invoke(t, c, remoting.DeleteTopicInNamesrv, map[string]string{}, nil), remoting.SystemError, "the custom field <topic> is null")

	body := registerBody(1, testTopic("T", 4))
	for _, missing := range []string{"brokerName", "brokerAddr", "clusterName", "haServerAddr", "brokerId"} {
		h := registerHeader("b", "127.0.0.1:10911", 0, body)
		delete(h, missing)
		expect(t, invoke(t, c, remoting.RegisterBroker, h, body), remoting.SystemError, "the custom field <"+missing+"> is null")
	}
	h := registerHeader("b", "127.0.0.1:10911", 0, body)
	delete(h, "brokerId")
	expect(t, invoke(t, c, remoting.UnregisterBroker, h, nil), remoting.SystemError, "the custom field <brokerId> is null")

	h = registerHeader("b", "127.0.0.1:10911", 0, body)
	h["brokerId"] = "zero"
	expect(t, invoke(t, c, remoting.RegisterBroker, h, body), remoting.SystemError, `the custom field <brokerId> is not a number: "zero"`)

	h = registerHeader("b", "127.0.0.1:10911", 0, body)
	h["brokerAddr"] = " 127.0.0.1:10911"
	if resp := invoke(t, c, remoting.RegisterBroker, h, body); resp.ResponseCode() != remoting.SystemError ||
		!strings.Contains(resp.Remark, "cannot be routed") {
		t.Fatalf("address with a space: %s %q", resp.ResponseCode(), resp.Remark)
	}

	h = registerHeader("b", "127.0.0.1:10911", 0, body)
	h["bodyCrc32"] = "12345"
	expect(t, invoke(t, c, remoting.RegisterBroker, h, body), remoting.SystemError, "crc32 not match")

	h = registerHeader("b", "127.0.0.1:10911", 0, body)
	h["compressed"] = "true"
	resp := invoke(t, c, remoting.RegisterBroker, h, body)
	if resp.ResponseCode() != remoting.SystemError {
		t.Fatalf("compressed body: %s %q", resp.ResponseCode(), resp.Remark)
	}

	bad := []byte(`{"topicConfigSerializeWrapper":[`)
	resp = invoke(t, c, remoting.RegisterBroker, registerHeader("b", "127.0.0.1:10911", 0, bad), bad)
	if resp.ResponseCode() != remoting.SystemError || !strings.Contains(resp.Remark, "register broker body") {
		t.Fatalf("bad body: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if l := ns.m.TopicList(); len(l) != 0 {
		t.Fatalf("a refused registration left topics %v", l)
	}

	// bodyCrc32 = 0 skips the check, and topics no client could name are
	// dropped rather than routed.
	body = registerBody(1, testTopic("T", 4), testTopic("bad topic", 4))
	h = registerHeader("b", "127.0.0.1:10911", 0, body)
	h["bodyCrc32"] = "0"
	expect(t, invoke(t, c, remoting.RegisterBroker, h, body), remoting.Success, "")
	if l := ns.m.TopicList(); len(l) != 1 || l[0] != "T" {
		t.Fatalf("topics after registering one bad name: %v", l)
	}
}

// topicTable is a broker's topic table for the registrar tests.
type topicTable struct {
	mu      sync.Mutex
	topics  []metadata.TopicConfig
	version metadata.DataVersion
}

func (tt *topicTable) add(tc metadata.TopicConfig) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.topics = append(tt.topics, tc)
	tt.version = tt.version.Next(time.Now())
}

func (tt *topicTable) snapshot() ([]metadata.TopicConfig, metadata.DataVersion) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return append([]metadata.TopicConfig(nil), tt.topics...), tt.version
}

func TestRegistrarRegistersAndUnregisters(t *testing.T) {
	ns1, ns2 := startNameServer(t), startNameServer(t)
	tt := &topicTable{}
	tt.add(testTopic("T", 4))
	logs := &namesrv.LogBuffer{}
	r := namesrv.NewRegistrar(namesrv.RegistrarConfig{
		NamesrvAddrs: namesrv.ParseNamesrvAddrs(ns1.addr + ";" + ns2.addr),
		ClusterName:  "DefaultCluster",
		BrokerName:   "broker-r",
		BrokerAddr:   "127.0.0.1:10911",
		HAServerAddr: "127.0.0.1:10912",
		Topics:       tt.snapshot,
	}, zerolog.New(logs))
	r.Start()
	defer r.Close()

	for _, ns := range []*nameServer{ns1, ns2} {
		poll.Until(t, "route of T on "+ns.addr, func() bool { _, ok := ns.m.PickupTopicRouteData("T"); return ok })
		route, _ := ns.m.PickupTopicRouteData("T")
		if route.BrokerDatas[0].BrokerName != "broker-r" || route.BrokerDatas[0].BrokerAddrs[0] != "127.0.0.1:10911" {
			t.Fatalf("route on %s: %s", ns.addr, route.Encode())
		}
	}

	// A topic created on the broker reaches the name servers without
	// waiting for the period, and RegisterNow's channel closes only once
	// both have it.
	tt.add(testTopic("New", 2))
	select {
	case <-r.RegisterNow():
	case <-time.After(10 * time.Second):
		t.Fatal("RegisterNow's channel still open after 10 s")
	}
	for _, ns := range []*nameServer{ns1, ns2} {
		if _, ok := ns.m.PickupTopicRouteData("New"); !ok {
			t.Fatalf("RegisterNow done but %s has no route of New", ns.addr)
		}
	}

	r.Close()
	for _, ns := range []*nameServer{ns1, ns2} {
		if _, ok := ns.m.PickupTopicRouteData("T"); ok {
			t.Fatalf("route of T still on %s after Close", ns.addr)
		}
		if live := ns.m.LiveBrokers(); len(live) != 0 {
			t.Fatalf("live brokers on %s after Close: %v", ns.addr, live)
		}
	}
	select { // after Close: nothing sent, no panic, and nobody waits
	case <-r.RegisterNow():
	default:
		t.Fatal("RegisterNow after Close returned an open channel")
	}
	if n := logs.Count("unregistered from name server"); n != 2 {
		t.Fatalf("%d unregister log lines, want 2:\n%s", n, logs)
	}
}

// A name server that is down neither stops registration with the others
// nor holds Close for long, and its failures are logged once per streak.
func TestRegistrarSurvivesDeadNameServer(t *testing.T) {
	ns := startNameServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there any more: connections are refused at once

	logs := &namesrv.LogBuffer{}
	r := namesrv.NewRegistrar(namesrv.RegistrarConfig{
		NamesrvAddrs: []string{dead, ns.addr},
		ClusterName:  "DefaultCluster",
		BrokerName:   "broker-d",
		BrokerAddr:   "127.0.0.1:10911",
		Timeout:      2 * time.Second,
		Topics: func() ([]metadata.TopicConfig, metadata.DataVersion) {
			return []metadata.TopicConfig{testTopic("T", 4)}, metadata.DataVersion{Counter: 1}
		},
	}, zerolog.New(logs).Level(zerolog.InfoLevel))
	r.Start()
	poll.Until(t, "route of T", func() bool { _, ok := ns.m.PickupTopicRouteData("T"); return ok })
	for i := 0; i < 3; i++ {
		// A refused connection fails at once, so the wait ends with it.
		select {
		case <-r.RegisterNow():
		case <-time.After(10 * time.Second):
			t.Fatal("RegisterNow's channel still open with one name server refusing connections")
		}
	}
	poll.Until(t, "the dead name server's failure to be logged", func() bool { return logs.Count("retrying every period") > 0 })

	start := time.Now()
	r.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if n := logs.Count("retrying every period"); n != 1 {
		t.Fatalf("%d failure lines for one streak, want 1:\n%s", n, logs)
	}
	if _, ok := ns.m.PickupTopicRouteData("T"); ok {
		t.Fatal("route still there after Close")
	}
}

// Topic changes made while a name server is stuck on a registration share
// the one call its next attempt answers, so its waiting list does not
// grow with them.
func TestRegistrarMergesCallsWhileNameServerStuck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan struct{}, 1)
	conns := make(chan net.Conn, 1)
	go func() { // accepts and reads, never answers
		c, err := ln.Accept()
		if err != nil {
			return
		}
		conns <- c
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
			select {
			case got <- struct{}{}:
			default:
			}
		}
	}()
	r := namesrv.NewRegistrar(namesrv.RegistrarConfig{
		NamesrvAddrs: []string{ln.Addr().String()},
		ClusterName:  "DefaultCluster",
		BrokerName:   "broker-s",
		BrokerAddr:   "127.0.0.1:10911",
		Timeout:      30 * time.Second, // stuck for the whole test
		Topics: func() ([]metadata.TopicConfig, metadata.DataVersion) {
			return []metadata.TopicConfig{testTopic("T", 4)}, metadata.DataVersion{Counter: 1}
		},
	}, zerolog.Nop())
	r.Start()
	defer func() {
		// Cut the name server off first, so that Close's unregister fails
		// at once instead of waiting out the Timeout.
		ln.Close()
		select {
		case c := <-conns:
			c.Close()
		default:
		}
		r.Close()
	}()
	select {
	case <-got: // the first registration is on the wire, unanswered
	case <-time.After(10 * time.Second):
		t.Fatal("no registration reached the name server")
	}
	first := r.RegisterNow()
	for i := 0; i < 100; i++ {
		if r.RegisterNow() != first {
			t.Fatalf("call %d got a channel of its own while the name server was stuck", i)
		}
	}
	select {
	case <-first:
		t.Fatal("RegisterNow's channel closed with the name server still stuck")
	default:
	}
}
