package actors

import (
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// ClientProcessor serves what RocketMQ splits over ClientManageProcessor
// (HEART_BEAT, UNREGISTER_CLIENT) and ConsumerManageProcessor
// (GET_CONSUMER_LIST_BY_GROUP, QUERY_CONSUMER_OFFSET, UPDATE_CONSUMER_OFFSET).
type ClientProcessor struct {
	Meta  *metadata.Managers
	Store *commitlog.Store
}

// HeartbeatHandlers are the heartbeat processor's handlers.
func (p *ClientProcessor) HeartbeatHandlers() map[remoting.RequestCode]HandlerFunc {
	return map[remoting.RequestCode]HandlerFunc{remoting.HeartBeat: p.heartBeat}
}

// ClientManageHandlers are the client-manage processor's handlers.
func (p *ClientProcessor) ClientManageHandlers() map[remoting.RequestCode]HandlerFunc {
	return map[remoting.RequestCode]HandlerFunc{remoting.UnregisterClient: p.unregisterClient}
}

// ConsumerManageHandlers are the consumer-manage processor's handlers.
func (p *ClientProcessor) ConsumerManageHandlers() map[remoting.RequestCode]HandlerFunc {
	return map[remoting.RequestCode]HandlerFunc{
		remoting.GetConsumerListByGroup: p.getConsumerListByGroup,
		remoting.QueryConsumerOffset:    p.queryConsumerOffset,
		remoting.UpdateConsumerOffset:   p.updateConsumerOffset,
	}
}

func (p *ClientProcessor) heartBeat(_ actor.Context, r *Request) {
	hb, err := metadata.DecodeHeartbeat(r.Cmd.Body)
	if err != nil {
		r.ReplyCode(remoting.SystemError, "decode heartbeat: "+err.Error())
		return
	}
	r.Conn.SetClientID(hb.ClientID)
	p.Meta.HeartBeat(r.Conn, r.Cmd.Language.String(), int32(r.Cmd.Version), hb)
	r.ReplyCode(remoting.Success, "")
}

func (p *ClientProcessor) unregisterClient(_ actor.Context, r *Request) {
	e := extReader{cmd: r.Cmd}
	producerGroup := e.str("producerGroup", false)
	consumerGroup := e.str("consumerGroup", false)
	if producerGroup != "" {
		p.Meta.Producers.Unregister(producerGroup, r.Conn)
	}
	if consumerGroup != "" && p.Meta.Consumers.Unregister(consumerGroup, r.Conn) {
		p.Meta.Consumers.NotifyConsumerIdsChanged(consumerGroup)
	}
	r.ReplyCode(remoting.Success, "")
}

func (p *ClientProcessor) getConsumerListByGroup(_ actor.Context, r *Request) {
	e := extReader{cmd: r.Cmd}
	group := e.str("consumerGroup", true)
	if e.err != nil {
		r.ReplyCode(remoting.SystemError, e.err.Error())
		return
	}
	ids := p.Meta.Consumers.ConsumerIDs(group)
	if len(ids) == 0 {
		r.ReplyCode(remoting.SystemError, metadata.RemarkNoConsumer(group))
		return
	}
	r.ReplyBody(metadata.EncodeConsumerIDList(ids))
}

func (p *ClientProcessor) queryConsumerOffset(_ actor.Context, r *Request) {
	e := extReader{cmd: r.Cmd}
	group := e.str("consumerGroup", true)
	topic := e.str("topic", true)
	queueID := e.int32("queueId", true)
	if e.err != nil {
		r.ReplyCode(remoting.SystemError, e.err.Error())
		return
	}
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
	resp.ExtFields = map[string]string{"offset": strconv.FormatInt(off, 10)}
	r.Reply(resp)
}

func (p *ClientProcessor) updateConsumerOffset(_ actor.Context, r *Request) {
	e := extReader{cmd: r.Cmd}
	group := e.str("consumerGroup", true)
	topic := e.str("topic", true)
	queueID := e.int32("queueId", true)
	offset := e.int64("commitOffset", true)
	if e.err != nil {
		r.ReplyCode(remoting.SystemError, e.err.Error())
		return
	}
	p.Meta.Offsets.CommitOffset(group, topic, queueID, offset)
	r.ReplyCode(remoting.Success, "")
}
