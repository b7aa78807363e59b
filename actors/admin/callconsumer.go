package admin

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

// callClientTimeout is Broker2Client#callClient's wait for the client.
const callClientTimeout = 10 * time.Second

// callConsumer is AdminBrokerProcessor#callConsumer: pass the request
// (ext fields and body) on to one live consumer of group and answer with
// whatever the client answers. The answer comes from the connection's
// goroutine, later; the admin processor does not wait for it.
func (p *Handlers) callConsumer(r *actors.Request, code remoting.RequestCode, group, clientID string, body []byte) {
	var conn *actors.Connection
	if info, ok := p.Meta.Consumers.GroupInfo(group); ok {
		for _, c := range info.Clients {
			if c.ClientID == clientID {
				conn, _ = c.Channel.(*actors.Connection)
				break
			}
		}
	}
	if conn == nil {
		r.ReplyCode(remoting.SystemError, fmt.Sprintf("The Consumer <%s> <%s> not online", group, clientID))
		return
	}
	ext := make(map[string]string, len(r.Cmd.ExtFields))
	for k, v := range r.Cmd.ExtFields {
		ext[k] = v
	}
	call := remoting.NewRequest(code, ext, body)
	conn.Invoke(call, callClientTimeout, func(resp *remoting.Command, err error) {
		if err != nil {
			r.ReplyCode(remoting.ConsumeMsgTimeout, fmt.Sprintf("consumer <%s> <%s> Timeout: %v", group, clientID, err))
			return
		}
		out := remoting.NewResponse(r.Cmd, resp.ResponseCode(), resp.Remark)
		out.ExtFields, out.Body = resp.ExtFields, resp.Body
		r.Reply(out)
	})
}

// getConsumerRunningInfo is GET_CONSUMER_RUNNING_INFO (307), passed on to
// the client named by clientId.
func (p *Handlers) getConsumerRunningInfo(r *actors.Request) {
	h, err := remoting.DecodeGetConsumerRunningInfoRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	p.callConsumer(r, remoting.GetConsumerRunningInfo, h.ConsumerGroup, h.ClientID, r.Cmd.Body)
}

// consumeMessageDirectly is CONSUME_MESSAGE_DIRECTLY (309): the message
// named by its offset msgId is read from the commit log and handed to one
// consumer to consume now; its ConsumeMessageDirectlyResult is the answer.
func (p *Handlers) consumeMessageDirectly(r *actors.Request) {
	group, clientID, msgID := r.Cmd.Ext("consumerGroup"), r.Cmd.Ext("clientId"), r.Cmd.Ext("msgId")
	for k, v := range map[string]string{"consumerGroup": group, "clientId": clientID, "msgId": msgID} {
		if v == "" {
			r.ReplyCode(remoting.SystemError, "the custom field <"+k+"> is null")
			return
		}
	}
	phy, err := offsetFromMsgID(msgID)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	rec, err := p.Store.LookMessageByOffset(phy)
	if err != nil {
		r.ReplyCode(remoting.SystemError, "no message with msgId "+msgID+": "+err.Error())
		return
	}
	r.Cmd.SetExt("brokerName", p.ID.BrokerName)
	p.callConsumer(r, remoting.ConsumeMessageDirectly, group, clientID, rec)
}

// offsetFromMsgID is MessageDecoder#decodeMessageId's offset: the last 8
// bytes of an offset msgId (store host, then commit-log offset, in hex).
func offsetFromMsgID(id string) (int64, error) {
	b, err := hex.DecodeString(id)
	if err != nil || (len(b) != 16 && len(b) != 28) {
		return 0, fmt.Errorf("msgId %q is not an offset message id", id)
	}
	var off int64
	for _, c := range b[len(b)-8:] {
		off = off<<8 | int64(c)
	}
	return off, nil
}
