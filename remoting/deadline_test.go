package remoting

import (
	"testing"
	"time"
)

// A deadline is set on first use and moved again only once less than
// 15/16 of its limit is left, always to a full limit ahead.
func TestDeadlineMovesOnlyWhenStale(t *testing.T) {
	var d deadline
	const limit = 16 * time.Second
	t0 := time.Unix(1000, 0)
	at, ok := d.due(t0, limit)
	if !ok || !at.Equal(t0.Add(limit)) {
		t.Fatalf("first use: %v %v, want %v", at, ok, t0.Add(limit))
	}
	if _, ok := d.due(t0.Add(999*time.Millisecond), limit); ok {
		t.Fatal("moved with more than 15/16 of the limit left")
	}
	t1 := t0.Add(time.Second + time.Millisecond)
	if at, ok := d.due(t1, limit); !ok || !at.Equal(t1.Add(limit)) {
		t.Fatalf("stale by 1 ms: %v %v, want %v", at, ok, t1.Add(limit))
	}
	// Never less than 15/16 of the limit ahead of any read or write.
	for now := t1; now.Before(t1.Add(time.Minute)); now = now.Add(300 * time.Millisecond) {
		d.due(now, limit)
		if left := time.Duration(d.at.Load() - now.UnixNano()); left < limit-limit/16 {
			t.Fatalf("at %v only %v left", now.Sub(t1), left)
		}
	}
}
