package supervisor

import (
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

// brokerVersionDesc is what GET_BROKER_RUNTIME_INFO reports as the version;
// Sluice speaks RocketMQ 4.9's protocol.
const brokerVersionDesc = "V4_9_8 (Sluice)"

// RuntimeInfo is GET_BROKER_RUNTIME_INFO's table, with RocketMQ's key
// names: the store's figures plus each queue's size, capacity and head
// wait.
func (b *Broker) RuntimeInfo() map[string]string {
	info := b.store.RuntimeInfo()
	info["brokerVersionDesc"] = brokerVersionDesc
	info["brokerVersion"] = strconv.Itoa(int(remoting.Version))
	info["startAcceptSendRequestTimeStamp"] = "0"
	// RocketMQ's key prefix for each of our processors.
	prefix := map[string]string{
		ProcSend: "sendThreadPool", ProcPull: "pullThreadPool", ProcHeartbeat: "heartbeatThreadPool",
		ProcAdmin: "adminBrokerThreadPool", ProcConsumerManage: "consumerManagerThreadPool",
		ProcClientManage: "clientManagerThreadPool",
	}
	now := time.Now()
	for _, p := range b.processors() {
		mb := p.Mailbox()
		if mb == nil {
			continue
		}
		key, ok := prefix[p.Name]
		if !ok {
			if p.Name != ProcEndTransaction {
				continue
			}
			// RocketMQ's own spelling for this queue.
			info["EndTransactionQueueSize"] = strconv.Itoa(mb.Len())
			info["EndTransactionThreadPoolQueueCapacity"] = strconv.Itoa(p.Capacity)
			continue
		}
		info[key+"QueueSize"] = strconv.Itoa(mb.Len())
		info[key+"QueueCapacity"] = strconv.Itoa(p.Capacity)
		wait := int64(0)
		if t := mb.HeadArrival(); !t.IsZero() {
			wait = now.Sub(t).Milliseconds()
		}
		info[key+"QueueHeadWaitTimeMills"] = strconv.FormatInt(wait, 10)
	}
	if b.svc != nil {
		info["heldPullRequests"] = strconv.Itoa(b.svc.holds.Held())
	}
	return info
}

// getBrokerRuntimeInfo answers GET_BROKER_RUNTIME_INFO with a KVTable.
func (b *Broker) getBrokerRuntimeInfo(_ actor.Context, r *actors.Request) {
	r.ReplyJSON(struct {
		Table map[string]string `json:"table"`
	}{b.RuntimeInfo()})
}

// setFault answers SLUICE_SET_FAULT: fault injection switched at runtime,
// only when the broker was started with faultInjectionEnable=true. ext
// fields, each optional: appendStallMillis, transientPoolExhausted
// (true/false), processorDelayMillis with processor (a processor name;
// every processor when absent).
func (b *Broker) setFault(_ actor.Context, r *actors.Request) {
	if !b.cfg.FaultInjectionEnable {
		r.ReplyCode(remoting.SystemError, "fault injection is disabled: start the broker with faultInjectionEnable=true")
		return
	}
	var applied []string
	parseMs := func(key string) (time.Duration, bool, bool) {
		v, ok := r.Cmd.ExtFields[key]
		if !ok {
			return 0, false, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			r.ReplyCode(remoting.SystemError, key+" = "+strconv.Quote(v)+": want milliseconds ≥ 0")
			return 0, false, false
		}
		return millis(n), true, true
	}
	stall, setStall, ok := parseMs("appendStallMillis")
	if !ok {
		return
	}
	delay, setDelay, ok := parseMs("processorDelayMillis")
	if !ok {
		return
	}
	var procs []*actors.Processor
	if setDelay {
		name := r.Cmd.Ext("processor")
		for _, p := range b.processors() {
			if name == "" || p.Name == name {
				procs = append(procs, p)
			}
		}
		if len(procs) == 0 {
			r.ReplyCode(remoting.SystemError, "no processor named "+strconv.Quote(name))
			return
		}
	}
	if v, ok := r.Cmd.ExtFields["transientPoolExhausted"]; ok {
		on, err := strconv.ParseBool(v)
		if err != nil {
			r.ReplyCode(remoting.SystemError, "transientPoolExhausted = "+strconv.Quote(v)+": want true or false")
			return
		}
		b.store.SetPoolExhausted(on)
		applied = append(applied, "transientPoolExhausted="+strconv.FormatBool(on))
	}
	if setStall {
		b.store.SetAppendStall(stall)
		applied = append(applied, "appendStallMillis="+strconv.FormatInt(stall.Milliseconds(), 10))
	}
	for _, p := range procs {
		p.SetDelay(delay)
		applied = append(applied, "processorDelayMillis["+p.Name+"]="+strconv.FormatInt(delay.Milliseconds(), 10))
	}
	if len(applied) == 0 {
		r.ReplyCode(remoting.SystemError, "nothing to set: give appendStallMillis, transientPoolExhausted or processorDelayMillis")
		return
	}
	b.log.Warn().Strs("faults", applied).Msg("fault injection changed")
	r.ReplyCode(remoting.Success, strings.Join(applied, " "))
}
