package metadata

import (
	"fmt"
	"maps"

	"github.com/sluice-mq/sluice/remoting"
)

// What a slave takes from its master (RocketMQ's SlaveSynchronize): each
// body is what the master answers GET_ALL_TOPIC_CONFIG,
// GET_ALL_SUBSCRIPTIONGROUP_CONFIG and GET_ALL_CONSUMER_OFFSET, in standard
// JSON or fastjson's dialect (a Java master's unquoted integer keys).

// replaceAll swaps the whole table for the master's when its version
// differs from ours (DataVersion#equals, then assignNewOne, clear, putAll),
// and persists and notifies; it reports whether anything was replaced.
func (t *configTable[V, W]) replaceAll(table map[string]V, version DataVersion) (bool, error) {
	t.mu.Lock()
	if t.dataVersion == version {
		t.mu.Unlock()
		return false, nil
	}
	t.table = maps.Clone(table)
	if t.table == nil {
		t.table = map[string]V{}
	}
	t.dataVersion = version
	t.mu.Unlock()
	return true, t.saved()
}

// ReplaceFromMaster is SlaveSynchronize#syncTopicConfig: the master's
// topic table replaces ours when its data version differs. Entries with
// invalid names are dropped, as at load.
func (m *TopicConfigManager) ReplaceFromMaster(body []byte) (bool, error) {
	var w TopicConfigSerializeWrapper
	if err := remoting.UnmarshalLenient(body, &w); err != nil {
		return false, fmt.Errorf("decode the master's topic config: %w", err)
	}
	table := make(map[string]TopicConfig, len(w.TopicConfigTable))
	for name, tc := range w.TopicConfigTable {
		if ValidateTopic(name) != nil {
			continue
		}
		tc.TopicName = name
		table[name] = tc
	}
	return m.replaceAll(table, w.DataVersion)
}

// ReplaceFromMaster is SlaveSynchronize#syncSubscriptionGroupConfig: the
// master's groups replace ours when its data version differs.
func (m *SubscriptionGroupManager) ReplaceFromMaster(body []byte) (bool, error) {
	var w subscriptionGroupWrapper
	if err := remoting.UnmarshalLenient(body, &w); err != nil {
		return false, fmt.Errorf("decode the master's subscription groups: %w", err)
	}
	table := make(map[string]SubscriptionGroupConfig, len(w.SubscriptionGroupTable))
	for name, c := range w.SubscriptionGroupTable {
		c.GroupName = name
		table[name] = c
	}
	return m.replaceAll(table, w.DataVersion)
}

// PutAllFromMaster is SlaveSynchronize#syncConsumerOffset: every
// <topic>@<group> the master has replaces ours (the whole queue map, as
// Java's offsetTable.putAll); pairs only the slave has — commits made
// while the master was away — stay. It returns how many pairs it took.
func (m *ConsumerOffsetManager) PutAllFromMaster(body []byte) (int, error) {
	var w consumerOffsetWrapper
	if err := remoting.UnmarshalLenient(body, &w); err != nil {
		return 0, fmt.Errorf("decode the master's consumer offsets: %w", err)
	}
	m.mu.Lock()
	for key, queues := range w.OffsetTable {
		if _, _, ok := splitOffsetKey(key); !ok {
			continue
		}
		m.table[key] = maps.Clone(queues)
	}
	m.version++
	m.mu.Unlock()
	return len(w.OffsetTable), nil
}
