package admin

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// The operators' codes over topics, groups and their offsets
// (AdminBrokerProcessor's getTopicStatsInfo, getConsumeStats …), with the
// bodies as RocketMQ's Java tools decode them.

// messageStoreTimestamp is DefaultMessageStore#getMessageStoreTimeStamp:
// the store time of the message at a queue offset, 0 when there is none.
func messageStoreTimestamp(s *commitlog.Store, topic string, queueID int32, offset int64) int64 {
	var buf [1]commitlog.QueueEntry
	es := s.ReadQueueEntries(topic, queueID, offset, 1, buf[:0])
	if len(es) == 0 {
		return 0
	}
	return recordStoreTimestamp(s, es[0].PhysicalOffset)
}

// recordStoreTimestamp reads STORETIMESTAMP from the record at a commit-log
// offset (CommitLog#pickupStoreTimestamp); -1 when there is none.
func recordStoreTimestamp(s *commitlog.Store, phy int64) int64 {
	rec, err := s.LookMessageByOffset(phy)
	// TOTALSIZE MAGIC BODYCRC QUEUEID FLAG QUEUEOFFSET PHYSICALOFFSET
	// SYSFLAG BORNTIMESTAMP BORNHOST(8, or 20 with BORNHOST_V6) STORETIMESTAMP
	const sysFlagAt, bornHostAt = 36, 48
	if err != nil || len(rec) < bornHostAt+8 {
		return -1
	}
	hostLen := 8
	if binary.BigEndian.Uint32(rec[sysFlagAt:])&0x10 != 0 {
		hostLen = 20
	}
	at := bornHostAt + hostLen
	if len(rec) < at+8 {
		return -1
	}
	return int64(binary.BigEndian.Uint64(rec[at:]))
}

// getTopicStatsInfo is GET_TOPIC_STATS_INFO (202): each write queue's min
// and max offsets and its last message's store time (TopicStatsTable).
func (p *Handlers) getTopicStatsInfo(r *actors.Request) {
	h, err := remoting.DecodeTopicRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	tc, ok := p.Meta.Topics.Select(h.Topic)
	if !ok {
		r.ReplyCode(remoting.TopicNotExist, "topic["+h.Topic+"] not exist")
		return
	}
	keys := make([]queueKey, tc.WriteQueueNums)
	for i := range keys {
		keys[i] = queueKey{h.Topic, int32(i)}
	}
	var w fastjson
	w.raw(`{"offsetTable":`).queueTable(p.ID.BrokerName, keys, func(i int) {
		q := keys[i].QueueID
		lo, hi := max(0, p.Store.MinOffsetInQueue(h.Topic, q)), max(0, p.Store.MaxOffsetInQueue(h.Topic, q))
		ts := int64(0)
		if hi > 0 {
			ts = messageStoreTimestamp(p.Store, h.Topic, q, hi-1)
		}
		w.raw(`{"lastUpdateTimestamp":`).int(ts).raw(`,"maxOffset":`).int(hi).raw(`,"minOffset":`).int(lo).raw("}")
	}).raw("}")
	r.ReplyBody(w.b)
}

// connectionJSON is RocketMQ's Connection bean.
func (w *fastjson) connection(c metadata.ClientChannelInfo) {
	addr := ""
	if conn, ok := c.Channel.(*actors.Connection); ok {
		addr = conn.RemoteAddr()
	}
	lang := c.Language
	if lang == "" {
		lang = "JAVA"
	}
	w.raw(`{"clientAddr":`).str(addr).raw(`,"clientId":`).str(c.ClientID).raw(`,"language":`).str(lang).
		raw(`,"version":`).int(int64(c.Version)).raw("}")
}

// getConsumerConnectionList is GET_CONSUMER_CONNECTION_LIST (203)
// (ConsumerConnection).
func (p *Handlers) getConsumerConnectionList(r *actors.Request) {
	h, err := remoting.DecodeGroupTopicRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	info, ok := p.Meta.Consumers.GroupInfo(h.ConsumerGroup)
	if !ok {
		r.ReplyCode(remoting.ConsumerNotOnline, "the consumer group["+h.ConsumerGroup+"] not online")
		return
	}
	var w fastjson
	w.raw(`{"connectionSet":[`)
	for i, c := range info.Clients {
		if i > 0 {
			w.raw(",")
		}
		w.connection(c)
	}
	w.raw(`],"consumeFromWhere":`).str(info.ConsumeFromWhere).raw(`,"consumeType":`).str(info.ConsumeType).
		raw(`,"messageModel":`).str(info.MessageModel).raw(`,"subscriptionTable":`).value(info.Subscriptions).raw("}")
	r.ReplyBody(w.b)
}

// getProducerConnectionList is GET_PRODUCER_CONNECTION_LIST (204)
// (ProducerConnection).
func (p *Handlers) getProducerConnectionList(r *actors.Request) {
	group, err := remoting.DecodeProducerGroupRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	clients := p.Meta.Producers.Clients(group)
	if len(clients) == 0 {
		r.ReplyCode(remoting.SystemError, "the producer group["+group+"] not exist")
		return
	}
	var w fastjson
	w.raw(`{"connectionSet":[`)
	for i, c := range clients {
		if i > 0 {
			w.raw(",")
		}
		w.connection(c)
	}
	r.ReplyBody(w.raw("]}").b)
}

// consumeStatsTopics are the topics a consume-stats answer covers for
// group: the one asked, or those it has offsets for; a topic the group's
// live consumers do not subscribe is left out, as in RocketMQ.
func (p *Handlers) consumeStatsTopics(group, topic string) []string {
	var topics []string
	if strings.TrimSpace(topic) != "" {
		topics = []string{topic}
	} else {
		topics = p.Meta.Offsets.WhichTopicByConsumer(group)
	}
	info, online := p.Meta.Consumers.GroupInfo(group)
	out := topics[:0:0]
	for _, t := range topics {
		if _, ok := p.Meta.Topics.Select(t); !ok {
			continue
		}
		if online && len(info.Subscriptions) > 0 {
			if _, sub := info.Subscriptions[t]; !sub {
				continue
			}
		}
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// writeConsumeStats writes one ConsumeStats of group over topics; queues
// is each topic's queue count (read queues for 208, write queues for 317,
// as RocketMQ). It returns the total lag.
func (p *Handlers) writeConsumeStats(w *fastjson, group string, topics []string, writeQueues bool) int64 {
	var keys []queueKey
	tps := 0.0
	for _, t := range topics {
		tc, _ := p.Meta.Topics.Select(t)
		n := tc.ReadQueueNums
		if writeQueues {
			n = tc.WriteQueueNums
		}
		for i := 0; i < n; i++ {
			keys = append(keys, queueKey{t, int32(i)})
		}
		tps += p.Stats.GroupGetTps(group, t)
	}
	var diff int64
	w.raw(`{"consumeTps":`).double(tps).raw(`,"offsetTable":`).queueTable(p.ID.BrokerName, keys, func(i int) {
		k := keys[i]
		brokerOff := max(0, p.Store.MaxOffsetInQueue(k.Topic, k.QueueID))
		consumerOff, _ := p.Meta.Offsets.QueryOffset(group, k.Topic, k.QueueID)
		consumerOff = max(0, consumerOff)
		last := int64(0)
		if consumerOff > 0 {
			if ts := messageStoreTimestamp(p.Store, k.Topic, k.QueueID, consumerOff-1); ts > 0 {
				last = ts
			}
		}
		diff += brokerOff - consumerOff
		w.raw(`{"brokerOffset":`).int(brokerOff).raw(`,"consumerOffset":`).int(consumerOff).raw(`,"lastTimestamp":`).int(last).raw("}")
	}).raw("}")
	return diff
}

// getConsumeStats is GET_CONSUME_STATS (208): the group's lag per queue
// and its consume TPS (ConsumeStats).
func (p *Handlers) getConsumeStats(r *actors.Request) {
	h, err := remoting.DecodeGroupTopicRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	var w fastjson
	p.writeConsumeStats(&w, h.ConsumerGroup, p.consumeStatsTopics(h.ConsumerGroup, h.Topic), false)
	r.ReplyBody(w.b)
}

// getBrokerConsumeStats is GET_BROKER_CONSUME_STATS (317,
// fetchAllConsumeStatsInBroker): every subscription group's ConsumeStats
// per topic, and the total lag (ConsumeStatsList).
func (p *Handlers) getBrokerConsumeStats(r *actors.Request) {
	isOrder, err := remoting.DecodeGetConsumeStatsInBrokerHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	var w fastjson
	w.raw(`{"brokerAddr":`).str(p.ID.StoreHost.String()).raw(`,"consumeStatsList":[`)
	var total int64
	for gi, group := range p.Meta.SubscriptionGroups.Groups() {
		if gi > 0 {
			w.raw(",")
		}
		w.raw("{").str(group).raw(":[")
		n := 0
		for _, t := range p.consumeStatsTopics(group, "") {
			if tc, _ := p.Meta.Topics.Select(t); isOrder && !tc.Order {
				continue
			}
			if n > 0 {
				w.raw(",")
			}
			n++
			total += p.writeConsumeStats(&w, group, []string{t}, true)
		}
		w.raw("]}")
	}
	w.raw(`],"totalDiff":`).int(total).raw("}")
	r.ReplyBody(w.b)
}

// queryTopicConsumeByWho is QUERY_TOPIC_CONSUME_BY_WHO (300): the groups
// subscribing the topic or holding offsets on it (GroupList).
func (p *Handlers) queryTopicConsumeByWho(r *actors.Request) {
	h, err := remoting.DecodeTopicRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	set := map[string]bool{}
	for _, g := range p.Meta.Consumers.QueryTopicConsumeByWho(h.Topic) {
		set[g] = true
	}
	for _, g := range p.Meta.Offsets.WhichGroupByTopic(h.Topic) {
		set[g] = true
	}
	groups := make([]string, 0, len(set))
	for g := range set {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	var w fastjson
	r.ReplyBody(w.raw(`{"groupList":`).value(groups).raw("}").b)
}

// getAllConsumerOffset is GET_ALL_CONSUMER_OFFSET (43): consumerOffset.json
// as stored.
func (p *Handlers) getAllConsumerOffset(r *actors.Request) {
	body, err := p.Meta.Offsets.Encode()
	if err != nil {
		r.ReplyCode(remoting.SystemError, "encode consumer offsets: "+err.Error())
		return
	}
	r.ReplyBody(body)
}

// getAllDelayOffset is GET_ALL_DELAY_OFFSET (45): delayOffset.json as the
// schedule service last wrote it.
func (p *Handlers) getAllDelayOffset(r *actors.Request) {
	if p.DelayOffset == nil {
		r.ReplyCode(remoting.SystemError, "the schedule message service is not running")
		return
	}
	body, err := p.DelayOffset()
	if err != nil || len(body) == 0 {
		msg := "no delay offset recorded yet"
		if err != nil {
			msg = "read delay offsets: " + err.Error()
		}
		r.ReplyCode(remoting.SystemError, msg)
		return
	}
	r.ReplyBody(body)
}

// updateAndCreateSubscriptionGroup is UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
// (200): the body is a SubscriptionGroupConfig; fields it leaves out take
// Java's defaults.
func (p *Handlers) updateAndCreateSubscriptionGroup(r *actors.Request) {
	var c metadata.SubscriptionGroupConfig
	if err := remoting.UnmarshalLenient(r.Cmd.Body, &c); err != nil {
		r.ReplyCode(remoting.SystemError, "decode SubscriptionGroupConfig: "+err.Error())
		return
	}
	if err := metadata.ValidateTopic(c.GroupName); err != nil {
		r.ReplyCode(remoting.SystemError, "groupName: "+err.Error())
		return
	}
	if err := p.Meta.SubscriptionGroups.Update(c); err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	p.Log.Info().Str("group", c.GroupName).Str("from", r.RemoteAddr()).Msg("updateAndCreateSubscriptionGroup")
	r.ReplyCode(remoting.Success, "")
}

// deleteSubscriptionGroup is DELETE_SUBSCRIPTIONGROUP (207); with
// removeOffset its consumer offsets go too.
func (p *Handlers) deleteSubscriptionGroup(r *actors.Request) {
	h, err := remoting.DecodeDeleteSubscriptionGroupRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	if _, err := p.Meta.SubscriptionGroups.Delete(h.GroupName); err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	if h.RemoveOffset {
		p.Meta.Offsets.RemoveGroup(h.GroupName)
	}
	p.Stats.GroupDeleted(h.GroupName)
	p.Log.Info().Str("group", h.GroupName).Bool("removeOffset", h.RemoveOffset).Str("from", r.RemoteAddr()).Msg("deleteSubscriptionGroup")
	r.ReplyCode(remoting.Success, "")
}

// cloneGroupOffset is CLONE_GROUP_OFFSET (314): destGroup takes srcGroup's
// offsets, on one topic or on every topic srcGroup has offsets for.
func (p *Handlers) cloneGroupOffset(r *actors.Request) {
	h, err := remoting.DecodeCloneGroupOffsetRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	var topics []string
	if strings.TrimSpace(h.Topic) != "" {
		topics = []string{h.Topic}
	} else {
		topics = p.Meta.Offsets.WhichTopicByConsumer(h.SrcGroup)
	}
	info, online := p.Meta.Consumers.GroupInfo(h.SrcGroup)
	cloned := 0
	for _, t := range topics {
		if _, ok := p.Meta.Topics.Select(t); !ok {
			continue
		}
		if !h.Offline && online && len(info.Subscriptions) > 0 {
			if _, sub := info.Subscriptions[t]; !sub {
				continue
			}
		}
		for q, off := range p.Meta.Offsets.QueryOffsets(h.SrcGroup, t) {
			p.Meta.Offsets.CommitOffset(h.DestGroup, t, q, off)
			cloned++
		}
	}
	p.Log.Info().Str("srcGroup", h.SrcGroup).Str("destGroup", h.DestGroup).Str("topic", h.Topic).Int("queues", cloned).Msg("cloneGroupOffset")
	r.ReplyCode(remoting.Success, "")
}

// invokeBrokerToResetOffset is INVOKE_BROKER_TO_RESET_OFFSET (222,
// Broker2Client#resetOffset): the offset of each queue at the timestamp
// (-1: the queue's end), kept only if it moves the group back unless
// isForce, pushed to every live consumer of the group with
// RESET_CONSUMER_CLIENT_OFFSET (220, one-way), and answered as a
// ResetOffsetBody. The clients commit the new offsets themselves.
func (p *Handlers) invokeBrokerToResetOffset(r *actors.Request) {
	h, err := remoting.DecodeResetOffsetRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	tc, ok := p.Meta.Topics.Select(h.Topic)
	if !ok {
		r.ReplyCode(remoting.SystemError, "[reset-offset] reset offset failed, no topic in this broker. topic="+h.Topic)
		return
	}
	keys := make([]queueKey, tc.WriteQueueNums)
	offsets := make([]int64, len(keys))
	for i := range keys {
		q := int32(i)
		keys[i] = queueKey{h.Topic, q}
		cur, ok := p.Meta.Offsets.QueryOffset(h.Group, h.Topic, q)
		if !ok {
			r.ReplyCode(remoting.SystemError, fmt.Sprintf("THe consumer group <%s> not exist", h.Group))
			return
		}
		var at int64
		if h.Timestamp == -1 {
			at = p.Store.MaxOffsetInQueue(h.Topic, q)
		} else {
			at = p.Store.OffsetByTimestamp(h.Topic, q, h.Timestamp)
		}
		at = max(0, at)
		if h.IsForce || at < cur {
			offsets[i] = at
		} else {
			offsets[i] = cur
		}
	}
	var w fastjson
	w.raw(`{"offsetTable":`).queueTable(p.ID.BrokerName, keys, func(i int) { w.int(offsets[i]) }).raw("}")
	body := w.b
	channels := p.Meta.Consumers.ChannelsOf(h.Group)
	if len(channels) == 0 {
		r.ReplyCode(remoting.ConsumerNotOnline, fmt.Sprintf("Consumer not online, so can not reset offset, Group: %s Topic: %s Timestamp: %d", h.Group, h.Topic, h.Timestamp))
		return
	}
	for _, ch := range channels {
		conn, ok := ch.(*actors.Connection)
		if !ok {
			continue
		}
		push := remoting.NewRequest(remoting.ResetConsumerClientOffset, nil, body)
		(&remoting.ResetOffsetRequestHeader{Topic: h.Topic, Group: h.Group, Timestamp: h.Timestamp, IsForce: h.IsForce}).Encode(push)
		push.Flag |= remoting.FlagOneway
		if err := conn.Send(push); err != nil {
			p.Log.Warn().Err(err).Str("group", h.Group).Str("clientId", conn.ClientID()).Msg("[reset-offset] reset offset exception")
			continue
		}
		p.Log.Info().Str("topic", h.Topic).Str("group", h.Group).Str("clientId", conn.ClientID()).Msg("[reset-offset] reset offset success")
	}
	r.ReplyBody(body)
}

// getSystemTopicListFromBroker is GET_SYSTEM_TOPIC_LIST_FROM_BROKER (305):
// the system topics this broker has (TopicList).
func (p *Handlers) getSystemTopicListFromBroker(r *actors.Request) {
	var names []string
	for name := range p.Meta.Topics.Snapshot().TopicConfigTable {
		if p.Meta.Topics.IsSystemTopic(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var w fastjson
	r.ReplyBody(w.raw(`{"topicList":`).value(names).raw("}").b)
}

// queryConsumeTimeSpan is QUERY_CONSUME_TIME_SPAN (303): per write queue,
// the store times of its first and last messages, of the group's last
// consumed one, and how long its next one has waited (QueryConsumeTimeSpanBody).
func (p *Handlers) queryConsumeTimeSpan(r *actors.Request) {
	h, err := remoting.DecodeTopicRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	group := r.Cmd.Ext("group")
	if group == "" {
		r.ReplyCode(remoting.SystemError, "the custom field <group> is null")
		return
	}
	tc, ok := p.Meta.Topics.Select(h.Topic)
	if !ok {
		r.ReplyCode(remoting.TopicNotExist, "topic["+h.Topic+"] not exist")
		return
	}
	now := time.Now().UnixMilli()
	var w fastjson
	w.raw(`{"consumeTimeSpanSet":[`)
	for i := 0; i < tc.WriteQueueNums; i++ {
		q := int32(i)
		if i > 0 {
			w.raw(",")
		}
		minTime := messageStoreTimestamp(p.Store, h.Topic, q, p.Store.MinOffsetInQueue(h.Topic, q))
		maxOff := p.Store.MaxOffsetInQueue(h.Topic, q)
		maxTime := messageStoreTimestamp(p.Store, h.Topic, q, maxOff-1)
		consumerOff, _ := p.Meta.Offsets.QueryOffset(group, h.Topic, q)
		consumeTime := minTime
		if consumerOff > 0 {
			consumeTime = messageStoreTimestamp(p.Store, h.Topic, q, consumerOff-1)
		}
		delay := int64(0)
		if consumerOff < maxOff {
			delay = now - messageStoreTimestamp(p.Store, h.Topic, q, max(0, consumerOff))
		}
		w.raw(`{"consumeTimeStamp":`).int(consumeTime).raw(`,"delayTime":`).int(delay).raw(`,"maxTimeStamp":`).int(maxTime).
			raw(`,"messageQueue":`).messageQueue(h.Topic, p.ID.BrokerName, q).raw(`,"minTimeStamp":`).int(minTime).raw("}")
	}
	r.ReplyBody(w.raw("]}").b)
}
