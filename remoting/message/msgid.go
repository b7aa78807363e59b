package message

import (
	"encoding/binary"
	"net/netip"
)

// OffsetMsgID is MessageDecoder#createMessageId: the store host's IP and
// port and the record's commit-log offset, in upper-case hex — the
// "offsetMsgId" a send answers with and VIEW_MESSAGE_BY_ID looks up.
func OffsetMsgID(storeHost netip.AddrPort, phys int64) string {
	var out [2 * (16 + 4 + 8)]byte
	return string(AppendOffsetMsgID(out[:0], storeHost, phys))
}

// AppendOffsetMsgID appends the offsetMsgId to dst.
func AppendOffsetMsgID(dst []byte, storeHost netip.AddrPort, phys int64) []byte {
	var raw [16 + 4 + 8]byte
	n := 0
	if a := storeHost.Addr().Unmap(); a.Is4() {
		ip := a.As4()
		n = copy(raw[:], ip[:])
	} else {
		ip := a.As16()
		n = copy(raw[:], ip[:])
	}
	binary.BigEndian.PutUint32(raw[n:], uint32(storeHost.Port()))
	binary.BigEndian.PutUint64(raw[n+4:], uint64(phys))
	const upperHex = "0123456789ABCDEF"
	for _, b := range raw[:n+12] {
		dst = append(dst, upperHex[b>>4], upperHex[b&0xF])
	}
	return dst
}
