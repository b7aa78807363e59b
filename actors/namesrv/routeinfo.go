package namesrv

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/metadata"
)

// MasterID is the broker id of a master (MixAll.MASTER_ID).
const MasterID int64 = 0

// DefaultBrokerChannelExpiredTime is how long a broker may stay silent
// before the name server forgets it (BROKER_CHANNEL_EXPIRED_TIME): four
// missed registrations at the default 30 s period.
const DefaultBrokerChannelExpiredTime = 120 * time.Second

// DefaultScanInterval is how often RocketMQ 4.x looks for silent brokers.
const DefaultScanInterval = 10 * time.Second

// BrokerLiveInfo is what the name server remembers about one broker
// address between registrations.
type BrokerLiveInfo struct {
	LastUpdate   time.Time
	DataVersion  metadata.DataVersion
	HAServerAddr string
	// Timeout overrides the manager's expiry for this broker (RocketMQ 5's
	// heartbeatTimeoutMillis); 0 uses BrokerChannelExpiredTime.
	Timeout time.Duration
	// Channel is the connection the last registration came over (any
	// comparable handle; nil when unknown): when it closes, the broker is
	// dropped at once (OnChannelDestroy) rather than after the expiry.
	Channel any
}

// BrokerRegistration is one REGISTER_BROKER, decoded.
type BrokerRegistration struct {
	ClusterName  string
	BrokerName   string
	BrokerAddr   string
	BrokerID     int64
	HAServerAddr string
	// Topics is the broker's whole topic table; only a master's is used.
	Topics      map[string]metadata.TopicConfig
	DataVersion metadata.DataVersion
	// HeartbeatTimeout, if positive, replaces BrokerChannelExpiredTime for
	// this broker.
	HeartbeatTimeout time.Duration
	// Channel is the connection the registration came over (an
	// *actors.Connection on the wire; nil in tests), see OnChannelDestroy.
	Channel any
}

// RegisterBrokerResult tells a slave where its master is; both fields are
// empty for a master or when the master is not registered.
type RegisterBrokerResult struct {
	HAServerAddr string
	MasterAddr   string
}

// RouteInfoManager holds the name server's routes (RocketMQ's
// RouteInfoManager). It is safe for concurrent use; every method takes the
// one lock for a short, allocation-light critical section, so handlers
// call it directly from their processor actor.
type RouteInfoManager struct {
	// BrokerChannelExpiredTime is how long a broker may go without
	// registering before ScanNotActiveBroker drops it. Set it before the
	// manager is shared; NewRouteInfoManager sets the default.
	BrokerChannelExpiredTime time.Duration

	log   zerolog.Logger
	clock func() time.Time // time.Now; tests replace it

	mu               sync.RWMutex
	clusterAddrTable map[string]map[string]struct{}  // cluster → broker names
	brokerAddrTable  map[string]*BrokerData          // broker name → addresses
	topicQueueTable  map[string]map[string]QueueData // topic → broker name → queues
	brokerLiveTable  map[string]*BrokerLiveInfo      // broker address → liveness
}

// NewRouteInfoManager returns empty routes with RocketMQ's expiry.
func NewRouteInfoManager(log zerolog.Logger) *RouteInfoManager {
	return &RouteInfoManager{
		BrokerChannelExpiredTime: DefaultBrokerChannelExpiredTime,
		log:                      log,
		clock:                    time.Now,
		clusterAddrTable:         make(map[string]map[string]struct{}),
		brokerAddrTable:          make(map[string]*BrokerData),
		topicQueueTable:          make(map[string]map[string]QueueData),
		brokerLiveTable:          make(map[string]*BrokerLiveInfo),
	}
}

// RegisterBroker records a broker's registration, which is also its
// heartbeat. A master's topics replace its previous ones when its data
// version changed or the name server did not know it; a repeated
// registration with the same version only refreshes the heartbeat, which
// keeps the every-30-s registration of a large broker cheap.
func (m *RouteInfoManager) RegisterBroker(reg BrokerRegistration) RegisterBrokerResult {
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()

	names := m.clusterAddrTable[reg.ClusterName]
	if names == nil {
		names = make(map[string]struct{})
		m.clusterAddrTable[reg.ClusterName] = names
	}
	names[reg.BrokerName] = struct{}{}

	registerFirst := false
	bd := m.brokerAddrTable[reg.BrokerName]
	if bd == nil {
		registerFirst = true
		bd = &BrokerData{Cluster: reg.ClusterName, BrokerName: reg.BrokerName, BrokerAddrs: make(BrokerAddrs)}
		m.brokerAddrTable[reg.BrokerName] = bd
	}
	// A slave promoted to master re-registers its address under id 0; one
	// address must appear under one id only.
	for id, addr := range bd.BrokerAddrs {
		if addr == reg.BrokerAddr && id != reg.BrokerID {
			delete(bd.BrokerAddrs, id)
		}
	}
	if _, known := bd.BrokerAddrs[reg.BrokerID]; !known {
		registerFirst = true
	}
	bd.BrokerAddrs[reg.BrokerID] = reg.BrokerAddr

	if reg.BrokerID == MasterID && (registerFirst || m.topicConfigChanged(reg.BrokerAddr, reg.DataVersion)) {
		m.replaceTopicsOfBroker(reg.BrokerName, reg.Topics)
	}

	prev := m.brokerLiveTable[reg.BrokerAddr]
	m.brokerLiveTable[reg.BrokerAddr] = &BrokerLiveInfo{
		LastUpdate:   now,
		DataVersion:  reg.DataVersion,
		HAServerAddr: reg.HAServerAddr,
		Timeout:      max(reg.HeartbeatTimeout, 0),
		Channel:      reg.Channel,
	}
	if prev == nil {
		m.log.Info().Str("cluster", reg.ClusterName).Str("brokerName", reg.BrokerName).
			Int64("brokerId", reg.BrokerID).Str("brokerAddr", reg.BrokerAddr).
			Int("topics", len(reg.Topics)).Msg("new broker registered")
	}

	var res RegisterBrokerResult
	if reg.BrokerID != MasterID {
		if masterAddr, ok := bd.BrokerAddrs[MasterID]; ok {
			if live := m.brokerLiveTable[masterAddr]; live != nil {
				res = RegisterBrokerResult{HAServerAddr: live.HAServerAddr, MasterAddr: masterAddr}
			}
		}
	}
	return res
}

// topicConfigChanged is isBrokerTopicConfigChanged: an address the live
// table does not know counts as changed.
func (m *RouteInfoManager) topicConfigChanged(addr string, v metadata.DataVersion) bool {
	live := m.brokerLiveTable[addr]
	return live == nil || live.DataVersion != v
}

// replaceTopicsOfBroker makes topics the exact set brokerName serves.
func (m *RouteInfoManager) replaceTopicsOfBroker(brokerName string, topics map[string]metadata.TopicConfig) {
	for topic, byBroker := range m.topicQueueTable {
		if _, still := topics[topic]; still {
			continue
		}
		if _, had := byBroker[brokerName]; had {
			delete(byBroker, brokerName)
			if len(byBroker) == 0 {
				delete(m.topicQueueTable, topic)
			}
			m.log.Info().Str("topic", topic).Str("brokerName", brokerName).Msg("topic no longer on broker, route removed")
		}
	}
	for name, tc := range topics {
		if name == "" {
			// Java keys the table by topicConfig.getTopicName(); an entry
			// without one is a sender's bug, not a topic.
			continue
		}
		byBroker := m.topicQueueTable[name]
		if byBroker == nil {
			byBroker = make(map[string]QueueData, 1)
			m.topicQueueTable[name] = byBroker
		}
		byBroker[brokerName] = QueueData{
			BrokerName:     brokerName,
			ReadQueueNums:  tc.ReadQueueNums,
			WriteQueueNums: tc.WriteQueueNums,
			Perm:           tc.Perm,
			TopicSysFlag:   tc.TopicSysFlag,
		}
	}
}

// UnregisterBroker forgets one broker address, as on a clean shutdown. The
// broker name, and with it its topics, goes when its last address goes.
func (m *RouteInfoManager) UnregisterBroker(clusterName, brokerAddr, brokerName string, brokerID int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.brokerLiveTable, brokerAddr)
	removedName := false
	if bd := m.brokerAddrTable[brokerName]; bd != nil {
		delete(bd.BrokerAddrs, brokerID)
		if len(bd.BrokerAddrs) == 0 {
			delete(m.brokerAddrTable, brokerName)
			removedName = true
		}
	}
	if removedName {
		m.removeBrokerName(clusterName, brokerName)
	}
	m.log.Info().Str("cluster", clusterName).Str("brokerName", brokerName).Int64("brokerId", brokerID).
		Str("brokerAddr", brokerAddr).Bool("brokerNameRemoved", removedName).Msg("broker unregistered")
}

// removeBrokerName drops a broker name from its cluster and from every
// topic, and topics left without any broker.
func (m *RouteInfoManager) removeBrokerName(clusterName, brokerName string) {
	if names := m.clusterAddrTable[clusterName]; names != nil {
		delete(names, brokerName)
		if len(names) == 0 {
			delete(m.clusterAddrTable, clusterName)
		}
	}
	for topic, byBroker := range m.topicQueueTable {
		delete(byBroker, brokerName)
		if len(byBroker) == 0 {
			delete(m.topicQueueTable, topic)
		}
	}
}

// ScanNotActiveBroker drops every broker that has not registered within
// its timeout before now, as if its connection had closed
// (RouteInfoManager#scanNotActiveBroker, #onChannelDestroy). It returns
// the addresses dropped.
func (m *RouteInfoManager) ScanNotActiveBroker(now time.Time) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var expired []string
	for addr, live := range m.brokerLiveTable {
		timeout := live.Timeout
		if timeout <= 0 {
			timeout = m.BrokerChannelExpiredTime
		}
		if now.Sub(live.LastUpdate) <= timeout {
			continue
		}
		delete(m.brokerLiveTable, addr)
		m.removeBrokerAddr(addr)
		expired = append(expired, addr)
		m.log.Warn().Str("brokerAddr", addr).Dur("silentFor", now.Sub(live.LastUpdate)).
			Dur("timeout", timeout).Msg("broker expired: no registration within the timeout")
	}
	slices.Sort(expired)
	return expired
}

// OnChannelDestroy drops every broker whose last registration came over
// ch, which has closed (RocketMQ's BrokerHousekeepingService →
// RouteInfoManager#onChannelDestroy): a killed broker's connection closes
// with it, so its route goes now, not 120 s later, and clients move to the
// group's slave or to other groups. A broker that registered again over a
// newer connection is kept. It returns the addresses dropped.
func (m *RouteInfoManager) OnChannelDestroy(ch any) []string {
	if ch == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var dropped []string
	for addr, live := range m.brokerLiveTable {
		if live.Channel != ch {
			continue
		}
		delete(m.brokerLiveTable, addr)
		m.removeBrokerAddr(addr)
		dropped = append(dropped, addr)
		m.log.Warn().Str("brokerAddr", addr).Msg("broker's connection closed: route removed (onChannelDestroy)")
	}
	slices.Sort(dropped)
	return dropped
}

// removeBrokerAddr removes addr under whatever names and ids it is
// registered, and the names it leaves empty.
func (m *RouteInfoManager) removeBrokerAddr(addr string) {
	for name, bd := range m.brokerAddrTable {
		for id, a := range bd.BrokerAddrs {
			if a == addr {
				delete(bd.BrokerAddrs, id)
			}
		}
		if len(bd.BrokerAddrs) == 0 {
			delete(m.brokerAddrTable, name)
			m.removeBrokerName(bd.Cluster, name)
		}
	}
}

// PickupTopicRouteData returns the route of topic, or false when no
// registered broker serves it.
func (m *RouteInfoManager) PickupTopicRouteData(topic string) (*TopicRouteData, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	byBroker := m.topicQueueTable[topic]
	if len(byBroker) == 0 {
		return nil, false
	}
	route := &TopicRouteData{
		QueueDatas:        make([]QueueData, 0, len(byBroker)),
		FilterServerTable: map[string][]string{},
	}
	for _, name := range slices.Sorted(maps.Keys(byBroker)) {
		route.QueueDatas = append(route.QueueDatas, byBroker[name])
		if bd := m.brokerAddrTable[name]; bd != nil {
			route.BrokerDatas = append(route.BrokerDatas, bd.clone())
		}
	}
	if len(route.BrokerDatas) == 0 {
		return nil, false
	}
	return route, true
}

// ClusterInfo returns a copy of the clusters and their brokers.
func (m *RouteInfoManager) ClusterInfo() *ClusterInfo {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ci := &ClusterInfo{
		BrokerAddrTable:  make(map[string]BrokerData, len(m.brokerAddrTable)),
		ClusterAddrTable: make(map[string][]string, len(m.clusterAddrTable)),
	}
	for name, bd := range m.brokerAddrTable {
		ci.BrokerAddrTable[name] = bd.clone()
	}
	for cluster, names := range m.clusterAddrTable {
		ci.ClusterAddrTable[cluster] = slices.Sorted(maps.Keys(names))
	}
	return ci
}

// TopicList returns every topic with queue data, sorted.
func (m *RouteInfoManager) TopicList() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.topicQueueTable))
}

// DeleteTopic removes a topic's routes: everywhere when clusterName is
// empty, otherwise only on that cluster's brokers (RocketMQ 5's optional
// clusterName). It reports whether anything was removed. A broker that
// still has the topic brings it back when its data version next changes.
func (m *RouteInfoManager) DeleteTopic(topic, clusterName string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	byBroker, ok := m.topicQueueTable[topic]
	if !ok {
		return false
	}
	if clusterName == "" {
		delete(m.topicQueueTable, topic)
		return true
	}
	removed := false
	for name := range m.clusterAddrTable[clusterName] {
		if _, has := byBroker[name]; has {
			delete(byBroker, name)
			removed = true
		}
	}
	if len(byBroker) == 0 {
		delete(m.topicQueueTable, topic)
	}
	return removed
}

// LiveBrokers returns a copy of the live table, by broker address.
func (m *RouteInfoManager) LiveBrokers() map[string]BrokerLiveInfo {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]BrokerLiveInfo, len(m.brokerLiveTable))
	for addr, live := range m.brokerLiveTable {
		out[addr] = *live
	}
	return out
}

// StartScanner runs ScanNotActiveBroker every interval (DefaultScanInterval
// when interval <= 0) until stop is called. stop waits for a scan in
// progress and may be called more than once.
func (m *RouteInfoManager) StartScanner(interval time.Duration) (stop func()) {
	if interval <= 0 {
		interval = DefaultScanInterval
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				m.ScanNotActiveBroker(m.clock())
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-exited
	}
}
