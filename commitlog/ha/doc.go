// Package ha is RocketMQ 4.x master/slave replication's byte stream
// (HAService, HAConnection, HAClient), wire-compatible with RocketMQ 4.9:
//
//	slave → master   8 bytes: the slave's max physical offset (big-endian),
//	                 on connecting, every heartbeat interval and after each
//	                 transfer it appended
//	master → slave   12-byte header (physical offset int64, size int32) and
//	                 size bytes of the master's commit log, at most
//	                 haTransferBatchSize, never across a file; size 0 is a
//	                 heartbeat, sent when nothing was written for
//	                 haSendHeartbeatInterval
//
// A new slave (reporting 0) is streamed from the start of the master's
// last file. A link silent for haHousekeepingInterval is dropped, and the
// slave drops and re-establishes it on any offset mismatch.
//
// What it owns: the HA listener, its connections and the slave's link.
// What it may not touch: the store itself. It reads and appends through
// the MasterLog and SlaveLog interfaces (commitlog.Store implements both),
// so it imports nothing of Sluice's; it knows no actors — the supervisor
// wraps Service and Client in actors and shows their Stats in the tree.
package ha
