package commitlog

import (
	"errors"
	"strconv"
)

// PutStatus is the outcome of a Put, RocketMQ's PutMessageStatus. The send
// processor maps it to a response code.
type PutStatus int

const (
	// PutOK: stored (and, with SyncFlush, on disk).
	PutOK PutStatus = iota
	// PutFlushDiskTimeout: stored, but the SyncFlush sync did not finish
	// within SyncFlushTimeout (RocketMQ FLUSH_DISK_TIMEOUT, code 10).
	PutFlushDiskTimeout
	// PutCreateMappedFileFailed: a file the request needs could not be
	// created or given disk space (typically ENOSPC): the next commit-log
	// file, or the consume-queue space reserved before appending so that
	// an acknowledged message can always be indexed. Nothing was written for
	// that request; Err names the file. Puts work again once space is freed.
	PutCreateMappedFileFailed
	// PutMessageIllegal: the request's records are malformed, the body is over
	// MaxMessageSize, or the batch does not fit in one file.
	PutMessageIllegal
	// PutServiceNotAvailable: the store is closed or the disk is above
	// DiskMaxUsedSpaceRatio. Reads keep working.
	PutServiceNotAvailable
	// PutOSPageCacheBusy: an append has held the lock for longer than
	// OSPageCacheBusyTimeOutMills (returned by CheckStoreStatus).
	PutOSPageCacheBusy
	// PutUnknownError: anything else; PutResult.Err says what.
	PutUnknownError
	// PutFlushSlaveTimeout: stored, but under SyncMaster no slave
	// acknowledged it within SyncFlushTimeout (FLUSH_SLAVE_TIMEOUT, 12).
	PutFlushSlaveTimeout
	// PutSlaveNotAvailable: stored, but under SyncMaster no slave is
	// connected or it is more than HASlaveFallbehindMax behind
	// (SLAVE_NOT_AVAILABLE, 11).
	PutSlaveNotAvailable
)

var putStatusNames = [...]string{
	PutOK:                     "PUT_OK",
	PutFlushDiskTimeout:       "FLUSH_DISK_TIMEOUT",
	PutCreateMappedFileFailed: "CREATE_MAPEDFILE_FAILED", // sic, RocketMQ's spelling
	PutMessageIllegal:         "MESSAGE_ILLEGAL",
	PutServiceNotAvailable:    "SERVICE_NOT_AVAILABLE",
	PutOSPageCacheBusy:        "OS_PAGECACHE_BUSY",
	PutUnknownError:           "UNKNOWN_ERROR",
	PutFlushSlaveTimeout:      "FLUSH_SLAVE_TIMEOUT",
	PutSlaveNotAvailable:      "SLAVE_NOT_AVAILABLE",
}

// Stored reports that the records are in the log, whatever the wait after
// (RocketMQ answers these with sendOK: the message is stored).
func (s PutStatus) Stored() bool {
	return s == PutOK || s == PutFlushDiskTimeout || s == PutFlushSlaveTimeout || s == PutSlaveNotAvailable
}

// String returns RocketMQ's PutMessageStatus name.
func (s PutStatus) String() string {
	if s >= 0 && int(s) < len(putStatusNames) {
		return putStatusNames[s]
	}
	return "PutStatus(" + strconv.Itoa(int(s)) + ")"
}

// GetStatus is the outcome of GetMessage, RocketMQ's GetMessageStatus; see
// GetMessage for when each is returned and what NextBeginOffset is then.
type GetStatus int

const (
	// Found: at least one message.
	Found GetStatus = iota
	// NoMatchedMessage: every scanned entry was filtered out.
	NoMatchedMessage
	// MessageWasRemoving: the commit-log data for the entries is gone (retention).
	MessageWasRemoving
	// OffsetOverflowOne: offset == max offset; nothing new yet (long-poll).
	OffsetOverflowOne
	// OffsetFoundNull: the consume-queue entry could not be read.
	OffsetFoundNull
	// OffsetTooSmall: offset < min offset.
	OffsetTooSmall
	// OffsetOverflowBadly: offset > max offset.
	OffsetOverflowBadly
	// NoMessageInQueue: the queue is empty or does not exist.
	NoMessageInQueue
)

var getStatusNames = [...]string{
	Found:               "FOUND",
	NoMatchedMessage:    "NO_MATCHED_MESSAGE",
	MessageWasRemoving:  "MESSAGE_WAS_REMOVING",
	OffsetOverflowOne:   "OFFSET_OVERFLOW_ONE",
	OffsetFoundNull:     "OFFSET_FOUND_NULL",
	OffsetTooSmall:      "OFFSET_TOO_SMALL",
	OffsetOverflowBadly: "OFFSET_OVERFLOW_BADLY",
	NoMessageInQueue:    "NO_MESSAGE_IN_QUEUE",
}

// String returns RocketMQ's GetMessageStatus name (used as the pull remark).
func (s GetStatus) String() string {
	if s >= 0 && int(s) < len(getStatusNames) {
		return getStatusNames[s]
	}
	return "GetStatus(" + strconv.Itoa(int(s)) + ")"
}

// Errors returned by AppendRecord and friends. They print as "commitlog: …".
var (
	// ErrMessageTooLarge: the body is over the size limit.
	ErrMessageTooLarge = errors.New("commitlog: message body too large")
	// ErrPropertiesTooLarge: properties longer than 32767 bytes (int16 length).
	ErrPropertiesTooLarge = errors.New("commitlog: properties too large")
	// ErrPropertiesInvalid: properties end with a NUL byte, which recovery could
	// not tell apart from a torn write.
	ErrPropertiesInvalid = errors.New("commitlog: properties end with a NUL byte")
	// ErrTopicTooLong: topic longer than 127 bytes (record V1 has a 1-byte length).
	ErrTopicTooLong = errors.New("commitlog: topic longer than 127 bytes")
	// ErrTopicInvalid: empty topic, or one containing a NUL byte.
	ErrTopicInvalid = errors.New("commitlog: topic empty or containing NUL")
	// ErrCorruptRecord: a stored record failed its checks (magic, size, CRC).
	ErrCorruptRecord = errors.New("commitlog: corrupt record")
	// ErrOffsetNotFound: no record at that physical offset (deleted, never
	// written, or not yet readable).
	ErrOffsetNotFound = errors.New("commitlog: no record at offset")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("commitlog: store closed")
)
