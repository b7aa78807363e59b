package metadata

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// ProducerManager is RocketMQ's ProducerManager: live producer clients per
// group, fed by HEART_BEAT; transaction checks pick a channel of the group
// from it. Safe for concurrent use.
type ProducerManager struct {
	cfg    Config
	mu     sync.RWMutex
	groups map[string]map[string]*ClientChannelInfo // group → channel id → info
}

// NewProducerManager uses cfg.Log and cfg.Now only.
func NewProducerManager(cfg Config) *ProducerManager {
	return &ProducerManager{cfg: cfg, groups: map[string]map[string]*ClientChannelInfo{}}
}

// Register is registerProducer: records or refreshes the client on ch.
func (m *ProducerManager) Register(ch Channel, clientID, language string, version int32, group string) {
	now := m.cfg.now()
	id := ch.ID()
	m.mu.Lock()
	g := m.groups[group]
	if g == nil {
		g = map[string]*ClientChannelInfo{}
		m.groups[group] = g
	}
	if info := g[id]; info != nil {
		info.Channel, info.ClientID, info.Language, info.Version, info.LastUpdate = ch, clientID, language, version, now
	} else {
		g[id] = &ClientChannelInfo{Channel: ch, ClientID: clientID, Language: language, Version: version, LastUpdate: now}
		m.cfg.Log.Info().Str("group", group).Str("clientId", clientID).Str("channel", id).Msg("new producer connected")
	}
	m.mu.Unlock()
}

// Unregister is unregisterProducer; it reports whether ch was in group.
func (m *ProducerManager) Unregister(group string, ch Channel) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[group]
	if _, ok := g[ch.ID()]; !ok {
		return false
	}
	delete(g, ch.ID())
	if len(g) == 0 {
		delete(m.groups, group)
	}
	return true
}

// ChannelClosed is doChannelCloseEvent: ch leaves every group; the groups it
// was in are returned, sorted.
func (m *ProducerManager) ChannelClosed(ch Channel) []string {
	id := ch.ID()
	var out []string
	m.mu.Lock()
	for name, g := range m.groups {
		if _, ok := g[id]; ok {
			delete(g, id)
			out = append(out, name)
			if len(g) == 0 {
				delete(m.groups, name)
			}
		}
	}
	m.mu.Unlock()
	slices.Sort(out)
	return out
}

// ScanExpired is scanNotActiveChannel: producers silent for longer than
// timeout are removed and their channels returned, each once.
func (m *ProducerManager) ScanExpired(now time.Time, timeout time.Duration) []Channel {
	var out []Channel
	seen := map[string]bool{}
	m.mu.Lock()
	for name, g := range m.groups {
		for id, info := range g {
			if now.Sub(info.LastUpdate) <= timeout {
				continue
			}
			m.cfg.Log.Warn().Str("group", name).Str("clientId", info.ClientID).Str("channel", id).
				Dur("silent", now.Sub(info.LastUpdate)).Msg("producer channel expired, remove it")
			delete(g, id)
			if !seen[id] {
				seen[id] = true
				out = append(out, info.Channel)
			}
		}
		if len(g) == 0 {
			delete(m.groups, name)
		}
	}
	m.mu.Unlock()
	return out
}

// Groups returns the producer groups with at least one client, sorted.
func (m *ProducerManager) Groups() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.groups))
}

// Clients returns the group's clients, sorted by client id then channel id.
func (m *ProducerManager) Clients(group string) []ClientChannelInfo {
	m.mu.RLock()
	out := make([]ClientChannelInfo, 0, len(m.groups[group]))
	for _, info := range m.groups[group] {
		out = append(out, *info)
	}
	m.mu.RUnlock()
	sortClients(out)
	return out
}

// ChannelsOf returns the group's channels in Clients order.
func (m *ProducerManager) ChannelsOf(group string) []Channel {
	cs := m.Clients(group)
	out := make([]Channel, len(cs))
	for i, c := range cs {
		out[i] = c.Channel
	}
	return out
}

// AvailableChannel picks the channel of group heard from most recently,
// for CHECK_TRANSACTION_STATE (Java picks any active, writable one).
func (m *ProducerManager) AvailableChannel(group string) (Channel, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var best *ClientChannelInfo
	for _, info := range m.groups[group] {
		if best == nil || info.LastUpdate.After(best.LastUpdate) ||
			(info.LastUpdate.Equal(best.LastUpdate) && info.Channel.ID() < best.Channel.ID()) {
			best = info
		}
	}
	if best == nil {
		return nil, false
	}
	return best.Channel, true
}

// FindChannel returns a channel of the producer with clientID, if any.
func (m *ProducerManager) FindChannel(clientID string) (Channel, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var best *ClientChannelInfo
	for _, g := range m.groups {
		for _, info := range g {
			if info.ClientID == clientID && (best == nil || info.LastUpdate.After(best.LastUpdate)) {
				best = info
			}
		}
	}
	if best == nil {
		return nil, false
	}
	return best.Channel, true
}
