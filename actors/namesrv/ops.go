package namesrv

import (
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/remoting"
)

// KV config bounds: a name server's KV table holds a few order-topic and
// namespace entries; these keep a client from growing it without limit.
const (
	maxKVEntries  = 10000
	maxKVValueLen = 64 << 10
)

// KVConfigManager is RocketMQ's KVConfigManager: namespace → key → value,
// used by ordered-topic configuration (ORDER_TOPIC_CONFIG) and tools.
// Unlike RocketMQ, which writes kvConfig.json, the table lives in memory:
// a name server restart empties it (Sluice's name server has no store
// directory).
type KVConfigManager struct {
	mu    sync.RWMutex
	table map[string]map[string]string
	n     int
}

// NewKVConfigManager returns an empty table.
func NewKVConfigManager() *KVConfigManager {
	return &KVConfigManager{table: map[string]map[string]string{}}
}

// Put stores a value; false when the table is full.
func (m *KVConfigManager) Put(ns, key, value string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.table[ns]
	if t == nil {
		t = map[string]string{}
		m.table[ns] = t
	}
	if _, ok := t[key]; !ok {
		if m.n >= maxKVEntries {
			return false
		}
		m.n++
	}
	t[key] = value
	return true
}

// Get returns a value.
func (m *KVConfigManager) Get(ns, key string) (string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.table[ns][key]
	return v, ok
}

// Delete removes a value.
func (m *KVConfigManager) Delete(ns, key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.table[ns]; t != nil {
		if _, ok := t[key]; ok {
			delete(t, key)
			m.n--
		}
		if len(t) == 0 {
			delete(m.table, ns)
		}
	}
}

// List returns a copy of a namespace.
func (m *KVConfigManager) List(ns string) map[string]string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return maps.Clone(m.table[ns])
}

// TopicsByCluster lists the topics with queues on the cluster's brokers,
// sorted (RouteInfoManager#getTopicsByCluster).
func (m *RouteInfoManager) TopicsByCluster(cluster string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	names := m.clusterAddrTable[cluster]
	var out []string
	for topic, qs := range m.topicQueueTable {
		for bn := range qs {
			if _, ok := names[bn]; ok {
				out = append(out, topic)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// SystemTopicList is RouteInfoManager#getSystemTopicList: every cluster
// name and broker name (each a system topic), and a master's address.
func (m *RouteInfoManager) SystemTopicList() (topics []string, brokerAddr string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	set := map[string]struct{}{}
	for cluster, names := range m.clusterAddrTable {
		set[cluster] = struct{}{}
		for n := range names {
			set[n] = struct{}{}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.brokerAddrTable)) {
		if a, ok := m.brokerAddrTable[name].BrokerAddrs[0]; ok && brokerAddr == "" {
			brokerAddr = a
		}
	}
	return slices.Sorted(maps.Keys(set)), brokerAddr
}

// changeWritePerm clears or sets the write permission of every queue of
// brokerName and returns how many topics changed (RouteInfoManager#
// operateWritePermOfBroker). A broker's next registration with a new data
// version replaces it.
func (m *RouteInfoManager) changeWritePerm(brokerName string, wipe bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, qs := range m.topicQueueTable {
		qd, ok := qs[brokerName]
		if !ok {
			continue
		}
		if wipe {
			qd.Perm &^= metadata.PermWrite
		} else {
			qd.Perm = metadata.PermRead | metadata.PermWrite
		}
		qs[brokerName] = qd
		n++
	}
	return n
}

// topicsBySysFlag lists the topics whose queues' sysFlag matches.
func (m *RouteInfoManager) topicsBySysFlag(match func(flag int) bool) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for topic, qs := range m.topicQueueTable {
		for _, qd := range qs {
			if match(qd.TopicSysFlag) {
				out = append(out, topic)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// TopicSysFlag bits (TopicSysFlag.java).
const (
	flagUnit    = 1 << 0
	flagUnitSub = 1 << 1
)

// opsHandlers are DefaultRequestProcessor's KV config, listing and
// permission codes.
type opsHandlers struct {
	*handlers
	kv   *KVConfigManager
	addr func() string // the name server's listen address, for GET_NAMESRV_CONFIG
}

func (h *opsHandlers) byCode() map[remoting.RequestCode]actors.HandlerFunc {
	topicsWith := func(match func(int) bool) actors.HandlerFunc {
		return func(r *actors.Request) { h.replyTopics(r, h.m.topicsBySysFlag(match), "") }
	}
	return map[remoting.RequestCode]actors.HandlerFunc{
		remoting.PutKVConfig:                  h.putKVConfig,
		remoting.GetKVConfig:                  h.getKVConfig,
		remoting.DeleteKVConfig:               h.deleteKVConfig,
		remoting.GetKVListByNamespace:         h.getKVListByNamespace,
		remoting.GetTopicsByCluster:           h.getTopicsByCluster,
		remoting.GetSystemTopicListFromNS:     h.getSystemTopicList,
		remoting.WipeWritePermOfBroker:        func(r *actors.Request) { h.writePerm(r, true) },
		remoting.AddWritePermOfBroker:         func(r *actors.Request) { h.writePerm(r, false) },
		remoting.GetUnitTopicList:             topicsWith(func(f int) bool { return f&flagUnit != 0 }),
		remoting.GetHasUnitSubTopicList:       topicsWith(func(f int) bool { return f&flagUnitSub != 0 }),
		remoting.GetHasUnitSubUnunitTopicList: topicsWith(func(f int) bool { return f&flagUnit == 0 && f&flagUnitSub != 0 }),
		remoting.GetNamesrvConfig:             h.getNamesrvConfig,
		remoting.UpdateNamesrvConfig:          h.updateNamesrvConfig,
		remoting.QueryDataVersion:             h.queryDataVersion,
	}
}

func (h *opsHandlers) replyTopics(r *actors.Request, topics []string, brokerAddr string) {
	if topics == nil {
		topics = []string{}
	}
	body := struct {
		TopicList  []string `json:"topicList"`
		BrokerAddr string   `json:"brokerAddr,omitempty"`
	}{topics, brokerAddr}
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.Body = marshal(&body)
	r.Reply(resp)
}

func (h *opsHandlers) putKVConfig(r *actors.Request) {
	hdr, err := remoting.DecodeKVConfigRequestHeader(r.Cmd, true)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	if len(hdr.Value) > maxKVValueLen {
		r.ReplyCode(remoting.SystemError, "KV config value longer than "+strconv.Itoa(maxKVValueLen)+" bytes")
		return
	}
	if !h.kv.Put(hdr.Namespace, hdr.Key, hdr.Value) {
		r.ReplyCode(remoting.SystemError, "KV config table full ("+strconv.Itoa(maxKVEntries)+" entries)")
		return
	}
	h.log.Info().Str("namespace", hdr.Namespace).Str("key", hdr.Key).Str("value", hdr.Value).Msg("putKVConfig")
	r.ReplyCode(remoting.Success, "")
}

func (h *opsHandlers) getKVConfig(r *actors.Request) {
	hdr, err := remoting.DecodeKVConfigRequestHeader(r.Cmd, false)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	v, ok := h.kv.Get(hdr.Namespace, hdr.Key)
	if !ok {
		r.ReplyCode(remoting.QueryNotFound, "No config item, Namespace: "+hdr.Namespace+" Key: "+hdr.Key)
		return
	}
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.SetExt("value", v)
	r.Reply(resp)
}

func (h *opsHandlers) deleteKVConfig(r *actors.Request) {
	hdr, err := remoting.DecodeKVConfigRequestHeader(r.Cmd, false)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	h.kv.Delete(hdr.Namespace, hdr.Key)
	h.log.Info().Str("namespace", hdr.Namespace).Str("key", hdr.Key).Msg("deleteKVConfig")
	r.ReplyCode(remoting.Success, "")
}

// getKVListByNamespace answers a KVTable ({"table":{…}}).
func (h *opsHandlers) getKVListByNamespace(r *actors.Request) {
	ns, err := remoting.DecodeNamespaceRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	t := h.kv.List(ns)
	if len(t) == 0 {
		r.ReplyCode(remoting.QueryNotFound, "No config item, Namespace: "+ns)
		return
	}
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.Body = marshal(&struct {
		Table map[string]string `json:"table"`
	}{t})
	r.Reply(resp)
}

func (h *opsHandlers) getTopicsByCluster(r *actors.Request) {
	cluster, err := remoting.DecodeClusterRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	h.replyTopics(r, h.m.TopicsByCluster(cluster), "")
}

func (h *opsHandlers) getSystemTopicList(r *actors.Request) {
	topics, addr := h.m.SystemTopicList()
	h.replyTopics(r, topics, addr)
}

// writePerm is WIPE_WRITE_PERM_OF_BROKER (205) / ADD_WRITE_PERM_OF_BROKER
// (327): the answer header counts the topics changed.
func (h *opsHandlers) writePerm(r *actors.Request, wipe bool) {
	name, err := remoting.DecodeBrokerNameRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	n := h.m.changeWritePerm(name, wipe)
	key := "addTopicCount"
	if wipe {
		key = "wipeTopicCount"
	}
	h.log.Warn().Str("brokerName", name).Bool("wipe", wipe).Int("topics", n).Msg("write permission of broker changed")
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.SetExt(key, strconv.Itoa(n))
	r.Reply(resp)
}

// getNamesrvConfig is GET_NAMESRV_CONFIG (319): the name server's
// settings as a properties text.
func (h *opsHandlers) getNamesrvConfig(r *actors.Request) {
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	body := "kvConfigPersisted=false\nscanNotActiveBrokerIntervalMillis=" + strconv.FormatInt(DefaultScanInterval.Milliseconds(), 10) +
		"\nbrokerChannelExpiredTimeMillis=" + strconv.FormatInt(h.m.BrokerChannelExpiredTime.Milliseconds(), 10) + "\n"
	if h.addr != nil {
		body = "listenAddr=" + h.addr() + "\n" + body
	}
	resp.Body = []byte(body)
	r.Reply(resp)
}

// updateNamesrvConfig is UPDATE_NAMESRV_CONFIG (318): none of the name
// server's settings change at run time, so every key is refused by name.
func (h *opsHandlers) updateNamesrvConfig(r *actors.Request) {
	remark := "no name server setting can change at run time"
	if len(r.Cmd.Body) > 0 {
		remark += ": refused " + string(r.Cmd.Body)
		if len(remark) > 512 {
			remark = remark[:512]
		}
	}
	h.log.Warn().Str("from", r.RemoteAddr()).Msg("updateNamesrvConfig refused")
	r.ReplyCode(remoting.NoPermission, remark)
}

// QueryDataVersion is QUERY_DATA_VERSION's look-up (RouteInfoManager#
// isBrokerTopicConfigChanged and #queryBrokerTopicConfig): whether the
// broker's topic table changed since the version it sends, and the version
// the name server holds. An unchanged answer counts as a heartbeat, as in
// RocketMQ, so that a Java broker that skips registering stays live.
func (m *RouteInfoManager) QueryDataVersion(addr string, v metadata.DataVersion) (changed bool, current *metadata.DataVersion) {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed = m.topicConfigChanged(addr, v)
	live := m.brokerLiveTable[addr]
	if live == nil {
		return changed, nil
	}
	if !changed {
		live.LastUpdate = m.clock()
	}
	cur := live.DataVersion
	return changed, &cur
}

// queryDataVersion is QUERY_DATA_VERSION (322), which a Java broker sends
// before registering to learn whether it needs to.
func (h *opsHandlers) queryDataVersion(r *actors.Request) {
	addr := r.Cmd.Ext("brokerAddr")
	if addr == "" {
		r.ReplyCode(remoting.SystemError, "the custom field <brokerAddr> is null")
		return
	}
	var v metadata.DataVersion
	if err := remoting.UnmarshalLenient(r.Cmd.Body, &v); err != nil {
		r.ReplyCode(remoting.SystemError, "decode DataVersion: "+err.Error())
		return
	}
	changed, cur := h.m.QueryDataVersion(addr, v)
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.SetExt("changed", strconv.FormatBool(changed))
	if cur != nil {
		resp.Body = marshal(cur)
	}
	r.Reply(resp)
}
