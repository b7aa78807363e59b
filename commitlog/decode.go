package commitlog

import (
	"encoding/binary"
	"net/netip"
)

// StoredMessage is a stored record decoded: the Message it was made from
// plus what the store filled in.
type StoredMessage struct {
	Message
	QueueOffset    int64
	PhysicalOffset int64
	StoreTimestamp int64
	StoreSize      int32
}

// DecodeRecord decodes the stored record at the start of rec, copying what
// it keeps, so the result outlives the mapping. The send-back path uses it
// to rebuild a message the consumer asks to retry.
func DecodeRecord(rec []byte) (StoredMessage, error) {
	if _, err := parseRecord(rec, false); err != nil {
		return StoredMessage{}, err
	}
	be := binary.BigEndian
	var m StoredMessage
	m.StoreSize = int32(be.Uint32(rec[offTotalSize:]))
	m.QueueID = int32(be.Uint32(rec[offQueueID:]))
	m.Flag = int32(be.Uint32(rec[offFlag:]))
	m.QueueOffset = int64(be.Uint64(rec[offQueueOffset:]))
	m.PhysicalOffset = int64(be.Uint64(rec[offPhysOffset:]))
	m.SysFlag = int32(be.Uint32(rec[offSysFlag:]))
	m.BornTimestamp = int64(be.Uint64(rec[offBornTS:]))
	p := offBornHost
	m.BornHost, p = readHost(rec, p, m.SysFlag&SysFlagBornHostV6 != 0)
	m.StoreTimestamp = int64(be.Uint64(rec[p:]))
	p += 8
	m.StoreHost, p = readHost(rec, p, m.SysFlag&SysFlagStoreHostV6 != 0)
	m.ReconsumeTimes = int32(be.Uint32(rec[p:]))
	p += 4
	m.PreparedTransactionOffset = int64(be.Uint64(rec[p:]))
	p += 8
	bodyLen := int(be.Uint32(rec[p:]))
	p += 4
	m.Body = append([]byte(nil), rec[p:p+bodyLen]...)
	p += bodyLen
	topicLen := int(rec[p])
	p++
	m.Topic = string(rec[p : p+topicLen])
	p += topicLen
	propLen := int(be.Uint16(rec[p:]))
	p += 2
	m.Properties = string(rec[p : p+propLen])
	m.SysFlag &^= SysFlagBornHostV6 | SysFlagStoreHostV6
	return m, nil
}

func readHost(rec []byte, p int, v6 bool) (netip.AddrPort, int) {
	n := 4
	if v6 {
		n = 16
	}
	var a netip.Addr
	if v6 {
		a = netip.AddrFrom16([16]byte(rec[p : p+16]))
	} else {
		a = netip.AddrFrom4([4]byte(rec[p : p+4]))
	}
	port := uint16(binary.BigEndian.Uint32(rec[p+n:]))
	return netip.AddrPortFrom(a, port), p + n + 4
}
