package grpcfront

import (
	"sync"
	"time"
)

// halfMessage is what END_TRANSACTION needs of a half message, kept from
// its send (the proxy's TransactionData).
type halfMessage struct {
	group           string
	topic           string
	msgID           string
	queueOffset     int64
	commitLogOffset int64
	at              time.Time
}

// halfTableCap bounds the table; the oldest entry goes first when full
// (its transaction is then resolved by the broker's check).
const halfTableCap = 100000

// halfTable maps transaction ids to half messages, bounded in count and
// age.
type halfTable struct {
	mu    sync.Mutex
	cap   int
	ttl   time.Duration
	m     map[string]halfMessage
	order []string // insertion order, for eviction
}

func newHalfTable(capacity int, ttl time.Duration) *halfTable {
	return &halfTable{cap: capacity, ttl: ttl, m: make(map[string]halfMessage)}
}

func (t *halfTable) put(id string, h halfMessage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h.at = time.Now()
	if _, ok := t.m[id]; !ok {
		t.order = append(t.order, id)
	}
	t.m[id] = h
	for len(t.m) > t.cap || (len(t.order) > 0 && t.expired(t.order[0])) {
		delete(t.m, t.order[0])
		t.order = t.order[1:]
	}
	// Keep the order slice from growing past the live entries for long.
	if len(t.order) > 2*t.cap {
		live := t.order[:0]
		for _, k := range t.order {
			if _, ok := t.m[k]; ok {
				live = append(live, k)
			}
		}
		t.order = live
	}
}

func (t *halfTable) expired(id string) bool {
	h, ok := t.m[id]
	return !ok || time.Since(h.at) > t.ttl
}

func (t *halfTable) take(id string) (halfMessage, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, ok := t.m[id]
	if ok {
		delete(t.m, id)
	}
	return h, ok
}
