package ha

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Sizes on the wire.
const (
	// HeaderSize is a transfer's header: physical offset (8), size (4).
	HeaderSize = 12
	// ReportSize is a slave's offset report.
	ReportSize = 8
	// ReadBufferSize bounds what a slave buffers of the master's stream
	// (RocketMQ's HAClient READ_MAX_BUFFER_SIZE, 4 MiB): a transfer must fit.
	ReadBufferSize = 4 << 20
)

// PutHeader writes a transfer header into dst[:HeaderSize].
func PutHeader(dst []byte, offset int64, size int) {
	binary.BigEndian.PutUint64(dst, uint64(offset))
	binary.BigEndian.PutUint32(dst[8:], uint32(size))
}

// PutReport writes a slave's report into dst[:ReportSize].
func PutReport(dst []byte, offset int64) { binary.BigEndian.PutUint64(dst, uint64(offset)) }

// ErrBadTransfer: the master's stream holds a header no transfer can have.
var ErrBadTransfer = errors.New("ha: bad transfer header")

// Decoder splits the master's stream into transfers, in a buffer bounded
// at its size (ReadBufferSize for a slave). It never allocates after
// NewDecoder.
type Decoder struct {
	buf  []byte
	r, w int // unread bytes are buf[r:w]
}

// NewDecoder returns a decoder buffering at most size bytes.
func NewDecoder(size int) *Decoder { return &Decoder{buf: make([]byte, size)} }

// Fill reads once from src into the free part of the buffer, first moving
// unread bytes to its start when they reach its end.
func (d *Decoder) Fill(src io.Reader) (int, error) {
	if d.w == len(d.buf) && d.r > 0 {
		d.w = copy(d.buf, d.buf[d.r:d.w])
		d.r = 0
	}
	if d.w == len(d.buf) {
		// Next refused what does not fit; nothing to read into.
		return 0, fmt.Errorf("%w: a transfer larger than the %d-byte read buffer", ErrBadTransfer, len(d.buf))
	}
	n, err := src.Read(d.buf[d.w:])
	d.w += n
	return n, err
}

// Header returns the next transfer's header once its 12 bytes are in
// (RocketMQ's slave checks the offset before the body arrives).
func (d *Decoder) Header() (offset int64, size int, ok bool, err error) {
	if d.w-d.r < HeaderSize {
		return 0, 0, false, nil
	}
	offset = int64(binary.BigEndian.Uint64(d.buf[d.r:]))
	size = int(int32(binary.BigEndian.Uint32(d.buf[d.r+8:])))
	if offset < 0 || size < 0 || size > len(d.buf)-HeaderSize {
		return 0, 0, false, fmt.Errorf("%w: offset %d, size %d (read buffer %d bytes)", ErrBadTransfer, offset, size, len(d.buf))
	}
	return offset, size, true, nil
}

// Next returns the next whole transfer; body is valid until the next Fill.
// ok is false while it is not all in.
func (d *Decoder) Next() (offset int64, body []byte, ok bool, err error) {
	offset, size, ok, err := d.Header()
	if !ok || err != nil {
		return 0, nil, false, err
	}
	if d.w-d.r < HeaderSize+size {
		if d.r > 0 && len(d.buf)-d.r < HeaderSize+size {
			// Make room for the rest (RocketMQ's reallocateByteBuffer).
			d.w = copy(d.buf, d.buf[d.r:d.w])
			d.r = 0
		}
		return 0, nil, false, nil
	}
	body = d.buf[d.r+HeaderSize : d.r+HeaderSize+size]
	d.r += HeaderSize + size
	if d.r == d.w {
		d.r, d.w = 0, 0
	}
	return offset, body, true, nil
}

// ReportReader takes a master's view of a slave's reports: the slave may
// send several between two reads, and only the last whole one counts
// (RocketMQ's ReadSocketService).
type ReportReader struct {
	buf [4096]byte
	n   int
}

// Read reads once from src; ok says a whole report came in, offset is
// the last one.
func (r *ReportReader) Read(src io.Reader) (offset int64, ok bool, err error) {
	n, err := src.Read(r.buf[r.n:])
	r.n += n
	whole := r.n - r.n%ReportSize
	if whole > 0 {
		offset = int64(binary.BigEndian.Uint64(r.buf[whole-ReportSize:]))
		ok = true
		r.n = copy(r.buf[:], r.buf[whole:r.n])
	}
	return offset, ok, err
}
