package send

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// pushReplyTimeout bounds the wait for the requesting client's answer to
// PUSH_REPLY_MESSAGE_TO_CLIENT: the replier's own send times out after
// 3 s, so a later answer has nobody waiting for it.
const pushReplyTimeout = 3 * time.Second

// replyState is what a reply's answer needs once it has been pushed.
type replyState struct {
	pushOK bool
	remark string
}

// sendReplyMessage is RocketMQ's ReplyMessageProcessor (SEND_REPLY_MESSAGE
// and _V2): the reply a consumer sends to a request message goes straight
// to the requesting client's connection, found by the request's
// REPLY_TO_CLIENT among the producers that heartbeat here, as
// PUSH_REPLY_MESSAGE_TO_CLIENT; with storeReplyMessageEnable it is also
// stored in its topic (<cluster>_REPLY_TOPIC). The answer's code says
// whether the push succeeded, as Java's does.
func (p *Handlers) sendReplyMessage(r *actors.Request) {
	h, tc, ok := p.decodeAndCheck(r)
	if !ok {
		return
	}
	queueID := h.QueueID
	if queueID < 0 {
		queueID = rand.Int32N(int32(max(tc.WriteQueueNums, 1)))
	}
	props := message.Normalize(h.Properties)
	senderID, hasSender := message.Lookup(props, message.PropertyMessageReplyToClient)
	var target *actors.Connection
	if hasSender {
		if ch, ok := p.Meta.Producers.FindChannel(senderID); ok {
			target, _ = ch.(*actors.Connection)
		}
	}
	finish := func(st replyState) {
		if !p.StoreReplyMessage {
			r.Reply(p.replyResponse(r, st, queueID))
			return
		}
		p.storeReply(r, &h, props, queueID, st)
	}
	switch {
	case !hasSender:
		p.Log.Warn().Msg(message.PropertyMessageReplyToClient + " is null, can not reply message")
		finish(replyState{remark: "reply message properties[" + message.PropertyMessageReplyToClient + "] is null"})
		return
	case target == nil:
		st := replyState{remark: "push reply message fail, channel of <" + senderID + "> not found."}
		p.Log.Warn().Str("client", senderID).Msg(st.remark)
		finish(st)
		return
	}
	push := remoting.NewRequest(remoting.PushReplyMessageToClient, nil, r.Cmd.Body)
	ph := remoting.ReplyMessageRequestHeader{
		SendMessageRequestHeader: h,
		BornHost:                 r.BornHost().String(),
		StoreHost:                p.ID.StoreHost.String(),
		StoreTimestamp:           time.Now().UnixMilli(),
	}
	ph.Properties = message.Set(props, message.PropertyPushReplyTime, strconv.FormatInt(ph.StoreTimestamp, 10))
	ph.Encode(push)
	target.Invoke(push, pushReplyTimeout, func(resp *remoting.Command, err error) {
		st := replyState{pushOK: err == nil && resp.ResponseCode() == remoting.Success}
		if !st.pushOK {
			st.remark = "push reply message to " + senderID + "fail."
			ev := p.Log.Warn().Str("client", senderID)
			if err != nil {
				ev = ev.Err(err)
			} else {
				ev = ev.Str("remark", resp.Remark)
			}
			ev.Msg("push reply message failed")
		}
		// The answer may arrive on the connection actor's goroutine; the
		// store hand-off may wait for the writer, so it runs elsewhere.
		go finish(st)
	})
}

// replyResponse is ReplyMessageProcessor#handlePushReplyResult: SUCCESS
// with msgId "0" once pushed, SYSTEM_ERROR with the reason otherwise.
func (p *Handlers) replyResponse(r *actors.Request, st replyState, queueID int32) *remoting.Command {
	if !st.pushOK {
		return remoting.NewResponse(r.Cmd, remoting.SystemError, st.remark)
	}
	resp := remoting.NewAnswer(r.Cmd, remoting.Success, "")
	hdr := remoting.SendMessageResponseHeader{MsgID: "0", QueueID: queueID, MsgRegion: p.ID.RegionID, TraceOn: true}
	hdr.Encode(resp)
	return resp
}

// storeReply stores the reply in its topic and answers once it is stored:
// the push decides the code, the store the message id and offset.
func (p *Handlers) storeReply(r *actors.Request, h *remoting.SendMessageRequestHeader, props string, queueID int32, st replyState) {
	j := p.getJob()
	j.Req = r
	j.reply = &st
	// ReplyMessageProcessor stores the reply as sent: no CLUSTER added.
	m := p.headerMessage(r, h, h.Topic, queueID, props)
	if err := p.encode(j, &m); err != nil {
		// Java logs the store failure and answers with the push's result.
		p.putJob(j)
		p.Log.Warn().Err(err).Str("topic", h.Topic).Msg("reply message not stored")
		r.Reply(p.replyResponse(r, st, queueID))
		return
	}
	p.submit(j, h.Topic, queueID, 1)
}

// storedReplyResponse is the answer to a reply that was pushed and stored:
// the push's code, with the stored message's id and offset when the store
// took it (ReplyMessageProcessor#handlePutMessageResult).
func (p *Handlers) storedReplyResponse(r *actors.Request, j *sendJob, res commitlog.PutResult) *remoting.Command {
	resp := p.replyResponse(r, *j.reply, j.Put.QueueID)
	switch res.Status {
	case commitlog.PutOK, commitlog.PutFlushDiskTimeout, commitlog.PutFlushSlaveTimeout, commitlog.PutSlaveNotAvailable:
		hdr := remoting.SendMessageResponseHeader{
			QueueID: j.Put.QueueID, QueueOffset: res.QueueOffset, MsgRegion: p.ID.RegionID, TraceOn: true,
		}
		p.setMsgID(&hdr, j, res.WroteOffset)
		hdr.Encode(resp)
	default:
		p.Log.Warn().Stringer("status", res.Status).Str("topic", j.Put.Topic).Msg("reply message not stored")
	}
	return resp
}
