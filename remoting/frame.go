package remoting

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"
)

// DefaultMaxFrameSize is the largest frame accepted, length field included,
// as Java's NettyDecoder (com.rocketmq.remoting.frameMaxLength) allows.
const DefaultMaxFrameSize = 16 << 20

// headerLengthMask keeps the 24-bit header length of the header word.
const headerLengthMask = 0x00FFFFFF

// AppendFrame appends c as one complete frame, length prefix included, to
// dst and returns the extended slice. It allocates only when dst must grow
// (or for more than 32 extFields), so a writer that reuses its buffer
// encodes for free. On error dst is returned as it was.
func (c *Command) AppendFrame(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // length, header word
	var err error
	switch c.Serialize {
	case SerializeJSON:
		dst = appendJSONHeader(dst, c)
	case SerializeRocketMQ:
		dst, err = appendRocketMQHeader(dst, c)
	default:
		err = fmt.Errorf("%w %d", ErrSerializeType, c.Serialize)
	}
	if err != nil {
		return dst[:start], fmt.Errorf("encode command code %d: %w", c.Code, err)
	}
	headerLen := len(dst) - start - 8
	if headerLen > headerLengthMask {
		return dst[:start], fmt.Errorf("encode command code %d: header of %d bytes exceeds 24 bits: %w", c.Code, headerLen, ErrMalformedHeader)
	}
	// The length field is a signed 32-bit int on every RocketMQ peer.
	if length := 4 + headerLen + len(c.Body); length > math.MaxInt32-4 {
		return dst[:start], fmt.Errorf("encode command code %d: frame of %d bytes: %w", c.Code, length+4, ErrFrameTooLarge)
	}
	dst = append(dst, c.Body...)
	length := len(dst) - start - 4
	binary.BigEndian.PutUint32(dst[start:], uint32(length))
	binary.BigEndian.PutUint32(dst[start+4:], uint32(c.Serialize)<<24|uint32(headerLen))
	return dst, nil
}

// Encode returns c as a new frame.
func Encode(c *Command) ([]byte, error) {
	return c.AppendFrame(make([]byte, 0, 256+len(c.Body)))
}

// Decode parses one frame payload: the bytes that follow the 4-byte length
// field (header word, header, body). The command's Body aliases payload.
func Decode(payload []byte) (*Command, error) {
	if len(payload) < 4 {
		return nil, fmt.Errorf("decode frame of %d bytes: %w", len(payload), ErrFrameTooSmall)
	}
	word := binary.BigEndian.Uint32(payload)
	st := SerializeType(word >> 24)
	headerLen := int(word & headerLengthMask)
	if headerLen > len(payload)-4 {
		return nil, fmt.Errorf("decode frame: header length %d, frame has %d bytes after the header word: %w", headerLen, len(payload)-4, ErrHeaderLength)
	}
	header := payload[4 : 4+headerLen]
	c := &Command{Serialize: st}
	var err error
	switch st {
	case SerializeJSON:
		err = decodeJSONHeader(header, c)
	case SerializeRocketMQ:
		err = decodeRocketMQHeader(header, c)
	default:
		return nil, fmt.Errorf("decode frame: %w %d", ErrSerializeType, st)
	}
	if err != nil {
		return nil, err
	}
	if body := payload[4+headerLen:]; len(body) > 0 {
		c.Body = body
	}
	return c, nil
}

// FrameReader reads frames from a stream, enforcing a maximum frame size
// before allocating anything for the frame. A frame's buffer follows the
// bytes that have arrived, never the length the peer claims: frames up to
// frameChunk are read in one go into a buffer of their length, larger ones
// into a buffer that starts at frameChunk and doubles each time it is full
// (so at most twice what has arrived, plus a chunk), each growth charged
// first to the reader's FrameBudget, if it has one (see FrameBudget).
type FrameReader struct {
	r        io.Reader
	br       *bufio.Reader // r, when it is one: heads can be peeked
	maxFrame int
	lenBuf   [4]byte

	// refused holds the busy answers of the requests refused from their
	// heads, refusedAt their read times, until the reader writes them
	// (Conn.ReadLoopRefusing).
	refused   []byte
	refusedAt []int64
	head      FrameHead
	// mayRefuse, when set, is asked first from the code alone; a request
	// it would not refuse skips the head read (see MayRefuseFunc).
	mayRefuse MayRefuseFunc

	budget     *FrameBudget // nil: nothing is shared, growth needs no admission
	connBudget int64
	done       <-chan struct{} // ends a wait for budget
	grant      frameGrant
}

// NewFrameReader reads frames of at most maxFrame bytes (length field
// included) from r; maxFrame <= 0 means DefaultMaxFrameSize. It shares no
// budget and pools no buffers: each frame holds at most twice what has
// arrived of it, plus a chunk.
func NewFrameReader(r io.Reader, maxFrame int) *FrameReader {
	return newFrameReader(r, maxFrame, nil, 0, nil)
}

// newFrameReader is NewFrameReader charging growth to budget, with
// connBudget (<= 0: DefaultConnFrameBudget) as the connection's own share;
// a wait for budget ends with an error when done is closed.
func newFrameReader(r io.Reader, maxFrame int, budget *FrameBudget, connBudget int, done <-chan struct{}) *FrameReader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameSize
	}
	if connBudget <= 0 {
		connBudget = DefaultConnFrameBudget
	}
	br, _ := r.(*bufio.Reader)
	return &FrameReader{r: r, br: br, maxFrame: maxFrame, budget: budget, connBudget: int64(connBudget), done: done}
}

// Next reads and decodes the next frame. Each frame gets its own buffer, so
// the returned command stays valid after later calls. io.EOF is returned
// only at a clean frame boundary; a stream cut inside a frame gives
// io.ErrUnexpectedEOF.
func (fr *FrameReader) Next() (*Command, error) {
	return fr.next(nil)
}

// next is Next showing refuse the head of each request it can peek at (see
// peekHead); a frame refuse refused is discarded from the buffer, its
// busy answer appended to fr.refused, and next returns nil, nil for it.
func (fr *FrameReader) next(refuse RefuseFunc) (*Command, error) {
	if _, err := io.ReadFull(fr.r, fr.lenBuf[:]); err != nil {
		return nil, err
	}
	length := int64(int32(binary.BigEndian.Uint32(fr.lenBuf[:])))
	switch {
	case length < 4:
		return nil, fmt.Errorf("read frame: length %d: %w", length, ErrFrameTooSmall)
	case length+4 > int64(fr.maxFrame):
		return nil, fmt.Errorf("read frame: length %d, maximum %d: %w", length+4, fr.maxFrame, ErrFrameTooLarge)
	}
	if refuse != nil && fr.br != nil && fr.mightRefuse(int(length)) {
		if h, ok := peekHead(fr.br, int(length)); ok && !h.IsResponse() {
			h.ReadAt = time.Now().UnixNano()
			// Passed from the reader, not the stack: refuse is a func
			// value, so &h would escape, an allocation per request.
			fr.head = h
			if r, ok := refuse(&fr.head); ok {
				if !r.Silent {
					b := busyFrame{readAt: h.ReadAt, waitMillis: r.WaitMillis, opaque: h.Opaque,
						queueSize: int32(min(r.QueueSize, 1<<31-1)), kind: r.Kind, serialize: h.Serialize}
					fr.refused = appendBusyFrame(fr.refused, &b)
					fr.refusedAt = append(fr.refusedAt, h.ReadAt)
				}
				if n, err := fr.br.Discard(int(length)); err != nil {
					return nil, bodyErr(int(length), n, err)
				}
				return nil, nil
			}
		}
	}
	if length > frameChunk {
		payload, err := fr.readGrowing(int(length))
		if err != nil {
			return nil, err
		}
		return stamped(Decode(payload))
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(fr.r, payload); err != nil {
		return nil, bodyErr(len(payload), 0, err)
	}
	return stamped(Decode(payload))
}

// mightRefuse asks mayRefuse about the next frame's code; true when there
// is no mayRefuse or the code cannot be read on its own.
func (fr *FrameReader) mightRefuse(length int) bool {
	if fr.mayRefuse == nil {
		return true
	}
	code, ok := peekCode(fr.br, length)
	return !ok || fr.mayRefuse(code)
}

// wouldBlock reports whether reading the next frame would wait for the
// socket: fewer bytes are buffered than its length field and payload.
func (fr *FrameReader) wouldBlock() bool {
	if fr.br == nil {
		return true
	}
	n := fr.br.Buffered()
	if n < 4 {
		return true
	}
	b, _ := fr.br.Peek(4)
	return int64(n) < 4+int64(int32(binary.BigEndian.Uint32(b)))
}

// stamped sets a decoded command's ReadAt.
func stamped(cmd *Command, err error) (*Command, error) {
	if err == nil {
		cmd.ReadAt = time.Now().UnixNano()
	}
	return cmd, err
}

// readGrowing reads a payload of length > frameChunk bytes into a buffer
// that grows only once the previous one is full: frameChunk, twice that,
// and so on, then length itself once that is at most twice the buffer
// plus a chunk. So a frame holds at most twice what has arrived of it,
// plus a chunk, and copies about its length on the way. The budget is
// charged for what a buffer holds beyond the first chunk, before each
// growth, and released when the frame is complete or has failed. The
// buffers before the last come from the budget's pools and go back there,
// so that a large frame costs one allocation, of its length, as before
// budgets existed.
func (fr *FrameReader) readGrowing(length int) ([]byte, error) {
	defer fr.release()
	// pooled is buf's handle while buf is a pooled buffer of its class,
	// nil once buf is the last, frame-sized one.
	class := 0
	pooled := fr.budget.getBuffer(class)
	buf := *pooled
	n := 0
	for {
		m, err := io.ReadFull(fr.r, buf[n:])
		n += m
		if err != nil {
			fr.budget.putBuffer(pooled, class)
			return nil, bodyErr(length, n, err)
		}
		if n == length {
			return buf, nil // the last buffer, of the frame's length
		}
		size := 2 * len(buf)
		if length <= size+frameChunk {
			// The last step may be up to a chunk longer than a doubling,
			// so that a frame a little over a power of two (a 4 MiB body
			// and its header) is not copied once more for its last bytes.
			size = length
		}
		if err := fr.reserve(size - max(len(buf), frameChunk)); err != nil {
			fr.budget.putBuffer(pooled, class)
			return nil, fmt.Errorf("read frame body of %d bytes, %d arrived: %w", length, n, err)
		}
		prev, prevClass := pooled, class
		if size == length {
			next := make([]byte, size)
			copy(next, buf)
			buf, pooled = next, nil
		} else {
			class++
			pooled = fr.budget.getBuffer(class)
			copy(*pooled, buf)
			buf = *pooled
		}
		fr.budget.putBuffer(prev, prevClass)
	}
}

func (fr *FrameReader) reserve(n int) error {
	if fr.budget == nil {
		return nil
	}
	return fr.budget.acquire(&fr.grant, int64(n), fr.connBudget, fr.done)
}

func (fr *FrameReader) release() {
	if fr.budget != nil {
		fr.budget.release(&fr.grant)
	}
}

// bodyErr is the error of a frame body cut short after arrived bytes.
func bodyErr(length, arrived int, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if arrived == 0 {
		return fmt.Errorf("read frame body of %d bytes: %w", length, err)
	}
	return fmt.Errorf("read frame body of %d bytes, %d arrived: %w", length, arrived, err)
}
