package metadata

import (
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

func TestSubscriptionGroupBuiltinsAndDefaults(t *testing.T) {
	cfg, _ := testConfig(t, "")
	m, err := NewSubscriptionGroupManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CID_ONS-HTTP-PROXY", "CID_ONSAPI_OWNER", "CID_ONSAPI_PERMISSION", "CID_ONSAPI_PULL",
		"FILTERSRV_CONSUMER", "SELF_TEST_C_GROUP", "TOOLS_CONSUMER"}
	if got := m.Groups(); !reflect.DeepEqual(got, want) {
		t.Fatalf("built-ins %v", got)
	}
	c, _ := m.Find("TOOLS_CONSUMER")
	if c != NewSubscriptionGroupConfig("TOOLS_CONSUMER") {
		t.Fatalf("defaults %+v", c)
	}
	d := NewSubscriptionGroupConfig("g")
	if !d.ConsumeEnable || !d.ConsumeFromMinEnable || !d.ConsumeBroadcastEnable || d.RetryQueueNums != 1 ||
		d.RetryMaxTimes != 16 || d.BrokerID != 0 || d.WhichBrokerWhenConsumeSlowly != 1 || !d.NotifyConsumerIdsChangedEnable {
		t.Fatalf("Java defaults %+v", d)
	}
}

func TestSubscriptionGroupFindOrCreate(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	cfg.AutoCreateSubscriptionGroup = false
	m, _ := NewSubscriptionGroupManager(cfg)
	var changes atomic.Int32
	m.SetOnChange(func() { changes.Add(1) })
	if _, ok := m.FindOrCreate("cg"); ok {
		t.Fatal("created with autoCreateSubscriptionGroup=false")
	}
	if c, ok := m.FindOrCreate("CID_RMQ_SYS_x"); !ok || c.GroupName != "CID_RMQ_SYS_x" {
		t.Fatal("system group must be created anyway")
	}
	cfg.AutoCreateSubscriptionGroup = true
	m, _ = NewSubscriptionGroupManager(cfg) // reloads CID_RMQ_SYS_x
	if _, ok := m.Find("CID_RMQ_SYS_x"); !ok {
		t.Fatal("created group not persisted")
	}
	v := m.DataVersion()
	c, ok := m.FindOrCreate("cg")
	if !ok || c != NewSubscriptionGroupConfig("cg") || m.DataVersion().Counter != v.Counter+1 {
		t.Fatalf("%+v %v %+v", c, ok, m.DataVersion())
	}
	if _, ok := m.FindOrCreate("cg"); !ok || m.DataVersion().Counter != v.Counter+1 {
		t.Fatal("second find changed the version")
	}
}

func TestSubscriptionGroupUpdateDeletePersist(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	m, _ := NewSubscriptionGroupManager(cfg)
	c := NewSubscriptionGroupConfig("orders")
	c.RetryMaxTimes, c.ConsumeBroadcastEnable, c.RetryQueueNums = 3, false, 2
	if err := m.Update(c); err != nil {
		t.Fatal(err)
	}
	if err := m.Update(SubscriptionGroupConfig{}); err == nil {
		t.Fatal("blank group accepted")
	}
	if ok, err := m.Delete("TOOLS_CONSUMER"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, _ := m.Delete("nope"); ok {
		t.Fatal("deleted a missing group")
	}
	m2, err := NewSubscriptionGroupManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m2.Find("orders"); got != c {
		t.Fatalf("reloaded %+v", got)
	}
	if m2.DataVersion() != m.DataVersion() {
		t.Fatalf("version %+v vs %+v", m2.DataVersion(), m.DataVersion())
	}
	body, err := m.Encode()
	if err != nil || !strings.Contains(string(body), `"orders":{"groupName":"orders"`) || strings.Contains(string(body), "TOOLS_CONSUMER") {
		t.Fatalf("Encode %s %v", body, err)
	}
	// Built-in groups are added before loading, so a deleted one is back
	// after a restart, as in Java.
	if _, ok := m2.Find("TOOLS_CONSUMER"); !ok {
		t.Fatal("built-in group not recreated")
	}
}

// subscriptionGroup.json from a Java 5 broker: extra fields, a sparse entry.
func TestLoadJavaSubscriptionGroupJSON(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "subscriptionGroup.json"), "{\n\t\"dataVersion\":{\"counter\":2,\"timestamp\":5,\"stateVersion\":0},\n"+
		"\t\"forbiddenTable\":{},\n\t\"subscriptionGroupTable\":{\n"+
		"\t\t\"cg\":{\"brokerId\":0,\"consumeBroadcastEnable\":true,\"consumeEnable\":false,\"consumeFromMinEnable\":true,"+
		"\"consumeMessageOrderly\":false,\"consumeTimeoutMinute\":15,\"groupName\":\"cg\",\"groupRetryPolicy\":{\"type\":\"CUSTOMIZED\"},"+
		"\"groupSysFlag\":0,\"notifyConsumerIdsChangedEnable\":true,\"retryMaxTimes\":16,\"retryQueueNums\":1,\"subscriptionDataSet\":[],\"whichBrokerWhenConsumeSlowly\":1},\n"+
		"\t\t\"sparse\":{\"retryMaxTimes\":5}\n\t}\n}")
	cfg, _ := testConfig(t, dir)
	m, err := NewSubscriptionGroupManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := NewSubscriptionGroupConfig("cg")
	want.ConsumeEnable = false
	if got, _ := m.Find("cg"); got != want {
		t.Fatalf("cg %+v", got)
	}
	want = NewSubscriptionGroupConfig("sparse")
	want.RetryMaxTimes = 5
	if got, _ := m.Find("sparse"); got != want {
		t.Fatalf("sparse %+v", got)
	}
	if m.DataVersion() != (DataVersion{Timestamp: 5, Counter: 2}) {
		t.Fatalf("version %+v", m.DataVersion())
	}
}
