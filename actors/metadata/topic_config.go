package metadata

import (
	"encoding/json"
	"fmt"
)

// Permission bits of a topic or broker (PermName). A normal topic is
// PermRead|PermWrite (6); TBW102 adds PermInherit (7).
const (
	PermPriority = 8
	PermRead     = 4
	PermWrite    = 2
	PermInherit  = 1
)

// IsReadable, IsWriteable and IsInherited are PermName's tests.
func IsReadable(perm int) bool  { return perm&PermRead != 0 }
func IsWriteable(perm int) bool { return perm&PermWrite != 0 }
func IsInherited(perm int) bool { return perm&PermInherit != 0 }

// Topic filter types (TopicFilterType), written by name.
const (
	TopicFilterTypeSingle = "SINGLE_TAG"
	TopicFilterTypeMulti  = "MULTI_TAG"
)

// Topic sys flag bits (TopicSysFlag) and queue counts.
const (
	TopicSysFlagUnit       = 1
	TopicSysFlagUnitSub    = 2
	defaultTopicQueueNums  = 16 // TopicConfig's own default
	scheduleTopicQueueNums = 18 // one queue per delay level
	// benchmarkTopicQueueNums: Java gives BenchmarkTest 1024 queues. Nobody
	// benchmarks Sluice through it, and 1024 queues would be 1024 consume
	// queues in every route, so it gets 8.
	benchmarkTopicQueueNums = 8
)

// BuildTopicSysFlag is TopicSysFlag#buildSysFlag.
func BuildTopicSysFlag(unit, hasUnitSub bool) int {
	f := 0
	if unit {
		f |= TopicSysFlagUnit
	}
	if hasUnitSub {
		f |= TopicSysFlagUnitSub
	}
	return f
}

// TopicConfig is RocketMQ's TopicConfig, with its JSON names (topics.json,
// REGISTER_BROKER, GET_ALL_TOPIC_CONFIG). The fields are in fastjson's
// (alphabetical) order so that what we write reads like what Java wrote.
type TopicConfig struct {
	// Attributes are RocketMQ 5's topic attributes, kept so that a
	// topics.json or registration from a 5.x broker survives a load and
	// save. Treat the map as read-only: copies of a TopicConfig share it.
	Attributes      map[string]string `json:"attributes,omitempty"`
	Order           bool              `json:"order"`
	Perm            int               `json:"perm"`
	ReadQueueNums   int               `json:"readQueueNums"`
	TopicFilterType string            `json:"topicFilterType"`
	TopicName       string            `json:"topicName"`
	TopicSysFlag    int               `json:"topicSysFlag"`
	WriteQueueNums  int               `json:"writeQueueNums"`
}

// NewTopicConfig has Java's defaults: 16/16 queues, RW, SINGLE_TAG.
func NewTopicConfig(name string) TopicConfig {
	return TopicConfig{
		TopicName:       name,
		ReadQueueNums:   defaultTopicQueueNums,
		WriteQueueNums:  defaultTopicQueueNums,
		Perm:            PermRead | PermWrite,
		TopicFilterType: TopicFilterTypeSingle,
	}
}

// sizedTopicConfig is NewTopicConfig with queues read and write queues,
// perm and sysFlag.
func sizedTopicConfig(name string, queues, perm, sysFlag int) TopicConfig {
	tc := NewTopicConfig(name)
	tc.ReadQueueNums, tc.WriteQueueNums = queues, queues
	tc.Perm, tc.TopicSysFlag = perm, sysFlag
	return tc
}

// UnmarshalJSON starts from Java's defaults, as fastjson does (it calls the
// constructor, then sets the fields present), so a hand-written entry that
// leaves out perm is RW rather than 0.
func (tc *TopicConfig) UnmarshalJSON(data []byte) error {
	type plain TopicConfig
	v := plain(NewTopicConfig(""))
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if len(v.Attributes) == 0 {
		v.Attributes = nil // 5.x writes {}; none is none
	}
	*tc = TopicConfig(v)
	return nil
}

// TopicConfigSerializeWrapper is topics.json and the topic part of the
// REGISTER_BROKER and GET_ALL_TOPIC_CONFIG bodies.
type TopicConfigSerializeWrapper struct {
	DataVersion      DataVersion            `json:"dataVersion"`
	TopicConfigTable map[string]TopicConfig `json:"topicConfigTable"`
}

// TopicConfigManager is RocketMQ's TopicConfigManager: the broker's topic
// table, its data version, and topics.json. Safe for concurrent use.
//
// SetOnChange registers a function run after every change of the table
// (after it is persisted, outside all locks): the broker registers with
// the name servers from it, as Java's registerBrokerAll after a topic is
// created.
type TopicConfigManager struct {
	configTable[TopicConfig, TopicConfigSerializeWrapper]
	// system holds the configuration-dependent system topics (cluster,
	// broker and reply topics); fixed after construction.
	system map[string]struct{}
}

// NewTopicConfigManager builds the system topics as RocketMQ's
// TopicConfigManager constructor does, then loads topics.json over them
// (a loaded entry replaces the built-in one of the same name).
func NewTopicConfigManager(cfg Config) (*TopicConfigManager, error) {
	m := &TopicConfigManager{system: map[string]struct{}{}}
	m.init(cfg, TopicsFile,
		func(t map[string]TopicConfig, v DataVersion) TopicConfigSerializeWrapper {
			return TopicConfigSerializeWrapper{DataVersion: v, TopicConfigTable: t}
		},
		func(w TopicConfigSerializeWrapper) (map[string]TopicConfig, DataVersion) {
			return w.TopicConfigTable, w.DataVersion
		})
	m.addSystemTopics()
	err := m.load(func(name string, tc *TopicConfig) bool {
		// A hand-edited file must not smuggle a path into the store.
		if err := ValidateTopic(name); err != nil {
			cfg.Log.Error().Str("topic", name).Err(err).Msg("topics.json: skipping topic with an invalid name")
			return false
		}
		tc.TopicName = name
		return true
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (m *TopicConfigManager) addSystemTopics() {
	put := func(tc TopicConfig) {
		m.table[tc.TopicName] = tc
		m.system[tc.TopicName] = struct{}{}
	}
	sized := func(name string, queues, perm int) TopicConfig { return sizedTopicConfig(name, queues, perm, 0) }
	rw := PermRead | PermWrite
	put(sized(RMQSysSelfTestTopic, 1, rw))
	if m.cfg.AutoCreateTopicEnable {
		n := m.cfg.defaultTopicQueueNums()
		put(sized(AutoCreateTopicKeyTopic, n, PermInherit|rw))
	}
	put(sized(RMQSysBenchmarkTopic, benchmarkTopicQueueNums, rw))
	// Java: perm INHERIT, plus RW because clusterTopicEnable and
	// brokerTopicEnable default to true. The cluster topic keeps
	// TopicConfig's default 16 queues in Java; 1 is enough here.
	if name := m.cfg.BrokerClusterName; name != "" {
		put(sized(name, 1, PermInherit|rw))
	}
	if name := m.cfg.BrokerName; name != "" {
		put(sized(name, 1, PermInherit|rw))
	}
	put(sized(RMQSysOffsetMovedEvent, 1, rw))
	put(sized(RMQSysScheduleTopic, scheduleTopicQueueNums, rw))
	if name := m.cfg.BrokerClusterName; name != "" {
		put(sized(name+"_"+ReplyTopicPostfix, 1, rw))
	}
	if m.cfg.TraceTopicEnable {
		name := m.cfg.MsgTraceTopicName
		if name == "" {
			name = RMQSysTraceTopic
		}
		put(sized(name, 1, rw))
	}
}

// Select is selectTopicConfig.
func (m *TopicConfigManager) Select(topic string) (TopicConfig, bool) { return m.get(topic) }

// IsSystemTopic is TopicValidator#isSystemTopic including the names this
// broker added at start (its cluster, broker and reply topics).
func (m *TopicConfigManager) IsSystemTopic(topic string) bool {
	if IsSystemTopic(topic) {
		return true
	}
	_, ok := m.system[topic]
	return ok
}

// CreateTopicInSendMessageMethod is what SEND does for an unknown topic
// (AbstractSendMessageProcessor#msgCheck with
// TopicConfigManager#createTopicInSendMessageMethod):
//
//   - an existing topic is returned as is (created=false);
//   - the default topic (TBW102 from every Go producer) must exist and
//     carry PERM_INHERIT; with autoCreateTopicEnable off, TBW102 counts as
//     RW only, so nothing is inherited;
//   - the new topic gets min(clientDefaultTopicQueueNums,
//     default.writeQueueNums) read and write queues (never negative), the
//     default's perm without INHERIT and its filter type;
//   - if that fails and the topic is a %RETRY% topic, it gets 1 queue, RW;
//   - otherwise the error wraps ErrTopicNotExist and reads as Java's
//     TOPIC_NOT_EXIST remark.
//
// The name is validated first (an error wrapping ErrInvalidTopic), since it
// becomes a directory name. A new topic is persisted and announced through
// OnChange before this returns; a failure to persist is logged, not
// returned: the topic exists in memory and the next change writes it.
func (m *TopicConfigManager) CreateTopicInSendMessageMethod(topic, defaultTopic string, clientDefaultTopicQueueNums, topicSysFlag int) (TopicConfig, bool, error) {
	if err := ValidateTopic(topic); err != nil {
		return TopicConfig{}, false, err
	}
	tc, created, ok := m.getOrCreate(topic, func() (TopicConfig, bool) {
		if tc, ok := m.inheritLocked(topic, defaultTopic, clientDefaultTopicQueueNums, topicSysFlag); ok {
			return tc, true
		}
		if !IsRetryTopic(topic) {
			return TopicConfig{}, false
		}
		return sizedTopicConfig(topic, 1, PermRead|PermWrite, topicSysFlag), true
	})
	if !ok {
		return TopicConfig{}, false, &remarkError{RemarkTopicNotExist(topic), ErrTopicNotExist}
	}
	if created {
		m.cfg.Log.Info().Str("topic", topic).Str("defaultTopic", defaultTopic).
			Int("queueNums", tc.WriteQueueNums).Int("perm", tc.Perm).Msg("create new topic by default topic")
		m.changed()
	}
	return tc, created, nil
}

// inheritLocked builds topic from defaultTopic if that one may be inherited.
func (m *TopicConfigManager) inheritLocked(topic, defaultTopic string, clientQueueNums, topicSysFlag int) (TopicConfig, bool) {
	def, ok := m.table[defaultTopic]
	if !ok {
		m.cfg.Log.Warn().Str("topic", topic).Str("defaultTopic", defaultTopic).
			Msg("create new topic failed, because the default topic does not exist")
		return TopicConfig{}, false
	}
	perm := def.Perm
	if defaultTopic == AutoCreateTopicKeyTopic && !m.cfg.AutoCreateTopicEnable {
		// Java overwrites TBW102's perm in its table here; we only decide
		// as if it had, and leave the advertised config alone.
		perm = PermRead | PermWrite
	}
	if !IsInherited(perm) {
		m.cfg.Log.Warn().Str("topic", topic).Str("defaultTopic", defaultTopic).Int("perm", perm).
			Msg("create new topic failed, because the default topic has no inherit permission")
		return TopicConfig{}, false
	}
	n := max(min(clientQueueNums, def.WriteQueueNums), 0)
	return TopicConfig{
		TopicName:       topic,
		ReadQueueNums:   n,
		WriteQueueNums:  n,
		Perm:            perm &^ PermInherit,
		TopicFilterType: def.TopicFilterType,
		TopicSysFlag:    topicSysFlag,
	}, true
}

// CreateTopicInSendMessageBackMethod creates %RETRY% and %DLQ% topics
// (on HEART_BEAT, CONSUMER_SEND_MSG_BACK): an existing topic is returned
// unchanged, otherwise it is created with queueNums read and write queues
// and perm. Persistence and OnChange as for CreateTopicInSendMessageMethod.
func (m *TopicConfigManager) CreateTopicInSendMessageBackMethod(topic string, queueNums, perm, topicSysFlag int) (TopicConfig, bool, error) {
	if err := ValidateTopic(topic); err != nil {
		return TopicConfig{}, false, err
	}
	tc, created, _ := m.getOrCreate(topic, func() (TopicConfig, bool) {
		return sizedTopicConfig(topic, queueNums, perm, topicSysFlag), true
	})
	if created {
		m.cfg.Log.Info().Str("topic", topic).Int("queueNums", queueNums).Int("perm", perm).
			Msg("create new topic in send message back")
		m.changed()
	}
	return tc, created, nil
}

// UpdateTopicConfig stores tc as given (UPDATE_AND_CREATE_TOPIC), creating
// or replacing the topic, persists and runs OnChange. The caller checks
// IsSystemTopic first, as AdminBrokerProcessor does; the name is validated
// here too because it becomes a directory name.
func (m *TopicConfigManager) UpdateTopicConfig(tc TopicConfig) error {
	if err := ValidateTopic(tc.TopicName); err != nil {
		return err
	}
	if tc.TopicFilterType == "" {
		tc.TopicFilterType = TopicFilterTypeSingle
	}
	old, existed := m.put(tc.TopicName, tc)
	ev := m.cfg.Log.Info().Str("topic", tc.TopicName).Interface("new", tc)
	if existed {
		ev.Interface("old", old).Msg("update topic config")
	} else {
		ev.Msg("create new topic")
	}
	return m.saved()
}

// DeleteTopic removes topic (DELETE_TOPIC_IN_BROKER) and reports whether it
// existed. Removing its consume queues and consumer offsets is the caller's
// part (the store; ConsumerOffsetManager.RemoveTopic).
func (m *TopicConfigManager) DeleteTopic(topic string) (bool, error) {
	if !m.remove(topic) {
		return false, nil
	}
	m.cfg.Log.Info().Str("topic", topic).Msg("delete topic config")
	return true, m.saved()
}

// Topics returns the topic names, sorted.
func (m *TopicConfigManager) Topics() []string { return m.names() }

// Snapshot returns the table and its data version taken together, for the
// REGISTER_BROKER body and GET_ALL_TOPIC_CONFIG: a version must never be
// paired with a table older than it.
func (m *TopicConfigManager) Snapshot() TopicConfigSerializeWrapper { return m.snapshot() }

// String helps logs and test failures.
func (tc TopicConfig) String() string {
	return fmt.Sprintf("TopicConfig [topicName=%s, readQueueNums=%d, writeQueueNums=%d, perm=%d, topicFilterType=%s, topicSysFlag=%d, order=%t]",
		tc.TopicName, tc.ReadQueueNums, tc.WriteQueueNums, tc.Perm, tc.TopicFilterType, tc.TopicSysFlag, tc.Order)
}
