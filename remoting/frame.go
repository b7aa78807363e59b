package remoting

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
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
// before allocating anything for the frame.
type FrameReader struct {
	r        io.Reader
	maxFrame int
	lenBuf   [4]byte
}

// NewFrameReader reads frames of at most maxFrame bytes (length field
// included) from r; maxFrame <= 0 means DefaultMaxFrameSize.
func NewFrameReader(r io.Reader, maxFrame int) *FrameReader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameSize
	}
	return &FrameReader{r: r, maxFrame: maxFrame}
}

// Next reads and decodes the next frame. Each frame gets its own buffer, so
// the returned command stays valid after later calls. io.EOF is returned
// only at a clean frame boundary; a stream cut inside a frame gives
// io.ErrUnexpectedEOF.
func (fr *FrameReader) Next() (*Command, error) {
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
	payload := make([]byte, length)
	if _, err := io.ReadFull(fr.r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read frame body of %d bytes: %w", length, err)
	}
	return Decode(payload)
}
