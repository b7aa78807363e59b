// Package stats is RocketMQ's BrokerStatsManager, StoreStatsService and
// BrokerStats as one component: counters per topic and per topic@group
// (TOPIC_PUT_NUMS, GROUP_GET_NUMS …), sampled into RocketMQ's windows
// (StatsItem: the last minute at 10 s, the last hour at 10 min, the last
// day at 1 h; StoreStatsService: the TPS over 10 s, 1 min and 10 min at 1 s),
// and the message totals at the last two midnights (BrokerStats).
//
// The send and pull handlers feed it with one call each; on that hot path
// it costs a lock-free map look-up and atomic adds, with no allocation once
// a key has been seen. Sampling runs on one goroutine (Manager.Start, or
// Tick from tests) and is the only place that takes locks.
//
// It owns the counters only and imports nothing of ours: it may not touch
// the store, the metadata or any actor, so that any handler set can call it.
package stats
