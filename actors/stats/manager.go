package stats

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// storeKeep is StoreStatsService's MAX_RECORDS_OF_SAMPLING + 1: one sample
// a second for ten minutes, plus the one the window starts from.
const storeKeep = 601

// Manager is the broker's statistics (BrokerStatsManager with
// StoreStatsService and BrokerStats). A nil *Manager counts nothing, so
// handlers built without one (unit tests) need no checks.
type Manager struct {
	now func() time.Time

	sets map[string]*Set

	// StoreStatsService's counters.
	putTimes    atomic.Int64 // messages stored
	putSize     atomic.Int64
	putFailed   atomic.Int64
	getFound    atomic.Int64 // reads that found messages
	getMiss     atomic.Int64 // reads that found none
	transferred atomic.Int64 // messages handed to consumers

	mu           sync.Mutex // guards what follows (the sampler and readers)
	storeSamples [4]window  // put, found, miss, transferred: one a second
	lastStore    int64
	lastItems    int64
	// BrokerStats: the totals recorded at the last two midnights.
	putTodayMorning, putYesterdayMorning int64
	getTodayMorning, getYesterdayMorning int64
	morningDay                           int // yyyymmdd of the last record

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// New returns a Manager reading time from now (time.Now when nil).
func New(now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	m := &Manager{now: now, sets: map[string]*Set{}}
	for _, n := range []string{TopicPutNums, TopicPutSize, GroupGetNums, GroupGetSize, BrokerPutNums, BrokerGetNums} {
		m.sets[n] = newSet(n)
	}
	t := now()
	for i := range m.storeSamples {
		m.storeSamples[i] = newWindow(storeKeep)
		m.storeSamples[i].add(callSnapshot{ms: t.UnixMilli()})
	}
	m.lastStore, m.lastItems = t.UnixMilli(), t.UnixMilli()
	m.morningDay = dayNumber(t)
	return m
}

func dayNumber(t time.Time) int {
	y, mo, d := t.Date()
	return y*10000 + int(mo)*100 + d
}

// PutMessage counts a put: when stored, n messages of size bytes to topic
// (SendMessageProcessor's incTopicPutNums / incTopicPutSize /
// incBrokerPutNums and StoreStatsService's put counters); otherwise one
// failed put (putMessageFailedTimes).
func (m *Manager) PutMessage(topic string, stored bool, n, size int) {
	if m == nil {
		return
	}
	if !stored || n <= 0 {
		m.putFailed.Add(1)
		return
	}
	m.putTimes.Add(int64(n))
	m.putSize.Add(int64(size))
	k := key{topic: topic}
	if it := m.sets[TopicPutNums].item(k, m.now); it != nil {
		it.Add(int64(n), 1)
	}
	if it := m.sets[TopicPutSize].item(k, m.now); it != nil {
		it.Add(int64(size), 1)
	}
	m.sets[BrokerPutNums].item(key{}, m.now).Add(int64(n), 1)
}

// GetMessage counts one read for group on topic: found or not, and the
// messages and bytes it handed over (DefaultMessageStore#getMessage's
// found/miss counts, PullMessageProcessor's incGroupGetNums /
// incGroupGetSize / incBrokerGetNums).
func (m *Manager) GetMessage(group, topic string, found bool, n, size int) {
	if m == nil {
		return
	}
	if !found || n <= 0 {
		m.getMiss.Add(1)
		return
	}
	m.getFound.Add(1)
	m.transferred.Add(int64(n))
	k := key{topic: topic, group: group}
	if it := m.sets[GroupGetNums].item(k, m.now); it != nil {
		it.Add(int64(n), 1)
	}
	if it := m.sets[GroupGetSize].item(k, m.now); it != nil {
		it.Add(int64(size), 1)
	}
	m.sets[BrokerGetNums].item(key{}, m.now).Add(int64(n), 1)
}

// Item is BrokerStatsManager#getStatsItem: the counters of statsName for
// statsKey ("topic", or "topic@group" for the GROUP_* names; any key for
// the BROKER_* names).
func (m *Manager) Item(statsName, statsKey string) (*Item, bool) {
	if m == nil {
		return nil, false
	}
	s, ok := m.sets[statsName]
	if !ok {
		return nil, false
	}
	if statsName == BrokerPutNums || statsName == BrokerGetNums {
		// One broker-wide item; RocketMQ keys it by the cluster name.
		statsKey = ""
	}
	return s.Get(statsKey)
}

// GroupGetTps is tpsGroupGetNums: the messages per second group took from
// topic over the last minute.
func (m *Manager) GroupGetTps(group, topic string) float64 {
	if m == nil {
		return 0
	}
	if it, ok := m.sets[GroupGetNums].Get(topic + "@" + group); ok {
		return it.InMinute().Tps
	}
	return 0
}

// TopicDeleted forgets a deleted topic's items (onTopicDeleted).
func (m *Manager) TopicDeleted(topic string) {
	if m == nil {
		return
	}
	for _, s := range m.sets {
		s.remove(func(k key) bool { return k.topic == topic })
	}
}

// GroupDeleted forgets a deleted group's items (onGroupDeleted).
func (m *Manager) GroupDeleted(group string) {
	if m == nil {
		return
	}
	for _, s := range m.sets {
		s.remove(func(k key) bool { return k.group == group })
	}
}

// Tick samples: the store counters once a second, the items' windows as
// their periods pass, and the morning totals when the day has changed.
// Start calls it every second; tests call it with their own clock.
func (m *Manager) Tick(now time.Time) {
	ms := now.UnixMilli()
	m.mu.Lock()
	if ms-m.lastStore >= 1000 {
		m.lastStore = ms
		for i, v := range []int64{m.putTimes.Load(), m.getFound.Load(), m.getMiss.Load(), m.transferred.Load()} {
			m.storeSamples[i].add(callSnapshot{ms: ms, value: v})
		}
	}
	if d := dayNumber(now); d != m.morningDay {
		// BrokerStats#record, which RocketMQ runs at midnight.
		m.morningDay = d
		m.putYesterdayMorning, m.getYesterdayMorning = m.putTodayMorning, m.getTodayMorning
		m.putTodayMorning, m.getTodayMorning = m.putTimes.Load(), m.transferred.Load()
	}
	sampleItems := ms-m.lastItems >= minuteEvery.Milliseconds()
	if sampleItems {
		m.lastItems = ms
	}
	m.mu.Unlock()
	if sampleItems {
		for _, s := range m.sets {
			s.sample(now)
		}
	}
}

// Start samples every second until Stop.
func (m *Manager) Start() {
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.Tick(m.now())
			}
		}
	}()
}

// Stop ends the sampling started by Start.
func (m *Manager) Stop() {
	if m == nil || m.stop == nil {
		return
	}
	m.stopOnce.Do(func() { close(m.stop) })
	<-m.done
}

// tps is StoreStatsService#getPutTps(window) and kin: the rate between the
// last sample and the one window seconds earlier. Beyond RocketMQ, which
// answers "" until the window has filled (and mqadmin clusterList then
// fails to parse it), a young broker reports the rate since its start.
func (m *Manager) tps(w *window, seconds int) float64 {
	if w.n < 2 {
		return 0
	}
	last := w.last()
	back := seconds
	if back > w.n-1 {
		back = w.n - 1
	}
	first := w.buf[(w.head+w.n-1-back)%len(w.buf)]
	d := last.ms - first.ms
	if d <= 0 {
		return 0
	}
	return float64(last.value-first.value) * 1000 / float64(d)
}

// tpsTriple formats the rate over 10 s, 1 min and 10 min as RocketMQ does
// ("10s 1min 10min", Java doubles, one space apart).
func (m *Manager) tpsTriple(w ...*window) string {
	var b []byte
	for i, sec := range []int{10, 60, 600} {
		if i > 0 {
			b = append(b, ' ')
		}
		v := 0.0
		for _, x := range w {
			v += m.tps(x, sec)
		}
		b = AppendJavaDouble(b, v)
	}
	return string(b)
}

// Totals are BrokerStats's figures.
type Totals struct {
	PutTodayNow, PutTodayMorning, PutYesterdayMorning int64
	GetTodayNow, GetTodayMorning, GetYesterdayMorning int64
}

// Totals returns the message totals now and at the last two midnights.
func (m *Manager) Totals() Totals {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Totals{
		PutTodayNow: m.putTimes.Load(), PutTodayMorning: m.putTodayMorning, PutYesterdayMorning: m.putYesterdayMorning,
		GetTodayNow: m.transferred.Load(), GetTodayMorning: m.getTodayMorning, GetYesterdayMorning: m.getYesterdayMorning,
	}
}

// AddRuntimeInfo puts StoreStatsService's and BrokerStats's keys of
// GET_BROKER_RUNTIME_INFO into info, formatted as RocketMQ formats them.
func (m *Manager) AddRuntimeInfo(info map[string]string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	put, found, miss, tr := &m.storeSamples[0], &m.storeSamples[1], &m.storeSamples[2], &m.storeSamples[3]
	info["putTps"] = m.tpsTriple(put)
	info["getFoundTps"] = m.tpsTriple(found)
	info["getMissTps"] = m.tpsTriple(miss)
	info["getTransferedTps"] = m.tpsTriple(tr)
	// getTotalTps is found + miss (StoreStatsService#getGetTotalTps).
	info["getTotalTps"] = m.tpsTriple(found, miss)
	m.mu.Unlock()
	t := m.Totals()
	i := strconv.FormatInt
	info["msgPutTotalTodayNow"] = i(t.PutTodayNow, 10)
	info["msgPutTotalTodayMorning"] = i(t.PutTodayMorning, 10)
	info["msgPutTotalYesterdayMorning"] = i(t.PutYesterdayMorning, 10)
	info["msgGetTotalTodayNow"] = i(t.GetTodayNow, 10)
	info["msgGetTotalTodayMorning"] = i(t.GetTodayMorning, 10)
	info["msgGetTotalYesterdayMorning"] = i(t.GetYesterdayMorning, 10)
	times := m.putTimes.Load()
	if times == 0 {
		times = 1 // as StoreStatsService#getRuntimeInfo
	}
	info["putMessageFailedTimes"] = i(m.putFailed.Load(), 10)
	info["putMessageAverageSize"] = string(AppendJavaDouble(nil, float64(m.putSize.Load())/float64(times)))
}
