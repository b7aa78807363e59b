package namesrv

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// fakeClock is the manager's clock in tests: time moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

func newManager(t *testing.T) (*RouteInfoManager, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m := NewRouteInfoManager(zerolog.Nop())
	m.clock = clock.Now
	return m, clock
}

func topic(name string, queues int) metadata.TopicConfig {
	tc := metadata.NewTopicConfig(name)
	tc.ReadQueueNums, tc.WriteQueueNums = queues, queues
	return tc
}

func registration(brokerName, addr string, id, counter int64, topics ...metadata.TopicConfig) BrokerRegistration {
	table := make(map[string]metadata.TopicConfig, len(topics))
	for _, tc := range topics {
		table[tc.TopicName] = tc
	}
	return BrokerRegistration{
		ClusterName:  "DefaultCluster",
		BrokerName:   brokerName,
		BrokerAddr:   addr,
		BrokerID:     id,
		HAServerAddr: addr + "1",
		Topics:       table,
		DataVersion:  metadata.DataVersion{Counter: counter, Timestamp: 1700000000000},
	}
}

func mustRoute(t *testing.T, m *RouteInfoManager, topic string) *TopicRouteData {
	t.Helper()
	r, ok := m.PickupTopicRouteData(topic)
	if !ok {
		t.Fatalf("no route for %s; topics: %v", topic, m.TopicList())
	}
	return r
}

func noRoute(t *testing.T, m *RouteInfoManager, topic string) {
	t.Helper()
	if r, ok := m.PickupTopicRouteData(topic); ok {
		t.Fatalf("route for %s = %s, want none", topic, r.Encode())
	}
}

func TestRegisterBrokerBuildsRoute(t *testing.T) {
	m, _ := newManager(t)
	m.RegisterBroker(registration("b", "127.0.0.1:10911", 0, 1, topic("T", 4)))
	got := mustRoute(t, m, "T")
	want := &TopicRouteData{
		BrokerDatas:       []BrokerData{{BrokerAddrs: BrokerAddrs{0: "127.0.0.1:10911"}, BrokerName: "b", Cluster: "DefaultCluster"}},
		FilterServerTable: map[string][]string{},
		QueueDatas:        []QueueData{{BrokerName: "b", Perm: 6, ReadQueueNums: 4, WriteQueueNums: 4}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("route:\n got %+v\nwant %+v", got, want)
	}
	noRoute(t, m, "Unknown")
	if l := m.TopicList(); !slices.Equal(l, []string{"T"}) {
		t.Fatalf("topic list %v", l)
	}
}

// A repeated registration with the same data version is only a heartbeat;
// a new version replaces the broker's topics, dropping those it no longer
// lists.
func TestReRegisterDataVersion(t *testing.T) {
	m, _ := newManager(t)
	m.RegisterBroker(registration("b", "127.0.0.1:10911", 0, 1, topic("A", 4), topic("B", 4)))

	m.RegisterBroker(registration("b", "127.0.0.1:10911", 0, 1, topic("A", 8), topic("C", 4)))
	if got := mustRoute(t, m, "A").QueueDatas[0].WriteQueueNums; got != 4 {
		t.Fatalf("same version changed queue count to %d", got)
	}
	mustRoute(t, m, "B")
	noRoute(t, m, "C")

	m.RegisterBroker(registration("b", "127.0.0.1:10911", 0, 2, topic("A", 8), topic("C", 4)))
	if got := mustRoute(t, m, "A").QueueDatas[0].WriteQueueNums; got != 8 {
		t.Fatalf("new version: A has %d write queues, want 8", got)
	}
	mustRoute(t, m, "C")
	noRoute(t, m, "B")
	if l := m.TopicList(); !slices.Equal(l, []string{"A", "C"}) {
		t.Fatalf("topic list %v", l)
	}
}

func TestTwoBrokersShareTopic(t *testing.T) {
	m, _ := newManager(t)
	m.RegisterBroker(registration("broker-b", "127.0.0.1:20911", 0, 1, topic("T", 2), topic("OnlyB", 1)))
	m.RegisterBroker(registration("broker-a", "127.0.0.1:10911", 0, 1, topic("T", 4)))
	r := mustRoute(t, m, "T")
	if len(r.BrokerDatas) != 2 || r.BrokerDatas[0].BrokerName != "broker-a" || r.BrokerDatas[1].BrokerName != "broker-b" {
		t.Fatalf("brokerDatas not both, sorted: %+v", r.BrokerDatas)
	}
	if len(r.QueueDatas) != 2 || r.QueueDatas[0].BrokerName != "broker-a" || r.QueueDatas[0].WriteQueueNums != 4 ||
		r.QueueDatas[1].BrokerName != "broker-b" || r.QueueDatas[1].WriteQueueNums != 2 {
		t.Fatalf("queueDatas: %+v", r.QueueDatas)
	}
	if r := mustRoute(t, m, "OnlyB"); len(r.BrokerDatas) != 1 || r.BrokerDatas[0].BrokerName != "broker-b" {
		t.Fatalf("OnlyB route: %+v", r)
	}

	// Unregistering one leaves the other's share of T.
	m.UnregisterBroker("DefaultCluster", "127.0.0.1:20911", "broker-b", 0)
	r = mustRoute(t, m, "T")
	if len(r.BrokerDatas) != 1 || r.BrokerDatas[0].BrokerName != "broker-a" || len(r.QueueDatas) != 1 {
		t.Fatalf("after unregistering broker-b: %s", r.Encode())
	}
	noRoute(t, m, "OnlyB")
}

// A slave adds its address but not its topics, and learns its master.
func TestSlaveRegistration(t *testing.T) {
	m, _ := newManager(t)
	res := m.RegisterBroker(registration("b", "127.0.0.1:10911", 0, 1, topic("T", 4)))
	if res != (RegisterBrokerResult{}) {
		t.Fatalf("master got %+v", res)
	}
	res = m.RegisterBroker(registration("b", "127.0.0.1:10921", 1, 1, topic("T", 4), topic("SlaveOnly", 4)))
	if res.MasterAddr != "127.0.0.1:10911" || res.HAServerAddr != "127.0.0.1:109111" {
		t.Fatalf("slave result %+v", res)
	}
	noRoute(t, m, "SlaveOnly")
	r := mustRoute(t, m, "T")
	if want := (BrokerAddrs{0: "127.0.0.1:10911", 1: "127.0.0.1:10921"}); !reflect.DeepEqual(r.BrokerDatas[0].BrokerAddrs, want) {
		t.Fatalf("addrs %v", r.BrokerDatas[0].BrokerAddrs)
	}

	// The slave is promoted: the same address now registers as id 0, and
	// must not also stay under id 1.
	m.UnregisterBroker("DefaultCluster", "127.0.0.1:10911", "b", 0)
	m.RegisterBroker(registration("b", "127.0.0.1:10921", 0, 1, topic("T", 4)))
	r = mustRoute(t, m, "T")
	if want := (BrokerAddrs{0: "127.0.0.1:10921"}); !reflect.DeepEqual(r.BrokerDatas[0].BrokerAddrs, want) {
		t.Fatalf("after promotion addrs %v", r.BrokerDatas[0].BrokerAddrs)
	}
}

func TestUnregisterBroker(t *testing.T) {
	m, _ := newManager(t)
	m.RegisterBroker(registration("b", "127.0.0.1:10911", 0, 1, topic("T", 4)))
	m.UnregisterBroker("DefaultCluster", "127.0.0.1:10911", "b", 0)
	noRoute(t, m, "T")
	if l := m.TopicList(); len(l) != 0 {
		t.Fatalf("topics left: %v", l)
	}
	ci := m.ClusterInfo()
	if len(ci.BrokerAddrTable) != 0 || len(ci.ClusterAddrTable) != 0 {
		t.Fatalf("cluster info left: %s", ci.Encode())
	}
	if len(m.LiveBrokers()) != 0 {
		t.Fatalf("live table left: %v", m.LiveBrokers())
	}
	// Registering again after an unregister is a first registration even
	// with the old data version.
	m.RegisterBroker(registration("b", "127.0.0.1:10911", 0, 1, topic("T", 4)))
	mustRoute(t, m, "T")
}

func TestScanNotActiveBroker(t *testing.T) {
	m, clock := newManager(t)
	m.RegisterBroker(registration("a", "127.0.0.1:10911", 0, 1, topic("Shared", 4), topic("OnlyA", 4)))
	clock.Advance(60 * time.Second)
	m.RegisterBroker(registration("b", "127.0.0.1:20911", 0, 1, topic("Shared", 4)))

	if gone := m.ScanNotActiveBroker(clock.Advance(60 * time.Second)); len(gone) != 0 {
		t.Fatalf("expired at exactly the timeout: %v", gone)
	}
	gone := m.ScanNotActiveBroker(clock.Advance(time.Millisecond))
	if !slices.Equal(gone, []string{"127.0.0.1:10911"}) {
		t.Fatalf("expired %v, want only broker a", gone)
	}
	noRoute(t, m, "OnlyA")
	r := mustRoute(t, m, "Shared")
	if len(r.BrokerDatas) != 1 || r.BrokerDatas[0].BrokerName != "b" || len(r.QueueDatas) != 1 {
		t.Fatalf("Shared after a expired: %s", r.Encode())
	}
	if _, ok := m.ClusterInfo().BrokerAddrTable["a"]; ok {
		t.Fatal("broker a still in cluster info")
	}

	// A registration is a heartbeat: b stays while it keeps registering.
	clock.Advance(100 * time.Second)
	m.RegisterBroker(registration("b", "127.0.0.1:20911", 0, 1, topic("Shared", 4)))
	if gone := m.ScanNotActiveBroker(clock.Advance(100 * time.Second)); len(gone) != 0 {
		t.Fatalf("b expired despite registering: %v", gone)
	}
	m.ScanNotActiveBroker(clock.Advance(21 * time.Second))
	noRoute(t, m, "Shared")
	if ci := m.ClusterInfo(); len(ci.ClusterAddrTable) != 0 {
		t.Fatalf("cluster left after every broker expired: %s", ci.Encode())
	}
}

func TestExpiryIsConfigurable(t *testing.T) {
	m, clock := newManager(t)
	m.BrokerChannelExpiredTime = time.Second
	m.RegisterBroker(registration("a", "127.0.0.1:10911", 0, 1, topic("T", 4)))
	reg := registration("b", "127.0.0.1:20911", 0, 1, topic("T", 4))
	reg.HeartbeatTimeout = time.Hour
	m.RegisterBroker(reg)
	gone := m.ScanNotActiveBroker(clock.Advance(2 * time.Second))
	if !slices.Equal(gone, []string{"127.0.0.1:10911"}) {
		t.Fatalf("expired %v, want a only (b has its own timeout)", gone)
	}
}

func TestStartScanner(t *testing.T) {
	m := NewRouteInfoManager(zerolog.Nop())
	m.BrokerChannelExpiredTime = 50 * time.Millisecond
	m.RegisterBroker(registration("a", "127.0.0.1:10911", 0, 1, topic("T", 4)))
	stop := m.StartScanner(10 * time.Millisecond)
	defer stop()
	poll.Until(t, "the scanner expiring the broker", func() bool { _, ok := m.PickupTopicRouteData("T"); return !ok })
	stop()
	stop() // idempotent
}

func TestDeleteTopic(t *testing.T) {
	m, _ := newManager(t)
	m.RegisterBroker(registration("a", "127.0.0.1:10911", 0, 1, topic("T", 4), topic("U", 4)))
	other := registration("c", "127.0.0.1:30911", 0, 1, topic("T", 4))
	other.ClusterName = "Other"
	m.RegisterBroker(other)

	if !m.DeleteTopic("T", "Other") {
		t.Fatal("delete T on cluster Other removed nothing")
	}
	if r := mustRoute(t, m, "T"); len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != "a" {
		t.Fatalf("T after cluster delete: %s", r.Encode())
	}
	if !m.DeleteTopic("T", "") {
		t.Fatal("delete T removed nothing")
	}
	noRoute(t, m, "T")
	if m.DeleteTopic("T", "") {
		t.Fatal("second delete reported a removal")
	}
	mustRoute(t, m, "U")
}

// goClientRoute is what rocketmq-client-go keeps of a route
// (internal/route.go TopicRouteData.decode).
type goClientRoute struct {
	QueueDatas []QueueData
	Brokers    []goClientBroker
}

type goClientBroker struct {
	Cluster, BrokerName string
	Addrs               map[int64]string
}

// parseLikeGoClient decodes a route body the way the Go client does:
// queueDatas with a JSON decoder, brokerAddrs by hand from its raw text
// (strip the braces, split on ',', split at the first ':', delete '"',
// parse the key as int64, ignore a bad key).
func parseLikeGoClient(t *testing.T, body []byte) goClientRoute {
	t.Helper()
	var top struct {
		QueueDatas  []QueueData       `json:"queueDatas"`
		BrokerDatas []json.RawMessage `json:"brokerDatas"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatalf("route body: %v\n%s", err, body)
	}
	out := goClientRoute{QueueDatas: top.QueueDatas}
	for _, raw := range top.BrokerDatas {
		var bd struct {
			BrokerName  string          `json:"brokerName"`
			Cluster     string          `json:"cluster"`
			BrokerAddrs json.RawMessage `json:"brokerAddrs"`
		}
		if err := json.Unmarshal(raw, &bd); err != nil {
			t.Fatalf("brokerData: %v", err)
		}
		addrs := string(bd.BrokerAddrs)
		if len(addrs) < 2 {
			t.Fatalf("brokerAddrs %q would make the Go client slice out of range", addrs)
		}
		b := goClientBroker{Cluster: bd.Cluster, BrokerName: bd.BrokerName, Addrs: map[int64]string{}}
		for _, item := range strings.Split(addrs[1:len(addrs)-1], ",") {
			i := strings.Index(item, ":")
			if i < 0 {
				continue
			}
			id, _ := strconv.ParseInt(strings.ReplaceAll(item[:i], `"`, ""), 10, 64)
			b.Addrs[id] = strings.ReplaceAll(item[i+1:], `"`, "")
		}
		out.Brokers = append(out.Brokers, b)
	}
	return out
}

func TestRouteJSONExactBytes(t *testing.T) {
	m, _ := newManager(t)
	m.RegisterBroker(registration("b", "127.0.0.1:10911", 0, 1, topic("T", 4)))
	body := mustRoute(t, m, "T").Encode()
	const want = `{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"b","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if string(body) != want {
		t.Fatalf("route body:\n got %s\nwant %s", body, want)
	}
	got := parseLikeGoClient(t, body)
	wantParsed := goClientRoute{
		QueueDatas: []QueueData{{BrokerName: "b", Perm: 6, ReadQueueNums: 4, WriteQueueNums: 4}},
		Brokers:    []goClientBroker{{Cluster: "DefaultCluster", BrokerName: "b", Addrs: map[int64]string{0: "127.0.0.1:10911"}}},
	}
	if !reflect.DeepEqual(got, wantParsed) {
		t.Fatalf("Go client would read %+v, want %+v", got, wantParsed)
	}
}

// Several ids, two brokers: still no whitespace anywhere, ids in numeric
// order, and the Go client's parser reads every address intact.
func TestRouteJSONManyAddrs(t *testing.T) {
	m, _ := newManager(t)
	m.RegisterBroker(registration("z", "10.0.0.9:10911", 0, 1, topic("T", 2)))
	m.RegisterBroker(registration("a", "10.0.0.1:10911", 0, 1, topic("T", 4)))
	m.RegisterBroker(registration("a", "10.0.0.2:10911", 10, 1))
	m.RegisterBroker(registration("a", "10.0.0.3:10911", 2, 1))
	body := mustRoute(t, m, "T").Encode()
	if bytes.ContainsAny(body, " \t\r\n") {
		t.Fatalf("whitespace in route body: %s", body)
	}
	if !bytes.Contains(body, []byte(`"brokerAddrs":{"0":"10.0.0.1:10911","2":"10.0.0.3:10911","10":"10.0.0.2:10911"}`)) {
		t.Fatalf("brokerAddrs not in numeric order: %s", body)
	}
	got := parseLikeGoClient(t, body)
	if len(got.Brokers) != 2 || got.Brokers[0].BrokerName != "a" || got.Brokers[1].BrokerName != "z" {
		t.Fatalf("brokers %+v", got.Brokers)
	}
	if want := map[int64]string{0: "10.0.0.1:10911", 2: "10.0.0.3:10911", 10: "10.0.0.2:10911"}; !reflect.DeepEqual(got.Brokers[0].Addrs, want) {
		t.Fatalf("addrs %v", got.Brokers[0].Addrs)
	}
	back, err := DecodeTopicRouteData(body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Encode(), body) {
		t.Fatalf("round trip changed the body:\n%s\n%s", back.Encode(), body)
	}
}

func TestEmptyBrokerAddrsStillAnObject(t *testing.T) {
	r := TopicRouteData{BrokerDatas: []BrokerData{{BrokerName: "b", Cluster: "c"}}}
	const want = `{"brokerDatas":[{"brokerAddrs":{},"brokerName":"b","cluster":"c"}],"filterServerTable":{},"queueDatas":[]}`
	if got := string(r.Encode()); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	parseLikeGoClient(t, r.Encode())
}

func TestClusterInfoAndTopicListJSON(t *testing.T) {
	m, _ := newManager(t)
	m.RegisterBroker(registration("b", "127.0.0.1:20911", 0, 1, topic("T2", 1)))
	m.RegisterBroker(registration("a", "127.0.0.1:10911", 0, 1, topic("T1", 1)))
	const want = `{"brokerAddrTable":{"a":{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"a","cluster":"DefaultCluster"},` +
		`"b":{"brokerAddrs":{"0":"127.0.0.1:20911"},"brokerName":"b","cluster":"DefaultCluster"}},"clusterAddrTable":{"DefaultCluster":["a","b"]}}`
	if got := string(m.ClusterInfo().Encode()); got != want {
		t.Fatalf("cluster info:\n got %s\nwant %s", got, want)
	}
	if got := string((&TopicList{TopicList: m.TopicList()}).Encode()); got != `{"topicList":["T1","T2"]}` {
		t.Fatalf("topic list %s", got)
	}
	if got := string((&TopicList{}).Encode()); got != `{"topicList":[]}` {
		t.Fatalf("empty topic list %s", got)
	}
}

// A Java 4.9 broker's body, as fastjson writes it (alphabetical keys, enum
// names, an AtomicLong counter), plus RocketMQ 5's extra fields and, to be
// safe, an unquoted integer key of the kind fastjson writes for Integer
// maps.
func TestDecodeRegisterBodyFromJava(t *testing.T) {
	java := `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":7,"stateVersion":0,"timestamp":1700000000123},` +
		`"topicConfigTable":{"TBW102":{"attributes":{},"order":false,"perm":7,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"TBW102","topicSysFlag":0,"writeQueueNums":8},` +
		`"%RETRY%cg":{"order":false,"perm":6,"readQueueNums":1,"topicFilterType":"SINGLE_TAG","topicName":"%RETRY%cg","topicSysFlag":0,"writeQueueNums":1}},` +
		`"topicQueueMappingInfoMap":{},"topicQueueMappingDetailMap":{"x":{"hostedQueues":{0:[{"bname":"b"}]}}}}}`
	b, err := DecodeRegisterBrokerBody([]byte(java))
	if err != nil {
		t.Fatal(err)
	}
	w := b.TopicConfigSerializeWrapper
	if w.DataVersion != (metadata.DataVersion{Counter: 7, Timestamp: 1700000000123}) {
		t.Fatalf("data version %+v", w.DataVersion)
	}
	if tc := w.TopicConfigTable["TBW102"]; tc.Perm != 7 || tc.ReadQueueNums != 8 || tc.TopicFilterType != metadata.TopicFilterTypeSingle || tc.TopicName != "TBW102" {
		t.Fatalf("TBW102 %+v", tc)
	}
	if tc := w.TopicConfigTable["%RETRY%cg"]; tc.WriteQueueNums != 1 {
		t.Fatalf("retry topic %+v", tc)
	}
	if _, err := DecodeRegisterBrokerBody([]byte(`{"topicConfigSerializeWrapper":`)); err == nil {
		t.Fatal("truncated body decoded")
	}
}

func TestRegisterBodyEncode(t *testing.T) {
	tc := topic("T", 4)
	b := RegisterBrokerBody{TopicConfigSerializeWrapper: metadata.TopicConfigSerializeWrapper{
		DataVersion:      metadata.DataVersion{Counter: 3, Timestamp: 1700000000000},
		TopicConfigTable: map[string]metadata.TopicConfig{"T": tc},
	}}
	const want = `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"timestamp":1700000000000},` +
		`"topicConfigTable":{"T":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":4}}}}`
	if got := string(b.Encode()); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

func TestRegistrarClampsPeriod(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, 30 * time.Second}, {time.Second, 10 * time.Second}, {45 * time.Second, 45 * time.Second}, {5 * time.Minute, 60 * time.Second},
	} {
		r := NewRegistrar(RegistrarConfig{Period: c.in}, zerolog.Nop())
		if r.period != c.want || r.cfg.Timeout != DefaultRegisterTimeout {
			t.Errorf("period %v → %v (timeout %v), want %v", c.in, r.period, r.cfg.Timeout, c.want)
		}
	}
	if got := ParseNamesrvAddrs(" 127.0.0.1:9876; ;127.0.0.1:9877;"); !slices.Equal(got, []string{"127.0.0.1:9876", "127.0.0.1:9877"}) {
		t.Fatalf("ParseNamesrvAddrs = %v", got)
	}
}

// A killed broker's connection closes: its route goes at once, the rest of
// its group (a slave registered over another connection) stays, and a
// broker that registered again over a newer connection is not dropped by
// the old one's close.
func TestOnChannelDestroy(t *testing.T) {
	m, _ := newManager(t)
	type channel struct{ int }
	masterConn, slaveConn, newConn := &channel{1}, &channel{2}, &channel{3}
	master := registration("a", "127.0.0.1:10911", 0, 1, topic("T", 4))
	master.Channel = masterConn
	slave := registration("a", "127.0.0.1:10921", 1, 1, topic("T", 4))
	slave.Channel = slaveConn
	m.RegisterBroker(master)
	m.RegisterBroker(slave)

	if gone := m.OnChannelDestroy(nil); len(gone) != 0 {
		t.Fatalf("a nil channel dropped %v", gone)
	}
	if gone := m.OnChannelDestroy(masterConn); !slices.Equal(gone, []string{"127.0.0.1:10911"}) {
		t.Fatalf("dropped %v, want the master only", gone)
	}
	route, ok := m.PickupTopicRouteData("T")
	if !ok || len(route.BrokerDatas) != 1 {
		t.Fatalf("route after the master's close: %+v %v", route, ok)
	}
	if addrs := route.BrokerDatas[0].BrokerAddrs; len(addrs) != 1 || addrs[1] != "127.0.0.1:10921" {
		t.Fatalf("broker addrs after the master's close: %v, want the slave alone", addrs)
	}

	slave.Channel = newConn
	m.RegisterBroker(slave)
	if gone := m.OnChannelDestroy(slaveConn); len(gone) != 0 {
		t.Fatalf("the slave's old connection dropped %v although it registered again over a new one", gone)
	}
}
