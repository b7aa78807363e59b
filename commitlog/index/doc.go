// Package index is RocketMQ's message index (store/index: IndexFile,
// IndexHeader, IndexService): look-ups of commit-log offsets by message key
// or unique key within a time range.
//
// # What it owns
//
// The files under <storePathRootDir>/index, each named by the local time it
// was created (yyyyMMddHHmmssSSS, UtilAll.timeMillisToHumanString) and laid
// out byte for byte as RocketMQ 4.9 lays them out, big-endian:
//
//	header (40 bytes)
//	  beginTimestamp i64 | endTimestamp i64 | beginPhyOffset i64 | endPhyOffset i64 |
//	  hashSlotCount i32 | indexCount i32
//	hash slots: maxHashSlotNum × i32        the newest entry of the slot, 0 = none
//	entries:    maxIndexNum × 20 bytes
//	  keyHash i32 | phyOffset i64 | timeDiff i32 (seconds after beginTimestamp) | prevIndex i32
//
// Entry 0 is never used (indexCount starts at 1), so a file holds
// maxIndexNum-1 keys; the entries of one slot are linked newest first
// through prevIndex. A key is indexed as "<topic>#<key>" under Java's
// String#hashCode (over UTF-16 code units), made non-negative with
// Math.abs (Integer.MIN_VALUE gives 0).
//
// The file is sparse (its length set with ftruncate); the header and the
// slots are allocated on disk when it is created and the entries in steps
// ahead of the writer, so no store into the mapping lands in a hole (a full
// disk is an ENOSPC from fallocate, never a SIGBUS). While the disk is
// full, keys are not indexed and a line is logged.
//
// # Concurrency
//
// One goroutine (the commit log's dispatcher) calls BuildIndex, Recover and
// Reindex. QueryOffset, Flush, DeleteExpiredFile and the accessors may be
// called from any goroutine. An entry is written before the slot that
// points at it is published (atomically), and the entry count after that,
// so a reader that loads a slot and then the count never follows a link to
// an entry not yet written and never waits for the writer. Deleting a file
// takes the file list's write lock, which every query holds for reading
// while it reads mappings.
//
// # Durability and recovery
//
// The header is kept up to date in the mapping on every put, so a killed
// process leaves the page cache holding a consistent file. Flush forces
// full files (and, with messageIndexSafe, the file being written) to disk;
// the store records the result in its checkpoint. After a restart Recover
// removes the entries of records the commit log will dispatch again (an
// exact undo: each removed entry gives its slot back its prevIndex), so
// re-dispatch rebuilds them without duplicates; after a crash it first
// checks the structure of every file written since the last flush and
// drops a damaged one, answering from where the commit log must be
// indexed again.
//
// The package imports nothing of Sluice but remoting/message (the
// properties codec) and knows nothing of the commit log's files.
package index
