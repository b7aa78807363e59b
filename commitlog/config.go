package commitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FlushDiskType says when a put counts as stored: broker.conf flushDiskType.
type FlushDiskType int

const (
	// AsyncFlush acknowledges once the record is in the page cache (or the
	// transient pool buffer); a flusher forces it to disk every
	// FlushIntervalCommitLog. RocketMQ's default.
	AsyncFlush FlushDiskType = iota
	// SyncFlush acknowledges a Put only after the data is on disk; one sync
	// serves the whole batch (group commit).
	SyncFlush
)

// String returns the broker.conf spelling.
func (t FlushDiskType) String() string {
	switch t {
	case AsyncFlush:
		return "ASYNC_FLUSH"
	case SyncFlush:
		return "SYNC_FLUSH"
	}
	return "FlushDiskType(" + strconv.Itoa(int(t)) + ")"
}

// ParseFlushDiskType reads "ASYNC_FLUSH" or "SYNC_FLUSH" (case-insensitive).
func ParseFlushDiskType(s string) (FlushDiskType, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "ASYNC_FLUSH":
		return AsyncFlush, nil
	case "SYNC_FLUSH":
		return SyncFlush, nil
	}
	return 0, fmt.Errorf("commitlog: unknown flushDiskType %q (want ASYNC_FLUSH or SYNC_FLUSH)", s)
}

// Sizes of the on-disk units.
const (
	// CQEntrySize is the size of one consume-queue entry: commit-log offset
	// int64, record size int32, tags hash code int64 (RocketMQ CQ_STORE_UNIT_SIZE).
	CQEntrySize = 20
	// DefaultMaxMessageSize is maxMessageSize's default, the body limit AppendRecord applies.
	DefaultMaxMessageSize = 4 << 20
	// MappedFileDestroyGrace is how long the mapping of a file deleted by
	// retention (or DeleteTopic) outlives the deletion, so that slices handed
	// out by GetMessage stay readable (RocketMQ destroyMapedFileIntervalForcibly).
	MappedFileDestroyGrace = 120 * time.Second
)

// Config holds the store's settings. Each field names its broker.conf key and
// RocketMQ default; DefaultConfig fills the defaults and Config.Set applies a
// broker.conf key.
type Config struct {
	// StorePathRootDir (storePathRootDir), default $HOME/store.
	StorePathRootDir string
	// StorePathCommitLog (storePathCommitLog), default <root>/commitlog.
	StorePathCommitLog string
	// MappedFileSizeCommitLog (mappedFileSizeCommitLog): bytes per commit-log file, 1 GiB.
	MappedFileSizeCommitLog int64
	// MappedFileSizeConsumeQueue (mappedFileSizeConsumeQueue): bytes per
	// consume-queue file, 6_000_000 (300_000 entries); must be a multiple of 20.
	MappedFileSizeConsumeQueue int64
	// FlushDiskType (flushDiskType), default AsyncFlush.
	FlushDiskType FlushDiskType
	// FlushIntervalCommitLog (flushIntervalCommitLog): async flush period in ms, 500.
	FlushIntervalCommitLog int64
	// CommitIntervalCommitLog (commitIntervalCommitLog): how often, in ms, the
	// transient pool's bytes are written into the file, 200.
	CommitIntervalCommitLog int64
	// SyncFlushTimeout (syncFlushTimeout): ms a SyncFlush Put waits for its
	// sync before answering PutFlushDiskTimeout, 5000.
	SyncFlushTimeout int64
	// CommitLogWriteThrough (commitLogWriteThrough, Sluice's own key,
	// default true): unless the transient pool is in use, the commit log's
	// appends are written into the file with pwrite(2) at the end of each
	// batch and forced with fdatasync, instead of being stored through the
	// mapping and forced with msync. With SyncFlush: after msync's writeback
	// the kernel write-protects the pages written, so the next append into
	// the same page through the mapping takes a page fault (tens of µs);
	// pwrite takes none. With AsyncFlush: the mapping needs the 8 MiB
	// prefault ahead of the writer (MADV_POPULATE_WRITE, 12 % of the
	// broker's CPU at 16 x 256 in flight), pwrite of a batch fills the
	// page cache without it. The bytes land in the same page cache, so
	// readers of the mapping see them. False keeps the mapping path. A
	// slave's AppendRaw follows it the same way.
	CommitLogWriteThrough bool
	// TransientStorePoolEnable (transientStorePoolEnable), default false.
	// Honoured only with AsyncFlush, as in RocketMQ 4.9; ignored (and logged)
	// with SyncFlush.
	TransientStorePoolEnable bool
	// TransientStorePoolSize (transientStorePoolSize): buffers of one
	// commit-log file each, mlock'ed, default 5.
	TransientStorePoolSize int
	// MaxMessageSize (maxMessageSize): body limit in bytes, 4 MiB; Put
	// answers PutMessageIllegal above it.
	MaxMessageSize int
	// FileReservedTime (fileReservedTime): hours a commit-log file is kept after
	// its last write, 72.
	FileReservedTime int
	// DeleteWhen (deleteWhen): ';'-separated hours of the day ("04") at which
	// expired files are deleted. Expired files are also deleted at any hour
	// while the disk is above DiskMaxUsedSpaceRatio.
	DeleteWhen string
	// DiskMaxUsedSpaceRatio (diskMaxUsedSpaceRatio): percent of the commit
	// log's file system above which Put answers PutServiceNotAvailable, 75.
	DiskMaxUsedSpaceRatio int
	// OSPageCacheBusyTimeOutMills (osPageCacheBusyTimeOutMills): an append
	// holding the lock longer than this (ms) makes IsOSPageCacheBusy true, 1000.
	OSPageCacheBusyTimeOutMills int64
	// SkipCorruptedFiles (recoverSkipCorruptedFiles, Sluice's own key, default
	// false). Crash recovery refuses to open a store in which a damaged record
	// is followed by valid data, since cutting there would drop good data, and
	// Open's error names the offset. With this set, recovery instead logs the
	// damage, closes the damaged file at the bad record with a BLANK marker
	// (the rest of that file is no longer served; the bytes stay on disk for
	// inspection) and carries on with the next file.
	SkipCorruptedFiles bool
	// FlushIntervalConsumeQueue (flushIntervalConsumeQueue): consume-queue
	// flush and checkpoint period in ms, 1000.
	FlushIntervalConsumeQueue int64
	// WarmMapedFileEnable (warmMapedFileEnable, sic, default false): the
	// allocate service faults every page of each new commit-log file in for
	// writing before the writer reaches it, so appends take no page faults.
	// The cost is writing the whole file once (zeros) to disk.
	WarmMapedFileEnable bool
	// FlushLeastPagesWhenWarmMapedFile (flushLeastPagesWhenWarmMapedFile):
	// with SyncFlush, warmed pages are forced to disk every this many pages,
	// 4096 (16 MiB).
	FlushLeastPagesWhenWarmMapedFile int
	// MessageDelayLevel (messageDelayLevel): the delay of each level,
	// space-separated, level 1 first, with units s, m, h, d (see
	// ParseMessageDelayLevel); default DefaultMessageDelayLevel, 18 levels
	// from 1s to 2h. The store times SCHEDULE_TOPIC_XXXX entries with it.
	MessageDelayLevel string
	// FlushDelayOffsetInterval (flushDelayOffsetInterval): ms between two
	// writes of delayOffset.json, 10000. The store does not use it: the
	// schedule service (actors/schedule) does, and it is here because it is
	// a MessageStoreConfig key, which brokerconf binds to this struct.
	FlushDelayOffsetInterval int64
	// MessageIndexEnable (messageIndexEnable, default true): the dispatcher
	// indexes every record's KEYS and UNIQ_KEY (commitlog/index). Off, the
	// index files already there are still queried and expire with the log.
	MessageIndexEnable bool
	// MessageIndexSafe (messageIndexSafe, default false): the index file
	// being written is forced to disk with every checkpoint, not only when
	// it fills; only a machine crash (not a killed process) tells the two
	// apart, and even then recovery rebuilds a damaged file from the log.
	MessageIndexSafe bool
	// MaxHashSlotNum (maxHashSlotNum, 5_000_000) and MaxIndexNum
	// (maxIndexNum, 20_000_000) size each index file (420 MB, sparse).
	MaxHashSlotNum int
	MaxIndexNum    int

	// BrokerRole (brokerRole, default AsyncMaster). A Slave's store takes
	// no Put (PutServiceNotAvailable, as RocketMQ's DefaultMessageStore
	// answers "message store is slave mode"): its only appender is the HA
	// client, through AppendRaw. A SyncMaster's Append waits, beside any
	// SyncFlush wait, for a slave to acknowledge the batch (replication.go).
	BrokerRole BrokerRole
	// HASlaveFallbehindMax (haSlaveFallbehindMax, 256 MiB): a SyncMaster
	// answers PutSlaveNotAvailable at once when the slave is further
	// behind than this (RocketMQ's HAService#isSlaveOK).
	HASlaveFallbehindMax int64

	// DiskUsage reports the used and total bytes of the file system holding
	// path. Nil means fstatfs(2) of the commit-log directory. Tests and
	// demos set it to fake a full disk. It is called from several
	// goroutines, as often as every put while the disk is full.
	DiskUsage func(path string) (used, total uint64, err error)
}

// DefaultConfig returns RocketMQ's defaults with the root under $HOME/store.
func DefaultConfig() Config {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "."
	}
	return Config{
		StorePathRootDir:            filepath.Join(home, "store"),
		MappedFileSizeCommitLog:     1 << 30,
		MappedFileSizeConsumeQueue:  300_000 * CQEntrySize,
		FlushDiskType:               AsyncFlush,
		FlushIntervalCommitLog:      500,
		CommitIntervalCommitLog:     200,
		SyncFlushTimeout:            5000,
		HASlaveFallbehindMax:        256 << 20,
		TransientStorePoolEnable:    false,
		CommitLogWriteThrough:       true,
		TransientStorePoolSize:      5,
		MaxMessageSize:              DefaultMaxMessageSize,
		FileReservedTime:            72,
		DeleteWhen:                  "04",
		DiskMaxUsedSpaceRatio:       75,
		OSPageCacheBusyTimeOutMills: 1000,
		FlushIntervalConsumeQueue:   1000,

		WarmMapedFileEnable:              false,
		FlushLeastPagesWhenWarmMapedFile: 1024 / 4 * 16,
		MessageDelayLevel:                DefaultMessageDelayLevel,
		FlushDelayOffsetInterval:         10_000,
		MessageIndexEnable:               true,
		MessageIndexSafe:                 false,
		MaxHashSlotNum:                   5_000_000,
		MaxIndexNum:                      5_000_000 * 4,
	}
}

// commitLogDir is StorePathCommitLog or its default.
func (c *Config) commitLogDir() string {
	if c.StorePathCommitLog != "" {
		return c.StorePathCommitLog
	}
	return filepath.Join(c.StorePathRootDir, "commitlog")
}

func (c *Config) consumeQueueDir() string { return filepath.Join(c.StorePathRootDir, "consumequeue") }

func (c *Config) indexDir() string { return filepath.Join(c.StorePathRootDir, "index") }

// poolEnabled mirrors RocketMQ 4.9's MessageStoreConfig#isTransientStorePoolEnable.
func (c *Config) poolEnabled() bool {
	return c.TransientStorePoolEnable && c.FlushDiskType == AsyncFlush && c.BrokerRole != Slave
}

// writeThrough says whether the commit log is written with pwrite (see
// CommitLogWriteThrough).
func (c *Config) writeThrough() bool {
	return c.CommitLogWriteThrough && !c.poolEnabled()
}

// validate fills zero values with defaults where a zero makes no sense and
// refuses values the store cannot work with.
func (c *Config) validate() error {
	d := DefaultConfig()
	if c.StorePathRootDir == "" {
		c.StorePathRootDir = d.StorePathRootDir
	}
	if c.MappedFileSizeCommitLog == 0 {
		c.MappedFileSizeCommitLog = d.MappedFileSizeCommitLog
	}
	if c.MappedFileSizeConsumeQueue == 0 {
		c.MappedFileSizeConsumeQueue = d.MappedFileSizeConsumeQueue
	}
	if c.FlushIntervalCommitLog <= 0 {
		c.FlushIntervalCommitLog = d.FlushIntervalCommitLog
	}
	if c.CommitIntervalCommitLog <= 0 {
		c.CommitIntervalCommitLog = d.CommitIntervalCommitLog
	}
	if c.SyncFlushTimeout <= 0 {
		c.SyncFlushTimeout = d.SyncFlushTimeout
	}
	if c.HASlaveFallbehindMax <= 0 {
		c.HASlaveFallbehindMax = d.HASlaveFallbehindMax
	}
	if c.TransientStorePoolSize <= 0 {
		c.TransientStorePoolSize = d.TransientStorePoolSize
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = d.MaxMessageSize
	}
	if c.DeleteWhen == "" {
		c.DeleteWhen = d.DeleteWhen
	}
	if c.DiskMaxUsedSpaceRatio <= 0 {
		c.DiskMaxUsedSpaceRatio = d.DiskMaxUsedSpaceRatio
	}
	if c.OSPageCacheBusyTimeOutMills <= 0 {
		c.OSPageCacheBusyTimeOutMills = d.OSPageCacheBusyTimeOutMills
	}
	if c.FlushIntervalConsumeQueue <= 0 {
		c.FlushIntervalConsumeQueue = d.FlushIntervalConsumeQueue
	}
	if c.FlushLeastPagesWhenWarmMapedFile <= 0 {
		c.FlushLeastPagesWhenWarmMapedFile = d.FlushLeastPagesWhenWarmMapedFile
	}
	if c.MessageDelayLevel == "" {
		c.MessageDelayLevel = d.MessageDelayLevel
	}
	if c.FlushDelayOffsetInterval <= 0 {
		c.FlushDelayOffsetInterval = d.FlushDelayOffsetInterval
	}
	if c.MaxHashSlotNum <= 0 {
		c.MaxHashSlotNum = d.MaxHashSlotNum
	}
	if c.MaxIndexNum <= 0 {
		c.MaxIndexNum = d.MaxIndexNum
	}
	var errs []error
	if c.MaxIndexNum < 2 {
		errs = append(errs, fmt.Errorf("maxIndexNum %d leaves no room for an index entry", c.MaxIndexNum))
	}
	if 40+4*int64(c.MaxHashSlotNum)+20*int64(c.MaxIndexNum) > 1<<31-1 {
		errs = append(errs, fmt.Errorf("maxHashSlotNum %d and maxIndexNum %d make index files above 2 GiB", c.MaxHashSlotNum, c.MaxIndexNum))
	}
	if c.MappedFileSizeCommitLog < 4096 {
		errs = append(errs, fmt.Errorf("mappedFileSizeCommitLog %d is below 4096", c.MappedFileSizeCommitLog))
	}
	if c.MappedFileSizeConsumeQueue < CQEntrySize || c.MappedFileSizeConsumeQueue%CQEntrySize != 0 {
		errs = append(errs, fmt.Errorf("mappedFileSizeConsumeQueue %d is not a positive multiple of %d", c.MappedFileSizeConsumeQueue, CQEntrySize))
	}
	if c.FlushDiskType != AsyncFlush && c.FlushDiskType != SyncFlush {
		errs = append(errs, fmt.Errorf("flushDiskType %d unknown", int(c.FlushDiskType)))
	}
	if c.DiskMaxUsedSpaceRatio > 100 {
		errs = append(errs, fmt.Errorf("diskMaxUsedSpaceRatio %d is above 100", c.DiskMaxUsedSpaceRatio))
	}
	if _, err := parseDeleteWhen(c.DeleteWhen); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseMessageDelayLevel(c.MessageDelayLevel); err != nil {
		errs = append(errs, fmt.Errorf("messageDelayLevel %q: %w", c.MessageDelayLevel, err))
	}
	if c.FileReservedTime < 0 {
		errs = append(errs, fmt.Errorf("fileReservedTime %d is negative", c.FileReservedTime))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("commitlog: invalid config: %w", err)
	}
	return nil
}

// parseDeleteWhen turns "04;16" into a set of hours.
func parseDeleteWhen(s string) ([24]bool, error) {
	var hours [24]bool
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		h, err := strconv.Atoi(part)
		if err != nil || h < 0 || h > 23 {
			return hours, fmt.Errorf("deleteWhen %q: %q is not an hour 0-23", s, part)
		}
		hours[h] = true
	}
	return hours, nil
}
