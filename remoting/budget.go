package remoting

import (
	"fmt"
	"sync"
)

// Defaults of the budgets for frames that are still arriving.
const (
	// DefaultFrameBudget is the broker-wide budget: 256 MiB, sixteen
	// frames of the largest size, or 64 messages of RocketMQ's default
	// maxMessageSize (4 MiB) arriving at once. RocketMQ itself has no such
	// bound: Netty's decoder holds whatever the peers have sent.
	DefaultFrameBudget = 256 << 20
	// DefaultConnFrameBudget is the per-connection budget: 4 MiB, so that
	// a frame carrying a message of RocketMQ's default maxMessageSize (its
	// header rides in the free first chunk) never needs the lane.
	DefaultConnFrameBudget = 4 << 20
)

// frameChunk is the part of every frame that is read without asking a
// budget: frames up to this size are allocated at their length and read in
// one go, as before budgets existed, and a larger frame's buffer starts at
// this size. It equals the read buffer, so what it costs a connection is
// bounded as the read buffer is: once per connection, whatever the claim.
const frameChunk = readBufferSize

// FrameBudget bounds, across every connection that shares it, the memory
// held by frames that are still arriving. A server creates one and passes
// it to each of its connections (ConnOptions.FrameBudget); it is safe for
// concurrent use.
//
// A frame larger than frameChunk (32 KiB) grows its buffer as its bytes
// arrive, doubling it each time it is full, so a buffer is never more than
// twice what has arrived, plus a chunk. Each growth is charged to the
// budget before it is allocated; the first chunk is free. When the charge
// does not fit, the connection stops reading its socket (its peer's bytes
// wait in the kernel, and TCP pushes back on the peer) until another
// frame releases budget or the connection closes.
//
// The rule that keeps this free of deadlock: the budget has one lane. A
// connection takes the lane when its frame would hold more than its own
// per-connection budget, or when the shared budget cannot cover its next
// growth and the lane is free. The lane's holder is never made to wait:
// its growths are granted even beyond the capacity, up to its frame's
// length, so some connection always progresses as long as its peer keeps
// sending. It keeps the lane until its frame has arrived. So
//
//   - frames up to frameChunk need no budget, and a peer sending only such
//     frames is never held up by other peers' large ones;
//   - a frame larger than the per-connection budget, or even the whole
//     budget, is still received: through the lane, one such frame at a
//     time;
//   - the bytes held never exceed the capacity plus one frame (the lane's),
//     plus one chunk per connection.
//
// Progress needs the lane holder's peer to keep sending: a peer that
// trickles holds the lane, and the frames waiting for it, for as long as
// it trickles; one that stops is cut off by the read idle timeout.
//
// A frame's charge is released when its last byte has arrived, before it
// is decoded: from then on the buffer belongs to the Command (its Body
// aliases it) and lives as long as the request does, which other bounds
// govern (the broker's in-flight limits). Released at hand-off, the budget
// bounds partially received frames: the memory a peer can make the broker
// hold without ever completing a request.
//
// The budget counts the buffers frames hold, not those its pools keep for
// reuse: a frame's smaller buffers go back to a pool once copied into the
// next, and the pools give up what the garbage collector reclaims.
type FrameBudget struct {
	capacity int64

	mu       sync.Mutex
	used     int64
	peak     int64
	waiting  int
	laneHeld bool
	// released is closed, and cleared, when budget comes back; the first
	// connection that has to wait makes it, so that waking every waiter
	// costs one close.
	released chan struct{}

	// pools[k] recycles the buffers of frameChunk<<k bytes that growing
	// frames fill before their last, frame-sized one.
	pools [bufferClasses]sync.Pool
}

// bufferClasses is how many sizes of growth buffer are pooled: frameChunk
// up to 8 MiB, every buffer a frame of DefaultMaxFrameSize goes through
// before its last. A larger maximum frame allocates its larger buffers.
const bufferClasses = 9

// getBuffer returns a buffer of frameChunk<<class bytes, to be given back
// with putBuffer and the same class once its bytes have been copied on.
// Its contents are stale: a reader only ever uses what it has read into
// it. A nil budget pools nothing.
func (b *FrameBudget) getBuffer(class int) *[]byte {
	if b != nil && class < bufferClasses {
		if p, ok := b.pools[class].Get().(*[]byte); ok {
			return p
		}
	}
	buf := make([]byte, frameChunk<<class)
	return &buf
}

// putBuffer gives back a buffer from getBuffer; nil is ignored.
func (b *FrameBudget) putBuffer(p *[]byte, class int) {
	if b == nil || p == nil || class >= bufferClasses {
		return
	}
	b.pools[class].Put(p)
}

// NewFrameBudget returns a budget of capacity bytes; capacity <= 0 means
// DefaultFrameBudget.
func NewFrameBudget(capacity int) *FrameBudget {
	if capacity <= 0 {
		capacity = DefaultFrameBudget
	}
	return &FrameBudget{capacity: int64(capacity)}
}

// Capacity is the budget's size in bytes.
func (b *FrameBudget) Capacity() int64 { return b.capacity }

// InUse is the number of bytes partially received frames hold now.
func (b *FrameBudget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Peak is the largest InUse seen since the budget was made.
func (b *FrameBudget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// Waiting is the number of connections whose reading is paused for budget.
func (b *FrameBudget) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waiting
}

// LaneHeld reports whether a frame is being received through the lane.
func (b *FrameBudget) LaneHeld() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.laneHeld
}

// frameGrant is what one connection's frame holds of a FrameBudget. A
// connection receives one frame at a time, so it needs one grant.
type frameGrant struct {
	held int64
	lane bool
}

// acquire charges n more bytes to g, waiting while the rule above does not
// allow it. perConn is the connection's own budget. It returns an error
// wrapping ErrClosed if done is closed first.
func (b *FrameBudget) acquire(g *frameGrant, n, perConn int64, done <-chan struct{}) error {
	b.mu.Lock()
	for {
		switch {
		case g.lane:
		case g.held+n <= perConn && b.used+n <= b.capacity:
		case !b.laneHeld:
			b.laneHeld, g.lane = true, true
		default:
			if b.released == nil {
				b.released = make(chan struct{})
			}
			released := b.released
			b.waiting++
			b.mu.Unlock()
			select {
			case <-released:
			case <-done:
				b.mu.Lock()
				b.waiting--
				b.mu.Unlock()
				return fmt.Errorf("wait for %d bytes of frame budget (%d held): %w", n, g.held, ErrClosed)
			}
			b.mu.Lock()
			b.waiting--
			continue
		}
		g.held += n
		b.used += n
		b.peak = max(b.peak, b.used)
		b.mu.Unlock()
		return nil
	}
}

// release returns everything g holds, the lane included, and wakes the
// connections waiting for budget.
func (b *FrameBudget) release(g *frameGrant) {
	if g.held == 0 && !g.lane {
		return
	}
	b.mu.Lock()
	b.used -= g.held
	if g.lane {
		b.laneHeld = false
	}
	if b.released != nil {
		close(b.released)
		b.released = nil
	}
	b.mu.Unlock()
	g.held, g.lane = 0, false
}
