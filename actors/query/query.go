package query

import (
	"strconv"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// DefaultQueryMaxNum is MessageStoreConfig#defaultQueryMaxNum: the answers
// a query by unique key may get, whatever maxNum it asks for.
const DefaultQueryMaxNum = 32

// Handlers serves the look-ups.
type Handlers struct {
	Store *commitlog.Store
	Log   zerolog.Logger
}

// ByCode maps each request code served here to its handler.
func (h *Handlers) ByCode() map[remoting.RequestCode]actors.HandlerFunc {
	return map[remoting.RequestCode]actors.HandlerFunc{
		remoting.QueryMessage:            h.queryMessage,
		remoting.ViewMessageByID:         h.viewMessageByID,
		remoting.GetEarliestMsgStoretime: h.getEarliestMsgStoretime,
	}
}

// queryMessage is QueryMessageProcessor#queryMessage. The body is the
// stored records one after the other, oldest first, as MessageDecoder#decodes
// reads them; records of other keys with the same hash may be among them
// (RocketMQ's clients compare the keys). Nothing found is QUERY_NOT_FOUND,
// with the header all the same.
func (h *Handlers) queryMessage(r *actors.Request) {
	req, err := remoting.DecodeQueryMessageRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	if r.Cmd.Ext(remoting.UniqueMsgQueryFlag) == "true" {
		req.MaxNum = DefaultQueryMaxNum
	}
	res := h.Store.QueryMessage(req.Topic, req.Key, int(req.MaxNum), req.BeginTimestamp, req.EndTimestamp)
	var resp *remoting.Command
	if res.BufferTotalSize > 0 {
		resp = remoting.NewResponse(r.Cmd, remoting.Success, "")
		body := make([]byte, 0, res.BufferTotalSize)
		for _, m := range res.Messages {
			body = append(body, m...)
		}
		resp.Body = body
	} else {
		resp = remoting.NewResponse(r.Cmd, remoting.QueryNotFound, "can not find message, maybe time range not correct")
	}
	remoting.QueryMessageResponseHeader{
		IndexLastUpdateTimestamp: res.IndexLastUpdateTimestamp,
		IndexLastUpdatePhyoffset: res.IndexLastUpdatePhyoffset,
	}.Encode(resp)
	r.Reply(resp)
}

// viewMessageByID is QueryMessageProcessor#viewMessageById: the record
// stored at the offset, checked to be one.
func (h *Handlers) viewMessageByID(r *actors.Request) {
	req, err := remoting.DecodeViewMessageRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	rec, err := h.Store.LookMessageByOffset(req.Offset)
	if err != nil {
		h.Log.Debug().Err(err).Int64("offset", req.Offset).Msg("VIEW_MESSAGE_BY_ID: no record there")
		r.ReplyCode(remoting.SystemError, "can not find message by the offset, "+strconv.FormatInt(req.Offset, 10))
		return
	}
	r.ReplyBody(rec)
}

// getEarliestMsgStoretime is AdminBrokerProcessor#getEarliestMsgStoretime.
func (h *Handlers) getEarliestMsgStoretime(r *actors.Request) {
	req, err := remoting.DecodeGetEarliestMsgStoretimeRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	remoting.GetEarliestMsgStoretimeResponseHeader{Timestamp: h.Store.EarliestMessageTime(req.Topic, req.QueueID)}.Encode(resp)
	r.Reply(resp)
}
