package metrics

import (
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-mq/sluice/actors/tree"
)

const namespace = "sluice"

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
}

var (
	descRequests = newDesc("requests_total",
		"Requests per processor by outcome: processed, or the busy tag they were answered with.", "processor", "outcome")
	descBusy        = newDesc("busy_answers_total", "Busy answers sent by all processors, by remark tag.", "kind")
	descRanArrival  = newDesc("processor_ran_on_arrival_total", "Processed requests whose turn ran on the connection's decoder goroutine, the processor being idle, rather than on the processor's own.", "processor")
	descPanics      = newDesc("processor_panics_total", "Requests whose handler panicked, per processor.", "processor")
	descHeldNow     = newDesc("processor_held_connections", "Connections held before their next read until the processor's queue has room (sendQueueBackpressure).", "processor")
	descHeldReads   = newDesc("processor_held_reads_total", "Reads held until the processor's queue had room, and those of them that ended at the queue's wait limit.", "processor", "end")
	descDepth       = newDesc("mailbox_depth", "Requests waiting in the processor's queue.", "processor")
	descCapacity    = newDesc("mailbox_capacity", "Capacity of the processor's queue (sendThreadPoolQueueCapacity and friends).", "processor")
	descOldestWait  = newDesc("oldest_wait_seconds", "How long the request at the head of the processor's queue has waited.", "processor")
	descMaxWait     = newDesc("max_wait_in_queue_seconds", "Wait after which the fast-failure sweep answers TIMEOUT_CLEAN_QUEUE (waitTimeMillsIn...Queue); 0 exempts the queue.", "processor")
	descLockCurrent = newDesc("writer_lock_hold_current_seconds", "How long the append in progress has held the commit-log lock (pageCacheLockTimeMills); 0 when idle.")
	descPCBusy      = newDesc("writer_page_cache_busy", "1 while the current lock hold exceeds osPageCacheBusyTimeOutMills (sends are refused REJECTREQUEST / PC_SYNCHRONIZED).")
	descPCThreshold = newDesc("writer_page_cache_busy_threshold_seconds", "osPageCacheBusyTimeOutMills.")
	descLockHold    = newDesc("writer_lock_hold_seconds", "Commit-log appends by how long they held the writer (the lock hold, plus the sync wait under SYNC_FLUSH).")
	descWriterDepth = newDesc("writer_mailbox_depth", "Append jobs waiting for the writer.")
	descAppended    = newDesc("writer_appended_messages_total", "Messages the writer has appended.")
	descBatches     = newDesc("writer_batches_total", "Group commits (one lock hold each) the writer has made.")
	descPoolEnabled = newDesc("transient_pool_enabled", "1 when transientStorePoolEnable is in effect.")
	descPoolFree    = newDesc("transient_pool_free_buffers", "Transient store pool buffers available.")
	descPoolTotal   = newDesc("transient_pool_buffers", "Transient store pool buffers in all (transientStorePoolSize).")
	descPoolDef     = newDesc("transient_pool_deficient", "1 when the pool is enabled and has no free buffer (sends are refused REJECTREQUEST).")
	descFFEnabled   = newDesc("fast_failure_enabled", "1 when brokerFastFailureEnable is on.")
	descFFPeriod    = newDesc("fast_failure_sweep_period_seconds", "Period of the fast-failure sweep.")
	descFFLast      = newDesc("fast_failure_last_sweep_timestamp_seconds", "Unix time of the last fast-failure sweep.")
	descFFCleaned   = newDesc("fast_failure_cleaned_total", "Queued requests the fast-failure sweep answered, by remark tag.", "kind")
	descBusyPeriods = newDesc("busy_periods_total", "Periods during which the broker answered busy.")
	descInBusy      = newDesc("busy_period_active", "1 while a busy period is in progress.")
	descConns       = newDesc("connections", "Client connections, by client language.", "language")
	descInflight    = newDesc("inflight_requests", "Requests received on all connections and not yet answered.")
	// The fronts: remoting (the TCP port) and grpc (RocketMQ 5 clients).
	descFrontBusy = newDesc("front_busy_answers_total", "Busy answers by front (remoting, grpc) and remark tag; a gRPC busy answer is TOO_MANY_REQUESTS with the same remark.", "front", "kind")
	descFrontRPCs = newDesc("front_requests_total", "Requests the gRPC front received, by RPC.", "front", "rpc")
	descInfo      = newDesc("broker_info", "Always 1; labels name the broker.", "broker_name", "addr")

	descTxPending   = newDesc("transaction_half_pending", "Transactional half messages without a decision yet.")
	descTxEnded     = newDesc("transaction_ended_total", "Transactions ended by END_TRANSACTION, by decision (commit, rollback).", "decision")
	descTxDup       = newDesc("transaction_end_duplicates_total", "END_TRANSACTIONs repeating a decision already taken (nothing changed).")
	descTxRefused   = newDesc("transaction_end_refused_total", "END_TRANSACTIONs refused: no such half message, or a contradicting or late decision.")
	descTxFailures  = newDesc("transaction_store_failures_total", "Commits or op records the store did not take.")
	descTxInFlight  = newDesc("transaction_decisions_in_flight", "Decisions being stored (commit, then op record).")
	descTxChecks    = newDesc("transaction_checks_total", "CHECK_TRANSACTION_STATE requests, by outcome: sent, or unsent (no live producer of the group).", "outcome")
	descTxDiscarded = newDesc("transaction_discarded_total", "Half messages moved to TRANS_CHECK_MAX_TIME_TOPIC after transactionCheckMax checks.")
	descTxRounds    = newDesc("transaction_check_rounds_total", "Rounds of the transaction check (every transactionCheckInterval).")
	descTxLag       = newDesc("transaction_check_lag_messages", "Half-queue entries the check has not reached yet, by queue (half, op).", "queue")

	descSchedDelay      = newDesc("schedule_level_delay_seconds", "The delay of each level (messageDelayLevel).", "level")
	descSchedWaiting    = newDesc("schedule_messages_waiting", "Delayed messages in SCHEDULE_TOPIC_XXXX not delivered yet, by delay level.", "level")
	descSchedDeliveries = newDesc("schedule_deliveries_total", "Delayed messages stored back in their real topic, by delay level.", "level")
	descSchedOverdue    = newDesc("schedule_overdue_seconds", "How long past its due time the level's oldest undelivered message is; 0 when none is overdue.", "level")
	descSchedBackoffs   = newDesc("schedule_backoffs_total", "Passes of a level that waited 100 ms (DELAY_FOR_A_WHILE) instead of delivering, by reason: busy (page cache busy) or failed (a put failed).", "level", "reason")
	descSchedPassed     = newDesc("schedule_passed_over_total", "Delayed messages skipped: record deleted by retention before due, or no real topic.", "level")
	descSchedLateness   = newDesc("schedule_delivery_lateness_seconds", "Delayed messages by how long after their due time they were stored in their real topic.")

	descTimerPending    = newDesc("timer_messages_pending", "Timer messages indexed in the timer log and not delivered yet (timerCongestNum).")
	descTimerBehind     = newDesc("timer_messages_behind", "Entries of rmq_sys_wheel_timer not indexed yet (timerOffsetBehind).")
	descTimerInFlight   = newDesc("timer_messages_in_flight", "Due timer messages handed to the writer and not answered yet.")
	descTimerEnqueued   = newDesc("timer_enqueued_total", "Timer messages indexed in the timer log.")
	descTimerDeliveries = newDesc("timer_deliveries_total", "Timer messages stored back in their real topic.")
	descTimerBackoffs   = newDesc("timer_backoffs_total", "Passes that waited 100 ms instead of delivering, by reason: busy (store busy: page cache, disk) or failed (a put or the timer log failed).", "reason")
	descTimerPassed     = newDesc("timer_passed_over_total", "Timer messages skipped: record deleted by retention before due, unreadable, or no real topic.")
	descTimerRolled     = newDesc("timer_rolled_total", "Timer messages due beyond the wheel (timerRollWindowSlot) indexed again.")
	descTimerOldestDue  = newDesc("timer_oldest_due_timestamp_seconds", "Unix time the earliest pending timer message falls due (the end of its precision tick); absent when none is pending.")
	descTimerOverdue    = newDesc("timer_overdue_seconds", "How long past its due time the earliest pending timer message is; 0 when none is overdue.")
	descTimerDisk       = newDesc("timer_log_disk_bytes", "Size of the timer log (<storePathRootDir>/timerlog).")
	descTimerLateness   = newDesc("timer_delivery_lateness_seconds", "Timer messages by how long after their due time they were handed to the writer.")
)

var treeDescs = []*prometheus.Desc{
	descRequests, descBusy, descPanics, descRanArrival, descHeldNow, descHeldReads, descDepth, descCapacity, descOldestWait, descMaxWait,
	descLockCurrent, descPCBusy, descPCThreshold, descLockHold, descWriterDepth, descAppended, descBatches,
	descPoolEnabled, descPoolFree, descPoolTotal, descPoolDef,
	descFFEnabled, descFFPeriod, descFFLast, descFFCleaned, descBusyPeriods, descInBusy,
	descConns, descInflight, descInfo, descFrontBusy, descFrontRPCs,
	descTxPending, descTxEnded, descTxDup, descTxRefused, descTxFailures, descTxInFlight, descTxChecks,
	descTxDiscarded, descTxRounds, descTxLag,
	descSchedDelay, descSchedWaiting, descSchedDeliveries, descSchedOverdue, descSchedBackoffs, descSchedPassed, descSchedLateness,
	descTimerPending, descTimerBehind, descTimerInFlight, descTimerEnqueued, descTimerDeliveries, descTimerBackoffs,
	descTimerPassed, descTimerRolled, descTimerOldestDue, descTimerOverdue, descTimerDisk, descTimerLateness,
	descPopRequests, descPopMessages, descPopAcks, descPopChanges, descPopRevives, descPopCheckpoints, descPopHeld, descPopInFlight,
}

var (
	descPopRequests    = newDesc("pop_requests_total", "POP_MESSAGE requests served (re-runs after a hold count again).")
	descPopMessages    = newDesc("pop_messages_total", "Messages handed out by POP_MESSAGE.")
	descPopAcks        = newDesc("pop_acks_total", "ACK_MESSAGE requests served.")
	descPopChanges     = newDesc("pop_change_invisible_time_total", "CHANGE_MESSAGE_INVISIBLETIME requests served.")
	descPopRevives     = newDesc("pop_revives_total", "Un-acked popped messages put back after their invisible time, by destination: retry (the pop retry topic) or dlq.", "to")
	descPopCheckpoints = newDesc("pop_checkpoints", "Pop checkpoints with un-acked messages.")
	descPopHeld        = newDesc("pop_held_requests", "POP_MESSAGE requests parked by long polling.")
	descPopInFlight    = newDesc("pop_in_flight_messages", "Popped messages not acked yet (invisible, or due for revive), by group and topic read.", "group", "topic")
)

func collectPop(ch chan<- prometheus.Metric, p *tree.PopInfo) {
	ch <- prometheus.MustNewConstMetric(descPopRequests, prometheus.CounterValue, float64(p.Pops))
	ch <- prometheus.MustNewConstMetric(descPopMessages, prometheus.CounterValue, float64(p.Popped))
	ch <- prometheus.MustNewConstMetric(descPopAcks, prometheus.CounterValue, float64(p.Acks))
	ch <- prometheus.MustNewConstMetric(descPopChanges, prometheus.CounterValue, float64(p.Changes))
	ch <- prometheus.MustNewConstMetric(descPopRevives, prometheus.CounterValue, float64(p.Revived), "retry")
	ch <- prometheus.MustNewConstMetric(descPopRevives, prometheus.CounterValue, float64(p.DLQ), "dlq")
	ch <- prometheus.MustNewConstMetric(descPopCheckpoints, prometheus.GaugeValue, float64(p.Checkpoints))
	ch <- prometheus.MustNewConstMetric(descPopHeld, prometheus.GaugeValue, float64(p.Held))
	for k, n := range p.InFlight {
		group, topic, _ := strings.Cut(k, "@")
		ch <- prometheus.MustNewConstMetric(descPopInFlight, prometheus.GaugeValue, float64(n), group, topic)
	}
}

// treeCollector turns one fresh snapshot per scrape into metrics.
type treeCollector struct {
	snapshot func() *tree.Snapshot
}

func (c *treeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range treeDescs {
		ch <- d
	}
	for _, d := range haDescs {
		ch <- d
	}
}

func (c *treeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	if s == nil || s.Root == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, s.BrokerName, s.Addr)

	busy := make(map[string]uint64)
	var front *tree.FrontInfo
	langs := make(map[string]int)
	var inflight int64
	// The registry refuses a scrape with two series of the same labels, so
	// a tree that (wrongly) holds two processors of one name, or two
	// writers, yields the first of each rather than no metrics at all.
	seen := make(map[string]bool)
	once := func(key string) bool {
		if seen[key] {
			return false
		}
		seen[key] = true
		return true
	}
	s.Root.Walk(func(n *tree.Node, _ int) {
		switch {
		case n.Processor != nil && once("processor/"+n.Name):
			collectProcessor(ch, n.Name, n.Processor, busy)
		case n.Writer != nil && once("writer"):
			collectWriter(ch, n.Writer)
		case n.Supervisor != nil && once("supervisor"):
			collectSupervisor(ch, n.Supervisor)
		case n.Transaction != nil && once("transaction"):
			collectTransaction(ch, n.Transaction)
		case n.Schedule != nil && once("schedule"):
			collectSchedule(ch, n.Schedule, s.TakenAt)
		case n.Timer != nil && once("timer"):
			collectTimer(ch, n.Timer, s.TakenAt)
		case n.HA != nil && (n.HA.Slave != nil || once("ha")):
			collectHA(ch, n.HA)
		case n.Front != nil && once("front/"+n.Front.Front):
			front = n.Front
		case n.Pop != nil && once("pop"):
			collectPop(ch, n.Pop)
		case n.Connection != nil:
			lang := n.Connection.Language
			if lang == "" {
				lang = "unknown"
			}
			langs[lang]++
			inflight += n.Connection.Inflight
		}
	})
	for _, kind := range slices.Sorted(maps.Keys(busy)) {
		ch <- prometheus.MustNewConstMetric(descBusy, prometheus.CounterValue, float64(busy[kind]), kind)
	}
	collectFronts(ch, busy, front)
	for _, lang := range slices.Sorted(maps.Keys(langs)) {
		ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(langs[lang]), lang)
	}
	ch <- prometheus.MustNewConstMetric(descInflight, prometheus.GaugeValue, float64(inflight))
}

func collectProcessor(ch chan<- prometheus.Metric, name string, p *tree.ProcessorInfo, busy map[string]uint64) {
	ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(p.Processed), name, "processed")
	for _, kind := range slices.Sorted(maps.Keys(p.Busy)) {
		n := p.Busy[kind]
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), name, kind)
		busy[kind] += n
	}
	ch <- prometheus.MustNewConstMetric(descRanArrival, prometheus.CounterValue, float64(p.RanOnArrival), name)
	ch <- prometheus.MustNewConstMetric(descPanics, prometheus.CounterValue, float64(p.Panics), name)
	ch <- prometheus.MustNewConstMetric(descHeldNow, prometheus.GaugeValue, float64(p.HeldNow), name)
	ch <- prometheus.MustNewConstMetric(descHeldReads, prometheus.CounterValue, float64(p.HeldReads-p.HoldTimeouts), name, "room")
	ch <- prometheus.MustNewConstMetric(descHeldReads, prometheus.CounterValue, float64(p.HoldTimeouts), name, "wait_limit")
	ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(p.Depth), name)
	ch <- prometheus.MustNewConstMetric(descCapacity, prometheus.GaugeValue, float64(p.Capacity), name)
	ch <- prometheus.MustNewConstMetric(descOldestWait, prometheus.GaugeValue, millisToSeconds(p.OldestWaitMillis), name)
	ch <- prometheus.MustNewConstMetric(descMaxWait, prometheus.GaugeValue, millisToSeconds(p.MaxWaitMillis), name)
}

func collectWriter(ch chan<- prometheus.Metric, w *tree.WriterInfo) {
	ch <- prometheus.MustNewConstMetric(descLockCurrent, prometheus.GaugeValue, millisToSeconds(w.LockHoldMillis))
	ch <- prometheus.MustNewConstMetric(descPCBusy, prometheus.GaugeValue, boolValue(w.PageCacheBusy))
	ch <- prometheus.MustNewConstMetric(descPCThreshold, prometheus.GaugeValue, millisToSeconds(w.OSPageCacheBusyTimeOutMills))
	if len(w.LockHold) > 0 {
		count, buckets := cumulativeBuckets(w.LockHold)
		ch <- prometheus.MustNewConstHistogram(descLockHold, count, w.LockHoldSumMillis/1000, buckets)
	}
	ch <- prometheus.MustNewConstMetric(descWriterDepth, prometheus.GaugeValue, float64(w.Depth))
	ch <- prometheus.MustNewConstMetric(descAppended, prometheus.CounterValue, float64(w.Appended))
	ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(w.Batches))
	ch <- prometheus.MustNewConstMetric(descPoolEnabled, prometheus.GaugeValue, boolValue(w.TransientPoolEnabled))
	ch <- prometheus.MustNewConstMetric(descPoolFree, prometheus.GaugeValue, float64(w.TransientPoolFree))
	ch <- prometheus.MustNewConstMetric(descPoolTotal, prometheus.GaugeValue, float64(w.TransientPoolTotal))
	ch <- prometheus.MustNewConstMetric(descPoolDef, prometheus.GaugeValue, boolValue(w.TransientPoolDeficient))
}

func collectSupervisor(ch chan<- prometheus.Metric, s *tree.SupervisorInfo) {
	ch <- prometheus.MustNewConstMetric(descFFEnabled, prometheus.GaugeValue, boolValue(s.FastFailureEnable))
	ch <- prometheus.MustNewConstMetric(descFFPeriod, prometheus.GaugeValue, millisToSeconds(s.SweepPeriodMillis))
	if !s.LastSweep.IsZero() {
		ch <- prometheus.MustNewConstMetric(descFFLast, prometheus.GaugeValue, float64(s.LastSweep.UnixNano())/float64(time.Second))
	}
	for _, kind := range slices.Sorted(maps.Keys(s.Cleaned)) {
		ch <- prometheus.MustNewConstMetric(descFFCleaned, prometheus.CounterValue, float64(s.Cleaned[kind]), kind)
	}
	ch <- prometheus.MustNewConstMetric(descBusyPeriods, prometheus.CounterValue, float64(s.BusyPeriods))
	ch <- prometheus.MustNewConstMetric(descInBusy, prometheus.GaugeValue, boolValue(s.InBusyPeriod))
}

func collectTransaction(ch chan<- prometheus.Metric, t *tree.TransactionInfo) {
	ch <- prometheus.MustNewConstMetric(descTxPending, prometheus.GaugeValue, float64(t.HalfPending))
	ch <- prometheus.MustNewConstMetric(descTxEnded, prometheus.CounterValue, float64(t.Committed), "commit")
	ch <- prometheus.MustNewConstMetric(descTxEnded, prometheus.CounterValue, float64(t.RolledBack), "rollback")
	ch <- prometheus.MustNewConstMetric(descTxDup, prometheus.CounterValue, float64(t.Duplicates))
	ch <- prometheus.MustNewConstMetric(descTxRefused, prometheus.CounterValue, float64(t.Refused))
	ch <- prometheus.MustNewConstMetric(descTxFailures, prometheus.CounterValue, float64(t.StoreFailures))
	ch <- prometheus.MustNewConstMetric(descTxInFlight, prometheus.GaugeValue, float64(t.InFlight))
	ch <- prometheus.MustNewConstMetric(descTxChecks, prometheus.CounterValue, float64(t.ChecksSent), "sent")
	ch <- prometheus.MustNewConstMetric(descTxChecks, prometheus.CounterValue, float64(t.ChecksUnsent), "unsent")
	ch <- prometheus.MustNewConstMetric(descTxDiscarded, prometheus.CounterValue, float64(t.Discarded))
	ch <- prometheus.MustNewConstMetric(descTxRounds, prometheus.CounterValue, float64(t.CheckRounds))
	ch <- prometheus.MustNewConstMetric(descTxLag, prometheus.GaugeValue, float64(max(0, t.HalfMaxOffset-t.HalfOffset)), "half")
	ch <- prometheus.MustNewConstMetric(descTxLag, prometheus.GaugeValue, float64(max(0, t.OpMaxOffset-t.OpOffset)), "op")
}

func collectSchedule(ch chan<- prometheus.Metric, sc *tree.ScheduleInfo, at time.Time) {
	for _, lv := range sc.Levels {
		level := strconv.Itoa(int(lv.Level))
		overdue := 0.0
		if lv.Waiting > 0 && !lv.HeadDue.IsZero() && at.After(lv.HeadDue) {
			overdue = at.Sub(lv.HeadDue).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descSchedDelay, prometheus.GaugeValue, millisToSeconds(lv.DelayMillis), level)
		ch <- prometheus.MustNewConstMetric(descSchedWaiting, prometheus.GaugeValue, float64(lv.Waiting), level)
		ch <- prometheus.MustNewConstMetric(descSchedDeliveries, prometheus.CounterValue, float64(lv.Delivered), level)
		ch <- prometheus.MustNewConstMetric(descSchedOverdue, prometheus.GaugeValue, overdue, level)
		ch <- prometheus.MustNewConstMetric(descSchedBackoffs, prometheus.CounterValue, float64(lv.BusyBackoffs), level, "busy")
		ch <- prometheus.MustNewConstMetric(descSchedBackoffs, prometheus.CounterValue, float64(lv.Retries-min(lv.Retries, lv.BusyBackoffs)), level, "failed")
		ch <- prometheus.MustNewConstMetric(descSchedPassed, prometheus.CounterValue, float64(lv.PassedOver), level)
	}
	collectHistogram(ch, descSchedLateness, sc.Lateness, sc.LatenessSumMillis)
}

func collectTimer(ch chan<- prometheus.Metric, ti *tree.TimerInfo, at time.Time) {
	ch <- prometheus.MustNewConstMetric(descTimerPending, prometheus.GaugeValue, float64(ti.Pending))
	ch <- prometheus.MustNewConstMetric(descTimerBehind, prometheus.GaugeValue, float64(ti.Behind))
	ch <- prometheus.MustNewConstMetric(descTimerInFlight, prometheus.GaugeValue, float64(ti.InFlight))
	ch <- prometheus.MustNewConstMetric(descTimerEnqueued, prometheus.CounterValue, float64(ti.Enqueued))
	ch <- prometheus.MustNewConstMetric(descTimerDeliveries, prometheus.CounterValue, float64(ti.Delivered))
	ch <- prometheus.MustNewConstMetric(descTimerBackoffs, prometheus.CounterValue, float64(ti.BusyBackoffs), "busy")
	ch <- prometheus.MustNewConstMetric(descTimerBackoffs, prometheus.CounterValue, float64(ti.Retries-min(ti.Retries, ti.BusyBackoffs)), "failed")
	ch <- prometheus.MustNewConstMetric(descTimerPassed, prometheus.CounterValue, float64(ti.PassedOver))
	ch <- prometheus.MustNewConstMetric(descTimerRolled, prometheus.CounterValue, float64(ti.Rolled))
	overdue := 0.0
	if ti.Pending > 0 && !ti.OldestDue.IsZero() {
		ch <- prometheus.MustNewConstMetric(descTimerOldestDue, prometheus.GaugeValue, float64(ti.OldestDue.UnixNano())/float64(time.Second))
		if at.After(ti.OldestDue) {
			overdue = at.Sub(ti.OldestDue).Seconds()
		}
	}
	ch <- prometheus.MustNewConstMetric(descTimerOverdue, prometheus.GaugeValue, overdue)
	ch <- prometheus.MustNewConstMetric(descTimerDisk, prometheus.GaugeValue, float64(ti.DiskBytes))
	collectHistogram(ch, descTimerLateness, ti.Lateness, ti.LatenessSumMillis)
}

// collectHistogram exports a tree histogram (per-bucket counts in ms) as a
// Prometheus one in seconds; nothing when the tree has no buckets.
func collectHistogram(ch chan<- prometheus.Metric, desc *prometheus.Desc, in []tree.Bucket, sumMillis float64) {
	if len(in) == 0 {
		return
	}
	count, buckets := cumulativeBuckets(in)
	ch <- prometheus.MustNewConstHistogram(desc, count, sumMillis/1000, buckets)
}

// cumulativeBuckets converts the tree's per-bucket counts (each bucket
// counts only its own range; LeMillis -1 is the unbounded last one) into
// Prometheus's cumulative counts by upper bound in seconds. The unbounded
// bucket becomes the implicit +Inf one, whose count is the total.
func cumulativeBuckets(in []tree.Bucket) (uint64, map[float64]uint64) {
	sorted := append([]tree.Bucket(nil), in...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].LeMillis, sorted[j].LeMillis
		return a >= 0 && (b < 0 || a < b)
	})
	out := make(map[float64]uint64, len(sorted))
	var total uint64
	for _, b := range sorted {
		total += b.Count
		if b.LeMillis >= 0 {
			out[millisToSeconds(b.LeMillis)] = total
		}
	}
	return total, out
}

// runtimeCollector exports the numeric runtime-info values. Its metric
// names depend on what the broker reports, so it describes nothing and is
// registered unchecked.
type runtimeCollector struct {
	info func() map[string]string
}

func (c *runtimeCollector) Describe(chan<- *prometheus.Desc) {}

func (c *runtimeCollector) Collect(ch chan<- prometheus.Metric) {
	info := c.info()
	seen := make(map[string]bool, len(info))
	for _, key := range slices.Sorted(maps.Keys(info)) {
		v, ok := runtimeValue(info[key])
		if !ok {
			continue
		}
		name, ok := runtimeMetricName(key)
		if !ok || seen[name] {
			// Two keys that differ only in characters a metric name
			// cannot hold would make the whole scrape fail.
			continue
		}
		seen[name] = true
		desc := prometheus.NewDesc(name, "Runtime info "+key+" (GET_BROKER_RUNTIME_INFO).", nil, nil)
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v)
	}
}

// runtimeValue reads a runtime-info value as a number. RocketMQ's tps keys
// (putTps, getTotalTps, …) hold three numbers, the rates over 10 s, 60 s
// and 600 s; the first, the most current, is taken. Booleans are 0/1.
// Anything else ("Total : 10 GiB, Free : …", version strings) is not a
// gauge and is skipped.
func runtimeValue(s string) (float64, bool) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return 0, false
	}
	switch fields[0] {
	case "true":
		return 1, len(fields) == 1
	case "false":
		return 0, len(fields) == 1
	}
	var first float64
	for i, f := range fields {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, false
		}
		if i == 0 {
			first = v
		}
	}
	return first, true
}

// runtimeMetricName keeps RocketMQ's key as it is (sluice_runtime_putTps),
// so the metric is found under the name operators know; characters a
// metric name cannot hold become '_'.
func runtimeMetricName(key string) (string, bool) {
	if key == "" {
		return "", false
	}
	var b strings.Builder
	b.WriteString(namespace + "_runtime_")
	for _, r := range key {
		if r < 0x80 && (r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String(), true
}

func millisToSeconds(ms int64) float64 { return float64(ms) / 1000 }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// collectFronts splits the processors' busy answers by front: the gRPC
// front counts its own, the rest came through the remoting port.
func collectFronts(ch chan<- prometheus.Metric, busy map[string]uint64, front *tree.FrontInfo) {
	for _, kind := range slices.Sorted(maps.Keys(busy)) {
		n := busy[kind]
		if front != nil {
			n -= min(n, front.Busy[kind])
		}
		ch <- prometheus.MustNewConstMetric(descFrontBusy, prometheus.CounterValue, float64(n), "remoting", kind)
	}
	if front == nil {
		return
	}
	for _, kind := range slices.Sorted(maps.Keys(front.Busy)) {
		ch <- prometheus.MustNewConstMetric(descFrontBusy, prometheus.CounterValue, float64(front.Busy[kind]), front.Front, kind)
	}
	for _, rpc := range slices.Sorted(maps.Keys(front.Requests)) {
		ch <- prometheus.MustNewConstMetric(descFrontRPCs, prometheus.CounterValue, float64(front.Requests[rpc]), front.Front, rpc)
	}
}
