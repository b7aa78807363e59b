package commitlog

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mq/sluice/remoting/message"
)

// Delay levels (RocketMQ's ScheduleMessageService, seen from the store).
//
// A message sent with DELAY=n (n > 0) is stored in SCHEDULE_TOPIC_XXXX,
// queue n-1, with its real topic and queue in REAL_TOPIC and REAL_QID; the
// schedule service (actors/schedule) puts it back into its real queue once
// it is due. What the store contributes is the consume-queue entry: for a
// record of SCHEDULE_TOPIC_XXXX the tags code is not the TAGS hash but the
// delivery time, storeTimestamp + the level's delay, exactly as
// CommitLog#checkMessageAndReturnSize computes it. Dispatch, the catch-up
// of a stalled queue, Open's rebuild and its verification all compute it
// the same way, so a rebuilt queue holds the same value as the original.
//
// The value depends on MessageDelayLevel: a store reopened with other
// levels finds its schedule queues' entries inconsistent and rebuilds them
// from the commit log, so that waiting messages are timed by the levels in
// force.

// ScheduleTopic is TopicValidator.RMQ_SYS_SCHEDULE_TOPIC (the same name as
// actors/metadata's RMQSysScheduleTopic, which the store may not import).
const ScheduleTopic = "SCHEDULE_TOPIC_XXXX"

// DefaultMessageDelayLevel is messageDelayLevel's default.
const DefaultMessageDelayLevel = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// delayUnitMillis are parseDelayLevel's units.
var delayUnitMillis = map[byte]int64{'s': 1000, 'm': 60 * 1000, 'h': 60 * 60 * 1000, 'd': 24 * 60 * 60 * 1000}

// ParseMessageDelayLevel reads messageDelayLevel as
// ScheduleMessageService#parseDelayLevel does: items separated by single
// spaces (Java's split(" "): trailing empty items are dropped, any other
// empty item is an error), each a Long.parseLong number followed by one
// unit of s, m, h or d. Level i+1 is item i. Where Java would silently
// wrap or accept nonsense, it refuses: a negative delay, or one that
// overflows a millisecond count.
func ParseMessageDelayLevel(s string) ([]time.Duration, error) {
	items := strings.Split(s, " ")
	for len(items) > 0 && items[len(items)-1] == "" {
		items = items[:len(items)-1]
	}
	if len(items) == 0 {
		return nil, errors.New("no levels")
	}
	out := make([]time.Duration, 0, len(items))
	for i, item := range items {
		if item == "" {
			return nil, fmt.Errorf("level %d is empty (levels are separated by single spaces)", i+1)
		}
		unit, ok := delayUnitMillis[item[len(item)-1]]
		if !ok {
			return nil, fmt.Errorf("level %d %q does not end in a unit of s, m, h or d", i+1, item)
		}
		n, err := strconv.ParseInt(item[:len(item)-1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("level %d %q is not a whole number of its unit", i+1, item)
		}
		if n < 0 {
			return nil, fmt.Errorf("level %d %q is negative", i+1, item)
		}
		if n > math.MaxInt64/unit/int64(time.Millisecond) {
			return nil, fmt.Errorf("level %d %q is too long", i+1, item)
		}
		out = append(out, time.Duration(n*unit)*time.Millisecond)
	}
	return out, nil
}

// ErrDelayLevelNotANumber: a DELAY property that Java's Integer.parseInt
// would throw on.
var ErrDelayLevelNotANumber = errors.New("commitlog: delay level is not a number")

// ParseDelayTimeLevel reads a DELAY property value as Java's
// Integer.parseInt does (Message#getDelayTimeLevel): an optional sign and
// ASCII decimal digits, within int32. It does not allocate.
func ParseDelayTimeLevel[T message.Text](v T) (int32, error) {
	if len(v) == 0 {
		return 0, ErrDelayLevelNotANumber
	}
	i, neg := 0, false
	switch v[0] {
	case '-':
		neg, i = true, 1
	case '+':
		i = 1
	}
	if i == len(v) {
		return 0, ErrDelayLevelNotANumber
	}
	var n int64
	for ; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, ErrDelayLevelNotANumber
		}
		n = n*10 + int64(c-'0')
		if n > math.MaxInt32+1 {
			return 0, ErrDelayLevelNotANumber
		}
	}
	if neg {
		n = -n
	}
	if n > math.MaxInt32 {
		return 0, ErrDelayLevelNotANumber
	}
	return int32(n), nil
}

// delayTable is the parsed MessageDelayLevel: level i+1's delay in ms.
type delayTable []int64

func newDelayTable(levels []time.Duration) delayTable {
	t := make(delayTable, len(levels))
	for i, d := range levels {
		t[i] = d.Milliseconds()
	}
	return t
}

// deliverTimestamp is ScheduleMessageService#computeDeliverTimestamp.
// Levels are 1-based; one outside the table gets a second, as in Java.
func (t delayTable) deliverTimestamp(level int32, storeTimestamp int64) int64 {
	if level >= 1 && int(level) <= len(t) {
		return storeTimestamp + t[level-1]
	}
	return storeTimestamp + 1000
}

// cqTagsCode is the consume-queue tags code of a parsed record: the TAGS
// hash, or for a SCHEDULE_TOPIC_XXXX record with a positive DELAY its
// delivery time (a level above the highest counts as the highest), as
// CommitLog#checkMessageAndReturnSize lays it out. Java throws on a DELAY
// that is not a number; the TAGS hash stands then. No allocation.
func (t delayTable) cqTagsCode(ri *recordInfo) int64 {
	if string(ri.topic) != ScheduleTopic {
		return ri.tagsCode
	}
	v, ok := message.Lookup(ri.props, message.PropertyDelayTimeLevel)
	if !ok {
		return ri.tagsCode
	}
	level, err := ParseDelayTimeLevel(v)
	if err != nil {
		return ri.tagsCode
	}
	level = min(level, int32(len(t)))
	if level <= 0 {
		return ri.tagsCode
	}
	return t.deliverTimestamp(level, ri.storeTS)
}

// MaxDelayLevel is the highest delay level (ScheduleMessageService#getMaxDelayLevel):
// how many levels MessageDelayLevel has.
func (s *Store) MaxDelayLevel() int32 { return int32(len(s.delays)) }

// DelayTime is level's delay (1-based); false outside 1..MaxDelayLevel.
func (s *Store) DelayTime(level int32) (time.Duration, bool) {
	if level < 1 || int(level) > len(s.delays) {
		return 0, false
	}
	return time.Duration(s.delays[level-1]) * time.Millisecond, true
}

// ComputeDeliverTimestamp is ScheduleMessageService#computeDeliverTimestamp:
// when a message of level stored at storeTimestamp (ms) is due.
func (s *Store) ComputeDeliverTimestamp(level int32, storeTimestamp int64) int64 {
	return s.delays.deliverTimestamp(level, storeTimestamp)
}

// SetScheduleServiceStarted records whether a schedule service delivers
// this store's SCHEDULE_TOPIC_XXXX (ScheduleMessageService#isStarted). The
// send path parks delayed messages and retries there only while it does,
// and refuses or retries at once otherwise, so that nothing is
// acknowledged into a queue nobody reads.
func (s *Store) SetScheduleServiceStarted(on bool) { s.scheduleStarted.Store(on) }

// ScheduleServiceStarted reports what SetScheduleServiceStarted last said.
func (s *Store) ScheduleServiceStarted() bool { return s.scheduleStarted.Load() }
