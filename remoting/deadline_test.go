package remoting

import (
	"net"
	"testing"
	"time"
)

// deadlineConn records the deadlines set on it.
type deadlineConn struct {
	net.Conn
	read, write []time.Time
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error  { c.read = append(c.read, t); return nil }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error { c.write = append(c.write, t); return nil }

// A deadline is set on first use and moved again only once less than
// 15/16 of its limit is left, always to a full limit ahead, and on the
// side it keeps.
func TestDeadlineMovesOnlyWhenStale(t *testing.T) {
	var d deadline
	nc := &deadlineConn{}
	const limit = 16 * time.Second
	t0 := time.Unix(1000, 0)
	d.keep(nc, t0, limit, true)
	if len(nc.write) != 1 || !nc.write[0].Equal(t0.Add(limit)) || len(nc.read) != 0 {
		t.Fatalf("first use: write deadlines %v, read %v; want [%v], none", nc.write, nc.read, t0.Add(limit))
	}
	d.keep(nc, t0.Add(999*time.Millisecond), limit, true)
	if len(nc.write) != 1 {
		t.Fatal("moved with more than 15/16 of the limit left")
	}
	t1 := t0.Add(time.Second + time.Millisecond)
	d.keep(nc, t1, limit, true)
	if len(nc.write) != 2 || !nc.write[1].Equal(t1.Add(limit)) {
		t.Fatalf("stale by 1 ms: write deadlines %v, want the last at %v", nc.write, t1.Add(limit))
	}
	// Never less than 15/16 of the limit ahead of any read or write.
	var r deadline
	for now := t1; now.Before(t1.Add(time.Minute)); now = now.Add(300 * time.Millisecond) {
		r.keep(nc, now, limit, false)
		if left := nc.read[len(nc.read)-1].Sub(now); left < limit-limit/16 {
			t.Fatalf("at %v only %v left", now.Sub(t1), left)
		}
	}
	// Once per limit/16 of reading, not once per read (200 here).
	if n := len(nc.read); n > 61 {
		t.Fatalf("%d read deadlines set over a minute of reads every 300 ms with a 16 s limit, want at most 61", n)
	}
}
