package remoting

import "errors"

// Errors returned by the frame codec. Each names what was wrong so the log
// line that closes a connection says why.
var (
	ErrFrameTooLarge   = errors.New("frame larger than the maximum frame size")
	ErrFrameTooSmall   = errors.New("frame shorter than its header-length word")
	ErrHeaderLength    = errors.New("header length beyond the frame")
	ErrSerializeType   = errors.New("unknown serialize type")
	ErrMalformedHeader = errors.New("malformed header")
	ErrClosed          = errors.New("connection closed")
	ErrTimeout         = errors.New("request timeout")
	ErrIdle            = errors.New("connection idle")
	// ErrWriteBacklog: the frames queued for a peer stayed above the write
	// buffer's low water mark for the drain timeout; the peer reads too
	// slowly or not at all.
	ErrWriteBacklog = errors.New("queued frames did not drain")
)
