package metadata

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestValidateTopic(t *testing.T) {
	long := strings.Repeat("a", 127)
	cases := []struct {
		topic  string
		remark string // "" = valid
	}{
		{"TestTopic", ""},
		{"%RETRY%cg", ""},
		{"%DLQ%cg", ""},
		{"a|b_c-D9", ""},
		{long, ""},
		{"", RemarkTopicBlank},
		{"   ", RemarkTopicBlank},
		{long + "a", RemarkTopicTooLong},
		{"../x", RemarkTopicIllegal},
		{"..", RemarkTopicIllegal},
		{".", RemarkTopicIllegal},
		{"a/b", RemarkTopicIllegal},
		{"/abs", RemarkTopicIllegal},
		{`a\b`, RemarkTopicIllegal},
		{"a b", RemarkTopicIllegal},
		{"a\x00b", RemarkTopicIllegal},
		{"a@b", RemarkTopicIllegal},
		{"tópico", RemarkTopicIllegal},
		{strings.Repeat("/", 200), RemarkTopicIllegal}, // characters are checked before length, as in Java
	}
	for _, tc := range cases {
		err := ValidateTopic(tc.topic)
		if tc.remark == "" {
			if err != nil {
				t.Errorf("ValidateTopic(%q) = %v, want ok", tc.topic, err)
			}
			continue
		}
		if err == nil || err.Error() != tc.remark || !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("ValidateTopic(%q) = %v, want %q wrapping ErrInvalidTopic", tc.topic, err, tc.remark)
		}
	}
	if RemarkTopicNotExist("T") != "topic[T] not exist, apply first please!\nSee http://rocketmq.apache.org/docs/faq/ for further details." {
		t.Errorf("remark drifted: %q", RemarkTopicNotExist("T"))
	}
	if RemarkTopicIllegal != "The specified topic contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$" {
		t.Errorf("remark drifted: %q", RemarkTopicIllegal)
	}
}

// Nothing that passes validation can name anything but a plain entry of the
// directory it is joined to.
func TestValidTopicIsAPlainDirectoryName(t *testing.T) {
	for c := 0; c < 256; c++ {
		name := "a" + string(rune(c)) + "b"
		if c >= 0x80 {
			name = "a" + string([]byte{byte(c)}) + "b"
		}
		if ValidateTopic(name) != nil {
			continue
		}
		if filepath.Base(name) != name || strings.ContainsAny(name, "/.\\\x00") {
			t.Errorf("%q passes validation but is not a plain file name", name)
		}
	}
}

func TestSystemTopicSets(t *testing.T) {
	for _, topic := range []string{"SCHEDULE_TOPIC_XXXX", "RMQ_SYS_TRANS_HALF_TOPIC", "RMQ_SYS_TRANS_OP_HALF_TOPIC",
		"TRANS_CHECK_MAX_TIME_TOPIC", "SELF_TEST_TOPIC", "OFFSET_MOVED_EVENT"} {
		if !IsNotAllowedSendTopic(topic) || !IsSystemTopic(topic) {
			t.Errorf("%s: want not-allowed-send and system", topic)
		}
	}
	for _, topic := range []string{"TBW102", "BenchmarkTest", "RMQ_SYS_TRACE_TOPIC", "rmq_sys_anything"} {
		if !IsSystemTopic(topic) || IsNotAllowedSendTopic(topic) {
			t.Errorf("%s: want system, sendable", topic)
		}
	}
	if IsSystemTopic("TestTopic") || IsNotAllowedSendTopic("TestTopic") {
		t.Error("TestTopic is a user topic")
	}

	cfg, _ := testConfig(t, "")
	cfg.BrokerClusterName, cfg.BrokerName = "c1", "b1"
	m, err := NewTopicConfigManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"c1", "b1", "c1_REPLY_TOPIC", "TBW102"} {
		if !m.IsSystemTopic(topic) {
			t.Errorf("manager: %s should be a system topic", topic)
		}
	}
	if m.IsSystemTopic("TestTopic") || IsSystemTopic("c1") {
		t.Error("configuration-dependent names leaked into the static set")
	}
}

func TestSystemTopicsAtStart(t *testing.T) {
	want := map[string][3]int{ // read, write, perm
		"TBW102":                     {8, 8, 7},
		"SELF_TEST_TOPIC":            {1, 1, 6},
		"BenchmarkTest":              {8, 8, 6},
		"DefaultCluster":             {1, 1, 7},
		"broker-a":                   {1, 1, 7},
		"OFFSET_MOVED_EVENT":         {1, 1, 6},
		"SCHEDULE_TOPIC_XXXX":        {18, 18, 6},
		"DefaultCluster_REPLY_TOPIC": {1, 1, 6},
	}
	cfg, _ := testConfig(t, "")
	m, err := NewTopicConfigManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	all := m.All()
	if len(all) != len(want) {
		t.Errorf("got %d topics, want %d: %v", len(all), len(want), m.Topics())
	}
	for name, w := range want {
		tc, ok := all[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		if got := [3]int{tc.ReadQueueNums, tc.WriteQueueNums, tc.Perm}; got != w || tc.TopicFilterType != "SINGLE_TAG" || tc.TopicName != name {
			t.Errorf("%s = %v, want %v", name, tc, w)
		}
	}

	cfg.AutoCreateTopicEnable = false
	cfg.DefaultTopicQueueNums = 0
	m, _ = NewTopicConfigManager(cfg)
	if _, ok := m.Select("TBW102"); ok {
		t.Error("TBW102 created with autoCreateTopicEnable=false")
	}
}

// (TopicConfigManager and TopicValidator), one row per rule.
func TestCreateTopicInSendMessageMethod(t *testing.T) {
	cases := []struct {
		name          string
		autoCreate    bool
		defaultQueues int          // defaultTopicQueueNums
		extra         *TopicConfig // added before the send
		topic         string
		defaultTopic  string
		clientQueues  int
		sysFlag       int
		wantErr       error
		want          TopicConfig // when created
	}{
		{name: "Go defaults: 4 queues, RW", autoCreate: true, defaultQueues: 8, topic: "T", defaultTopic: "TBW102", clientQueues: 4,
			want: TopicConfig{TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: "SINGLE_TAG"}},
		{name: "capped by TBW102 write queues", autoCreate: true, defaultQueues: 2, topic: "T", defaultTopic: "TBW102", clientQueues: 4,
			want: TopicConfig{TopicName: "T", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6, TopicFilterType: "SINGLE_TAG"}},
		{name: "negative client count becomes 0", autoCreate: true, defaultQueues: 8, topic: "T", defaultTopic: "TBW102", clientQueues: -3,
			want: TopicConfig{TopicName: "T", Perm: 6, TopicFilterType: "SINGLE_TAG"}},
		{name: "sys flag kept", autoCreate: true, defaultQueues: 8, topic: "T", defaultTopic: "TBW102", clientQueues: 4, sysFlag: 1,
			want: TopicConfig{TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: "SINGLE_TAG", TopicSysFlag: 1}},
		{name: "inherit keeps other bits", autoCreate: true, defaultQueues: 8,
			extra: &TopicConfig{TopicName: "RO", ReadQueueNums: 3, WriteQueueNums: 3, Perm: PermInherit | PermRead, TopicFilterType: "MULTI_TAG"},
			topic: "T", defaultTopic: "RO", clientQueues: 8,
			want: TopicConfig{TopicName: "T", ReadQueueNums: 3, WriteQueueNums: 3, Perm: 4, TopicFilterType: "MULTI_TAG"}},
		{name: "auto-create off: no TBW102", autoCreate: false, topic: "T", defaultTopic: "TBW102", clientQueues: 4, wantErr: ErrTopicNotExist},
		{name: "auto-create off: TBW102 from an old topics.json is RW only", autoCreate: false,
			extra: &TopicConfig{TopicName: "TBW102", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7, TopicFilterType: "SINGLE_TAG"},
			topic: "T", defaultTopic: "TBW102", clientQueues: 4, wantErr: ErrTopicNotExist},
		{name: "auto-create off: other inheritable default still works", autoCreate: false, topic: "T", defaultTopic: "DefaultCluster", clientQueues: 4,
			want: TopicConfig{TopicName: "T", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: "SINGLE_TAG"}},
		{name: "default without inherit", autoCreate: true, defaultQueues: 8, topic: "T", defaultTopic: "SELF_TEST_TOPIC", clientQueues: 4, wantErr: ErrTopicNotExist},
		{name: "unknown default", autoCreate: true, defaultQueues: 8, topic: "T", defaultTopic: "nope", clientQueues: 4, wantErr: ErrTopicNotExist},
		{name: "retry topic falls back to 1 queue RW", autoCreate: false, topic: "%RETRY%cg", defaultTopic: "TBW102", clientQueues: 4,
			want: TopicConfig{TopicName: "%RETRY%cg", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: "SINGLE_TAG"}},
		{name: "retry topic inherits when it can", autoCreate: true, defaultQueues: 8, topic: "%RETRY%cg", defaultTopic: "TBW102", clientQueues: 4,
			want: TopicConfig{TopicName: "%RETRY%cg", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: "SINGLE_TAG"}},
		{name: "DLQ topic gets no fallback", autoCreate: false, topic: "%DLQ%cg", defaultTopic: "TBW102", clientQueues: 4, wantErr: ErrTopicNotExist},
		{name: "invalid name", autoCreate: true, defaultQueues: 8, topic: "../etc", defaultTopic: "TBW102", clientQueues: 4, wantErr: ErrInvalidTopic},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := testConfig(t, t.TempDir())
			cfg.AutoCreateTopicEnable, cfg.DefaultTopicQueueNums = tc.autoCreate, tc.defaultQueues
			m, err := NewTopicConfigManager(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.extra != nil {
				if err := m.UpdateTopicConfig(*tc.extra); err != nil {
					t.Fatal(err)
				}
			}
			var changes atomic.Int32
			m.SetOnChange(func() { changes.Add(1) })
			before := m.DataVersion()

			got, created, err := m.CreateTopicInSendMessageMethod(tc.topic, tc.defaultTopic, tc.clientQueues, tc.sysFlag)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || created {
					t.Fatalf("got %v created=%v err=%v, want %v", got, created, err, tc.wantErr)
				}
				if errors.Is(err, ErrTopicNotExist) && err.Error() != RemarkTopicNotExist(tc.topic) {
					t.Errorf("remark %q", err)
				}
				if _, ok := m.Select(tc.topic); ok || changes.Load() != 0 || m.DataVersion() != before {
					t.Fatal("a refused topic changed the table")
				}
				if tbw, ok := m.Select("TBW102"); ok && tc.extra != nil && tc.extra.TopicName == "TBW102" && tbw.Perm != 7 {
					t.Errorf("TBW102's advertised perm changed to %d", tbw.Perm)
				}
				return
			}
			if err != nil || !created || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v created=%v err=%v\nwant %v", got, created, err, tc.want)
			}
			if sel, _ := m.Select(tc.topic); !reflect.DeepEqual(sel, tc.want) {
				t.Fatalf("Select = %v", sel)
			}
			dv := m.DataVersion()
			if changes.Load() != 1 || dv.Counter != before.Counter+1 {
				t.Fatalf("changes=%d version %v → %v", changes.Load(), before, dv)
			}
			// Persisted with the new version; a second send finds it.
			reloaded, err := NewTopicConfigManager(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if r, ok := reloaded.Select(tc.topic); !ok || !reflect.DeepEqual(r, tc.want) || reloaded.DataVersion() != dv {
				t.Fatalf("reloaded %v %v, version %v want %v", r, ok, reloaded.DataVersion(), dv)
			}
			again, created, err := m.CreateTopicInSendMessageMethod(tc.topic, tc.defaultTopic, 99, 0)
			if err != nil || created || !reflect.DeepEqual(again, tc.want) || changes.Load() != 1 {
				t.Fatalf("second send: %v created=%v err=%v changes=%d", again, created, err, changes.Load())
			}
		})
	}
}

func TestCreateTopicInSendMessageBackMethod(t *testing.T) {
	cfg, _ := testConfig(t, "")
	m, _ := NewTopicConfigManager(cfg)
	tc, created, err := m.CreateTopicInSendMessageBackMethod("%RETRY%g", 2, PermRead|PermWrite, TopicSysFlagUnitSub)
	want := TopicConfig{TopicName: "%RETRY%g", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6, TopicFilterType: "SINGLE_TAG", TopicSysFlag: 2}
	if err != nil || !created || !reflect.DeepEqual(tc, want) {
		t.Fatalf("%v %v %v", tc, created, err)
	}
	tc, created, err = m.CreateTopicInSendMessageBackMethod("%RETRY%g", 5, 2, 0)
	if err != nil || created || !reflect.DeepEqual(tc, want) {
		t.Fatalf("existing topic changed: %v %v %v", tc, created, err)
	}
	if _, _, err := m.CreateTopicInSendMessageBackMethod("%RETRY%a/b", 1, 6, 0); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("invalid retry topic: %v", err)
	}
}

func TestTopicUpdateDeleteAndPersistence(t *testing.T) {
	dir := t.TempDir()
	cfg, clock := testConfig(t, dir)
	m, err := NewTopicConfigManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "topics.json")); !os.IsNotExist(err) {
		t.Fatal("topics.json written before any change")
	}
	var changes atomic.Int32
	m.SetOnChange(func() { changes.Add(1) })

	clock.Advance(5)
	tc := TopicConfig{TopicName: "Orders", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 6, TopicFilterType: "SINGLE_TAG", Order: true,
		Attributes: map[string]string{"+message.type": "FIFO"}}
	if err := m.UpdateTopicConfig(tc); err != nil {
		t.Fatal(err)
	}
	tc.ReadQueueNums = 4
	if err := m.UpdateTopicConfig(tc); err != nil {
		t.Fatal(err)
	}
	if err := m.UpdateTopicConfig(TopicConfig{TopicName: "bad/name"}); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("invalid name accepted: %v", err)
	}
	if existed, err := m.DeleteTopic("SELF_TEST_TOPIC"); !existed || err != nil {
		t.Fatal(existed, err)
	}
	if existed, err := m.DeleteTopic("nope"); existed || err != nil {
		t.Fatal(existed, err)
	}
	dv := m.DataVersion()
	if changes.Load() != 3 || dv.Counter != 3 || dv.Timestamp != clock.Now().UnixMilli() {
		t.Fatalf("changes %d, version %+v", changes.Load(), dv)
	}

	m2, err := NewTopicConfigManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m2.Select("Orders"); !reflect.DeepEqual(got, tc) {
		t.Fatalf("reloaded %v want %v", got, tc)
	}
	// Deleted system topics come back at start, as in Java (the
	// constructor adds them before loading).
	if _, ok := m2.Select("SELF_TEST_TOPIC"); !ok {
		t.Fatal("system topic not recreated")
	}
	if m2.DataVersion() != dv {
		t.Fatalf("version %+v want %+v", m2.DataVersion(), dv)
	}
	snap := m2.Snapshot()
	if snap.DataVersion != dv || !reflect.DeepEqual(snap.TopicConfigTable["Orders"], tc) {
		t.Fatalf("snapshot %+v", snap)
	}
}

// A topics.json written by a Java broker: fastjson tabs, alphabetical keys,
// J5's attributes, a missing field that must take Java's default, and an
// entry a careless hand added that must not reach the store.
func TestLoadJavaTopicsJSON(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "topics.json"), "{\n"+
		"\t\"dataVersion\":{\n\t\t\"counter\":3,\n\t\t\"timestamp\":1700000000000\n\t},\n"+
		"\t\"topicConfigTable\":{\n"+
		"\t\t\"TestTopic\":{\n\t\t\t\"attributes\":{},\n\t\t\t\"order\":false,\n\t\t\t\"perm\":6,\n\t\t\t\"readQueueNums\":4,\n"+
		"\t\t\t\"topicFilterType\":\"SINGLE_TAG\",\n\t\t\t\"topicName\":\"TestTopic\",\n\t\t\t\"topicSysFlag\":0,\n\t\t\t\"writeQueueNums\":4\n\t\t},\n"+
		"\t\t\"Sparse\":{\"readQueueNums\":2,\"writeQueueNums\":2},\n"+
		"\t\t\"../../etc\":{\"topicName\":\"../../etc\"}\n"+
		"\t}\n}\n")
	cfg, _ := testConfig(t, dir)
	m, err := NewTopicConfigManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Select("TestTopic"); !reflect.DeepEqual(got, TopicConfig{TopicName: "TestTopic", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: "SINGLE_TAG"}) {
		t.Errorf("TestTopic = %v", got)
	}
	if got, _ := m.Select("Sparse"); !reflect.DeepEqual(got, TopicConfig{TopicName: "Sparse", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6, TopicFilterType: "SINGLE_TAG"}) {
		t.Errorf("Sparse = %v", got)
	}
	if _, ok := m.Select("../../etc"); ok {
		t.Error("invalid topic name loaded")
	}
	if dv := m.DataVersion(); dv != (DataVersion{Timestamp: 1700000000000, Counter: 3}) {
		t.Errorf("dataVersion %+v", dv)
	}
}

func TestCorruptTopicsJSONFallsBackToBackup(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	m, _ := NewTopicConfigManager(cfg)
	for _, name := range []string{"A", "B"} {
		if err := m.UpdateTopicConfig(NewTopicConfig(name)); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(dir, "topics.json"), `{"topicConfigTable":{"A":`)
	m2, err := NewTopicConfigManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, a := m2.Select("A")
	_, b := m2.Select("B")
	if !a || b {
		t.Fatalf("want the backup (A only), got A=%v B=%v", a, b)
	}

	// Loading from the backup repaired the main file.
	if _, src, err := LoadJSON[TopicConfigSerializeWrapper](filepath.Join(dir, "topics.json"), cfg.Log); err != nil || src != LoadedFile {
		t.Fatalf("topics.json not repaired: %v %v", src, err)
	}

	mustWrite(t, filepath.Join(dir, "topics.json"), `{"topicConfigTable":{"A":`)
	os.Remove(filepath.Join(dir, "topics.json.bak"))
	if _, err := NewTopicConfigManager(cfg); err == nil {
		t.Fatal("corrupt topics.json without backup: want an error, not an empty table")
	}
}

func TestDataVersionNext(t *testing.T) {
	now := time.UnixMilli(1700000000500)
	v := DataVersion{Counter: 4, StateVersion: 2, Timestamp: 1}.Next(now)
	if v != (DataVersion{Counter: 5, StateVersion: 2, Timestamp: 1700000000500}) {
		t.Fatalf("next %+v", v)
	}
}

// topics.json, GET_ALL_TOPIC_CONFIG and the REGISTER_BROKER body write the
// keys in fastjson's alphabetical order; attributes and stateVersion only
// when set.
func TestTopicConfigSerializeWrapperJSON(t *testing.T) {
	tc := NewTopicConfig("T")
	w := TopicConfigSerializeWrapper{
		DataVersion:      DataVersion{Counter: 3, Timestamp: 1700000000000},
		TopicConfigTable: map[string]TopicConfig{"T": tc},
	}
	got, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"dataVersion":{"counter":3,"timestamp":1700000000000},` +
		`"topicConfigTable":{"T":{"order":false,"perm":6,"readQueueNums":16,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":16}}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	tc.Attributes = map[string]string{"+message.type": "FIFO"}
	w.DataVersion.StateVersion = 1
	w.TopicConfigTable["T"] = tc
	got, _ = json.Marshal(w)
	var back TopicConfigSerializeWrapper
	if err := json.Unmarshal(got, &back); err != nil || !reflect.DeepEqual(back, w) {
		t.Fatalf("round trip of %s: %+v %v", got, back, err)
	}
}
