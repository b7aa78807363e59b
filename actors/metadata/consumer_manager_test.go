package metadata

import (
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

type fakeChannel struct {
	id       string
	mu       sync.Mutex
	notified []string
}

func newChannel(id string) *fakeChannel { return &fakeChannel{id: id} }

func (c *fakeChannel) ID() string { return c.id }

func (c *fakeChannel) Notify(group string) {
	c.mu.Lock()
	c.notified = append(c.notified, group)
	c.mu.Unlock()
}

// takeNotified returns and clears the groups notified so far.
func (c *fakeChannel) takeNotified() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.notified
	c.notified = nil
	return n
}

func sub(topic, expr string, version int64) SubscriptionData {
	sd, err := BuildSubscriptionData(topic, expr, "TAG")
	if err != nil {
		panic(err)
	}
	sd.SubVersion = version
	return sd
}

func consumer(group string, subs ...SubscriptionData) ConsumerData {
	return ConsumerData{GroupName: group, ConsumeType: ConsumePassively, MessageModel: MessageModelClustering,
		ConsumeFromWhere: ConsumeFromLastOffset, SubscriptionDataSet: subs}
}

func TestConsumerRegisterChangeDetection(t *testing.T) {
	cfg, _ := testConfig(t, "")
	m := NewConsumerManager(cfg)
	c1, c2 := newChannel("c1"), newChannel("c2")
	base := consumer("cg", sub("T", "*", 1), sub("%RETRY%cg", "*", 1))

	steps := []struct {
		name string
		ch   Channel
		id   string
		data ConsumerData
		want bool
	}{
		{"first client", c1, "a@1", base, true},
		{"same heartbeat again", c1, "a@1", base, false},
		{"newer subVersion, same topics", c1, "a@1", consumer("cg", sub("T", "TagA", 2), sub("%RETRY%cg", "*", 2)), false},
		{"second client", c2, "b@2", base, true},
		{"topic added", c1, "a@1", consumer("cg", sub("T", "TagA", 3), sub("%RETRY%cg", "*", 3), sub("U", "*", 3)), true},
		{"topic dropped", c1, "a@1", consumer("cg", sub("T", "TagA", 4), sub("%RETRY%cg", "*", 4)), true},
		{"other group, same channel", c1, "a@1", consumer("cg2", sub("T", "*", 1)), true},
	}
	for _, s := range steps {
		if got := m.Register(s.ch, s.id, "GO", 317, s.data); got != s.want {
			t.Fatalf("%s: changed = %v, want %v", s.name, got, s.want)
		}
	}
	// Newer versions replace the expression; older ones do not.
	if sd, ok := m.Subscription("cg", "T"); !ok || sd.SubString != "TagA" || sd.SubVersion != 4 {
		t.Fatalf("subscription %+v %v", sd, ok)
	}
	m.Register(c2, "b@2", "GO", 317, consumer("cg", sub("T", "TagZ", 0), sub("%RETRY%cg", "*", 0)))
	if sd, _ := m.FindSubscriptionData("cg", "T"); sd.SubString != "TagA" {
		t.Fatalf("older subVersion replaced the subscription: %+v", sd)
	}
	if _, ok := m.Subscription("cg", "U"); ok {
		t.Fatal("dropped topic still subscribed")
	}
	if _, ok := m.Subscription("nope", "T"); ok {
		t.Fatal("unknown group has a subscription")
	}
	if got := m.ConsumerIDs("cg"); !reflect.DeepEqual(got, []string{"a@1", "b@2"}) {
		t.Fatalf("ConsumerIDs %v", got)
	}
	if got := m.ChannelsOf("cg"); len(got) != 2 || got[0].ID() != "c1" || got[1].ID() != "c2" {
		t.Fatalf("ChannelsOf %v", got)
	}
	if got := m.Groups(); !reflect.DeepEqual(got, []string{"cg", "cg2"}) {
		t.Fatalf("Groups %v", got)
	}
	if got := m.QueryTopicConsumeByWho("T"); !reflect.DeepEqual(got, []string{"cg", "cg2"}) {
		t.Fatalf("QueryTopicConsumeByWho %v", got)
	}
	info, ok := m.GroupInfo("cg")
	if !ok || info.MessageModel != MessageModelClustering || len(info.Clients) != 2 || info.Clients[0].ClientID != "a@1" ||
		info.Clients[0].Language != "GO" || info.Clients[0].Version != 317 || len(info.Subscriptions) != 2 {
		t.Fatalf("GroupInfo %+v", info)
	}
}

func TestConsumerIDsDeduplicated(t *testing.T) {
	cfg, _ := testConfig(t, "")
	m := NewConsumerManager(cfg)
	// The same client on a new connection before the old one is noticed dead.
	m.Register(newChannel("old"), "a@1", "GO", 317, consumer("cg"))
	m.Register(newChannel("new"), "a@1", "GO", 317, consumer("cg"))
	m.Register(newChannel("x"), "0@0", "GO", 317, consumer("cg"))
	if got := m.ConsumerIDs("cg"); !reflect.DeepEqual(got, []string{"0@0", "a@1"}) {
		t.Fatalf("ConsumerIDs %v", got)
	}
	if got := m.ConsumerIDs("none"); len(got) != 0 {
		t.Fatalf("unknown group %v", got)
	}
}

func TestConsumerChannelClosed(t *testing.T) {
	cfg, _ := testConfig(t, "")
	m := NewConsumerManager(cfg)
	c1, c2 := newChannel("c1"), newChannel("c2")
	m.Register(c1, "a@1", "GO", 317, consumer("g1"))
	m.Register(c1, "a@1", "GO", 317, consumer("g2"))
	m.Register(c2, "b@2", "GO", 317, consumer("g1"))

	if got := m.ChannelClosed(c1); !reflect.DeepEqual(got, []string{"g1", "g2"}) {
		t.Fatalf("changed %v", got)
	}
	if got := m.Groups(); !reflect.DeepEqual(got, []string{"g1"}) {
		t.Fatalf("emptied group kept: %v", got)
	}
	if got := m.ConsumerIDs("g1"); !reflect.DeepEqual(got, []string{"b@2"}) {
		t.Fatalf("ids %v", got)
	}
	if got := m.ChannelClosed(c1); len(got) != 0 {
		t.Fatalf("second close changed %v", got)
	}
	if !m.Unregister("g1", c2) || m.Unregister("g1", c2) || len(m.Groups()) != 0 {
		t.Fatal("Unregister")
	}
}

func TestConsumerScanExpired(t *testing.T) {
	cfg, clock := testConfig(t, "")
	m := NewConsumerManager(cfg)
	quiet, chatty := newChannel("quiet"), newChannel("chatty")
	m.Register(quiet, "q@1", "GO", 317, consumer("g1"))
	m.Register(quiet, "q@1", "GO", 317, consumer("g2"))
	m.Register(chatty, "c@1", "GO", 317, consumer("g1"))

	clock.Advance(90 * time.Second)
	m.Register(chatty, "c@1", "GO", 317, consumer("g1"))
	clock.Advance(30 * time.Second) // quiet: exactly 120 s, not yet expired
	if exp, ch := m.ScanExpired(clock.Now(), ChannelExpiredTimeout); len(exp) != 0 || len(ch) != 0 {
		t.Fatalf("expired at the limit: %v %v", exp, ch)
	}
	clock.Advance(time.Millisecond)
	exp, changed := m.ScanExpired(clock.Now(), ChannelExpiredTimeout)
	if len(exp) != 1 || exp[0].ID() != "quiet" || !reflect.DeepEqual(changed, []string{"g1", "g2"}) {
		t.Fatalf("expired %v changed %v", exp, changed)
	}
	if got := m.Groups(); !reflect.DeepEqual(got, []string{"g1"}) {
		t.Fatalf("groups %v", got)
	}
	if got := m.ConsumerIDs("g1"); !reflect.DeepEqual(got, []string{"c@1"}) {
		t.Fatalf("ids %v", got)
	}
}

func TestProducerManager(t *testing.T) {
	cfg, clock := testConfig(t, "")
	m := NewProducerManager(cfg)
	p1, p2 := newChannel("p1"), newChannel("p2")
	m.Register(p1, "a@1", "GO", 317, "pg")
	clock.Advance(time.Second)
	m.Register(p2, "b@2", "JAVA", 401, "pg")
	m.Register(p1, "a@1", "GO", 317, "other")
	if ch, ok := m.AvailableChannel("pg"); !ok || ch.ID() != "p2" {
		t.Fatalf("AvailableChannel %v %v", ch, ok)
	}
	if ch, ok := m.FindChannel("a@1"); !ok || ch.ID() != "p1" {
		t.Fatalf("FindChannel %v %v", ch, ok)
	}
	if got := m.Groups(); !reflect.DeepEqual(got, []string{"other", "pg"}) {
		t.Fatalf("Groups %v", got)
	}
	if got := m.ChannelClosed(p1); !reflect.DeepEqual(got, []string{"other", "pg"}) {
		t.Fatalf("ChannelClosed %v", got)
	}
	if cs := m.Clients("pg"); len(cs) != 1 || cs[0].ClientID != "b@2" || cs[0].Language != "JAVA" {
		t.Fatalf("Clients %+v", cs)
	}
	clock.Advance(ChannelExpiredTimeout + time.Second)
	if exp := m.ScanExpired(clock.Now(), ChannelExpiredTimeout); len(exp) != 1 || exp[0].ID() != "p2" {
		t.Fatalf("expired %v", exp)
	}
	if _, ok := m.AvailableChannel("pg"); ok || len(m.Groups()) != 0 {
		t.Fatal("expired producer kept")
	}
}

// HEART_BEAT end to end over the managers: group and retry topic created,
// first registration notifies, a repeat does not, a second member notifies
// both, a closed channel notifies the survivor.
func TestManagersHeartBeat(t *testing.T) {
	dir := t.TempDir()
	cfg, clock := testConfig(t, dir)
	ms, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := DecodeHeartbeat([]byte(goHeartbeat))
	if err != nil {
		t.Fatal(err)
	}
	hb.ProducerDataSet = []ProducerData{{GroupName: "pg"}}
	c1, c2 := newChannel("c1"), newChannel("c2")

	if got := ms.HeartBeat(c1, "GO", 317, hb); !reflect.DeepEqual(got, []string{"cg"}) {
		t.Fatalf("changed %v", got)
	}
	if got := c1.takeNotified(); !reflect.DeepEqual(got, []string{"cg"}) {
		t.Fatalf("c1 notified %v", got)
	}
	if tc, ok := ms.Topics.Select("%RETRY%cg"); !ok || tc.ReadQueueNums != 1 || tc.Perm != 6 {
		t.Fatalf("retry topic %v %v", tc, ok)
	}
	if _, ok := ms.SubscriptionGroups.Find("cg"); !ok {
		t.Fatal("subscription group not created")
	}
	if got := ms.Producers.Groups(); !reflect.DeepEqual(got, []string{"pg"}) {
		t.Fatalf("producers %v", got)
	}

	if got := ms.HeartBeat(c1, "GO", 317, hb); len(got) != 0 || len(c1.takeNotified()) != 0 {
		t.Fatalf("repeat heartbeat changed %v", got)
	}

	hb2 := hb
	hb2.ClientID = "192.0.2.3@1"
	ms.HeartBeat(c2, "GO", 317, hb2)
	if n1, n2 := c1.takeNotified(), c2.takeNotified(); !reflect.DeepEqual(n1, []string{"cg"}) || !reflect.DeepEqual(n2, []string{"cg"}) {
		t.Fatalf("second member: c1 %v c2 %v", n1, n2)
	}
	if got := ms.Consumers.ConsumerIDs("cg"); !reflect.DeepEqual(got, []string{"192.0.2.2@15839", "192.0.2.3@1"}) {
		t.Fatalf("ids %v", got)
	}

	// notifyConsumerIdsChangedEnable=false silences heartbeat notifications.
	sg, _ := ms.SubscriptionGroups.Find("cg")
	sg.NotifyConsumerIdsChangedEnable = false
	if err := ms.SubscriptionGroups.Update(sg); err != nil {
		t.Fatal(err)
	}
	hb3 := hb
	hb3.ClientID = "192.0.2.4@1"
	c3 := newChannel("c3")
	if got := ms.HeartBeat(c3, "GO", 317, hb3); len(got) != 1 || len(c1.takeNotified())+len(c3.takeNotified()) != 0 {
		t.Fatalf("notified despite the group's setting: %v", got)
	}

	if got := ms.ChannelClosed(c2); !reflect.DeepEqual(got, []string{"cg"}) {
		t.Fatalf("close changed %v", got)
	}
	if n1 := c1.takeNotified(); !reflect.DeepEqual(n1, []string{"cg"}) || len(c2.takeNotified()) != 0 {
		t.Fatalf("close: c1 %v", n1)
	}

	// c1 keeps talking, c3 goes silent.
	clock.Advance(100 * time.Second)
	ms.HeartBeat(c1, "GO", 317, hb)
	c3.takeNotified()
	clock.Advance(21 * time.Second)
	exp := ms.ScanNotActive(clock.Now())
	if len(exp) != 1 || exp[0].ID() != "c3" {
		t.Fatalf("expired %v", exp)
	}
	if n1 := c1.takeNotified(); !reflect.DeepEqual(n1, []string{"cg"}) {
		t.Fatalf("survivor not notified after expiry: %v", n1)
	}
	if err := ms.Persist(); err != nil {
		t.Fatal(err)
	}
	// The retry topic and the group survive a restart.
	ms2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ms2.Topics.Select("%RETRY%cg"); !ok {
		t.Fatal("retry topic lost")
	}
	if sg, ok := ms2.SubscriptionGroups.Find("cg"); !ok || sg.NotifyConsumerIdsChangedEnable {
		t.Fatalf("group after restart %+v %v", sg, ok)
	}
}

func TestManagersHeartBeatWithoutAutoCreateGroup(t *testing.T) {
	cfg, _ := testConfig(t, "")
	cfg.AutoCreateSubscriptionGroup = false
	ms, _ := Open(cfg)
	hb, _ := DecodeHeartbeat([]byte(goHeartbeat))
	c := newChannel("c")
	// Java still registers the consumer (and notifies), but creates neither
	// the group nor its retry topic.
	if got := ms.HeartBeat(c, "GO", 317, hb); !reflect.DeepEqual(got, []string{"cg"}) {
		t.Fatalf("changed %v", got)
	}
	if _, ok := ms.Topics.Select("%RETRY%cg"); ok {
		t.Fatal("retry topic created without a group")
	}
	if _, ok := ms.SubscriptionGroups.Find("cg"); ok {
		t.Fatal("group created")
	}
	if !slices.Equal(c.takeNotified(), []string{"cg"}) {
		t.Fatal("not notified")
	}
}
