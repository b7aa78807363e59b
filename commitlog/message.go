package commitlog

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"unicode/utf8"

	"github.com/sluice-mq/sluice/remoting/message"
)

// Magic codes at record offset 4.
const (
	// MagicV1 marks a stored message with a 1-byte topic length.
	MagicV1 uint32 = 0xDAA320A7
	// MagicV2 marks a stored message with an int16 topic length (RocketMQ 5
	// long topics). Sluice never writes it (rocketmq-client-go cannot read it).
	MagicV2 uint32 = 0xDAA320AB
	// MagicBlank closes a commit-log file: TOTALSIZE = bytes left in the file.
	MagicBlank uint32 = 0xCBD43194
)

// SysFlag bits Sluice reads (RocketMQ MessageSysFlag).
const (
	SysFlagCompressed  int32 = 0x1
	SysFlagMultiTags   int32 = 0x2
	SysFlagTxPrepared  int32 = 0x4
	SysFlagTxCommit    int32 = 0x8
	SysFlagTxRollback  int32 = 0xC
	sysFlagTxMask      int32 = 0xC
	SysFlagBornHostV6  int32 = 0x10
	SysFlagStoreHostV6 int32 = 0x20
	maxTopicLenV1            = 127
	maxPropertiesLen         = 32767
	blankLen                 = 8 // END_FILE_MIN_BLANK_LENGTH
	recordFixedLenV4         = 91
)

// Field offsets that do not depend on host sizes.
const (
	offTotalSize   = 0
	offMagic       = 4
	offBodyCRC     = 8
	offQueueID     = 12
	offFlag        = 16
	offQueueOffset = 20
	offPhysOffset  = 28
	offSysFlag     = 36
	offBornTS      = 40
	offBornHost    = 48
)

// Message is what AppendRecord encodes. Properties are already in RocketMQ's
// encoding (package remoting/message).
type Message struct {
	Topic                     string
	QueueID                   int32
	Flag                      int32
	SysFlag                   int32
	BornTimestamp             int64
	BornHost, StoreHost       netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	Body                      []byte
	Properties                string
	// PropertiesSuffix, already encoded, is stored after Properties — the
	// items the broker adds to every message (CLUSTER), without building a
	// new string per message. A separator is put between the two when
	// Properties lacks its trailing one, as RocketMQ's batch encoder does.
	PropertiesSuffix string
}

// propertiesLen is the stored length of m's properties.
func (m *Message) propertiesLen() int {
	n := len(m.Properties) + len(m.PropertiesSuffix)
	if m.needsSeparator() {
		n++
	}
	return n
}

func (m *Message) needsSeparator() bool {
	return m.PropertiesSuffix != "" && m.Properties != "" && m.Properties[len(m.Properties)-1] != message.PropertySeparator
}

func hostLen(a netip.AddrPort) int {
	if a.Addr().Is6() && !a.Addr().Is4In6() {
		return 16
	}
	return 4
}

// RecordLen is the encoded size of m.
func RecordLen(m *Message) int {
	return recordFixedLenV4 - 8 + hostLen(m.BornHost) + hostLen(m.StoreHost) + len(m.Body) + len(m.Topic) + m.propertiesLen()
}

// AppendRecord appends m, encoded as a stored record (magic V1), to dst and
// returns the extended slice. QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP
// are zero; Put fills them where the record lands. The IPv6 sysFlag bits are
// set from the hosts. It allocates only when dst lacks capacity, so a reused
// buffer makes it allocation-free. The body limit is DefaultMaxMessageSize;
// AppendRecordLimit takes another.
func AppendRecord(dst []byte, m *Message) ([]byte, error) {
	return AppendRecordLimit(dst, m, DefaultMaxMessageSize)
}

// AppendRecordLimit is AppendRecord with a body limit (Config.MaxMessageSize).
func AppendRecordLimit(dst []byte, m *Message, maxBody int) ([]byte, error) {
	switch {
	case len(m.Topic) == 0 || bytes.IndexByte(stringBytes(m.Topic), 0) >= 0:
		return dst, ErrTopicInvalid
	case len(m.Topic) > maxTopicLenV1:
		return dst, ErrTopicTooLong
	case len(m.Body) > maxBody:
		return dst, ErrMessageTooLarge
	case m.propertiesLen() > maxPropertiesLen:
		return dst, ErrPropertiesTooLarge
	case len(m.Properties) > 0 && m.Properties[len(m.Properties)-1] == 0,
		len(m.PropertiesSuffix) > 0 && m.PropertiesSuffix[len(m.PropertiesSuffix)-1] == 0:
		return dst, ErrPropertiesInvalid
	}
	n := RecordLen(m)
	start := len(dst)
	if cap(dst)-start < n {
		grown := make([]byte, start, start+n+start/4)
		copy(grown, dst)
		dst = grown
	}
	dst = dst[:start+n]
	r := dst[start:]
	be := binary.BigEndian
	sysFlag := m.SysFlag &^ (SysFlagBornHostV6 | SysFlagStoreHostV6)
	if hostLen(m.BornHost) == 16 {
		sysFlag |= SysFlagBornHostV6
	}
	if hostLen(m.StoreHost) == 16 {
		sysFlag |= SysFlagStoreHostV6
	}
	be.PutUint32(r[offTotalSize:], uint32(n))
	be.PutUint32(r[offMagic:], MagicV1)
	be.PutUint32(r[offBodyCRC:], BodyCRC(m.Body))
	be.PutUint32(r[offQueueID:], uint32(m.QueueID))
	be.PutUint32(r[offFlag:], uint32(m.Flag))
	be.PutUint64(r[offQueueOffset:], 0)
	be.PutUint64(r[offPhysOffset:], 0)
	be.PutUint32(r[offSysFlag:], uint32(sysFlag))
	be.PutUint64(r[offBornTS:], uint64(m.BornTimestamp))
	p := putHost(r, offBornHost, m.BornHost)
	be.PutUint64(r[p:], 0) // STORETIMESTAMP
	p = putHost(r, p+8, m.StoreHost)
	be.PutUint32(r[p:], uint32(m.ReconsumeTimes))
	be.PutUint64(r[p+4:], uint64(m.PreparedTransactionOffset))
	p += 12
	be.PutUint32(r[p:], uint32(len(m.Body)))
	p += 4
	p += copy(r[p:], m.Body)
	r[p] = byte(len(m.Topic))
	p++
	p += copy(r[p:], m.Topic)
	be.PutUint16(r[p:], uint16(m.propertiesLen()))
	p += 2
	p += copy(r[p:], m.Properties)
	if m.needsSeparator() {
		r[p] = message.PropertySeparator
		p++
	}
	copy(r[p:], m.PropertiesSuffix)
	return dst, nil
}

func putHost(r []byte, p int, a netip.AddrPort) int {
	if hostLen(a) == 16 {
		ip := a.Addr().As16()
		copy(r[p:], ip[:])
		p += 16
	} else {
		var ip [4]byte
		if a.Addr().IsValid() {
			ip = a.Addr().Unmap().As4()
		}
		copy(r[p:], ip[:])
		p += 4
	}
	binary.BigEndian.PutUint32(r[p:], uint32(a.Port()))
	return p + 4
}

// BodyCRC is RocketMQ's body checksum: CRC-32/IEEE masked with 0x7fffffff.
func BodyCRC(body []byte) uint32 { return crc32.ChecksumIEEE(body) & 0x7fffffff }

// TagsHashCode is Java's String.hashCode of the TAGS value, sign-extended to
// int64: the tag code RocketMQ keeps in consume-queue entries and that
// subscriptions filter on.
func TagsHashCode(tags string) int64 { return tagsHash(stringBytes(tags)) }

func tagsHash(b []byte) int64 {
	var h int32
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return int64(h)
}

// storeTimestampOffset is where STORETIMESTAMP sits for a record with sysFlag.
func storeTimestampOffset(sysFlag int32) int {
	if sysFlag&SysFlagBornHostV6 != 0 {
		return offBornHost + 20
	}
	return offBornHost + 8
}

// recordInfo is what the dispatcher and recovery need from a record.
type recordInfo struct {
	size        int32
	queueID     int32
	queueOffset int64
	physOffset  int64
	sysFlag     int32
	storeTS     int64
	topic       []byte // aliases the record
	props       []byte // aliases the record
	// tagsCode is the TAGS hash; the consume-queue entry's tags code is
	// delayTable.cqTagsCode (a delivery time for SCHEDULE_TOPIC_XXXX).
	tagsCode int64
}

// parseRecord checks the record at the start of b (which may extend past it)
// and returns its fields. It accepts a record only if its magic is V1, its
// lengths add up to TOTALSIZE, the body CRC matches (when checkCRC), the
// topic is non-empty with no NUL byte and non-empty properties do not end in
// NUL. The last two rules make a write torn at any byte (the tail left as
// zeros) fail the check: zeroing the final byte of the topic or the
// properties is always visible, and a torn record without properties only
// lost bytes that were zero already.
func parseRecord(b []byte, checkCRC bool) (recordInfo, error) {
	var ri recordInfo
	if len(b) < recordFixedLenV4 {
		return ri, ErrCorruptRecord
	}
	be := binary.BigEndian
	size := int32(be.Uint32(b[offTotalSize:]))
	if be.Uint32(b[offMagic:]) != MagicV1 || size < recordFixedLenV4 || int(size) > len(b) {
		return ri, ErrCorruptRecord
	}
	r := b[:size]
	sysFlag := int32(be.Uint32(r[offSysFlag:]))
	bornLen, storeLen := 8, 8
	if sysFlag&SysFlagBornHostV6 != 0 {
		bornLen = 20
	}
	if sysFlag&SysFlagStoreHostV6 != 0 {
		storeLen = 20
	}
	tsOff := offBornHost + bornLen
	p := tsOff + 8 + storeLen + 12
	if p+4 > len(r) {
		return ri, ErrCorruptRecord
	}
	bodyLen := int(int32(be.Uint32(r[p:])))
	p += 4
	if bodyLen < 0 || p+bodyLen+1 > len(r) {
		return ri, ErrCorruptRecord
	}
	body := r[p : p+bodyLen]
	p += bodyLen
	topicLen := int(r[p])
	p++
	if topicLen == 0 || p+topicLen+2 > len(r) {
		return ri, ErrCorruptRecord
	}
	topic := r[p : p+topicLen]
	p += topicLen
	propLen := int(int16(be.Uint16(r[p:])))
	p += 2
	if propLen < 0 || p+propLen != len(r) {
		return ri, ErrCorruptRecord
	}
	props := r[p:]
	if bytes.IndexByte(topic, 0) >= 0 || (propLen > 0 && props[propLen-1] == 0) {
		return ri, ErrCorruptRecord
	}
	if checkCRC && be.Uint32(r[offBodyCRC:]) != BodyCRC(body) {
		return ri, ErrCorruptRecord
	}
	ri = recordInfo{
		size:        size,
		queueID:     int32(be.Uint32(r[offQueueID:])),
		queueOffset: int64(be.Uint64(r[offQueueOffset:])),
		physOffset:  int64(be.Uint64(r[offPhysOffset:])),
		sysFlag:     sysFlag,
		storeTS:     int64(be.Uint64(r[tsOff:])),
		topic:       topic,
		props:       props,
		tagsCode:    tagsCodeFromProperties(props),
	}
	return ri, nil
}

// tagsCodeFromProperties finds TAGS in encoded properties without
// allocating; a repeated TAGS reads as its last value, as Java reads it.
func tagsCodeFromProperties(props []byte) int64 {
	if tags, ok := message.Lookup(props, message.PropertyTags); ok {
		return tagsHash(tags)
	}
	return 0
}

// isTxHalfOrRollback reports records RocketMQ keeps out of consume queues:
// prepared and rolled-back transactional messages.
func isTxHalfOrRollback(sysFlag int32) bool {
	t := sysFlag & sysFlagTxMask
	return t == SysFlagTxPrepared || t == SysFlagTxRollback
}
