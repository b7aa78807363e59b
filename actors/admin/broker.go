package admin

import (
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/stats"
	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// brokerVersionDesc is what GET_BROKER_RUNTIME_INFO reports as the version;
// Sluice speaks RocketMQ 4.9's protocol.
const brokerVersionDesc = "V4_9_8 (Sluice)"

// BrokerHandlers answers what concerns the broker as a whole.
type BrokerHandlers struct {
	Store *commitlog.Store
	// Processors lists every processor of the broker (queues, counters,
	// fault-injection delays).
	Processors func() []*actors.Processor
	// HeldPulls counts the pulls parked for long polling.
	HeldPulls func() int
	// Tree snapshots the live actor tree.
	Tree func() *tree.Snapshot
	// Writer is the commit log's writer (for writerPanic fault injection).
	Writer *actors.Writer
	// FaultInjectionEnable allows SLUICE_SET_FAULT (faultInjectionEnable).
	FaultInjectionEnable bool
	Log                  zerolog.Logger
	// Stats is the broker's BrokerStatsManager (TPS, today's totals).
	Stats *stats.Manager
	// Config serves GET_BROKER_CONFIG and UPDATE_BROKER_CONFIG.
	Config LiveConfig
	// BootTime is when the store opened (bootTimestamp, runtime).
	BootTime time.Time
	// StorePathCommitLog names the commitLogDiskRatio_<path> key;
	// StorePathRootDir holds the consume queues (consumeQueueDiskRatio).
	StorePathCommitLog string
	StorePathRootDir   string

	providers []func(map[string]string)
}

// AddRuntimeInfo registers a component's own GET_BROKER_RUNTIME_INFO keys
// (ScheduleMessageService#buildRunningStats and the like): fn adds them to
// the table on every call. Register before the broker serves requests.
func (b *BrokerHandlers) AddRuntimeInfo(fn func(map[string]string)) {
	b.providers = append(b.providers, fn)
}

// ByCode maps each request code served here to its handler.
func (b *BrokerHandlers) ByCode() map[remoting.RequestCode]actors.HandlerFunc {
	return map[remoting.RequestCode]actors.HandlerFunc{
		remoting.GetBrokerRuntimeInfo: b.getBrokerRuntimeInfo,
		remoting.GetBrokerConfig:      b.getBrokerConfig,
		remoting.UpdateBrokerConfig:   b.updateBrokerConfig,
		remoting.ViewBrokerStatsData:  b.viewBrokerStatsData,
		remoting.GetActorTree:         b.getActorTree,
		remoting.SetFault:             b.setFault,
	}
}

// RuntimeInfo is GET_BROKER_RUNTIME_INFO's table, with RocketMQ's key
// names: the store's figures plus each queue's size, capacity and head
// wait.
func (b *BrokerHandlers) RuntimeInfo() map[string]string {
	info := b.Store.RuntimeInfo()
	info["brokerVersionDesc"] = brokerVersionDesc
	info["brokerVersion"] = strconv.Itoa(int(remoting.Version))
	info["startAcceptSendRequestTimeStamp"] = "0"
	now := time.Now()
	if !b.BootTime.IsZero() {
		info["bootTimestamp"] = strconv.FormatInt(b.BootTime.UnixMilli(), 10)
		info["runtime"] = stats.FormatRuntime(now.Sub(b.BootTime))
	}
	// DefaultMessageStore#getEarliestMessageTime: the first stored
	// message's store time, -1 when there is none.
	info["earliestMessageTimeStamp"] = strconv.FormatInt(recordStoreTimestamp(b.Store, b.Store.MinPhyOffset()), 10)
	if r, ok := info["commitLogDiskRatio"]; ok && b.StorePathCommitLog != "" {
		info["commitLogDiskRatio_"+b.StorePathCommitLog] = r
	}
	if b.StorePathRootDir != "" {
		info["consumeQueueDiskRatio"] = string(stats.AppendJavaDouble(nil, diskPartitionSpaceUsedPercent(filepath.Join(b.StorePathRootDir, "consumequeue"), b.StorePathRootDir)))
	}
	b.Stats.AddRuntimeInfo(info)
	for _, p := range b.Processors() {
		mb := p.Mailbox()
		if mb == nil || p.RuntimeInfoKey == "" {
			continue
		}
		if p.RuntimeInfoKey == EndTransactionKey {
			// RocketMQ's own spelling for this queue, without a head wait.
			info["EndTransactionQueueSize"] = strconv.Itoa(mb.Len())
			info["EndTransactionThreadPoolQueueCapacity"] = strconv.Itoa(p.Capacity)
			continue
		}
		info[p.RuntimeInfoKey+"QueueSize"] = strconv.Itoa(mb.Len())
		info[p.RuntimeInfoKey+"QueueCapacity"] = strconv.Itoa(p.Capacity)
		wait := int64(0)
		if t := mb.HeadArrival(); !t.IsZero() {
			wait = now.Sub(t).Milliseconds()
		}
		info[p.RuntimeInfoKey+"QueueHeadWaitTimeMills"] = strconv.FormatInt(wait, 10)
	}
	if b.HeldPulls != nil {
		info["heldPullRequests"] = strconv.Itoa(b.HeldPulls())
	}
	for _, fn := range b.providers {
		fn(info)
	}
	return info
}

// EndTransactionKey is the end-transaction queue's RuntimeInfoKey, which
// RocketMQ spells differently from the others.
const EndTransactionKey = "EndTransaction"

// getBrokerRuntimeInfo answers GET_BROKER_RUNTIME_INFO with a KVTable.
func (b *BrokerHandlers) getBrokerRuntimeInfo(r *actors.Request) {
	r.ReplyJSON(struct {
		Table map[string]string `json:"table"`
	}{b.RuntimeInfo()})
}

// getActorTree answers SLUICE_GET_ACTOR_TREE with the snapshot as JSON.
func (b *BrokerHandlers) getActorTree(r *actors.Request) { r.ReplyJSON(b.Tree()) }

// setFault answers SLUICE_SET_FAULT: fault injection switched at runtime,
// only when the broker was started with faultInjectionEnable=true. ext
// fields, each optional: appendStallMillis, transientPoolExhausted
// (true/false), processorDelayMillis with processor (a processor name;
// every processor when absent), writerPanic (true: the next append panics).
func (b *BrokerHandlers) setFault(r *actors.Request) {
	if !b.FaultInjectionEnable {
		r.ReplyCode(remoting.SystemError, "fault injection is disabled: start the broker with faultInjectionEnable=true")
		return
	}
	var applied []string
	parseMs := func(key string) (time.Duration, bool, bool) {
		v, ok := r.Cmd.LookupExt(key)
		if !ok {
			return 0, false, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			r.ReplyCode(remoting.SystemError, key+" = "+strconv.Quote(v)+": want milliseconds ≥ 0")
			return 0, false, false
		}
		return time.Duration(n) * time.Millisecond, true, true
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
		for _, p := range b.Processors() {
			if name == "" || p.Name == name {
				procs = append(procs, p)
			}
		}
		if len(procs) == 0 {
			r.ReplyCode(remoting.SystemError, "no processor named "+strconv.Quote(name))
			return
		}
	}
	if v, ok := r.Cmd.LookupExt("transientPoolExhausted"); ok {
		on, err := strconv.ParseBool(v)
		if err != nil {
			r.ReplyCode(remoting.SystemError, "transientPoolExhausted = "+strconv.Quote(v)+": want true or false")
			return
		}
		b.Store.SetPoolExhausted(on)
		applied = append(applied, "transientPoolExhausted="+strconv.FormatBool(on))
	}
	if v, ok := r.Cmd.LookupExt("writerPanic"); ok {
		if !strings.EqualFold(v, "true") || b.Writer == nil {
			r.ReplyCode(remoting.SystemError, "writerPanic = "+strconv.Quote(v)+": want true")
			return
		}
		b.Writer.PanicNextAppend()
		applied = append(applied, "writerPanic=next append")
	}
	if setStall {
		b.Store.SetAppendStall(stall)
		applied = append(applied, "appendStallMillis="+strconv.FormatInt(stall.Milliseconds(), 10))
	}
	for _, p := range procs {
		p.SetDelay(delay)
		applied = append(applied, "processorDelayMillis["+p.Name+"]="+strconv.FormatInt(delay.Milliseconds(), 10))
	}
	if len(applied) == 0 {
		r.ReplyCode(remoting.SystemError, "nothing to set: give appendStallMillis, transientPoolExhausted, processorDelayMillis or writerPanic")
		return
	}
	b.Log.Warn().Strs("faults", applied).Msg("fault injection changed")
	r.ReplyCode(remoting.Success, strings.Join(applied, " "))
}

// viewBrokerStatsData is VIEW_BROKER_STATS_DATA (315): one stats item's
// sum, TPS and average per call over the last minute, hour and day
// (BrokerStatsData).
func (b *BrokerHandlers) viewBrokerStatsData(r *actors.Request) {
	h, err := remoting.DecodeViewBrokerStatsDataRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	it, ok := b.Stats.Item(h.StatsName, h.StatsKey)
	if !ok {
		r.ReplyCode(remoting.SystemError, "The stats <"+h.StatsName+"> <"+h.StatsKey+"> not exist")
		return
	}
	var w fastjson
	item := func(s stats.Snapshot) {
		w.raw(`{"avgpt":`).double(s.Avgpt).raw(`,"sum":`).int(s.Sum).raw(`,"tps":`).double(s.Tps).raw("}")
	}
	w.raw(`{"statsDay":`)
	item(it.InDay())
	w.raw(`,"statsHour":`)
	item(it.InHour())
	w.raw(`,"statsMinute":`)
	item(it.InMinute())
	r.ReplyBody(w.raw("}").b)
}

// diskPartitionSpaceUsedPercent is UtilAll#getDiskPartitionSpaceUsedPercent
// of the first path that exists: used = total − free, over used + usable
// (what df calls Use%), rounded up to a hundredth; -1 when none can be
// read.
func diskPartitionSpaceUsedPercent(paths ...string) float64 {
	for _, p := range paths {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) != nil || st.Blocks == 0 {
			continue
		}
		bs := uint64(st.Bsize)
		used := (st.Blocks - st.Bfree) * bs
		entire := used + st.Bavail*bs
		if entire == 0 {
			continue
		}
		pct := used * 100 / entire
		if used*100%entire != 0 {
			pct++
		}
		return float64(pct) / 100
	}
	return -1
}
