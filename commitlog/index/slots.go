package index

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"
)

// The hash slots are published with atomic 32-bit stores so that a query
// on another goroutine reads either the old or the new value, never a torn
// one, and sees the entry written before it. The file is big-endian; the
// machine's word order is converted on the way.

func slotPtr(b []byte, off int64) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

func storeBE32(b []byte, off int64, v int32) {
	var w [4]byte
	binary.BigEndian.PutUint32(w[:], uint32(v))
	atomic.StoreUint32(slotPtr(b, off), binary.NativeEndian.Uint32(w[:]))
}

func loadBE32(b []byte, off int64) int32 {
	var w [4]byte
	binary.NativeEndian.PutUint32(w[:], atomic.LoadUint32(slotPtr(b, off)))
	return int32(binary.BigEndian.Uint32(w[:]))
}
