package metadata

import (
	"cmp"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// TopicGroupSeparator joins topic and group in offset-table keys
// (<topic>@<group>); '@' can never appear in a valid topic, so the first
// one splits a key.
const TopicGroupSeparator = "@"

// RemarkQueryNotFound is the QUERY_NOT_FOUND (22) remark of
// QUERY_CONSUMER_OFFSET in 4.x.
const RemarkQueryNotFound = "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"

// QueueOffset is one entry of a group's progress.
type QueueOffset struct {
	Topic   string
	QueueID int32
	Offset  int64
}

// QueueProbe is what QueryConsumerOffset asks the store, named after the
// DefaultMessageStore methods Java calls. A nil func counts as "the queue is
// not young".
type QueueProbe struct {
	MinOffsetInQueue           func(topic string, queueID int32) int64
	CheckInDiskByConsumeOffset func(topic string, queueID int32, consumeOffset int64) bool
}

// consumerOffsetWrapper is consumerOffset.json.
type consumerOffsetWrapper struct {
	OffsetTable map[string]map[int32]int64 `json:"offsetTable"`
}

// ConsumerOffsetManager is RocketMQ's ConsumerOffsetManager: committed
// offsets per <topic>@<group> and queue, kept in memory and written to
// consumerOffset.json by Persist (every flushConsumerOffsetInterval and at
// shutdown, as Java does), not on each commit. Safe for concurrent use.
type ConsumerOffsetManager struct {
	cfg  Config
	path string

	mu      sync.RWMutex
	table   map[string]map[int32]int64
	version int64 // bumped by every change

	persistMu sync.Mutex
	persisted int64 // version last written; -1 forces the next write
}

// NewConsumerOffsetManager loads consumerOffset.json (or its .bak).
func NewConsumerOffsetManager(cfg Config) (*ConsumerOffsetManager, error) {
	m := &ConsumerOffsetManager{cfg: cfg, table: map[string]map[int32]int64{}, persisted: -1}
	if cfg.Dir == "" {
		return m, nil
	}
	m.path = filepath.Join(cfg.Dir, ConsumerOffsetFile)
	w, src, err := LoadJSON[consumerOffsetWrapper](m.path, cfg.Log)
	if err != nil {
		return nil, err
	}
	for k, q := range w.OffsetTable {
		if q == nil {
			q = map[int32]int64{}
		}
		m.table[k] = q
	}
	if src == LoadedFile {
		// Nothing to write until something changes. After a fallback to the
		// backup, the first Persist repairs the main file.
		m.persisted = m.version
	}
	return m, nil
}

func offsetKey(group, topic string) string { return topic + TopicGroupSeparator + group }

// splitOffsetKey returns topic and group of a <topic>@<group> key.
func splitOffsetKey(key string) (topic, group string, ok bool) {
	return strings.Cut(key, TopicGroupSeparator)
}

// CommitOffset stores offset for the queue as given (Java does no
// validation; a smaller offset than the stored one is logged and kept).
func (m *ConsumerOffsetManager) CommitOffset(group, topic string, queueID int32, offset int64) {
	key := offsetKey(group, topic)
	m.mu.Lock()
	q := m.table[key]
	if q == nil {
		q = make(map[int32]int64, 8)
		m.table[key] = q
	}
	prev, had := q[queueID]
	q[queueID] = offset
	m.version++
	m.mu.Unlock()
	if had && offset < prev {
		m.cfg.Log.Warn().Str("key", key).Int32("queueId", queueID).Int64("requestOffset", offset).
			Int64("storeOffset", prev).Msg("update consumer offset less than store")
	}
}

// QueryOffset returns the committed offset of the queue; ok is false when
// there is none (Java's -1).
func (m *ConsumerOffsetManager) QueryOffset(group, topic string, queueID int32) (int64, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	off, ok := m.table[offsetKey(group, topic)][queueID]
	if !ok || off < 0 {
		return -1, false
	}
	return off, true
}

// QueryConsumerOffset is QUERY_CONSUMER_OFFSET's decision
// (ConsumerManageProcessor#queryConsumerOffset, 4.x): the committed offset
// if there is one; else 0 when the queue is young (min offset ≤ 0 and its
// first message not yet only on disk), so a new group starts at the
// beginning of a new queue even with CONSUME_FROM_LAST_OFFSET; else ok is
// false and the answer is QUERY_NOT_FOUND with RemarkQueryNotFound.
func (m *ConsumerOffsetManager) QueryConsumerOffset(group, topic string, queueID int32, probe QueueProbe) (int64, bool) {
	if off, ok := m.QueryOffset(group, topic, queueID); ok {
		return off, true
	}
	if probe.MinOffsetInQueue == nil || probe.CheckInDiskByConsumeOffset == nil {
		return -1, false
	}
	if probe.MinOffsetInQueue(topic, queueID) <= 0 && !probe.CheckInDiskByConsumeOffset(topic, queueID, 0) {
		return 0, true
	}
	return -1, false
}

// QueryOffsets returns a copy of the queue → offset map of group on topic.
func (m *ConsumerOffsetManager) QueryOffsets(group, topic string) map[int32]int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	q := m.table[offsetKey(group, topic)]
	out := make(map[int32]int64, len(q))
	for k, v := range q {
		out[k] = v
	}
	return out
}

// GroupProgress lists what group has committed, sorted by topic and queue.
func (m *ConsumerOffsetManager) GroupProgress(group string) []QueueOffset {
	var out []QueueOffset
	m.mu.RLock()
	for key, q := range m.table {
		topic, g, ok := splitOffsetKey(key)
		if !ok || g != group {
			continue
		}
		for id, off := range q {
			out = append(out, QueueOffset{Topic: topic, QueueID: id, Offset: off})
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b QueueOffset) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.QueueID, b.QueueID))
	})
	return out
}

// Groups returns every group with a committed offset, sorted.
func (m *ConsumerOffsetManager) Groups() []string {
	return m.collect(func(topic, group string) (string, bool) { return group, true })
}

// Topics returns every topic with a committed offset, sorted.
func (m *ConsumerOffsetManager) Topics() []string {
	return m.collect(func(topic, group string) (string, bool) { return topic, true })
}

// WhichTopicByConsumer is whichTopicByConsumer: the topics group has
// offsets on.
func (m *ConsumerOffsetManager) WhichTopicByConsumer(group string) []string {
	return m.collect(func(t, g string) (string, bool) { return t, g == group })
}

// WhichGroupByTopic is whichGroupByTopic: the groups with offsets on topic.
func (m *ConsumerOffsetManager) WhichGroupByTopic(topic string) []string {
	return m.collect(func(t, g string) (string, bool) { return g, t == topic })
}

func (m *ConsumerOffsetManager) collect(pick func(topic, group string) (string, bool)) []string {
	seen := map[string]struct{}{}
	m.mu.RLock()
	for key := range m.table {
		t, g, ok := splitOffsetKey(key)
		if !ok {
			continue
		}
		if v, ok := pick(t, g); ok {
			seen[v] = struct{}{}
		}
	}
	m.mu.RUnlock()
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// RemoveTopic drops every group's offsets on topic (after the topic is
// deleted) and returns how many <topic>@<group> entries went.
func (m *ConsumerOffsetManager) RemoveTopic(topic string) int {
	return m.remove(func(t, g string) bool { return t == topic })
}

// RemoveGroup drops every offset of group (after the group is deleted).
func (m *ConsumerOffsetManager) RemoveGroup(group string) int {
	return m.remove(func(t, g string) bool { return g == group })
}

func (m *ConsumerOffsetManager) remove(match func(topic, group string) bool) int {
	n := 0
	m.mu.Lock()
	for key := range m.table {
		if t, g, ok := splitOffsetKey(key); ok && match(t, g) {
			delete(m.table, key)
			n++
		}
	}
	if n > 0 {
		m.version++
	}
	m.mu.Unlock()
	return n
}

func (m *ConsumerOffsetManager) snapshot() (consumerOffsetWrapper, int64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	w := consumerOffsetWrapper{OffsetTable: make(map[string]map[int32]int64, len(m.table))}
	for k, q := range m.table {
		c := make(map[int32]int64, len(q))
		for id, off := range q {
			c[id] = off
		}
		w.OffsetTable[k] = c
	}
	return w, m.version
}

// Encode is the consumerOffset.json content; also the body of
// GET_ALL_CONSUMER_OFFSET (43). Queue ids are quoted keys (standard JSON).
func (m *ConsumerOffsetManager) Encode() ([]byte, error) {
	w, _ := m.snapshot()
	return json.Marshal(w)
}

// Persist writes consumerOffset.json if anything changed since the last
// write (a no-op in memory).
func (m *ConsumerOffsetManager) Persist() error {
	if m.path == "" {
		return nil
	}
	m.persistMu.Lock()
	defer m.persistMu.Unlock()
	w, version := m.snapshot()
	if version == m.persisted {
		return nil
	}
	if err := PersistJSON(m.path, w); err != nil {
		return err
	}
	m.persisted = version
	return nil
}

// StartPersister runs Persist every interval (flushConsumerOffsetInterval,
// 5 s in RocketMQ) until stop is called; stop waits for the goroutine, then
// persists one last time. Failures are logged: the next tick retries.
func (m *ConsumerOffsetManager) StartPersister(interval time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m.persistLogged()
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
			m.persistLogged()
		})
	}
}

func (m *ConsumerOffsetManager) persistLogged() {
	if err := m.Persist(); err != nil {
		m.cfg.Log.Error().Err(err).Msg("persist consumer offsets")
	}
}
