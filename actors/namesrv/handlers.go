package namesrv

import (
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/remoting"
)

// Codes lists the request codes Handlers serves, for routing them to a
// processor.
func Codes() []remoting.RequestCode {
	return []remoting.RequestCode{
		remoting.RegisterBroker,
		remoting.UnregisterBroker,
		remoting.GetRouteInfoByTopic,
		remoting.GetBrokerClusterInfo,
		remoting.GetAllTopicListFromNameServer,
		remoting.DeleteTopicInNamesrv,
		remoting.PutKVConfig, remoting.GetKVConfig, remoting.DeleteKVConfig, remoting.GetKVListByNamespace,
		remoting.GetTopicsByCluster, remoting.GetSystemTopicListFromNS, remoting.WipeWritePermOfBroker,
		remoting.AddWritePermOfBroker, remoting.GetUnitTopicList, remoting.GetHasUnitSubTopicList,
		remoting.GetHasUnitSubUnunitTopicList, remoting.GetNamesrvConfig, remoting.UpdateNamesrvConfig,
		remoting.QueryDataVersion,
	}
}

// Handlers returns the name server's request handlers over m
// (DefaultRequestProcessor). Each answers exactly once and at once: the
// route tables are in memory and every call into m is short.
func Handlers(m *RouteInfoManager, log zerolog.Logger) map[remoting.RequestCode]actors.HandlerFunc {
	h := &handlers{m: m, log: log}
	out := map[remoting.RequestCode]actors.HandlerFunc{
		remoting.RegisterBroker:                h.registerBroker,
		remoting.UnregisterBroker:              h.unregisterBroker,
		remoting.GetRouteInfoByTopic:           h.getRouteInfoByTopic,
		remoting.GetBrokerClusterInfo:          h.getBrokerClusterInfo,
		remoting.GetAllTopicListFromNameServer: h.getAllTopicList,
		remoting.DeleteTopicInNamesrv:          h.deleteTopic,
	}
	for c, f := range (&opsHandlers{handlers: h, kv: NewKVConfigManager()}).byCode() {
		out[c] = f
	}
	return out
}

type handlers struct {
	m   *RouteInfoManager
	log zerolog.Logger
}

// registerBroker is DefaultRequestProcessor#registerBrokerWithFilterServer.
func (h *handlers) registerBroker(r *actors.Request) {
	hdr, err := remoting.DecodeRegisterBrokerRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	reg := BrokerRegistration{
		BrokerName:   hdr.BrokerName,
		BrokerAddr:   hdr.BrokerAddr,
		ClusterName:  hdr.ClusterName,
		HAServerAddr: hdr.HAServerAddr,
		BrokerID:     hdr.BrokerID,
	}
	if r.Conn != nil {
		reg.Channel = r.Conn
	}
	bodyCrc32, compressed := int64(hdr.BodyCrc32), hdr.Compressed
	if ms := hdr.HeartbeatTimeoutMillis; ms > 0 {
		reg.HeartbeatTimeout = time.Duration(ms) * time.Millisecond
	}
	if strings.ContainsAny(reg.BrokerAddr, " \t\r\n,\"{}") {
		// Java would store it; every Go client would then dial a mangled
		// address, since its brokerAddrs parser splits on ',' and deletes
		// every '"'.
		r.ReplyCode(remoting.SystemError, fmt.Sprintf("brokerAddr %q cannot be routed: the Go client's route parser breaks on whitespace, ',', '\"' and braces", reg.BrokerAddr))
		return
	}
	// Java compares the masked CRC with an Integer header; 0 means the
	// sender did not compute one.
	if bodyCrc32 != 0 && int64(crc32.ChecksumIEEE(r.Cmd.Body)&0x7fffffff) != bodyCrc32 {
		h.log.Warn().Str("brokerAddr", reg.BrokerAddr).Int64("bodyCrc32", bodyCrc32).Msg("register broker: crc32 not match")
		r.ReplyCode(remoting.SystemError, "crc32 not match")
		return
	}
	if compressed {
		// Brokers compress only with compressedRegister=true (default
		// false), in a layout of RocketMQ's own; not worth carrying.
		r.ReplyCode(remoting.SystemError, "compressed register body not supported, set compressedRegister=false on the broker")
		return
	}
	// An empty body registers a broker without topics and version 0, as
	// Java does.
	if len(r.Cmd.Body) > 0 {
		body, err := DecodeRegisterBrokerBody(r.Cmd.Body)
		if err != nil {
			h.log.Warn().Err(err).Str("brokerAddr", reg.BrokerAddr).Msg("register broker: bad body")
			r.ReplyCode(remoting.SystemError, err.Error())
			return
		}
		reg.DataVersion = body.TopicConfigSerializeWrapper.DataVersion
		reg.Topics = h.validTopics(reg.BrokerAddr, body.TopicConfigSerializeWrapper.TopicConfigTable)
	}
	res := h.m.RegisterBroker(reg)
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	(&remoting.RegisterBrokerResponseHeader{HAServerAddr: res.HAServerAddr, MasterAddr: res.MasterAddr}).Encode(resp)
	r.Reply(resp)
}

// validTopics keys the table by each config's own name, as Java does, and
// drops names no client could ask for, so that a broker's bad entry
// cannot reach routes.
func (h *handlers) validTopics(brokerAddr string, table map[string]metadata.TopicConfig) map[string]metadata.TopicConfig {
	out := make(map[string]metadata.TopicConfig, len(table))
	for key, tc := range table {
		name := tc.TopicName
		if name == "" {
			name = key
		}
		if err := metadata.ValidateTopic(name); err != nil {
			h.log.Warn().Str("brokerAddr", brokerAddr).Str("topic", name).Err(err).Msg("register broker: topic ignored")
			continue
		}
		tc.TopicName = name
		out[name] = tc
	}
	return out
}

func (h *handlers) unregisterBroker(r *actors.Request) {
	hdr, err := remoting.DecodeUnregisterBrokerRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	h.m.UnregisterBroker(hdr.ClusterName, hdr.BrokerAddr, hdr.BrokerName, hdr.BrokerID)
	r.ReplyCode(remoting.Success, "")
}

func (h *handlers) getRouteInfoByTopic(r *actors.Request) {
	hdr, err := remoting.DecodeTopicRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	topic := hdr.Topic
	route, ok := h.m.PickupTopicRouteData(topic)
	if !ok {
		r.ReplyCode(remoting.TopicNotExist, "No topic route info in name server for the topic: "+topic+metadata.RemarkFAQSuffix)
		return
	}
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.Body = route.Encode()
	r.Reply(resp)
}

func (h *handlers) getBrokerClusterInfo(r *actors.Request) {
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.Body = h.m.ClusterInfo().Encode()
	r.Reply(resp)
}

func (h *handlers) getAllTopicList(r *actors.Request) {
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.Body = (&TopicList{TopicList: h.m.TopicList()}).Encode()
	r.Reply(resp)
}

func (h *handlers) deleteTopic(r *actors.Request) {
	hdr, err := remoting.DecodeTopicRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	topic, clusterName := hdr.Topic, hdr.ClusterName
	if err := metadata.ValidateTopic(topic); err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	if h.m.DeleteTopic(topic, clusterName) {
		h.log.Info().Str("topic", topic).Str("cluster", clusterName).Msg("topic deleted from routes")
	}
	r.ReplyCode(remoting.Success, "")
}
