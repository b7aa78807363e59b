package metadata

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Built-in consumer groups (MixAll), pre-created by
// SubscriptionGroupManager#init.
const (
	ToolsConsumerGroup        = "TOOLS_CONSUMER"
	FiltersrvConsumerGroup    = "FILTERSRV_CONSUMER"
	SelfTestConsumerGroup     = "SELF_TEST_C_GROUP"
	OnsHTTPProxyGroup         = "CID_ONS-HTTP-PROXY"
	CIDOnsAPIPullGroup        = "CID_ONSAPI_PULL"
	CIDOnsAPIPermissionGroup  = "CID_ONSAPI_PERMISSION"
	CIDOnsAPIOwnerGroup       = "CID_ONSAPI_OWNER"
	CIDRMQSysPrefix           = "CID_RMQ_SYS_"
	defaultRetryQueueNums     = 1
	defaultRetryMaxTimes      = 16
	defaultWhichBrokerOnSlow  = 1
	subscriptionGroupMasterID = 0
)

// IsSysConsumerGroup is MixAll#isSysConsumerGroup: such groups are created
// even with autoCreateSubscriptionGroup off.
func IsSysConsumerGroup(group string) bool { return strings.HasPrefix(group, CIDRMQSysPrefix) }

// SubscriptionGroupConfig is RocketMQ 4.x's SubscriptionGroupConfig with its
// JSON names.
type SubscriptionGroupConfig struct {
	GroupName                      string `json:"groupName"`
	ConsumeEnable                  bool   `json:"consumeEnable"`
	ConsumeFromMinEnable           bool   `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable         bool   `json:"consumeBroadcastEnable"`
	RetryQueueNums                 int    `json:"retryQueueNums"`
	RetryMaxTimes                  int    `json:"retryMaxTimes"`
	BrokerID                       int64  `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int64  `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIdsChangedEnable bool   `json:"notifyConsumerIdsChangedEnable"`
}

// NewSubscriptionGroupConfig has Java's defaults: everything enabled, one
// retry queue, 16 retries, master, slave 1 when consumption is slow.
func NewSubscriptionGroupConfig(group string) SubscriptionGroupConfig {
	return SubscriptionGroupConfig{
		GroupName:                      group,
		ConsumeEnable:                  true,
		ConsumeFromMinEnable:           true,
		ConsumeBroadcastEnable:         true,
		RetryQueueNums:                 defaultRetryQueueNums,
		RetryMaxTimes:                  defaultRetryMaxTimes,
		BrokerID:                       subscriptionGroupMasterID,
		WhichBrokerWhenConsumeSlowly:   defaultWhichBrokerOnSlow,
		NotifyConsumerIdsChangedEnable: true,
	}
}

// UnmarshalJSON starts from Java's defaults, like fastjson, so an entry
// without consumeEnable stays enabled.
func (c *SubscriptionGroupConfig) UnmarshalJSON(data []byte) error {
	type plain SubscriptionGroupConfig
	v := plain(NewSubscriptionGroupConfig(""))
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*c = SubscriptionGroupConfig(v)
	return nil
}

// subscriptionGroupWrapper is subscriptionGroup.json.
type subscriptionGroupWrapper struct {
	SubscriptionGroupTable map[string]SubscriptionGroupConfig `json:"subscriptionGroupTable"`
	DataVersion            DataVersion                        `json:"dataVersion"`
}

// SubscriptionGroupManager is RocketMQ's SubscriptionGroupManager: the
// consumer group table and subscriptionGroup.json. Safe for concurrent use.
type SubscriptionGroupManager struct {
	cfg      Config
	path     string
	onChange atomic.Pointer[func()]

	mu          sync.RWMutex
	table       map[string]SubscriptionGroupConfig
	dataVersion DataVersion

	persistMu sync.Mutex
}

// NewSubscriptionGroupManager creates the built-in groups and loads
// subscriptionGroup.json over them.
func NewSubscriptionGroupManager(cfg Config) (*SubscriptionGroupManager, error) {
	m := &SubscriptionGroupManager{
		cfg:         cfg,
		table:       map[string]SubscriptionGroupConfig{},
		dataVersion: DataVersion{Timestamp: cfg.now().UnixMilli()},
	}
	for _, g := range []string{ToolsConsumerGroup, FiltersrvConsumerGroup, SelfTestConsumerGroup,
		OnsHTTPProxyGroup, CIDOnsAPIPullGroup, CIDOnsAPIPermissionGroup, CIDOnsAPIOwnerGroup} {
		m.table[g] = NewSubscriptionGroupConfig(g)
	}
	if cfg.Dir == "" {
		return m, nil
	}
	m.path = filepath.Join(cfg.Dir, SubscriptionGroupFile)
	w, src, err := LoadJSON[subscriptionGroupWrapper](m.path, cfg.Log)
	if err != nil {
		return nil, err
	}
	if src != LoadedNothing {
		for name, c := range w.SubscriptionGroupTable {
			c.GroupName = name
			m.table[name] = c
		}
		m.dataVersion = w.DataVersion
	}
	if src == LoadedBackup {
		if err := m.Persist(); err != nil {
			cfg.Log.Error().Err(err).Msg("repair subscriptionGroup.json from its backup")
		}
	}
	return m, nil
}

// SetOnChange registers fn to run after every change (persisted, outside
// locks).
func (m *SubscriptionGroupManager) SetOnChange(fn func()) {
	if fn == nil {
		m.onChange.Store(nil)
		return
	}
	m.onChange.Store(&fn)
}

// Find returns the group's config without creating it.
func (m *SubscriptionGroupManager) Find(group string) (SubscriptionGroupConfig, bool) {
	m.mu.RLock()
	c, ok := m.table[group]
	m.mu.RUnlock()
	return c, ok
}

// FindOrCreate is findSubscriptionGroupConfig: an unknown group is created
// with the defaults when autoCreateSubscriptionGroup is on or the group is a
// CID_RMQ_SYS_ group; otherwise ok is false (pull answers
// SUBSCRIPTION_GROUP_NOT_EXIST, send-back too).
func (m *SubscriptionGroupManager) FindOrCreate(group string) (SubscriptionGroupConfig, bool) {
	if c, ok := m.Find(group); ok {
		return c, true
	}
	if !m.cfg.AutoCreateSubscriptionGroup && !IsSysConsumerGroup(group) {
		return SubscriptionGroupConfig{}, false
	}
	m.mu.Lock()
	if c, ok := m.table[group]; ok {
		m.mu.Unlock()
		return c, true
	}
	c := NewSubscriptionGroupConfig(group)
	m.table[group] = c
	m.dataVersion.next(m.cfg.now())
	m.mu.Unlock()

	m.cfg.Log.Info().Str("group", group).Msg("auto create a subscription group")
	if err := m.Persist(); err != nil {
		m.cfg.Log.Error().Err(err).Msg("persist subscription groups")
	}
	m.notify()
	return c, true
}

// Update stores c (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP) and persists.
func (m *SubscriptionGroupManager) Update(c SubscriptionGroupConfig) error {
	if strings.TrimSpace(c.GroupName) == "" {
		return errors.New("update subscription group: blank group name")
	}
	m.mu.Lock()
	_, existed := m.table[c.GroupName]
	m.table[c.GroupName] = c
	m.dataVersion.next(m.cfg.now())
	m.mu.Unlock()
	if existed {
		m.cfg.Log.Info().Interface("config", c).Msg("update subscription group config")
	} else {
		m.cfg.Log.Info().Interface("config", c).Msg("create new subscription group")
	}
	err := m.Persist()
	m.notify()
	return err
}

// Delete removes group (DELETE_SUBSCRIPTIONGROUP) and reports whether it
// existed. Its consumer offsets are the caller's part
// (ConsumerOffsetManager.RemoveGroup).
func (m *SubscriptionGroupManager) Delete(group string) (bool, error) {
	m.mu.Lock()
	_, existed := m.table[group]
	if existed {
		delete(m.table, group)
		m.dataVersion.next(m.cfg.now())
	}
	m.mu.Unlock()
	if !existed {
		m.cfg.Log.Warn().Str("group", group).Msg("delete subscription group: not found")
		return false, nil
	}
	m.cfg.Log.Info().Str("group", group).Msg("delete subscription group")
	err := m.Persist()
	m.notify()
	return true, err
}

// All returns a copy of the group table.
func (m *SubscriptionGroupManager) All() map[string]SubscriptionGroupConfig {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]SubscriptionGroupConfig, len(m.table))
	for k, v := range m.table {
		out[k] = v
	}
	return out
}

// Groups returns the group names, sorted.
func (m *SubscriptionGroupManager) Groups() []string {
	m.mu.RLock()
	out := make([]string, 0, len(m.table))
	for k := range m.table {
		out = append(out, k)
	}
	m.mu.RUnlock()
	slices.Sort(out)
	return out
}

// DataVersion returns the current data version.
func (m *SubscriptionGroupManager) DataVersion() DataVersion {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.dataVersion
}

// Encode is the subscriptionGroup.json content, also the
// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) body.
func (m *SubscriptionGroupManager) Encode() ([]byte, error) {
	return json.Marshal(m.snapshot())
}

func (m *SubscriptionGroupManager) snapshot() subscriptionGroupWrapper {
	m.mu.RLock()
	defer m.mu.RUnlock()
	w := subscriptionGroupWrapper{
		SubscriptionGroupTable: make(map[string]SubscriptionGroupConfig, len(m.table)),
		DataVersion:            m.dataVersion,
	}
	for k, v := range m.table {
		w.SubscriptionGroupTable[k] = v
	}
	return w
}

// Persist writes subscriptionGroup.json (a no-op in memory).
func (m *SubscriptionGroupManager) Persist() error {
	if m.path == "" {
		return nil
	}
	m.persistMu.Lock()
	defer m.persistMu.Unlock()
	return PersistJSON(m.path, m.snapshot())
}

func (m *SubscriptionGroupManager) notify() {
	if fn := m.onChange.Load(); fn != nil {
		(*fn)()
	}
}
