package admin

import (
	"encoding/hex"
	"fmt"
	"sync"
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
	call := remoting.NewRequest(code, r.Cmd.ExtMap(), body)
	conn.Invoke(call, callClientTimeout, func(resp *remoting.Command, err error) {
		if err != nil {
			r.ReplyCode(remoting.ConsumeMsgTimeout, fmt.Sprintf("consumer <%s> <%s> Timeout: %v", group, clientID, err))
			return
		}
		out := remoting.NewResponse(r.Cmd, resp.ResponseCode(), resp.Remark)
		out.ExtFields, out.Fields, out.Body = resp.ExtFields, resp.Fields, resp.Body
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

// getConsumerStatusTimeout is Broker2Client#getConsumeStatus's wait per
// client.
const getConsumerStatusTimeout = 5 * time.Second

// invokeBrokerToGetConsumerStatus is INVOKE_BROKER_TO_GET_CONSUMER_STATUS
// (223, Broker2Client#getConsumeStatus): every live consumer of the group
// (or only clientAddr's, when given) is asked GET_CONSUMER_STATUS_FROM_CLIENT
// (221) for its offsets on the topic; the answer is a
// GetConsumerStatusBody whose consumerTable holds each client's table as
// it sent it. A client that does not answer in time is left out, as in
// RocketMQ.
func (p *Handlers) invokeBrokerToGetConsumerStatus(r *actors.Request) {
	topic, group, only := r.Cmd.Ext("topic"), r.Cmd.Ext("group"), r.Cmd.Ext("clientAddr")
	if topic == "" || group == "" {
		r.ReplyCode(remoting.SystemError, "the custom field <topic> and <group> are required")
		return
	}
	info, ok := p.Meta.Consumers.GroupInfo(group)
	if !ok || len(info.Clients) == 0 {
		r.ReplyCode(remoting.SystemError, "No Any Consumer online in the consumer group: ["+group+"]")
		return
	}
	type target struct {
		id   string
		conn *actors.Connection
	}
	var targets []target
	for _, c := range info.Clients {
		conn, ok := c.Channel.(*actors.Connection)
		if ok && (only == "" || only == c.ClientID) {
			targets = append(targets, target{c.ClientID, conn})
		}
	}
	tables := make([][]byte, len(targets))
	var mu sync.Mutex
	left := len(targets)
	finish := func() {
		var w fastjson
		w.raw(`{"consumerTable":{`)
		n := 0
		for i, t := range targets {
			if tables[i] == nil {
				continue
			}
			if n > 0 {
				w.raw(",")
			}
			n++
			w.str(t.id).raw(":")
			w.b = append(w.b, tables[i]...)
		}
		r.ReplyBody(w.raw(`},"messageQueueTable":{}}`).b)
	}
	if left == 0 {
		finish()
		return
	}
	for i, t := range targets {
		call := remoting.NewRequest(remoting.GetConsumerStatusFromClient, map[string]string{"topic": topic, "group": group}, nil)
		t.conn.Invoke(call, getConsumerStatusTimeout, func(resp *remoting.Command, err error) {
			var table []byte
			if err == nil && resp.ResponseCode() == remoting.Success {
				table, _ = topLevelField(resp.Body, "messageQueueTable")
			} else {
				p.Log.Warn().Err(err).Str("group", group).Str("clientId", t.id).Msg("get consumer status from client failed")
			}
			mu.Lock()
			tables[i] = table
			left--
			last := left == 0
			mu.Unlock()
			if last {
				finish()
			}
		})
	}
}

// topLevelField returns the raw text of a top-level field of a fastjson
// object, whatever its value holds (Map<MessageQueue, V> tables included).
func topLevelField(body []byte, name string) ([]byte, bool) {
	depth, start := 0, -1
	want := `"` + name + `"`
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '"':
			j := i + 1
			for j < len(body) && body[j] != '"' {
				if body[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(body) {
				return nil, false
			}
			if depth == 1 && start < 0 && string(body[i:j+1]) == want {
				k := j + 1
				for k < len(body) && (body[k] == ' ' || body[k] == ':' || body[k] == '\n' || body[k] == '\t' || body[k] == '\r') {
					k++
				}
				start = k
				if k < len(body) && body[k] != '{' && body[k] != '[' {
					// A scalar: up to the next ',' or '}'.
					e := k
					for e < len(body) && body[e] != ',' && body[e] != '}' {
						e++
					}
					return body[k:e], true
				}
			}
			i = j
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if start >= 0 && depth == 1 {
				return body[start : i+1], true
			}
		}
	}
	return nil, false
}
