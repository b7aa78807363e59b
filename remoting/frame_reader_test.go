package remoting

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// patternFrame is a request whose body of n bytes depends on id, so that a
// frame put together from the wrong bytes shows.
func patternFrame(t *testing.T, id, n int) (*Command, []byte) {
	t.Helper()
	body := make([]byte, n)
	for i := range body {
		body[i] = byte(i*7 + id)
	}
	c := NewRequest(SendMessage, map[string]string{"id": strconv.Itoa(id)}, body)
	frame, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	return c, frame
}

// Frames on both sides of the chunk boundary, read through readers that
// hand out a byte or half a buffer at a time, arrive as they were sent.
func TestFrameReaderGrowsToTheFrame(t *testing.T) {
	var stream []byte
	var want []*Command
	for i, payload := range []int{frameChunk, frameChunk + 1, 3*frameChunk + 5, 1 << 20} {
		// The body is what is left of the payload after the header word
		// and the header.
		c, frame := patternFrame(t, i, 1)
		body := payload - (len(frame) - 4 - 1)
		c, frame = patternFrame(t, i, body)
		if got := len(frame) - 4; got != payload {
			t.Fatalf("payload of %d bytes, want %d", got, payload)
		}
		stream = append(stream, frame...)
		want = append(want, c)
	}
	for name, r := range map[string]func([]byte) io.Reader{
		"whole": func(b []byte) io.Reader { return bytes.NewReader(b) },
		"half":  func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"bytes": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
	} {
		t.Run(name, func(t *testing.T) {
			budget := NewFrameBudget(1 << 30)
			fr := newFrameReader(r(stream), 0, budget, 0, nil)
			for _, w := range want {
				got, err := fr.Next()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Body, w.Body) || got.Ext("id") != w.Ext("id") {
					t.Fatalf("frame %s: %d body bytes differ", w.Ext("id"), len(w.Body))
				}
				if budget.InUse() != 0 {
					t.Fatalf("budget holds %d bytes after a complete frame", budget.InUse())
				}
			}
			if _, err := fr.Next(); err != io.EOF {
				t.Fatalf("after the last frame: %v, want io.EOF", err)
			}
			// The largest frame held at most its length beyond the first
			// chunk, never more.
			if p := budget.Peak(); p > 1<<20-frameChunk {
				t.Fatalf("peak %d bytes for a %d-byte frame", p, 1<<20)
			}
		})
	}
}

func TestFrameReaderCutInGrowingFrameReleasesBudget(t *testing.T) {
	_, frame := patternFrame(t, 1, 4*frameChunk)
	budget := NewFrameBudget(1 << 30)
	fr := newFrameReader(bytes.NewReader(frame[:3*frameChunk]), 0, budget, 0, nil)
	if _, err := fr.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut frame: %v, want io.ErrUnexpectedEOF", err)
	}
	if budget.InUse() != 0 || budget.Peak() == 0 {
		t.Fatalf("in use %d, peak %d: the budget was not charged or not released", budget.InUse(), budget.Peak())
	}
}

// claimFrame is the start of a frame of claimed payload bytes of which only
// the first arrived bytes follow.
func claimFrame(claimed, arrived int) []byte {
	b := make([]byte, 4+arrived)
	binary.BigEndian.PutUint32(b, uint32(claimed))
	return b
}

// Many connections announce the largest frame and send a little of it:
// what the server holds follows what arrived, not what was claimed.
func TestFrameMemoryFollowsBytesNotClaims(t *testing.T) {
	const (
		conns   = 100
		arrived = 2 * frameChunk // payload bytes each peer sends
		claimed = DefaultMaxFrameSize - 4
	)
	budget := NewFrameBudget(64 << 20)
	s := startBoundsServer(t, ConnOptions{FrameBudget: budget}, nil,
		func(*Conn, *Command) { t.Error("a frame completed") })
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	claim := claimFrame(claimed, arrived)
	peers := make([]net.Conn, conns)
	for i := range peers {
		peers[i] = dialPeer(t, s.addr)
		if _, err := peers[i].Write(claim); err != nil {
			t.Fatal(err)
		}
	}
	// Each reader has filled its first chunk and the same again, and has
	// charged the doubling that waits for the next bytes: twice what
	// arrived, less the free first chunk.
	perConn := int64(2*arrived - frameChunk)
	pollUntil(t, "every connection has read what was sent", func() bool { return budget.InUse() == conns*perConn })
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	// A connection holds its frame buffer (twice what arrived), its read
	// buffer, and its Conn and goroutines' small change (64 KiB is ample).
	bound := int64(conns * (2*arrived + readBufferSize + 64<<10))
	t.Logf("%d connections claiming %d MiB each, %d KiB sent each: heap grew %.1f MiB (bound %.1f MiB, claims %.0f MiB), budget %d KiB",
		conns, (claimed+4)>>20, arrived>>10, float64(grown)/(1<<20), float64(bound)/(1<<20), float64(conns*claimed)/(1<<20), budget.InUse()>>10)
	if grown > bound {
		t.Fatalf("heap grew %d bytes for %d connections that sent %d bytes each; bound %d", grown, conns, arrived, bound)
	}
	if p := budget.Peak(); p != conns*perConn {
		t.Fatalf("budget peaked at %d, want %d", p, conns*perConn)
	}

	for _, p := range peers {
		p.Close()
	}
	pollUntil(t, "the budget is released", func() bool { return budget.InUse() == 0 })
}

// More frames arrive at once than the budget holds: reading pauses on the
// connections that find it full, what is held stays within the capacity
// plus the lane's frame, and every frame still arrives.
func TestFrameBudgetPausesReadingAndEveryFrameArrives(t *testing.T) {
	const (
		conns    = 24
		capacity = 512 << 10
		bodyLen  = 256 << 10
		first    = 2 * frameChunk // sent before the pause is checked
	)
	budget := NewFrameBudget(capacity)
	got := make(chan *Command, conns)
	s := startBoundsServer(t, ConnOptions{FrameBudget: budget}, nil, func(_ *Conn, c *Command) { got <- c })

	frames := make([][]byte, conns)
	want := make(map[string][]byte, conns)
	peers := make([]net.Conn, conns)
	for i := range peers {
		c, frame := patternFrame(t, i, bodyLen)
		frames[i], want[c.Ext("id")] = frame, c.Body
		peers[i] = dialPeer(t, s.addr)
		if _, err := peers[i].Write(frame[:4+first]); err != nil {
			t.Fatal(err)
		}
	}
	// 24 frames that each want 96 KiB of a 512 KiB budget: most must wait.
	pollUntil(t, "connections wait for budget", func() bool { return budget.Waiting() > 0 && budget.LaneHeld() })
	bound := int64(capacity + len(frames[0]))
	if p := budget.Peak(); p > bound {
		t.Fatalf("budget peaked at %d, bound %d", p, bound)
	}

	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Write(frames[i][4+first:]); err != nil {
				t.Error(err)
			}
		}()
	}
	for range conns {
		select {
		case c := <-got:
			if !bytes.Equal(c.Body, want[c.Ext("id")]) {
				t.Fatalf("frame %s arrived changed", c.Ext("id"))
			}
			delete(want, c.Ext("id"))
		case <-time.After(long):
			t.Fatalf("%d frames did not arrive; budget %d in use, %d waiting", len(want), budget.InUse(), budget.Waiting())
		}
	}
	wg.Wait()
	if p := budget.Peak(); p > bound {
		t.Fatalf("budget peaked at %d, bound %d", p, bound)
	}
	pollUntil(t, "the budget is released", func() bool { return budget.InUse() == 0 && budget.Waiting() == 0 })
}

// A frame larger than the per-connection budget, and than the whole
// budget, still arrives, through the lane; two such frames take turns.
func TestFrameLargerThanTheBudgetsArrivesIntact(t *testing.T) {
	const (
		capacity = 256 << 10
		perConn  = 64 << 10
		bodyLen  = 1 << 20
	)
	budget := NewFrameBudget(capacity)
	got := make(chan *Command, 2)
	s := startBoundsServer(t, ConnOptions{FrameBudget: budget, ConnFrameBudget: perConn}, nil,
		func(_ *Conn, c *Command) { got <- c })
	want := map[string][]byte{}
	var wg sync.WaitGroup
	for i := range 2 {
		c, frame := patternFrame(t, i, bodyLen)
		want[c.Ext("id")] = c.Body
		p := dialPeer(t, s.addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Write(frame); err != nil {
				t.Error(err)
			}
		}()
	}
	for range 2 {
		select {
		case c := <-got:
			if !bytes.Equal(c.Body, want[c.Ext("id")]) {
				t.Fatalf("frame %s arrived changed", c.Ext("id"))
			}
		case <-time.After(long):
			t.Fatalf("a large frame did not arrive; budget %d in use, %d waiting, lane %v", budget.InUse(), budget.Waiting(), budget.LaneHeld())
		}
	}
	wg.Wait()
	if p := budget.Peak(); p <= capacity {
		t.Fatalf("budget peaked at %d: the frames did not go beyond the capacity %d", p, capacity)
	}
	pollUntil(t, "the budget is released", func() bool { return budget.InUse() == 0 && !budget.LaneHeld() })
}

// Slow peers hold the whole budget and the lane and trickle nothing more;
// a peer that sends frames up to a chunk is not held up by them.
func TestSmallFramesProgressWhileTheBudgetIsExhausted(t *testing.T) {
	const (
		slow    = 10
		perConn = 64 << 10
		sent    = 100 << 10 // each slow peer's bytes: past its share, so each wants the lane
	)
	budget := NewFrameBudget(256 << 10)
	s := startBoundsServer(t, ConnOptions{FrameBudget: budget, ConnFrameBudget: perConn}, nil, echo)
	claim := claimFrame(1<<20, sent)
	slowPeers := make([]net.Conn, slow)
	for i := range slowPeers {
		slowPeers[i] = dialPeer(t, s.addr)
		if _, err := slowPeers[i].Write(claim); err != nil {
			t.Fatal(err)
		}
	}
	// One of them holds the lane and reads on; every other one waits.
	pollUntil(t, "the slow peers exhaust the budget", func() bool { return budget.Waiting() == slow-1 && budget.LaneHeld() })

	client, err := Dial(context.Background(), s.addr, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// The largest body whose request still fits in one chunk, whatever
	// opaque the client gives it.
	longest := NewRequest(SendMessage, map[string]string{"k": "v"}, nil)
	longest.Opaque = math.MinInt32
	largest := frameChunk - len(mustHeader(t, longest))
	for i, n := range []int{0, 1024, largest} {
		for range 20 {
			req := NewRequest(SendMessage, map[string]string{"k": "v"}, make([]byte, n))
			resp, err := client.Invoke(context.Background(), req, long)
			if err != nil || resp.ResponseCode() != Success || resp.Ext("k") != "v" {
				t.Fatalf("request %d with %d body bytes: %v %v", i, n, resp, err)
			}
		}
	}
	if budget.Waiting() != slow-1 || !budget.LaneHeld() {
		t.Fatalf("the budget was no longer exhausted: %d waiting, lane %v", budget.Waiting(), budget.LaneHeld())
	}

	for _, p := range slowPeers {
		p.Close()
	}
	pollUntil(t, "the budget is released", func() bool {
		return budget.InUse() == 0 && budget.Waiting() == 0 && !budget.LaneHeld()
	})
}

// mustHeader is c's encoded header word and header, without the body.
func mustHeader(t *testing.T, c *Command) []byte {
	t.Helper()
	frame, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	return frame[4 : len(frame)-len(c.Body)]
}
