// Package commitlog is Sluice's message store: a RocketMQ-compatible commit
// log, the consume queues built from it, flushing, checkpointing, crash
// recovery and retention.
//
// # What it owns
//
// Everything under Config.StorePathRootDir:
//
//	<root>/commitlog/<20-digit start offset>     commit-log files, MappedFileSizeCommitLog bytes each,
//	                                             fully allocated; the next one exists before it is used
//	<root>/consumequeue/<topic>/<queueId>/<20-digit start byte offset>
//	                                             consume-queue files, 20-byte entries, sparse
//	<root>/consumequeue/<topic>/<queueId>/rebuild-from-<20-digit byte offset>
//	                                             empty; only while Open rebuilds a damaged queue
//	<root>/index/<yyyyMMddHHmmssSSS>              message index files (commitlog/index; message_index.go)
//	<root>/checkpoint                             what is durable (see checkpoint.go)
//	<root>/abort                                  present while the store is open; left behind by a crash
//	<root>/lock                                   flock'ed so two processes never open one store
//
// (StorePathCommitLog may move the commit-log directory elsewhere.)
// The package touches no network, knows no actors and imports nothing else of
// Sluice but remoting/message and its own commitlog/index. It answers with statuses (PutStatus, GetStatus) and errors; the
// broker's processors map them to RocketMQ response codes.
//
// # Records
//
// A record is RocketMQ's stored message layout, magic V1 (0xDAA320A7),
// big-endian, byte-identical to what the Java broker writes and what
// rocketmq-client-go's primitive.DecodeMessage reads:
//
//	+---------+-------+--------+---------+------+-------------+----------------+---------+
//	|TOTALSIZE| MAGIC | BODYCRC| QUEUEID | FLAG | QUEUEOFFSET | PHYSICALOFFSET | SYSFLAG |
//	|   4     |   4   |   4    |    4    |  4   |      8      |        8       |    4    |
//	+---------+-------+--------+---------+------+-------------+----------------+---------+
//	| BORNTIMESTAMP | BORNHOST | STORETIMESTAMP | STOREHOST | RECONSUMETIMES | PREPARED TX OFFSET |
//	|       8       |  8 / 20  |       8        |   8 / 20  |        4       |          8         |
//	+---------------+----------+----------------+-----------+----------------+--------------------+
//	| BODYLEN | BODY | TOPICLEN | TOPIC | PROPLEN | PROPERTIES |
//	|    4    |  n   |    1     |   t   |    2    |     p      |
//	+---------+------+----------+-------+---------+------------+
//
// Hosts are IPv4 (4-byte address + int32 port) unless sysFlag bit 0x10
// (born host) or 0x20 (store host) says IPv6 (16 + 4). BODYCRC is
// CRC-32/IEEE of the body masked with 0x7fffffff. AppendRecord encodes a
// record into the caller's buffer before the writer is involved; Put fills
// QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP where the record lands.
//
// When a record does not fit in what is left of a commit-log file (msgLen+8 >
// remaining), the file is closed with an 8-byte BLANK marker (TOTALSIZE =
// remaining, MAGIC = 0xCBD43194) and the record goes to the start of the next
// file, exactly as RocketMQ does. A PutRequest (one batch for one queue)
// never spans two files.
//
// # Delay levels
//
// A consume-queue entry's tags code is the TAGS hash, except in
// SCHEDULE_TOPIC_XXXX, where a record with DELAY=n > 0 gets its delivery
// time, storeTimestamp + level n's delay from MessageDelayLevel (n capped
// at the highest level), as RocketMQ's CommitLog#checkMessageAndReturnSize
// lays it out. Dispatch, recovery and Open's verification and rebuild all
// compute it the same way (delay_level.go). The schedule service that
// reads those queues is actors/schedule; ReadQueueEntries is its view of
// a queue.
//
// # Disk space
//
// A commit-log file is allocated whole (fallocate) when it is created, so
// appending into its mapping never needs disk space. A consume-queue file
// is created at its full length but sparse (ftruncate) and backed by disk
// blocks in steps ahead of its entries (4 KiB doubling up to 1 MiB): an
// idle queue costs a few KiB, not a 6 MB file, and no store into a mapping
// ever lands in a hole, where a full disk would raise SIGBUS. A full disk
// is an ENOSPC returned by fallocate instead.
//
// Put reserves the consume-queue space of every message before appending
// it (creating the queue's files if needed); a request that cannot get it
// fails with PutCreateMappedFileFailed and is not appended. So an
// acknowledged message can always be indexed, even when the disk fills up
// right after. Should a consume-queue write still fail in dispatch (records
// recovery re-dispatches were never reserved), only that queue stalls: it
// is retried on every dispatch pass from where it stopped, the others go
// on, the failure is logged once, and the checkpoint and retention hold
// back to it (RuntimeInfo dispatchStalledQueues counts such queues).
//
// The used ratio of the commit log's file system (DiskMaxUsedSpaceRatio)
// is read with fstatfs after every file the store creates or grows, every
// 16 MiB appended and by the cleaner; above it Put and CheckStoreStatus
// answer PutServiceNotAvailable, and each refused call reads it again, so
// writes resume as soon as space is freed, without a restart. The limit is
// overshot by at most the file whose creation crossed it.
//
// # Start-up
//
// After an unclean stop (the abort file is present) the end of the commit
// log is checked record by record and a torn tail cut (see
// CorruptionError); after a clean stop the checkpoint gives the end, unless
// a commit-log file is shorter than configured, in which case its records
// are checked too, and Open refuses when records flushed before the stop
// are gone (recoverSkipCorruptedFiles opens without them).
//
// Consume queues are verified at every start, clean or not: a file shorter
// than configured is reported and never silently zero-extended, and each
// queue's last entries are compared with the records they point at
// (topic, queue id, physical offset, size, queue offset, tags code). A
// queue found short or inconsistent is cut before the damage and rebuilt
// from the commit log, from the end of its last good entry, before the
// store takes writes; Open fails, naming the queue, when that is not
// possible (a file longer than configured, a full disk). A rebuild-from
// marker in the queue's directory records the damage from before the queue
// is touched until the rebuilt entries are on disk, so a failed Open or a
// crash in between does not forget it. Only the damaged queues are
// rebuilt, not re-dispatched wholesale: records of topics deleted long ago
// do not come back.
//
// # Concurrency contract
//
// Put must be called from a single goroutine (the broker's writer actor): it
// is the only appender and it owns every queue's next offset. A Put first
// checks its records and makes ready what the append needs (consume-queue
// space, the next commit-log file); only then, while it copies records into
// the log, does BeginTimeInLock report when it started, so that
// IsOSPageCacheBusy, asked from any goroutine with one atomic load,
// measures the append and not Sluice's bookkeeping. A roll inside that
// window only swaps in a file made beforehand. DeleteTopic takes the
// topic's queues out under the writer's lock without file I/O and deletes
// their files afterwards. Everything else (GetMessage, offsets,
// LookMessageByOffset, RuntimeInfo, the status checks) may be called from
// any goroutine at any time.
//
// On a Slave store (Config.BrokerRole) Put answers PutServiceNotAvailable
// and the only appender is AppendRaw, the HA client's, which takes the
// master's bytes at exactly their offsets under the same lock (commitlog/ha
// streams them; ReadRaw is the master's side). Under SyncMaster the
// group-commit wait has a second stage, the slave's acknowledgement
// (replication.go, sharing group_commit.go's FIFO and watcher).
//
// Background goroutines owned by the store: the allocate service
// (RocketMQ's AllocateMappedFileService: it creates the next commit-log
// file, warming it with WarmMapedFileEnable, and Close deletes it if
// unused), the dispatcher (RocketMQ's reput service: commit log → consume
// queues), the commit-log flusher (async) or group-commit service (sync),
// the commit service (transient store pool only), the consume-queue flusher
// that also writes the checkpoint, and the cleaner (retention, disk-space
// check). Close stops them all.
//
// # Memory returned by reads
//
// GetMessage returns slices of the commit log's memory mapping, not copies.
// They stay valid until Close and for at least MappedFileDestroyGrace after
// retention deletes the file they point into, which is far longer than a
// pull response takes to write.
package commitlog
