package metadata

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"time"
)

// ChannelExpiredTimeout is ConsumerManager's CHANNEL_EXPIRED_TIMEOUT (and
// ProducerManager's): a client silent this long is dropped. The broker
// scans every 10 s (ClientHousekeepingService).
const ChannelExpiredTimeout = 120 * time.Second

// Channel is one client connection as the broker's connection layer sees
// it. The managers only keep it and hand it back.
type Channel interface {
	// ID identifies the connection for its whole life and is never reused
	// by another one.
	ID() string
	// Notify sends NOTIFY_CONSUMER_IDS_CHANGED (40, one-way, header
	// consumerGroup) for group. It must not block and must not call back
	// into the managers; they call it outside their locks.
	Notify(group string)
}

// ClientChannelInfo is what the broker knows of a client on one channel
// (Java's ClientChannelInfo).
type ClientChannelInfo struct {
	Channel    Channel
	ClientID   string
	Language   string
	Version    int32
	LastUpdate time.Time
}

// ConsumerGroupInfo is a snapshot of one consumer group (Java's
// ConsumerGroupInfo).
type ConsumerGroupInfo struct {
	GroupName        string
	ConsumeType      string
	MessageModel     string
	ConsumeFromWhere string
	// Clients is sorted by client id, then channel id.
	Clients []ClientChannelInfo
	// Subscriptions by topic.
	Subscriptions map[string]SubscriptionData
	LastUpdate    time.Time
}

type consumerGroup struct {
	consumeType      string
	messageModel     string
	consumeFromWhere string
	channels         map[string]*ClientChannelInfo // by Channel.ID()
	subs             map[string]SubscriptionData   // by topic
	lastUpdate       time.Time
}

// ConsumerManager is RocketMQ's ConsumerManager: live consumer clients per
// group and the group's subscriptions, fed by HEART_BEAT. Safe for
// concurrent use.
type ConsumerManager struct {
	cfg    Config
	mu     sync.RWMutex
	groups map[string]*consumerGroup
}

// NewConsumerManager uses cfg.Log and cfg.Now only.
func NewConsumerManager(cfg Config) *ConsumerManager {
	return &ConsumerManager{cfg: cfg, groups: map[string]*consumerGroup{}}
}

// Register is registerConsumer: it records the client on ch in
// data.GroupName and replaces the group's subscriptions with
// data.SubscriptionDataSet. It reports whether the group changed in a way
// that needs a rebalance, as Java's updateChannel || updateSubscription:
// a channel new to the group, or a topic added or dropped. A newer
// subVersion of an existing topic replaces the subscription without
// counting as a change (Java too: the queue allocation does not depend on
// the expression, and rocketmq-client-go bumps subVersion after each
// rebalance, so counting it would make rebalances feed themselves).
//
// The caller then notifies ChannelsOf(group) when the group's
// notifyConsumerIdsChangedEnable allows (Managers.HeartBeat does).
func (m *ConsumerManager) Register(ch Channel, clientID, language string, version int32, data ConsumerData) bool {
	now := m.cfg.now()
	group := data.GroupName
	m.mu.Lock()
	g := m.groups[group]
	if g == nil {
		g = &consumerGroup{channels: map[string]*ClientChannelInfo{}, subs: map[string]SubscriptionData{}}
		m.groups[group] = g
	}
	g.consumeType, g.messageModel, g.consumeFromWhere = data.ConsumeType, data.MessageModel, data.ConsumeFromWhere

	changed := false
	id := ch.ID()
	if old := g.channels[id]; old == nil {
		g.channels[id] = &ClientChannelInfo{Channel: ch, ClientID: clientID, Language: language, Version: version, LastUpdate: now}
		changed = true
		m.cfg.Log.Info().Str("group", group).Str("clientId", clientID).Str("channel", id).Msg("new consumer connected")
	} else {
		if old.ClientID != clientID {
			m.cfg.Log.Error().Str("group", group).Str("old", old.ClientID).Str("new", clientID).Str("channel", id).
				Msg("consumer channel exists in broker, but clientId not equal")
			old.ClientID = clientID
		}
		old.Channel, old.Language, old.Version, old.LastUpdate = ch, language, version, now
	}

	seen := make(map[string]struct{}, len(data.SubscriptionDataSet))
	for _, sub := range data.SubscriptionDataSet {
		seen[sub.Topic] = struct{}{}
		old, ok := g.subs[sub.Topic]
		switch {
		case !ok:
			g.subs[sub.Topic] = sub
			changed = true
			m.cfg.Log.Info().Str("group", group).Str("topic", sub.Topic).Str("subString", sub.SubString).
				Msg("subscription changed, add new topic")
		case sub.SubVersion > old.SubVersion:
			g.subs[sub.Topic] = sub
		}
	}
	for topic := range g.subs {
		if _, ok := seen[topic]; !ok {
			delete(g.subs, topic)
			changed = true
			m.cfg.Log.Warn().Str("group", group).Str("topic", topic).Msg("subscription changed, remove topic")
		}
	}
	g.lastUpdate = now
	m.mu.Unlock()
	return changed
}

// Unregister is unregisterConsumer (UNREGISTER_CLIENT, which
// rocketmq-client-go never sends): it removes ch from group and reports
// whether it was there. An emptied group is dropped.
func (m *ConsumerManager) Unregister(group string, ch Channel) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[group]
	if g == nil {
		return false
	}
	if _, ok := g.channels[ch.ID()]; !ok {
		return false
	}
	delete(g.channels, ch.ID())
	if len(g.channels) == 0 {
		delete(m.groups, group)
		m.cfg.Log.Info().Str("group", group).Msg("unregister consumer ok, no any connection, and remove consumer group")
	}
	return true
}

// ChannelClosed is doChannelCloseEvent: ch leaves every group and the
// groups it was in are returned, sorted (emptied groups are dropped and
// included). Java then notifies the remaining channels of each.
func (m *ConsumerManager) ChannelClosed(ch Channel) []string {
	id := ch.ID()
	var changed []string
	m.mu.Lock()
	for name, g := range m.groups {
		if _, ok := g.channels[id]; !ok {
			continue
		}
		delete(g.channels, id)
		changed = append(changed, name)
		if len(g.channels) == 0 {
			delete(m.groups, name)
			m.cfg.Log.Info().Str("group", name).Msg("unregister consumer ok, no any connection, and remove consumer group")
		}
	}
	m.mu.Unlock()
	slices.Sort(changed)
	return changed
}

// ScanExpired is scanNotActiveChannel: clients not heard from for longer
// than timeout (ChannelExpiredTimeout) are removed. It returns their
// channels (each once, for the caller to close, as Java does) and the
// groups that lost a member, sorted. Java does not notify those groups
// (closing the channel finds it already gone); Managers.ScanNotActive does,
// so the survivors rebalance now rather than within 20 s.
func (m *ConsumerManager) ScanExpired(now time.Time, timeout time.Duration) (expired []Channel, changed []string) {
	seen := map[string]bool{}
	m.mu.Lock()
	for name, g := range m.groups {
		lost := false
		for id, info := range g.channels {
			if now.Sub(info.LastUpdate) <= timeout {
				continue
			}
			m.cfg.Log.Warn().Str("group", name).Str("clientId", info.ClientID).Str("channel", id).
				Dur("silent", now.Sub(info.LastUpdate)).Msg("consumer channel expired, remove it")
			delete(g.channels, id)
			lost = true
			if !seen[id] {
				seen[id] = true
				expired = append(expired, info.Channel)
			}
		}
		if lost {
			changed = append(changed, name)
		}
		if len(g.channels) == 0 {
			delete(m.groups, name)
			m.cfg.Log.Warn().Str("group", name).Msg("consumer group has no channel left, remove it")
		}
	}
	m.mu.Unlock()
	slices.Sort(changed)
	return expired, changed
}

// ConsumerIDs is the GET_CONSUMER_LIST_BY_GROUP list: the group's client
// ids, sorted and without duplicates. Java lists one id per channel; a
// client briefly seen on two channels (a reconnect before the old socket is
// noticed dead) would then appear twice, and rocketmq-client-go's average
// allocation would give the phantom's share of queues to nobody.
func (m *ConsumerManager) ConsumerIDs(group string) []string {
	m.mu.RLock()
	g := m.groups[group]
	var ids []string
	if g != nil {
		ids = make([]string, 0, len(g.channels))
		for _, info := range g.channels {
			ids = append(ids, info.ClientID)
		}
	}
	m.mu.RUnlock()
	slices.Sort(ids)
	return slices.Compact(ids)
}

// ChannelsOf returns the group's channels, sorted by id.
func (m *ConsumerManager) ChannelsOf(group string) []Channel {
	m.mu.RLock()
	g := m.groups[group]
	var infos []*ClientChannelInfo
	if g != nil {
		for _, info := range g.channels {
			infos = append(infos, info)
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(infos, func(a, b *ClientChannelInfo) int { return cmp.Compare(a.Channel.ID(), b.Channel.ID()) })
	out := make([]Channel, len(infos))
	for i, info := range infos {
		out[i] = info.Channel
	}
	return out
}

// NotifyConsumerIdsChanged calls Notify(group) on every channel of group
// (DefaultConsumerIdsChangeListener on CHANGE).
func (m *ConsumerManager) NotifyConsumerIdsChanged(group string) {
	for _, ch := range m.ChannelsOf(group) {
		ch.Notify(group)
	}
}

// Subscription returns group's subscription to topic, for PULL_MESSAGE
// without the SUBSCRIPTION bit. ok is false when the group has no
// registered client or does not subscribe topic (both SUBSCRIPTION_NOT_EXIST).
func (m *ConsumerManager) Subscription(group, topic string) (SubscriptionData, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[group]
	if g == nil {
		return SubscriptionData{}, false
	}
	sd, ok := g.subs[topic]
	return sd, ok
}

// FindSubscriptionData is Java's name for Subscription.
func (m *ConsumerManager) FindSubscriptionData(group, topic string) (SubscriptionData, bool) {
	return m.Subscription(group, topic)
}

// GroupInfo returns a snapshot of group; ok is false when it has no
// client. The pull path needs MessageModel (broadcasting) besides the
// subscription.
func (m *ConsumerManager) GroupInfo(group string) (ConsumerGroupInfo, bool) {
	m.mu.RLock()
	g := m.groups[group]
	if g == nil {
		m.mu.RUnlock()
		return ConsumerGroupInfo{}, false
	}
	info := ConsumerGroupInfo{
		GroupName:        group,
		ConsumeType:      g.consumeType,
		MessageModel:     g.messageModel,
		ConsumeFromWhere: g.consumeFromWhere,
		Clients:          make([]ClientChannelInfo, 0, len(g.channels)),
		Subscriptions:    make(map[string]SubscriptionData, len(g.subs)),
		LastUpdate:       g.lastUpdate,
	}
	for _, c := range g.channels {
		info.Clients = append(info.Clients, *c)
	}
	for t, s := range g.subs {
		info.Subscriptions[t] = s
	}
	m.mu.RUnlock()
	sortClients(info.Clients)
	return info, true
}

// Groups returns the groups with at least one client, sorted.
func (m *ConsumerManager) Groups() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.groups))
}

// QueryTopicConsumeByWho returns the groups subscribing topic, sorted.
func (m *ConsumerManager) QueryTopicConsumeByWho(topic string) []string {
	var out []string
	m.mu.RLock()
	for name, g := range m.groups {
		if _, ok := g.subs[topic]; ok {
			out = append(out, name)
		}
	}
	m.mu.RUnlock()
	slices.Sort(out)
	return out
}

func sortClients(cs []ClientChannelInfo) {
	slices.SortFunc(cs, func(a, b ClientChannelInfo) int {
		return cmp.Or(cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(a.Channel.ID(), b.Channel.ID()))
	})
}
