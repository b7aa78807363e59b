// Package timer is RocketMQ 5's TimerMessageStore as broker logic: timer
// messages, sent with TIMER_DELIVER_MS (epoch ms), TIMER_DELAY_SEC or
// TIMER_DELAY_MS (from now), delivered at that time to the precision
// (timerPrecisionMs), up to timerMaxDelaySec ahead.
//
// On the way in (ToTimerTopic, called by the send path) a message due in
// the future is parked as RocketMQ parks it: TIMER_OUT_MS set to its time
// rounded down to the precision, REAL_TOPIC and REAL_QID to where it was
// going, and stored in rmq_sys_wheel_timer queue 0. A message whose time
// is already past is stored in its topic at once; one due beyond
// timerMaxDelaySec is refused with RocketMQ's MESSAGE_ILLEGAL answer. A
// delay level (DELAY > 0) wins over timer properties, which are then
// dropped, as in HookUtils#checkIfTimerMessage.
//
// TimerMessageStore indexes the timer queue's entries in a timer log and
// wheel (commitlog/timer) and, once a slot's tick is over, puts each of its
// messages back into its real topic and queue through the writer
// (TIMER_ENQUEUE_MS, TIMER_DEQUEUE_MS set; UNIQ_KEY and TIMER_OUT_MS
// kept). A put that fails or finds the store busy is tried again 100 ms
// later, never skipped; only records retention already deleted, or that
// name no real topic, are passed over with a log line.
//
// # What it owns
//
// <storePathRootDir>/timerlog/ (the index, see commitlog/timer) and
// <storePathRootDir>/config/timercheck.json: the read time (every slot
// before it delivered), the log's synced position and the timer queue
// offset indexed up to, written atomically (metadata.PersistJSON) every
// timerFlushIntervalMs after the log is synced, and at Stop. A clean stop
// resumes exactly; after a crash, the slots read since the last checkpoint
// are read again (their messages delivered twice, never lost) and the
// queue entries past the log's last unit are indexed again.
//
// It owns no actor and no goroutine. The broker's timer actor calls Tick
// periodically and whenever Config.Wake asks, and Stop at shutdown,
// before the writer stops. At most one batch of puts is in the writer.
//
// It may use actors (the writer's job), actors/metadata (config files),
// actors/tree (its Bucket, for the lateness histogram),
// actors/schedule (the parking helpers shared with delay levels),
// commitlog, commitlog/timer and remoting; it must not import protoactor,
// supervisor or cmd.
package timer
