package brokerconf

import (
	"fmt"

	"github.com/sluice-mq/sluice/commitlog"
)

// storeFields binds the message store's keys (RocketMQ's
// MessageStoreConfig); brokerRole is bound with the broker's keys.
func (c *Config) storeFields(f fields, s *commitlog.Config) {
	f.str("storePathRootDir", &s.StorePathRootDir)
	f.str("storePathCommitLog", &s.StorePathCommitLog)
	f.int64("mappedFileSizeCommitLog", &s.MappedFileSizeCommitLog)
	f.int64("mappedFileSizeConsumeQueue", &s.MappedFileSizeConsumeQueue)
	f.custom("flushDiskType", func(v string) error {
		t, err := commitlog.ParseFlushDiskType(v)
		if err != nil {
			return fmt.Errorf("want ASYNC_FLUSH or SYNC_FLUSH")
		}
		s.FlushDiskType = t
		return nil
	}, func() string { return s.FlushDiskType.String() })
	f.int64("flushIntervalCommitLog", &s.FlushIntervalCommitLog)
	f.int64("commitIntervalCommitLog", &s.CommitIntervalCommitLog)
	f.int64("syncFlushTimeout", &s.SyncFlushTimeout)
	f.bool("commitLogWriteThrough", &s.CommitLogWriteThrough)
	f.bool("transientStorePoolEnable", &s.TransientStorePoolEnable)
	f.int("transientStorePoolSize", &s.TransientStorePoolSize)
	f.int("maxMessageSize", &s.MaxMessageSize)
	f.int("fileReservedTime", &s.FileReservedTime)
	f.str("deleteWhen", &s.DeleteWhen)
	f.int("diskMaxUsedSpaceRatio", &s.DiskMaxUsedSpaceRatio)
	f.int64("osPageCacheBusyTimeOutMills", &s.OSPageCacheBusyTimeOutMills)
	f.bool("recoverSkipCorruptedFiles", &s.SkipCorruptedFiles)
	f.int64("flushIntervalConsumeQueue", &s.FlushIntervalConsumeQueue)
	f.bool("warmMapedFileEnable", &s.WarmMapedFileEnable)
	f.int("flushLeastPagesWhenWarmMapedFile", &s.FlushLeastPagesWhenWarmMapedFile)
	f.custom("messageDelayLevel", func(v string) error {
		if _, err := commitlog.ParseMessageDelayLevel(v); err != nil {
			return fmt.Errorf("want delays such as \"1s 5s 10s 1m 2h 1d\", one space apart: %w", err)
		}
		s.MessageDelayLevel = v
		return nil
	}, func() string { return s.MessageDelayLevel })
	f.int64("flushDelayOffsetInterval", &s.FlushDelayOffsetInterval)
	f.bool("messageIndexEnable", &s.MessageIndexEnable)
	f.bool("messageIndexSafe", &s.MessageIndexSafe)
	f.int("maxHashSlotNum", &s.MaxHashSlotNum)
	f.int("maxIndexNum", &s.MaxIndexNum)
}
