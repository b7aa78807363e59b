package schedule

import (
	"fmt"
	"github.com/sluice-mq/sluice/actors/metadata"
	"maps"
)

// DelayOffsetFile is the progress file's name under
// <storePathRootDir>/config/ (StorePathConfigHelper#getDelayOffsetStorePath).
const DelayOffsetFile = "delayOffset.json"

// delayOffsetWrapper is delayOffset.json (DelayOffsetSerializeWrapper):
// level → the next queue offset of its SCHEDULE_TOPIC_XXXX queue to
// deliver. A Java broker writes the keys bare ({1:5}); metadata.LoadJSON
// reads that too, and PersistJSON writes them quoted.
type delayOffsetWrapper struct {
	OffsetTable map[int32]int64 `json:"offsetTable"`
}

// Persist writes delayOffset.json if an offset changed since the last
// write (ConfigManager#persist; RocketMQ calls it every
// flushDelayOffsetInterval and at shutdown). Safe from any goroutine.
func (s *ScheduleMessageService) Persist() error {
	if s.path == "" {
		return nil
	}
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	version := s.version.Load()
	if version == s.persisted {
		return nil
	}
	w := delayOffsetWrapper{OffsetTable: maps.Clone(s.other)}
	if w.OffsetTable == nil {
		w.OffsetTable = map[int32]int64{}
	}
	for _, lv := range s.levels {
		off := lv.offset.Load()
		// A level that never moved stays out, as in RocketMQ's table.
		if off > 0 || lv.loaded {
			w.OffsetTable[lv.level] = off
		}
	}
	if err := metadata.PersistJSON(s.path, w); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	s.persisted = version
	return nil
}
