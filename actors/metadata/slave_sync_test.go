package metadata

import "testing"

// A slave takes a Java master's bodies (fastjson's unquoted integer keys)
// as SlaveSynchronize does: tables replaced when the data version differs
// and only then, offsets put per topic@group with the slave's own pairs
// kept.
func TestReplaceFromMaster(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	topics, err := NewTopicConfigManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	topics.SetOnChange(func() { changes++ })
	body := []byte(`{"dataVersion":{"counter":7,"timestamp":1700000000000},"topicConfigTable":{"T":{"topicName":"T","readQueueNums":3,"writeQueueNums":3,"perm":6},"../bad":{"readQueueNums":1}}}`)
	if changed, err := topics.ReplaceFromMaster(body); err != nil || !changed {
		t.Fatalf("replace: %v %v", changed, err)
	}
	if tc, ok := topics.Select("T"); !ok || tc.ReadQueueNums != 3 {
		t.Fatalf("T = %+v %v", tc, ok)
	}
	if _, ok := topics.Select("../bad"); ok {
		t.Fatal("an invalid topic name was taken")
	}
	if v := topics.DataVersion(); v.Counter != 7 || v.Timestamp != 1700000000000 {
		t.Fatalf("data version %+v, want the master's", v)
	}
	if changed, _ := topics.ReplaceFromMaster(body); changed || changes != 1 {
		t.Fatalf("same version replaced again (changed %v, hooks %d)", changed, changes)
	}
	reloaded, err := NewTopicConfigManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reloaded.Select("T"); !ok {
		t.Fatal("the replaced table was not persisted")
	}

	groups, err := NewSubscriptionGroupManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := groups.ReplaceFromMaster([]byte(`{"subscriptionGroupTable":{"G":{"groupName":"G","retryMaxTimes":3}},"dataVersion":{"counter":2,"timestamp":5}}`)); err != nil || !changed {
		t.Fatalf("groups: %v %v", changed, err)
	}
	if g, ok := groups.Find("G"); !ok || g.RetryMaxTimes != 3 || !g.ConsumeEnable {
		t.Fatalf("G = %+v %v (Java's defaults for what the body leaves out)", g, ok)
	}

	offsets, err := NewConsumerOffsetManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	offsets.CommitOffset("G", "T", 0, 99)
	offsets.CommitOffset("S", "T", 0, 42)
	if n, err := offsets.PutAllFromMaster([]byte(`{"offsetTable":{"T@G":{0:5,1:6}}}`)); err != nil || n != 1 {
		t.Fatalf("offsets: %d %v", n, err)
	}
	if off, _ := offsets.QueryOffset("G", "T", 0); off != 5 {
		t.Fatalf("G/T/0 = %d, want the master's 5", off)
	}
	if off, _ := offsets.QueryOffset("G", "T", 1); off != 6 {
		t.Fatalf("G/T/1 = %d", off)
	}
	if off, _ := offsets.QueryOffset("S", "T", 0); off != 42 {
		t.Fatalf("slave-only S/T/0 = %d, want 42 kept", off)
	}
}
