package remoting

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// ErrBatchMalformed is a SEND_BATCH_MESSAGE body that does not parse.
var ErrBatchMalformed = errors.New("batch body is truncated or malformed")

// The batch body (MessageDecoder#encodeMessages) is one item per message:
//
//	TOTALSIZE 4 | MAGIC 4 | BODYCRC 4 | FLAG 4 | BODYLEN 4 | BODY | PROPLEN 2 | PROPERTIES
//
// MAGIC and BODYCRC are written by clients but not checked by the Java
// broker; neither are they here.
const batchItemFixed = 4 + 4 + 4 + 4 + 4 + 2

// BatchItem is one message of a batch body; Body and Properties alias the
// request's body.
type BatchItem struct {
	Flag       int32
	Body       []byte
	Properties []byte
}

// EachBatchItem calls fn for every message of a batch body, in order,
// without copying, and returns how many there were. An empty body, a
// malformed item or fn's error stops it.
func EachBatchItem(body []byte, fn func(BatchItem) error) (int, error) {
	count := 0
	for len(body) > 0 {
		if len(body) < batchItemFixed-2 {
			return count, ErrBatchMalformed
		}
		total := int(int32(binary.BigEndian.Uint32(body)))
		if total < batchItemFixed || total > len(body) {
			return count, ErrBatchMalformed
		}
		rec := body[:total]
		body = body[total:]
		bodyLen := int(int32(binary.BigEndian.Uint32(rec[16:])))
		if bodyLen < 0 || 20+bodyLen+2 > total {
			return count, ErrBatchMalformed
		}
		propLen := int(binary.BigEndian.Uint16(rec[20+bodyLen:]))
		if batchItemFixed+bodyLen+propLen != total {
			return count, ErrBatchMalformed
		}
		it := BatchItem{
			Flag:       int32(binary.BigEndian.Uint32(rec[12:])),
			Body:       rec[20 : 20+bodyLen],
			Properties: rec[22+bodyLen:],
		}
		if err := fn(it); err != nil {
			return count, err
		}
		count++
	}
	if count == 0 {
		return 0, ErrBatchMalformed
	}
	return count, nil
}

// AppendBatchItem appends one message to a batch body, as the clients
// encode it.
func AppendBatchItem(dst []byte, it BatchItem) []byte {
	total := batchItemFixed + len(it.Body) + len(it.Properties)
	dst = binary.BigEndian.AppendUint32(dst, uint32(total))
	dst = binary.BigEndian.AppendUint32(dst, 0) // MAGIC: unused by brokers
	dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(it.Body)&0x7fffffff)
	dst = binary.BigEndian.AppendUint32(dst, uint32(it.Flag))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(it.Body)))
	dst = append(dst, it.Body...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(it.Properties)))
	return append(dst, it.Properties...)
}
