package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// stats are the run's counters. Everything on the send path is an atomic,
// so that 64 senders at a hundred thousand sends a second measure the
// broker rather than a lock.
type stats struct {
	start     time.Time
	attempted atomic.Uint64 // messages taken on
	sent      atomic.Uint64 // messages stored
	retries   atomic.Uint64
	failures  [numKinds]atomic.Uint64 // failed attempts, by kind
	lost      [numKinds]atomic.Uint64 // messages given up, by the kind of their last failure

	total    histogram // response times of stored messages, whole run
	interval histogram // the same, since the last report

	// byBroker counts stored messages per broker name: a map of counters
	// that is only written when a broker first appears, so successes do
	// not queue on a lock.
	byBroker sync.Map // string → *atomic.Uint64

	mu      sync.Mutex
	reasons map[string]uint64 // "other" failures by remark, a few kept
}

// maxReasons bounds the distinct "other" failures remembered: enough to
// say what went wrong without a map that grows with every new remark.
const maxReasons = 8

func newStats() *stats {
	return &stats{reasons: map[string]uint64{}}
}

func (s *stats) succeeded(broker string, rt time.Duration) {
	s.sent.Add(1)
	us := uint64(max(rt.Microseconds(), 0))
	s.total.record(us)
	s.interval.record(us)
	n, ok := s.byBroker.Load(broker)
	if !ok {
		n, _ = s.byBroker.LoadOrStore(broker, new(atomic.Uint64))
	}
	n.(*atomic.Uint64).Add(1)
}

func (s *stats) failed(kind outcome, reason string) {
	s.failures[kind].Add(1)
	if kind != kindOther || reason == "" {
		return
	}
	s.mu.Lock()
	if _, ok := s.reasons[reason]; ok || len(s.reasons) < maxReasons {
		s.reasons[reason]++
	}
	s.mu.Unlock()
}

func (s *stats) lose(kind outcome) { s.lost[kind].Add(1) }

// counts is a copy of the cumulative counters, for differences.
type counts struct {
	sent, retries uint64
	failures      [numKinds]uint64
	lost          uint64
}

func (s *stats) counts() counts {
	c := counts{sent: s.sent.Load(), retries: s.retries.Load()}
	for i := range c.failures {
		c.failures[i] = s.failures[i].Load()
		c.lost += s.lost[i].Load()
	}
	return c
}

// line is one report: what happened during one interval.
type line struct {
	at       time.Time
	seconds  float64
	sent     uint64
	rt       rtSummary
	failures [numKinds]uint64
	retries  uint64
	lost     uint64
}

// String is the per-second line, one field group per "|":
//
//	15:04:05 | tps 45123 | rt ms avg 1.234 p50 1.100 p99 4.200 max 12.000 | failed REJECTREQUEST 0 … timeout 0 other 0 | retries 0 lost 0
//
// "failed" counts failed attempts by kind, each busy tag on its own;
// "retries" says how many of them were tried again on another broker and
// "lost" how many messages were given up.
func (l line) String() string {
	var b strings.Builder
	tps := 0.0
	if l.seconds > 0 {
		tps = float64(l.sent) / l.seconds
	}
	fmt.Fprintf(&b, "%s | tps %.0f | rt ms %s | failed", l.at.Format("15:04:05"), tps, l.rt)
	for i, n := range l.failures {
		fmt.Fprintf(&b, " %s %d", kindNames[i], n)
	}
	fmt.Fprintf(&b, " | retries %d lost %d\n", l.retries, l.lost)
	return b.String()
}

// report writes a line every interval until stop is closed.
func (p *producer) report(w io.Writer, stop <-chan struct{}) {
	t := time.NewTicker(p.cfg.interval)
	defer t.Stop()
	prev, prevAt := counts{}, p.stats.start
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			cur := p.stats.counts()
			l := line{
				at: now, seconds: now.Sub(prevAt).Seconds(),
				sent: cur.sent - prev.sent, rt: p.stats.interval.drain(),
				retries: cur.retries - prev.retries, lost: cur.lost - prev.lost,
			}
			for i := range l.failures {
				l.failures[i] = cur.failures[i] - prev.failures[i]
			}
			fmt.Fprint(w, l.String())
			prev, prevAt = cur, now
		}
	}
}

// summary is the end-of-run report; its JSON form is --json's document.
type summary struct {
	Topic          string            `json:"topic"`
	Group          string            `json:"group"`
	BodySize       int               `json:"bodySize"`
	Senders        int               `json:"senders"`
	Window         int               `json:"window"`
	Retries        int               `json:"retries"`
	ElapsedSeconds float64           `json:"elapsedSeconds"`
	Attempted      uint64            `json:"attempted"`
	Sent           uint64            `json:"sent"`
	TPS            float64           `json:"tps"`
	Retried        uint64            `json:"retried"`
	Lost           uint64            `json:"lost"`
	RTMillis       rtSummary         `json:"rtMillis"`
	FailedAttempts map[string]uint64 `json:"failedAttempts"`
	LostByKind     map[string]uint64 `json:"lostByKind"`
	ByBroker       map[string]uint64 `json:"byBroker"`
	OtherErrors    map[string]uint64 `json:"otherErrors,omitempty"`
	// RouteFallback is true when the topic had no route and TBW102's was used.
	RouteFallback bool `json:"routeFallback"`
}

func (s *stats) summary(cfg *config, elapsed time.Duration) *summary {
	c := s.counts()
	out := &summary{
		Topic: cfg.topic, Group: cfg.group, BodySize: cfg.bodySize, Senders: cfg.senders,
		Window: cfg.window, Retries: cfg.retries, ElapsedSeconds: elapsed.Seconds(),
		Attempted: s.attempted.Load(), Sent: c.sent, Retried: c.retries, Lost: c.lost,
		RTMillis:       s.total.summary(),
		FailedAttempts: map[string]uint64{}, LostByKind: map[string]uint64{},
	}
	if secs := elapsed.Seconds(); secs > 0 {
		out.TPS = float64(c.sent) / secs
	}
	for i := range c.failures {
		out.FailedAttempts[kindNames[i]] = c.failures[i]
		out.LostByKind[kindNames[i]] = s.lost[i].Load()
	}
	out.ByBroker = map[string]uint64{}
	s.byBroker.Range(func(k, v any) bool {
		out.ByBroker[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	s.mu.Lock()
	if len(s.reasons) > 0 {
		out.OtherErrors = make(map[string]uint64, len(s.reasons))
		for k, v := range s.reasons {
			out.OtherErrors[k] = v
		}
	}
	s.mu.Unlock()
	return out
}

// text is the human summary printed after the last line.
func (s *summary) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s to %s: %d senders × %d in flight, %d-byte bodies, retries %d\n",
		time.Duration(s.ElapsedSeconds*float64(time.Second)).Round(time.Millisecond), s.Topic,
		s.Senders, s.Window, s.BodySize, s.Retries)
	if s.RouteFallback {
		fmt.Fprintf(&b, "topic had no route; sent on %s's route (4 queues per broker)\n", defaultTopic)
	}
	fmt.Fprintf(&b, "sent %d of %d (%.0f msg/s), retried %d, lost %d\n", s.Sent, s.Attempted, s.TPS, s.Retried, s.Lost)
	fmt.Fprintf(&b, "rt ms %s\n", s.RTMillis)
	b.WriteString("failed attempts")
	for _, k := range kindNames {
		fmt.Fprintf(&b, " %s %d", k, s.FailedAttempts[k])
	}
	b.WriteString("\n")
	if len(s.ByBroker) > 0 {
		b.WriteString("sent by broker")
		for _, k := range slices.Sorted(maps.Keys(s.ByBroker)) {
			fmt.Fprintf(&b, " %s %d", k, s.ByBroker[k])
		}
		b.WriteString("\n")
	}
	for _, k := range slices.Sorted(maps.Keys(s.OtherErrors)) {
		fmt.Fprintf(&b, "other failure ×%d: %s\n", s.OtherErrors[k], oneLine(k))
	}
	return b.String()
}

func writeJSON(w io.Writer, s *summary) error {
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

// rtSummary is a response-time digest in milliseconds.
type rtSummary struct {
	Avg float64 `json:"avg"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func (r rtSummary) String() string {
	return fmt.Sprintf("avg %.3f p50 %.3f p99 %.3f max %.3f", r.Avg, r.P50, r.P99, r.Max)
}

// histogram counts microsecond values in log-linear buckets: exact below
// 32 µs, then 32 buckets per power of two (about 3 % wide), which is
// enough for a p99 and costs one atomic add per value.
type histogram struct {
	buckets [histBuckets]atomic.Uint64
	count   atomic.Uint64
	sum     atomic.Uint64
	max     atomic.Uint64
}

const (
	subBits     = 5
	subCount    = 1 << subBits
	histBuckets = (64 - subBits + 1) * subCount
)

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - subBits
	return (shift+1)*subCount + int((v>>shift)&(subCount-1))
}

// bucketMid is the middle of bucket i's range.
func bucketMid(i int) float64 {
	if i < subCount {
		return float64(i)
	}
	shift := i/subCount - 1
	low := uint64(subCount+i%subCount) << shift
	return float64(low) + float64(uint64(1)<<shift)/2
}

func (h *histogram) record(v uint64) {
	h.buckets[bucketOf(v)].Add(1)
	h.count.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// summary digests the histogram without resetting it.
func (h *histogram) summary() rtSummary {
	var counts [histBuckets]uint64
	for i := range counts {
		counts[i] = h.buckets[i].Load()
	}
	return digest(&counts, h.count.Load(), h.sum.Load(), h.max.Load())
}

// drain digests and resets. Values recorded meanwhile land on either side
// of the reset, never nowhere.
func (h *histogram) drain() rtSummary {
	var counts [histBuckets]uint64
	for i := range counts {
		counts[i] = h.buckets[i].Swap(0)
	}
	return digest(&counts, h.count.Swap(0), h.sum.Swap(0), h.max.Swap(0))
}

func digest(counts *[histBuckets]uint64, n, sum, maxV uint64) rtSummary {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 || n == 0 {
		return rtSummary{}
	}
	quantile := func(q float64) float64 {
		rank := uint64(q*float64(total) + 0.5)
		rank = max(1, min(rank, total))
		var seen uint64
		for i, c := range counts {
			seen += c
			if seen >= rank {
				// Never report more than the largest value seen.
				return min(bucketMid(i), float64(maxV)) / 1000
			}
		}
		return float64(maxV) / 1000
	}
	return rtSummary{
		Avg: float64(sum) / float64(n) / 1000,
		P50: quantile(0.50),
		P99: quantile(0.99),
		Max: float64(maxV) / 1000,
	}
}

// dialCause drops the "dial tcp …:" layers that repeat the address.
func dialCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
