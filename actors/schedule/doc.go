// Package schedule is RocketMQ's ScheduleMessageService as broker logic:
// delay levels, for delayed sends (property DELAY=n) and for the backoff of
// consumer retries (CONSUMER_SEND_MSG_BACK).
//
// A delayed message is not stored in its topic. ToScheduleTopic turns it
// into its parked form, as CommitLog#asyncPutMessage does: topic
// SCHEDULE_TOPIC_XXXX, queue n-1 (a level above the highest is the
// highest), its real topic and queue in REAL_TOPIC and REAL_QID. The store
// gives each entry of those queues its delivery time as tags code
// (storeTimestamp + the level's delay; commitlog/delay_level.go).
// ScheduleMessageService reads each level's queue from its progress
// offset and, for every entry that is due, puts the real message back
// (messageTimeup: REAL_TOPIC, REAL_QID, DELAY removed, everything else
// kept) through the writer; a level's offset moves past an entry only once
// that put answered PutOK. A put that fails — page cache busy, disk full,
// any error — is tried again 100 ms later (DELAY_FOR_A_WHILE), never
// skipped. Only entries whose record retention already deleted, and
// records that name no real topic (a bug), are passed over, with a log
// line.
//
// # What it owns
//
// <storePathRootDir>/config/delayOffset.json, RocketMQ's format
// ({"offsetTable":{"1":N,…}}, level → the next queue offset to deliver),
// written atomically with actors/metadata's config-file helpers every
// flushDelayOffsetInterval (10 s) and at Stop. A clean stop therefore
// resumes exactly; after a crash a level restarts from its last written
// offset and may deliver a few messages twice, never lose one.
//
// It owns no actor and no goroutine. The broker's schedule actor calls
// Tick about every 100 ms (RocketMQ's per-level DeliverDelayedMessageTimerTask
// timers) and again whenever Config.Wake says a level's batch is done, and
// Stop at shutdown, before the writer stops. Each level has at most one
// batch of puts in the writer at a time; the writer's window bounds the
// rest.
//
// # What operators see
//
// Inspect (per level: waiting, next and oldest due, lateness, deliveries,
// busy back-offs), InspectNode (the same plus the lateness histogram, for
// the actor tree and so the metrics) and BuildRunningStats
// (scheduleMessageOffset_<level> for GET_BROKER_RUNTIME_INFO) are called
// from other goroutines at any time: they read atomics that a pass and the
// writer's callbacks set under the level's lock, and never take that lock.
//
// It may use actors (the writer's job), metadata (config files, topic
// names), commitlog and remoting/message; it must not import protoactor,
// supervisor or cmd.
package schedule
