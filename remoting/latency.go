package remoting

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// LatencyHistogram counts durations in power-of-two microsecond buckets
// (bucket i holds [2^(i-1), 2^i) µs; bucket 0 under 1 µs), with atomics, so
// that every connection's writer can record into one histogram and anyone
// can read it. A Conn records into ConnOptions.BusyAnswerLatency the time
// from reading a request to writing its busy answer: the broker-side cost
// of a refusal, which a client with thousands of requests in flight cannot
// see for its own queueing.
type LatencyHistogram struct {
	counts [latencyBuckets]atomic.Uint64
}

const latencyBuckets = 32

// NewLatencyHistogram returns an empty histogram.
func NewLatencyHistogram() *LatencyHistogram { return &LatencyHistogram{} }

// Observe records one duration.
func (h *LatencyHistogram) Observe(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[min(bits.Len64(us), latencyBuckets-1)].Add(1)
}

// Count is how many durations were recorded.
func (h *LatencyHistogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Quantile is an upper bound of the q-quantile (0 < q <= 1): the upper edge
// of the bucket it falls in, so at most twice the true value; 0 when empty.
func (h *LatencyHistogram) Quantile(q float64) time.Duration {
	var snap [latencyBuckets]uint64
	var total uint64
	for i := range h.counts {
		snap[i] = h.counts[i].Load()
		total += snap[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range snap {
		seen += c
		if seen >= rank {
			return time.Duration(uint64(1)<<i) * time.Microsecond
		}
	}
	return time.Duration(uint64(1)<<(latencyBuckets-1)) * time.Microsecond
}
