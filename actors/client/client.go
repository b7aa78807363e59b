package client

import (
	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// Handlers serves what RocketMQ splits over ClientManageProcessor
// (HEART_BEAT, UNREGISTER_CLIENT) and ConsumerManageProcessor
// (GET_CONSUMER_LIST_BY_GROUP, QUERY_CONSUMER_OFFSET, UPDATE_CONSUMER_OFFSET).
type Handlers struct {
	Meta  *metadata.Managers
	Store *commitlog.Store
}

// HeartbeatHandlers are the heartbeat processor's handlers.
func (p *Handlers) HeartbeatHandlers() map[remoting.RequestCode]actors.HandlerFunc {
	return map[remoting.RequestCode]actors.HandlerFunc{remoting.HeartBeat: p.heartBeat}
}

// ClientManageHandlers are the client-manage processor's handlers.
func (p *Handlers) ClientManageHandlers() map[remoting.RequestCode]actors.HandlerFunc {
	return map[remoting.RequestCode]actors.HandlerFunc{remoting.UnregisterClient: p.unregisterClient}
}

// ConsumerManageHandlers are the consumer-manage processor's handlers.
func (p *Handlers) ConsumerManageHandlers() map[remoting.RequestCode]actors.HandlerFunc {
	return map[remoting.RequestCode]actors.HandlerFunc{
		remoting.GetConsumerListByGroup: p.getConsumerListByGroup,
		remoting.QueryConsumerOffset:    p.queryConsumerOffset,
		remoting.UpdateConsumerOffset:   p.updateConsumerOffset,
	}
}

func (p *Handlers) heartBeat(r *actors.Request) {
	hb, err := metadata.DecodeHeartbeat(r.Cmd.Body)
	if err != nil {
		r.ReplyCode(remoting.SystemError, "decode heartbeat: "+err.Error())
		return
	}
	r.Conn.SetClientID(hb.ClientID)
	p.Meta.HeartBeat(r.Conn, r.Cmd.Language.String(), int32(r.Cmd.Version), hb)
	r.ReplyCode(remoting.Success, "")
}

func (p *Handlers) unregisterClient(r *actors.Request) {
	h, err := remoting.DecodeUnregisterClientRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	producerGroup, consumerGroup := h.ProducerGroup, h.ConsumerGroup
	if producerGroup != "" {
		p.Meta.Producers.Unregister(producerGroup, r.Conn)
	}
	if consumerGroup != "" && p.Meta.Consumers.Unregister(consumerGroup, r.Conn) {
		p.Meta.Consumers.NotifyConsumerIdsChanged(consumerGroup)
	}
	r.ReplyCode(remoting.Success, "")
}

func (p *Handlers) getConsumerListByGroup(r *actors.Request) {
	h, err := remoting.DecodeConsumerGroupRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	group := h.ConsumerGroup
	ids := p.Meta.Consumers.ConsumerIDs(group)
	if len(ids) == 0 {
		r.ReplyCode(remoting.SystemError, metadata.RemarkNoConsumer(group))
		return
	}
	r.ReplyBody(metadata.EncodeConsumerIDList(ids))
}

func (p *Handlers) queryConsumerOffset(r *actors.Request) {
	h, err := remoting.DecodeQueryConsumerOffsetRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	group, topic, queueID := h.ConsumerGroup, h.Topic, h.QueueID
	off, ok := p.Meta.Offsets.QueryConsumerOffset(group, topic, queueID, metadata.QueueProbe{
		MinOffsetInQueue: p.Store.MinOffsetInQueue,
		// Sluice keeps no "in memory" notion of its own; a queue whose
		// first message is still at offset 0 counts as young.
		CheckInDiskByConsumeOffset: func(string, int32, int64) bool { return false },
	})
	if !ok {
		r.ReplyCode(remoting.QueryNotFound, metadata.RemarkQueryNotFound)
		return
	}
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	remoting.OffsetResponseHeader{Offset: off}.Encode(resp)
	r.Reply(resp)
}

func (p *Handlers) updateConsumerOffset(r *actors.Request) {
	h, err := remoting.DecodeUpdateConsumerOffsetRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	p.Meta.Offsets.CommitOffset(h.ConsumerGroup, h.Topic, h.QueueID, h.CommitOffset)
	r.ReplyCode(remoting.Success, "")
}
