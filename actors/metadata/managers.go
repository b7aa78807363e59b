package metadata

import (
	"errors"
	"time"
)

// Managers holds one broker's metadata managers and does the steps that
// involve several of them (RocketMQ's ClientManageProcessor and
// ClientHousekeepingService).
type Managers struct {
	Topics             *TopicConfigManager
	SubscriptionGroups *SubscriptionGroupManager
	Offsets            *ConsumerOffsetManager
	Consumers          *ConsumerManager
	Producers          *ProducerManager
	Locks              *RebalanceLockManager
}

// Open creates every manager and loads the three JSON files from cfg.Dir.
func Open(cfg Config) (*Managers, error) {
	topics, err := NewTopicConfigManager(cfg)
	if err != nil {
		return nil, err
	}
	groups, err := NewSubscriptionGroupManager(cfg)
	if err != nil {
		return nil, err
	}
	offsets, err := NewConsumerOffsetManager(cfg)
	if err != nil {
		return nil, err
	}
	return &Managers{
		Topics:             topics,
		SubscriptionGroups: groups,
		Offsets:            offsets,
		Consumers:          NewConsumerManager(cfg),
		Producers:          NewProducerManager(cfg),
		Locks:              NewRebalanceLockManager(cfg, 0),
	}, nil
}

// HeartBeat is ClientManageProcessor#heartBeat after the body is decoded.
// For each consumer group: find or auto-create its subscription group;
// if it exists, create %RETRY%<group> with the group's retryQueueNums, RW
// (topic sys flag "unit sub" in unit mode); register the consumer; if that
// changed the group and the group's notifyConsumerIdsChangedEnable is on
// (true when the group could not be created), notify all its channels.
// Then register every producer group. It returns the consumer groups that
// changed, in body order. A group whose retry topic cannot be
// created (an invalid name) is logged and still registered, as Java does
// nothing different for it.
func (m *Managers) HeartBeat(ch Channel, language string, version int32, hb HeartbeatData) []string {
	var changed []string
	for _, data := range hb.ConsumerDataSet {
		notify := true
		if sg, ok := m.SubscriptionGroups.FindOrCreate(data.GroupName); ok {
			notify = sg.NotifyConsumerIdsChangedEnable
			sysFlag := 0
			if data.UnitMode {
				sysFlag = BuildTopicSysFlag(false, true)
			}
			if _, _, err := m.Topics.CreateTopicInSendMessageBackMethod(RetryTopic(data.GroupName),
				sg.RetryQueueNums, PermRead|PermWrite, sysFlag); err != nil {
				m.Topics.cfg.Log.Warn().Err(err).Str("group", data.GroupName).Msg("heartbeat: cannot create retry topic")
			}
		}
		if m.Consumers.Register(ch, hb.ClientID, language, version, data) {
			changed = append(changed, data.GroupName)
			if notify {
				m.Consumers.NotifyConsumerIdsChanged(data.GroupName)
			}
		}
	}
	for _, data := range hb.ProducerDataSet {
		m.Producers.Register(ch, hb.ClientID, language, version, data.GroupName)
	}
	return changed
}

// ChannelClosed removes ch everywhere (producers and consumers) and
// notifies the remaining channels of each consumer group it left
// (DefaultConsumerIdsChangeListener with the broker's
// notifyConsumerIdsChangedEnable at its default, true). Queue locks are
// left to expire, as in Java. It returns the consumer groups that changed.
func (m *Managers) ChannelClosed(ch Channel) []string {
	m.Producers.ChannelClosed(ch)
	changed := m.Consumers.ChannelClosed(ch)
	for _, g := range changed {
		m.Consumers.NotifyConsumerIdsChanged(g)
	}
	return changed
}

// ScanNotActive is the 10 s housekeeping pass: clients silent for longer
// than ChannelExpiredTimeout are removed from both managers and the
// survivors of each consumer group that lost one are notified. It returns
// the expired channels, each once, for the caller to close.
func (m *Managers) ScanNotActive(now time.Time) []Channel {
	expired, changed := m.Consumers.ScanExpired(now, ChannelExpiredTimeout)
	pexp := m.Producers.ScanExpired(now, ChannelExpiredTimeout)
	seen := make(map[string]bool, len(expired))
	for _, ch := range expired {
		seen[ch.ID()] = true
	}
	for _, ch := range pexp {
		if !seen[ch.ID()] {
			seen[ch.ID()] = true
			expired = append(expired, ch)
		}
	}
	for _, g := range changed {
		m.Consumers.NotifyConsumerIdsChanged(g)
	}
	return expired
}

// Persist writes all three files (at shutdown), joining the errors.
func (m *Managers) Persist() error {
	return errors.Join(m.Topics.Persist(), m.SubscriptionGroups.Persist(), m.Offsets.Persist())
}
