package metadata

import (
	"encoding/json"
	"errors"
	"strings"
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
// SetOnChange registers a function run after every change (persisted,
// outside locks).
type SubscriptionGroupManager struct {
	configTable[SubscriptionGroupConfig, subscriptionGroupWrapper]
}

// NewSubscriptionGroupManager creates the built-in groups and loads
// subscriptionGroup.json over them.
func NewSubscriptionGroupManager(cfg Config) (*SubscriptionGroupManager, error) {
	m := &SubscriptionGroupManager{}
	m.init(cfg, SubscriptionGroupFile,
		func(t map[string]SubscriptionGroupConfig, v DataVersion) subscriptionGroupWrapper {
			return subscriptionGroupWrapper{DataVersion: v, SubscriptionGroupTable: t}
		},
		func(w subscriptionGroupWrapper) (map[string]SubscriptionGroupConfig, DataVersion) {
			return w.SubscriptionGroupTable, w.DataVersion
		})
	for _, g := range []string{ToolsConsumerGroup, FiltersrvConsumerGroup, SelfTestConsumerGroup,
		OnsHTTPProxyGroup, CIDOnsAPIPullGroup, CIDOnsAPIPermissionGroup, CIDOnsAPIOwnerGroup} {
		m.table[g] = NewSubscriptionGroupConfig(g)
	}
	err := m.load(func(name string, c *SubscriptionGroupConfig) bool {
		c.GroupName = name
		return true
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Find returns the group's config without creating it.
func (m *SubscriptionGroupManager) Find(group string) (SubscriptionGroupConfig, bool) {
	return m.get(group)
}

// FindOrCreate is findSubscriptionGroupConfig: an unknown group is created
// with the defaults when autoCreateSubscriptionGroup is on or the group is a
// CID_RMQ_SYS_ group; otherwise ok is false (pull answers
// SUBSCRIPTION_GROUP_NOT_EXIST, send-back too).
func (m *SubscriptionGroupManager) FindOrCreate(group string) (SubscriptionGroupConfig, bool) {
	c, created, ok := m.getOrCreate(group, func() (SubscriptionGroupConfig, bool) {
		if !m.cfg.AutoCreateSubscriptionGroup && !IsSysConsumerGroup(group) {
			return SubscriptionGroupConfig{}, false
		}
		return NewSubscriptionGroupConfig(group), true
	})
	if created {
		m.cfg.Log.Info().Str("group", group).Msg("auto create a subscription group")
		m.changed()
	}
	return c, ok
}

// Update stores c (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP) and persists.
func (m *SubscriptionGroupManager) Update(c SubscriptionGroupConfig) error {
	if strings.TrimSpace(c.GroupName) == "" {
		return errors.New("update subscription group: blank group name")
	}
	if _, existed := m.put(c.GroupName, c); existed {
		m.cfg.Log.Info().Interface("config", c).Msg("update subscription group config")
	} else {
		m.cfg.Log.Info().Interface("config", c).Msg("create new subscription group")
	}
	return m.saved()
}

// Delete removes group (DELETE_SUBSCRIPTIONGROUP) and reports whether it
// existed. Its consumer offsets are the caller's part
// (ConsumerOffsetManager.RemoveGroup).
func (m *SubscriptionGroupManager) Delete(group string) (bool, error) {
	if !m.remove(group) {
		m.cfg.Log.Warn().Str("group", group).Msg("delete subscription group: not found")
		return false, nil
	}
	m.cfg.Log.Info().Str("group", group).Msg("delete subscription group")
	return true, m.saved()
}

// Groups returns the group names, sorted.
func (m *SubscriptionGroupManager) Groups() []string { return m.names() }

// Encode is the subscriptionGroup.json content, also the
// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) body.
func (m *SubscriptionGroupManager) Encode() ([]byte, error) {
	return json.Marshal(m.snapshot())
}
