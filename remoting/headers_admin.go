package remoting

import "strconv"

// The headers of the operators' admin codes (mqadmin, the Dashboard),
// named and keyed as RocketMQ's *RequestHeader classes.

// GroupTopicRequestHeader is the header of the requests that name a
// consumer group and, optionally, a topic: GET_CONSUME_STATS
// (GetConsumeStatsRequestHeader: consumerGroup, topic) and
// GET_CONSUMER_CONNECTION_LIST (consumerGroup).
type GroupTopicRequestHeader struct {
	ConsumerGroup string
	Topic         string
}

// DecodeGroupTopicRequestHeader decodes a 203 or 208 request.
func DecodeGroupTopicRequestHeader(cmd *Command) (GroupTopicRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := GroupTopicRequestHeader{ConsumerGroup: e.str("consumerGroup", true), Topic: e.str("topic", false)}
	return h, e.err
}

// DecodeProducerGroupRequestHeader decodes GET_PRODUCER_CONNECTION_LIST's
// header (GetProducerConnectionListRequestHeader: producerGroup).
func DecodeProducerGroupRequestHeader(cmd *Command) (string, error) {
	e := fieldReader{cmd: cmd}
	g := e.str("producerGroup", true)
	return g, e.err
}

// DeleteSubscriptionGroupRequestHeader is DELETE_SUBSCRIPTIONGROUP's
// header (groupName, and 4.9.4's removeOffset).
type DeleteSubscriptionGroupRequestHeader struct {
	GroupName    string
	RemoveOffset bool
}

// DecodeDeleteSubscriptionGroupRequestHeader decodes a 207 request.
func DecodeDeleteSubscriptionGroupRequestHeader(cmd *Command) (DeleteSubscriptionGroupRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := DeleteSubscriptionGroupRequestHeader{GroupName: e.str("groupName", true), RemoveOffset: e.bool("removeOffset")}
	return h, e.err
}

// ResetOffsetRequestHeader is INVOKE_BROKER_TO_RESET_OFFSET's header and
// the one the broker sends with RESET_CONSUMER_CLIENT_OFFSET: timestamp in
// ms, -1 for the queues' ends.
type ResetOffsetRequestHeader struct {
	Topic     string
	Group     string
	Timestamp int64
	IsForce   bool
}

// DecodeResetOffsetRequestHeader decodes a 222 request.
func DecodeResetOffsetRequestHeader(cmd *Command) (ResetOffsetRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := ResetOffsetRequestHeader{Topic: e.str("topic", true), Group: e.str("group", true),
		Timestamp: e.int64("timestamp", true), IsForce: e.bool("isForce")}
	return h, e.err
}

// Encode writes the header into cmd's extFields.
func (h *ResetOffsetRequestHeader) Encode(cmd *Command) {
	cmd.SetExt("topic", h.Topic)
	cmd.SetExt("group", h.Group)
	cmd.SetExt("timestamp", strconv.FormatInt(h.Timestamp, 10))
	cmd.SetExt("isForce", strconv.FormatBool(h.IsForce))
}

// CloneGroupOffsetRequestHeader is CLONE_GROUP_OFFSET's header.
type CloneGroupOffsetRequestHeader struct {
	SrcGroup  string
	DestGroup string
	Topic     string
	Offline   bool
}

// DecodeCloneGroupOffsetRequestHeader decodes a 314 request.
func DecodeCloneGroupOffsetRequestHeader(cmd *Command) (CloneGroupOffsetRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := CloneGroupOffsetRequestHeader{SrcGroup: e.str("srcGroup", true), DestGroup: e.str("destGroup", true),
		Topic: e.str("topic", false), Offline: e.bool("offline")}
	return h, e.err
}

// ViewBrokerStatsDataRequestHeader is VIEW_BROKER_STATS_DATA's header.
type ViewBrokerStatsDataRequestHeader struct {
	StatsName string
	StatsKey  string
}

// DecodeViewBrokerStatsDataRequestHeader decodes a 315 request.
func DecodeViewBrokerStatsDataRequestHeader(cmd *Command) (ViewBrokerStatsDataRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := ViewBrokerStatsDataRequestHeader{StatsName: e.str("statsName", true), StatsKey: e.str("statsKey", true)}
	return h, e.err
}

// DecodeGetConsumeStatsInBrokerHeader decodes GET_BROKER_CONSUME_STATS's
// header (GetConsumeStatsInBrokerHeader: isOrder).
func DecodeGetConsumeStatsInBrokerHeader(cmd *Command) (isOrder bool, err error) {
	e := fieldReader{cmd: cmd}
	isOrder = e.bool("isOrder")
	return isOrder, e.err
}

// GetConsumerRunningInfoRequestHeader is GET_CONSUMER_RUNNING_INFO's
// header, which the broker passes on to the client.
type GetConsumerRunningInfoRequestHeader struct {
	ConsumerGroup string
	ClientID      string
	JstackEnable  bool
}

// DecodeGetConsumerRunningInfoRequestHeader decodes a 307 request.
func DecodeGetConsumerRunningInfoRequestHeader(cmd *Command) (GetConsumerRunningInfoRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := GetConsumerRunningInfoRequestHeader{ConsumerGroup: e.str("consumerGroup", true), ClientID: e.str("clientId", true),
		JstackEnable: e.bool("jstackEnable")}
	return h, e.err
}

// KVConfigRequestHeader is the name server's PUT_KV_CONFIG,
// GET_KV_CONFIG and DELETE_KV_CONFIG header (value for puts only).
type KVConfigRequestHeader struct {
	Namespace string
	Key       string
	Value     string
}

// DecodeKVConfigRequestHeader decodes a 100, 101 or 102 request; withValue
// requires the value (PUT_KV_CONFIG).
func DecodeKVConfigRequestHeader(cmd *Command, withValue bool) (KVConfigRequestHeader, error) {
	e := fieldReader{cmd: cmd}
	h := KVConfigRequestHeader{Namespace: e.str("namespace", true), Key: e.str("key", true)}
	if withValue {
		h.Value = e.str("value", true)
	}
	return h, e.err
}

// DecodeNamespaceRequestHeader decodes GET_KVLIST_BY_NAMESPACE's header.
func DecodeNamespaceRequestHeader(cmd *Command) (string, error) {
	e := fieldReader{cmd: cmd}
	ns := e.str("namespace", true)
	return ns, e.err
}

// DecodeClusterRequestHeader decodes GET_TOPICS_BY_CLUSTER's header
// (GetTopicsByClusterRequestHeader: cluster).
func DecodeClusterRequestHeader(cmd *Command) (string, error) {
	e := fieldReader{cmd: cmd}
	c := e.str("cluster", true)
	return c, e.err
}

// DecodeBrokerNameRequestHeader decodes WIPE_WRITE_PERM_OF_BROKER's and
// ADD_WRITE_PERM_OF_BROKER's header (brokerName).
func DecodeBrokerNameRequestHeader(cmd *Command) (string, error) {
	e := fieldReader{cmd: cmd}
	n := e.str("brokerName", true)
	return n, e.err
}
