// Package commitlog is Sluice's message store: a RocketMQ-compatible commit
// log, the consume queues built from it, flushing, checkpointing, crash
// recovery and retention.
//
// # What it owns
//
// Everything under Config.StorePathRootDir:
//
//	<root>/commitlog/<20-digit start offset>     commit-log files, MappedFileSizeCommitLog bytes each
//	<root>/consumequeue/<topic>/<queueId>/<20-digit start byte offset>
//	                                             consume-queue files, 20-byte entries
//	<root>/checkpoint                             what is durable (see checkpoint.go)
//	<root>/abort                                  present while the store is open; left behind by a crash
//	<root>/lock                                   flock'ed so two processes never open one store
//
// (StorePathCommitLog may move the commit-log directory elsewhere.)
// The package touches no network, knows no actors and imports nothing else of
// Sluice. It answers with statuses (PutStatus, GetStatus) and errors; the
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
// # Concurrency contract
//
// Put must be called from a single goroutine (the broker's writer actor): it
// is the only appender and it owns the topic-queue → next-offset table. While
// a Put is appending, BeginTimeInLock reports when it started, so
// IsOSPageCacheBusy can be asked from any goroutine with one atomic load.
// Everything else (GetMessage, offsets, LookMessageByOffset, RuntimeInfo,
// the status checks) may be called from any goroutine at any time.
//
// Background goroutines owned by the store: the dispatcher (RocketMQ's reput
// service: commit log → consume queues), the commit-log flusher (async) or
// group-commit service (sync), the commit service (transient store pool
// only), the consume-queue flusher that also writes the checkpoint, and the
// cleaner (retention, disk-space check). Close stops them all.
//
// # Memory returned by reads
//
// GetMessage returns slices of the commit log's memory mapping, not copies.
// They stay valid until Close and for at least MappedFileDestroyGrace after
// retention deletes the file they point into, which is far longer than a
// pull response takes to write.
package commitlog
