package stats

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats names, as RocketMQ's Stats / BrokerStatsManager spell them
// (VIEW_BROKER_STATS_DATA's statsName).
const (
	TopicPutNums  = "TOPIC_PUT_NUMS"
	TopicPutSize  = "TOPIC_PUT_SIZE"
	GroupGetNums  = "GROUP_GET_NUMS"
	GroupGetSize  = "GROUP_GET_SIZE"
	BrokerPutNums = "BROKER_PUT_NUMS"
	BrokerGetNums = "BROKER_GET_NUMS"
)

// RocketMQ's StatsItem windows: samples every 10 s keeping 7 (a minute),
// every 10 min keeping 7 (an hour), every hour keeping 25 (a day).
const (
	minuteEvery, minuteKeep = 10 * time.Second, 7
	hourEvery, hourKeep     = 10 * time.Minute, 7
	dayEvery, dayKeep       = time.Hour, 25
)

// maxItemsPerSet bounds the keys one stats set tracks (topics, or
// topic@group pairs); past it new keys count in the broker totals only,
// so that a client inventing names cannot grow the broker's memory.
const maxItemsPerSet = 4096

// callSnapshot is RocketMQ's CallSnapshot: the counters at one instant.
type callSnapshot struct {
	ms, times, value int64
}

// window is a bounded list of snapshots, oldest first.
type window struct {
	buf  []callSnapshot
	head int // index of the oldest
	n    int
}

func newWindow(keep int) window { return window{buf: make([]callSnapshot, keep)} }

func (w *window) add(s callSnapshot) {
	if w.n < len(w.buf) {
		w.buf[(w.head+w.n)%len(w.buf)] = s
		w.n++
		return
	}
	w.buf[w.head] = s
	w.head = (w.head + 1) % len(w.buf)
}

func (w *window) first() callSnapshot { return w.buf[w.head] }
func (w *window) last() callSnapshot  { return w.buf[(w.head+w.n-1)%len(w.buf)] }

// Snapshot is RocketMQ's StatsSnapshot over one window.
type Snapshot struct {
	Sum   int64
	Tps   float64
	Avgpt float64
	Times int64
}

// compute is StatsItem#computeStatsData.
func (w *window) compute() Snapshot {
	if w.n == 0 {
		return Snapshot{}
	}
	first, last := w.first(), w.last()
	s := Snapshot{Sum: last.value - first.value, Times: last.times - first.times}
	if d := last.ms - first.ms; d > 0 {
		s.Tps = float64(s.Sum) * 1000 / float64(d)
	}
	if s.Times > 0 {
		s.Avgpt = float64(s.Sum) / float64(s.Times)
	}
	return s
}

// Item is RocketMQ's StatsItem: a value and a count of calls, sampled
// into the minute, hour and day windows.
type Item struct {
	value atomic.Int64
	times atomic.Int64

	mu                 sync.Mutex
	minute, hour, day  window
	lastMinute, lastHr int64
	lastDay            int64
}

func newItem(now time.Time) *Item {
	it := &Item{minute: newWindow(minuteKeep), hour: newWindow(hourKeep), day: newWindow(dayKeep)}
	s := callSnapshot{ms: now.UnixMilli()}
	it.minute.add(s)
	it.hour.add(s)
	it.day.add(s)
	it.lastMinute, it.lastHr, it.lastDay = s.ms, s.ms, s.ms
	return it
}

// Add counts one call adding value (two atomic adds).
func (it *Item) Add(value, times int64) {
	it.value.Add(value)
	it.times.Add(times)
}

// Value and Times are the running totals.
func (it *Item) Value() int64 { return it.value.Load() }
func (it *Item) Times() int64 { return it.times.Load() }

// sample adds a snapshot to each window whose period has passed.
func (it *Item) sample(now time.Time) {
	ms := now.UnixMilli()
	s := callSnapshot{ms: ms, times: it.times.Load(), value: it.value.Load()}
	it.mu.Lock()
	defer it.mu.Unlock()
	if ms-it.lastMinute >= minuteEvery.Milliseconds() {
		it.minute.add(s)
		it.lastMinute = ms
	}
	if ms-it.lastHr >= hourEvery.Milliseconds() {
		it.hour.add(s)
		it.lastHr = ms
	}
	if ms-it.lastDay >= dayEvery.Milliseconds() {
		it.day.add(s)
		it.lastDay = ms
	}
}

// InMinute, InHour and InDay are StatsItem#getStatsDataInMinute and kin,
// measured up to the last sample.
func (it *Item) InMinute() Snapshot { return it.windowed(&it.minute) }
func (it *Item) InHour() Snapshot   { return it.windowed(&it.hour) }
func (it *Item) InDay() Snapshot    { return it.windowed(&it.day) }

func (it *Item) windowed(w *window) Snapshot {
	it.mu.Lock()
	defer it.mu.Unlock()
	return w.compute()
}

// key is a stats key: a topic, or a topic and a group (RocketMQ joins them
// as "topic@group"; a struct key looks up without building that string).
type key struct{ topic, group string }

func (k key) String() string {
	if k.group == "" {
		return k.topic
	}
	return k.topic + "@" + k.group
}

// parseKey splits RocketMQ's "topic@group"; neither name may hold '@'.
func parseKey(s string) key {
	if t, g, ok := strings.Cut(s, "@"); ok {
		return key{t, g}
	}
	return key{topic: s}
}

// Set is RocketMQ's StatsItemSet: the items of one stats name by key.
// Readers load the map with one atomic load; a new key copies it under
// mu (keys are few and each is added once).
type Set struct {
	name  string
	max   int // maxItemsPerSet
	items atomic.Pointer[map[key]*Item]
	mu    sync.Mutex
	full  atomic.Bool
}

func newSet(name string) *Set {
	s := &Set{name: name, max: maxItemsPerSet}
	m := map[key]*Item{}
	s.items.Store(&m)
	return s
}

// item returns the key's item, creating it when new; nil once the set is
// full. The key's strings may view a request's bytes: they are copied
// before being kept.
func (s *Set) item(k key, now func() time.Time) *Item {
	if it, ok := (*s.items.Load())[k]; ok {
		return it
	}
	if s.full.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.items.Load()
	if it, ok := old[k]; ok {
		return it
	}
	if len(old) >= s.max {
		s.full.Store(true)
		return nil
	}
	m := make(map[key]*Item, len(old)+1)
	for k2, v := range old {
		m[k2] = v
	}
	it := newItem(now())
	m[key{strings.Clone(k.topic), strings.Clone(k.group)}] = it
	s.items.Store(&m)
	return it
}

// Get is StatsItemSet#getStatsItem: the item of a key as RocketMQ writes
// it ("topic" or "topic@group"), if counted.
func (s *Set) Get(statsKey string) (*Item, bool) {
	it, ok := (*s.items.Load())[parseKey(statsKey)]
	return it, ok
}

func (s *Set) sample(now time.Time) {
	for _, it := range *s.items.Load() {
		it.sample(now)
	}
}

// remove drops every item whose key matches.
func (s *Set) remove(match func(key) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.items.Load()
	m := make(map[key]*Item, len(old))
	for k, v := range old {
		if !match(k) {
			m[k] = v
		}
	}
	s.items.Store(&m)
	s.full.Store(len(m) >= s.max)
}
