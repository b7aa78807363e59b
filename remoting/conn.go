package remoting

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the write-side water marks. The byte marks are Netty's
// WriteBufferWaterMark.DEFAULT, which RocketMQ uses when its
// writeBufferHighWaterMark and writeBufferLowWaterMark keys are left at 0
// (since 5.0 its server stops reading a channel above the high mark, as a
// Conn does). The frame-count marks have no RocketMQ counterpart: with the
// byte marks at their defaults they stay out of the way (1024 answers are
// well over 64 KiB); they bound what the estimate of a frame misses, the
// Command and its map, when the byte marks are raised.
const (
	DefaultWriteBufferHighWaterMark  = 64 << 10
	DefaultWriteBufferLowWaterMark   = 32 << 10
	DefaultWriteBufferHighWaterCount = 1024
	DefaultWriteBufferLowWaterCount  = 512
)

// DefaultWriteTimeout bounds one write when ConnOptions.WriteTimeout is 0:
// 120 s, RocketMQ's idle limit.
const DefaultWriteTimeout = 120 * time.Second

// ConnOptions tunes a Conn. Every zero value means its default.
type ConnOptions struct {
	// MaxFrameSize bounds every incoming frame; 0 means DefaultMaxFrameSize.
	MaxFrameSize int
	// ReadIdleTimeout closes a connection on which nothing arrives for this
	// long (RocketMQ's serverChannelMaxIdleTimeSeconds, 120 s; clients
	// heartbeat every 30 s). It counts from the last bytes read, so a large
	// frame that keeps arriving is not cut off, and time spent not reading
	// (paused for budget or for answers to drain) does not count. 0 means
	// no limit.
	ReadIdleTimeout time.Duration
	// WriteTimeout bounds one batched write; a peer that does not read for
	// this long is disconnected. 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration

	// FrameBudget is the budget, shared by every connection of a server,
	// for frames that are still arriving (see FrameBudget). nil means none
	// is shared: each frame then holds at most twice what has arrived of
	// it (plus a chunk), and no more than MaxFrameSize, without admission.
	FrameBudget *FrameBudget
	// ConnFrameBudget is the part of FrameBudget one connection's frame
	// may hold, beyond its free first chunk, before it has to take the
	// budget's lane; larger frames are still received, one at a time. It
	// has no effect without a FrameBudget. 0 means DefaultConnFrameBudget.
	ConnFrameBudget int

	// WriteBufferHighWaterMark and WriteBufferLowWaterMark bound, in bytes,
	// the frames queued for the writer and not yet written (each counted
	// at an estimate of its encoded size), as Netty's write-buffer water
	// marks do: above the high mark the connection reads no further
	// request until the queue is below the low mark; the answers to the
	// requests it has read still go out. 0 means the default, and for the
	// low mark half the high mark (so DefaultWriteBufferLowWaterMark by
	// default); a low mark above the high mark is lowered to it. These are
	// RocketMQ's writeBufferHighWaterMark and writeBufferLowWaterMark.
	WriteBufferHighWaterMark int
	WriteBufferLowWaterMark  int
	// WriteBufferHighWaterCount and WriteBufferLowWaterCount are the same
	// marks counted in frames; either high mark pauses reading, and reading
	// resumes when both counts are below their low marks. 0 means
	// DefaultWriteBufferHighWaterCount, and for the low mark half the high
	// mark.
	WriteBufferHighWaterCount int
	WriteBufferLowWaterCount  int
	// WriteBufferDrainTimeout closes a connection whose queue, once above a
	// high mark, has not come back below the low marks for this long: its
	// peer reads too slowly, or not at all. The queued frames are dropped
	// and Err (and ReadLoop) report ErrWriteBacklog. 0 means WriteTimeout.
	WriteBufferDrainTimeout time.Duration
	// NeverPauseReads keeps reading however much waits to be written. A
	// client sets it: what it queues are requests, and it has to go on
	// reading the answers that let the server read them; if both ends
	// paused, each would wait for the other. The marks and the drain
	// timeout still apply.
	NeverPauseReads bool
	// BusyAnswerLatency, if set, gets the time from reading each request
	// answered busy (BusyResponse) to the return of the write that carried
	// the answer.
	BusyAnswerLatency *LatencyHistogram
	// RefusalLatency, if set, gets the same time for the requests refused
	// on arrival, from their heads (ReadLoopRefusing): a subset of
	// BusyAnswerLatency without the sweep's clean-queue answers, which
	// waited in their queue by definition.
	RefusalLatency *LatencyHistogram
}

// withDefaults fills in the zero values.
func (o ConnOptions) withDefaults() ConnOptions {
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = DefaultMaxFrameSize
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.ConnFrameBudget <= 0 {
		o.ConnFrameBudget = DefaultConnFrameBudget
	}
	o.WriteBufferHighWaterMark, o.WriteBufferLowWaterMark = waterMarks(
		o.WriteBufferHighWaterMark, o.WriteBufferLowWaterMark, DefaultWriteBufferHighWaterMark)
	o.WriteBufferHighWaterCount, o.WriteBufferLowWaterCount = waterMarks(
		o.WriteBufferHighWaterCount, o.WriteBufferLowWaterCount, DefaultWriteBufferHighWaterCount)
	if o.WriteBufferDrainTimeout <= 0 {
		o.WriteBufferDrainTimeout = o.WriteTimeout
	}
	return o
}

func waterMarks(high, low, defaultHigh int) (int, int) {
	if high <= 0 {
		high = defaultHigh
	}
	if low <= 0 {
		low = max(high/2, 1)
	}
	return high, min(low, high)
}

// Conn is one remoting connection: a reader that decodes frames and a
// writer goroutine that batches outgoing frames into few syscalls. Send
// never blocks on the peer. A peer that stops reading is held back instead:
// once the frames queued for it pass a high water mark, the connection
// stops reading its requests until they drain below the low mark, and is
// closed if they do not within the drain timeout (or if one write takes
// longer than the write timeout).
type Conn struct {
	nc     net.Conn
	opts   ConnOptions
	remote string // nc.RemoteAddr().String(), rendered once
	// writeDeadline is WriteTimeout ahead of the writes (see deadline).
	writeDeadline deadline

	mu      sync.Mutex
	pending []outFrame // frames waiting for the writer
	writing bool       // the writer holds frames taken from pending
	// queuedBytes and queuedFrames count pending and the frames the writer
	// holds, until their write has returned.
	queuedBytes  int64
	queuedFrames int
	// waitingBytes counts pending alone: the frames no write has begun on.
	waitingBytes int64
	// backlogged is set when a high mark is passed and cleared below the
	// low marks. While it is set, resume is open (ReadLoop waits on it) and
	// drainTimer runs.
	backlogged   bool
	backlogSince time.Time
	backlogs     int64
	resume       chan struct{}
	drainTimer   *time.Timer
	// paused mirrors backlogged, unless NeverPauseReads: ReadLoop reads it
	// before every frame without taking mu.
	paused atomic.Bool
	// hold is what ReadLoop waits on before its next frame, set by its
	// handler (HoldNextRead) on the reading goroutine.
	hold   ReadHold
	closed bool
	reason error
	wake   chan struct{}
	done   chan struct{}
}

// outFrame is a queued frame with the size it was counted at, so that the
// writer takes off exactly what Send added.
type outFrame struct {
	cmd  *Command
	size int
}

// NewConn wraps nc and starts its writer goroutine.
func NewConn(nc net.Conn, opts ConnOptions) *Conn {
	c := &Conn{nc: nc, opts: opts.withDefaults(), remote: nc.RemoteAddr().String(), wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.writeLoop()
	return c
}

// RemoteAddr is the peer's address as "ip:port".
func (c *Conn) RemoteAddr() string { return c.remote }

// LocalAddr is this end's address.
func (c *Conn) LocalAddr() string { return c.nc.LocalAddr().String() }

// ReadLoop decodes frames until the stream ends or a frame is malformed,
// calling handle for each. It returns nil on a clean EOF at a frame
// boundary or once the connection has been closed, or the reason the
// stream could not be read; when the connection closed itself because its
// queued frames did not drain, that reason (wrapping ErrWriteBacklog).
// handle runs on the reading goroutine and must not block for long.
//
// Before each frame ReadLoop waits while the write queue is above its high
// mark (see ConnOptions), and within a large frame while the FrameBudget
// has no room: either way the socket is not read, so the peer is held back
// by TCP rather than by memory here.
func (c *Conn) ReadLoop(handle func(*Command)) error {
	return c.ReadLoopRefusing(nil, nil, handle)
}

// ReadLoopRefusing is ReadLoop that first shows refuse (if not nil) the
// head of each request that fits the read buffer: a request it refuses is
// skipped in the buffer, never decoded nor copied (see FrameHead), and its
// busy answer is encoded from a template into the reader's own buffer,
// which the reader writes itself before it would wait for the socket (or
// once it holds refusedFlushBytes). So a refusal crosses no goroutine: a
// busy answer handed to the writer goroutine waited for it to be scheduled,
// behind decoders that each ran a full time slice under overload (the p99
// of read-to-written was tens of milliseconds). The socket's Write is
// whole-buffer atomic (net and tls hold a write lock for the whole
// buffer), so these writes interleave with the writer's only between
// frames. mayRefuse, if not nil, is asked first from the request code
// alone, so that a request nothing would refuse costs no head read.
func (c *Conn) ReadLoopRefusing(mayRefuse MayRefuseFunc, refuse RefuseFunc, handle func(*Command)) error {
	return c.readLoop(mayRefuse, refuse, handle)
}

// refusedFlushBytes caps the busy answers a reader holds before writing.
const refusedFlushBytes = 64 << 10

// writeRefused writes the busy answers fr holds; false means the write
// failed and the connection is closed.
func (c *Conn) writeRefused(fr *FrameReader) bool {
	if len(fr.refused) == 0 {
		return true
	}
	ok := c.flush(fr.refused)
	if ok {
		c.timeBusy(fr.refusedAt)
		if h := c.opts.RefusalLatency; h != nil {
			now := time.Now().UnixNano()
			for _, t := range fr.refusedAt {
				h.Observe(time.Duration(now - t))
			}
		}
	}
	fr.refused, fr.refusedAt = fr.refused[:0], fr.refusedAt[:0]
	if cap(fr.refused) > 4*refusedFlushBytes {
		fr.refused = nil
	}
	return ok
}

func (c *Conn) readLoop(mayRefuse MayRefuseFunc, refuse RefuseFunc, handle func(*Command)) error {
	var src io.Reader = c.nc
	if c.opts.ReadIdleTimeout > 0 {
		src = &idleReader{nc: c.nc, idle: c.opts.ReadIdleTimeout}
	}
	// Buffered so that small frames cost one read syscall for many frames
	// rather than two per frame; large bodies still go straight from the
	// socket into their own buffer.
	fr := newFrameReader(bufio.NewReaderSize(src, readBufferSize), c.opts.MaxFrameSize,
		c.opts.FrameBudget, c.opts.ConnFrameBudget, c.done)
	fr.mayRefuse = mayRefuse
	for {
		if len(fr.refused) > 0 && (len(fr.refused) >= refusedFlushBytes || c.paused.Load() || fr.wouldBlock()) &&
			!c.writeRefused(fr) {
			return c.closedErr()
		}
		if c.paused.Load() && !c.awaitDrain() {
			return c.closedErr()
		}
		cmd, err := fr.next(refuse)
		if cmd == nil && err == nil {
			continue // refused from its head
		}
		if err != nil {
			// The answers to the requests refused before the end.
			c.writeRefused(fr)
			if c.isClosed() {
				return c.closedErr()
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("%w: nothing read for %s", ErrIdle, c.opts.ReadIdleTimeout)
			}
			return err
		}
		handle(cmd)
		if h := c.hold; h != nil {
			c.hold = nil
			// The busy answers already decided go out before the wait.
			if !c.writeRefused(fr) {
				return c.closedErr()
			}
			h.AwaitRoom(c.done)
		}
	}
}

// ReadHold is a wait a handler puts before the connection's next read.
// AwaitRoom returns once the connection may read again, or when done (the
// connection's Done) is closed; it must not wait without bound.
type ReadHold interface {
	AwaitRoom(done <-chan struct{})
}

// HoldNextRead makes ReadLoop, once the handler it is called from has
// returned, write the busy answers it holds and then wait on h before it
// reads the next frame: the socket stays unread meanwhile, so the peer is
// held back by TCP. Only ReadLoop's handler may call it (it runs on the
// reading goroutine).
func (c *Conn) HoldNextRead(h ReadHold) { c.hold = h }

// idleReader keeps the read deadline ahead of every read of the socket
// (see deadline), so that the idle limit counts from the last bytes that
// arrived: not from the start of a frame, which a large frame arriving
// slowly would outlast, and not across a pause, during which nothing is
// read (a read after a pause finds the deadline stale and moves it).
type idleReader struct {
	nc       net.Conn
	idle     time.Duration
	deadline deadline
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.deadline.keep(r.nc, time.Now(), r.idle, false)
	return r.nc.Read(p)
}

// deadline is a connection deadline kept about limit ahead of now, moved
// only once the one set last has less than limit-limit/16 left: setting a
// deadline updates a runtime timer, and doing it before every read and
// every write was 2 % of the broker's CPU at 64 waiting producers, for
// limits of seconds to minutes. A peer is cut off after between 15/16 of
// the limit and the limit. Safe for concurrent use (the reading goroutine
// writes its refusals too).
type deadline struct{ at atomic.Int64 } // unix ns of the deadline set last

// keep moves nc's read (or write) deadline a full limit ahead of now if
// the one set last is stale. The deadline is set before the cache says so,
// so a goroutine that finds the cache fresh never writes under a stale
// deadline; two goroutines finding it stale both set it, to nearly the
// same time.
func (d *deadline) keep(nc net.Conn, now time.Time, limit time.Duration, write bool) {
	if d.at.Load()-now.UnixNano() >= int64(limit-limit/16) {
		return
	}
	at := now.Add(limit)
	if write {
		_ = nc.SetWriteDeadline(at)
	} else {
		_ = nc.SetReadDeadline(at)
	}
	d.at.Store(at.UnixNano())
}

// awaitDrain waits until the write queue is below its low marks; false
// means the connection closed first.
func (c *Conn) awaitDrain() bool {
	c.mu.Lock()
	resume, closed := c.resume, c.closed
	c.mu.Unlock()
	if closed {
		return false
	}
	if resume != nil {
		select {
		case <-resume:
		case <-c.done:
		}
	}
	return !c.isClosed()
}

// closedErr is what ReadLoop returns once the connection is closed: the
// reason when the connection closed itself for a backlog (its owner would
// otherwise not know), else nil, as for any close its owner asked for.
func (c *Conn) closedErr() error {
	if err := c.Err(); errors.Is(err, ErrWriteBacklog) {
		return err
	}
	return nil
}

// Send queues cmd for the writer. It returns ErrClosed once the connection
// is closed; it never waits for the peer.
func (c *Conn) Send(cmd *Command) error {
	size := frameSizeEstimate(cmd)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.pending = append(c.pending, outFrame{cmd, size})
	c.queuedBytes += int64(size)
	c.queuedFrames++
	c.waitingBytes += int64(size)
	if !c.backlogged && (c.queuedBytes > int64(c.opts.WriteBufferHighWaterMark) ||
		c.queuedFrames > c.opts.WriteBufferHighWaterCount) {
		c.startBacklogLocked()
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// frameSizeEstimate is what cmd will take on the wire, near enough to
// account queued frames without encoding them twice: the length and
// header words, a JSON header's fixed keys, the remark, the extFields with
// their quoting, and the body.
func frameSizeEstimate(cmd *Command) int {
	n := 8 + 128 + len(cmd.Remark) + len(cmd.Body)
	for k, v := range cmd.ExtFields {
		n += len(k) + len(v) + 6
	}
	for i := range cmd.Fields {
		n += len(cmd.Fields[i].Key) + cmd.Fields[i].valueLen() + 6
	}
	return n
}

// startBacklogLocked enters the backlog: reading pauses and the drain
// timeout starts.
func (c *Conn) startBacklogLocked() {
	c.backlogged = true
	c.backlogSince = time.Now()
	c.backlogs++
	c.resume = make(chan struct{})
	if !c.opts.NeverPauseReads {
		c.paused.Store(true)
	}
	if c.drainTimer == nil {
		c.drainTimer = time.AfterFunc(c.opts.WriteBufferDrainTimeout, c.drainExpired)
	} else {
		c.drainTimer.Reset(c.opts.WriteBufferDrainTimeout)
	}
}

// endBacklogLocked leaves the backlog: reading resumes.
func (c *Conn) endBacklogLocked() {
	if !c.backlogged {
		return
	}
	c.backlogged = false
	c.paused.Store(false)
	close(c.resume)
	c.resume = nil
	c.drainTimer.Stop()
}

// written takes frames whose write has returned off the queue.
func (c *Conn) written(bytes, frames int) {
	if frames == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return // Close has emptied the queue already
	}
	c.queuedBytes -= int64(bytes)
	c.queuedFrames -= frames
	if c.queuedBytes < int64(c.opts.WriteBufferLowWaterMark) && c.queuedFrames < c.opts.WriteBufferLowWaterCount {
		c.endBacklogLocked()
	}
}

// drainExpired runs on the drain timer: a backlog that has lasted the
// drain timeout closes the connection.
func (c *Conn) drainExpired() {
	c.mu.Lock()
	if c.closed || !c.backlogged {
		c.mu.Unlock()
		return
	}
	// A timer stopped too late fires for a backlog that has ended; if
	// another has begun since, it is timed from its own start.
	if left := c.opts.WriteBufferDrainTimeout - time.Since(c.backlogSince); left > 0 {
		c.drainTimer.Reset(left)
		c.mu.Unlock()
		return
	}
	bytes, frames := c.queuedBytes, c.queuedFrames
	c.mu.Unlock()
	c.Close(fmt.Errorf("%s: %d bytes in %d frames queued, not below %d bytes and %d frames within %s: %w",
		c.RemoteAddr(), bytes, frames, c.opts.WriteBufferLowWaterMark, c.opts.WriteBufferLowWaterCount,
		c.opts.WriteBufferDrainTimeout, ErrWriteBacklog))
}

// Queued is what waits to be written: frames queued by Send and not yet
// written, and their estimated size in bytes.
func (c *Conn) Queued() (bytes int64, frames int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queuedBytes, c.queuedFrames
}

// Backlogged reports whether the queue has passed a high water mark and
// not yet drained below the low marks.
func (c *Conn) Backlogged() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backlogged
}

// AnswersWaiting reports whether, besides what is being written, frames
// past a high water mark wait for the writer: the peer is not taking its
// answers as fast as they come. Unlike Backlogged it ignores the frames
// of a write that has begun, so a peer that has read an answer and asks
// again before the writer has counted that answer off (a write returns
// after the bytes are in the kernel) is not taken for a slow one, however
// large the answer was.
func (c *Conn) AnswersWaiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backlogged && (c.waitingBytes > int64(c.opts.WriteBufferHighWaterMark) ||
		len(c.pending) > c.opts.WriteBufferHighWaterCount)
}

// Backlogs counts the times the queue has passed a high water mark.
func (c *Conn) Backlogs() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backlogs
}

// ReadPaused reports whether ReadLoop is held before its next frame until
// the queue drains.
func (c *Conn) ReadPaused() bool { return c.paused.Load() }

// Close closes the socket; queued frames not yet written are dropped.
// Only the first reason is kept.
func (c *Conn) Close(reason error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.reason = true, reason
	c.pending = nil
	c.queuedBytes, c.queuedFrames, c.waitingBytes = 0, 0, 0
	c.endBacklogLocked()
	// Under mu: whoever sees closed (isClosed, Err, a ReadLoop that
	// returned) finds Done closed too.
	close(c.done)
	c.mu.Unlock()
	_ = c.nc.Close()
}

// Done is closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is the reason the connection was closed, nil while open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// readBufferSize is the read-side buffer of a connection.
const readBufferSize = 32 << 10

// maxBatchBytes caps how much the writer gathers before one write.
const maxBatchBytes = 256 << 10

func (c *Conn) writeLoop() {
	var batch []outFrame
	var busyAt []int64
	// Made on the first frame, so that a connection that never answers
	// (or has not yet) costs no write buffer.
	var buf []byte
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			batch, c.pending = c.pending, batch[:0]
			c.writing = len(batch) > 0
			c.waitingBytes = 0
			c.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			if buf == nil {
				buf = make([]byte, 0, 64<<10)
			}
			// The frames in buf, taken off the queue once written; busyAt
			// the read times of the busy answers among them.
			var bytes, frames int
			busyAt = busyAt[:0]
			for i := range batch {
				// AppendFrame leaves buf as it was when a header cannot be
				// encoded (a bug of ours, not the peer's): the frame is
				// skipped, not the connection.
				cmd := batch[i].cmd
				buf, _ = cmd.AppendFrame(buf)
				if cmd.busy && cmd.ReadAt != 0 && c.opts.BusyAnswerLatency != nil {
					busyAt = append(busyAt, cmd.ReadAt)
				}
				bytes += batch[i].size
				frames++
				batch[i] = outFrame{}
				if len(buf) >= maxBatchBytes {
					if !c.flush(buf) {
						return
					}
					c.written(bytes, frames)
					c.timeBusy(busyAt)
					busyAt = busyAt[:0]
					bytes, frames = 0, 0
					buf = buf[:0]
				}
			}
			if len(buf) > 0 && !c.flush(buf) {
				return
			}
			c.written(bytes, frames)
			c.timeBusy(busyAt)
			buf = buf[:0]
			if cap(buf) > 4*maxBatchBytes {
				buf = make([]byte, 0, 64<<10)
			}
		}
	}
}

// timeBusy records the busy answers just written.
func (c *Conn) timeBusy(readAt []int64) {
	if len(readAt) == 0 {
		return
	}
	now := time.Now().UnixNano()
	for _, t := range readAt {
		c.opts.BusyAnswerLatency.Observe(time.Duration(now - t))
	}
}

func (c *Conn) flush(buf []byte) bool {
	c.writeDeadline.keep(c.nc, time.Now(), c.opts.WriteTimeout, true)
	if _, err := c.nc.Write(buf); err != nil {
		c.Close(fmt.Errorf("write to %s: %w", c.RemoteAddr(), err))
		return false
	}
	return true
}

// CloseWhenFlushed closes the connection once every queued frame is on the
// wire, or after timeout: at shutdown the last answers must not be dropped.
func (c *Conn) CloseWhenFlushed(timeout time.Duration, reason error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		idle := c.closed || (len(c.pending) == 0 && !c.writing)
		c.mu.Unlock()
		if idle {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.Close(reason)
}
