// Package metrics exposes the broker's flow-control state to Prometheus.
//
// Everything it reports is read, at scrape time, from two functions the
// broker passes in: a snapshot of the actor tree (the same tree.Snapshot
// that SLUICE_GET_ACTOR_TREE returns and sluicectl draws) and the runtime
// info table (GET_BROKER_RUNTIME_INFO's key/value pairs). So the metrics,
// the admin answer and the CLI can never disagree, and the package keeps
// no counters of its own that could drift from the broker's.
//
// It uses its own prometheus.Registry rather than the global one:
// protoactor and the rocketmq client register collectors globally, and a
// broker started twice in one test process must not collide.
//
// Metric families (all prefixed sluice_):
//
//	requests_total{processor,outcome}      counter  outcome = processed or a busy tag (REJECTREQUEST, OVERLOAD, …)
//	busy_answers_total{kind}               counter  busy answers of all processors, by tag
//	processor_panics_total{processor}      counter
//	mailbox_depth{processor}               gauge    requests waiting in the processor's queue
//	mailbox_capacity{processor}            gauge    sendThreadPoolQueueCapacity and friends
//	oldest_wait_seconds{processor}         gauge    age of the request at the head of the queue
//	max_wait_in_queue_seconds{processor}   gauge    the fast-failure limit (waitTimeMillsIn…Queue); 0 = exempt
//	writer_lock_hold_current_seconds       gauge    how long the append in progress has held the lock (pageCacheLockTimeMills)
//	writer_page_cache_busy                 gauge    1 while the hold exceeds osPageCacheBusyTimeOutMills
//	writer_page_cache_busy_threshold_seconds gauge  osPageCacheBusyTimeOutMills
//	writer_lock_hold_seconds               histogram of appends by writer hold: the lock hold, plus the sync wait under SYNC_FLUSH
//	writer_mailbox_depth                   gauge
//	writer_appended_messages_total, writer_batches_total  counters
//	transient_pool_enabled, transient_pool_deficient      gauges 0/1
//	transient_pool_free_buffers, transient_pool_buffers   gauges
//	fast_failure_enabled, fast_failure_sweep_period_seconds, fast_failure_last_sweep_timestamp_seconds gauges
//	fast_failure_cleaned_total{kind}       counter  PCBUSY_CLEAN_QUEUE, TIMEOUT_CLEAN_QUEUE
//	busy_periods_total, busy_period_active counter, gauge
//	connections{language}                  gauge
//	inflight_requests                      gauge    requests received and not yet answered, all connections
//	broker_info{broker_name,addr}          gauge    always 1
//	transaction_half_pending               gauge    half messages without a decision
//	transaction_ended_total{decision}      counter  commit, rollback
//	transaction_end_duplicates_total       counter  END_TRANSACTION repeating a decision (nothing changed)
//	transaction_end_refused_total          counter  no such half message, or a contradicting or late decision
//	transaction_store_failures_total       counter  commits or op records the store did not take
//	transaction_decisions_in_flight        gauge
//	transaction_checks_total{outcome}      counter  CHECK_TRANSACTION_STATE sent, or unsent (no live producer)
//	transaction_discarded_total            counter  moved to TRANS_CHECK_MAX_TIME_TOPIC
//	transaction_check_rounds_total         counter
//	transaction_check_lag_messages{queue}  gauge    half and op entries the check has not passed yet
//	schedule_level_delay_seconds{level}    gauge    messageDelayLevel's delay of each level
//	schedule_messages_waiting{level}       gauge    delayed messages in SCHEDULE_TOPIC_XXXX not delivered yet
//	schedule_deliveries_total{level}       counter  delayed messages stored back in their real topic
//	schedule_overdue_seconds{level}        gauge    how far past due the level's oldest undelivered message is (0: none)
//	schedule_backoffs_total{level,reason}  counter  passes that waited 100 ms: busy (page cache), failed (a put failed)
//	schedule_passed_over_total{level}      counter  entries skipped: record already deleted, or no real topic
//	schedule_delivery_lateness_seconds     histogram of deliveries by store time after due time
//	runtime_<key>                          gauge    every numeric runtime-info value, under RocketMQ's key name
//
// Durations are in seconds, as Prometheus expects; the RocketMQ names in
// the help texts say which millisecond setting each one mirrors.
package metrics
