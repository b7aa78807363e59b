package commitlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"

	"github.com/sluice-mq/sluice/commitlog/mmap"
)

// The checkpoint file says what is durable, so that recovery after a crash
// knows where it may start checking. RocketMQ keeps timestamps there; Sluice
// keeps offsets, which need no clock. The file holds two 512-byte slots
// written alternately, each with a sequence number and a CRC, so a write torn
// by a crash leaves the other slot valid.
//
//	slot: magic "SLCK" u32 | version u32 | seq u64 | physFlushed i64 |
//	      cqFlushed i64 | writtenAtMs i64 | clean u32 | crc32 u32 (of the 44 bytes before)
//	      | indexMsgTimestamp i64 | crc32 u32 (of the 56 bytes before)   version 2 only
//
// Version 2 adds RocketMQ's indexMsgTimestamp (StoreCheckpoint's third
// field): the end time of the newest index file known to be on disk.
// A version-1 slot (written before the index existed) still reads, with
// indexMsgTimestamp 0.
const (
	checkpointMagic   = 0x534C434B // "SLCK"
	checkpointVersion = 2
	checkpointSlot    = 512
	checkpointLenV1   = 48
	checkpointLen     = 60
)

// checkpointData is one slot's content.
type checkpointData struct {
	seq uint64
	// physFlushed: every commit-log byte below it is on disk.
	physFlushed int64
	// cqFlushed: consume-queue entries for every record below this
	// commit-log offset are on disk.
	cqFlushed   int64
	writtenAtMs int64
	// clean: written by Close after everything was flushed.
	clean bool
	// indexMsgTimestamp: index files ending at or before it are on disk.
	indexMsgTimestamp int64
}

// checkpoint owns <root>/checkpoint. Its writes come from the consume-queue
// flusher and from Close, never concurrently.
type checkpoint struct {
	f    *os.File
	last checkpointData
	buf  [checkpointLen]byte
	// index, when set, flushes the message index (all of it for a clean
	// stop) and returns its indexMsgTimestamp: every write records it, so
	// whoever writes the checkpoint covers the index too.
	index func(clean bool) int64
}

// openCheckpoint opens (creating) the file and reads the newest valid slot;
// ok is false when there is none.
func openCheckpoint(path string) (*checkpoint, checkpointData, bool, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, checkpointData{}, false, fmt.Errorf("open checkpoint %s: %w", path, err)
	}
	c := &checkpoint{f: f}
	var best checkpointData
	ok := false
	var b [checkpointLen]byte
	for slot := int64(0); slot < 2; slot++ {
		n, _ := f.ReadAt(b[:], slot*checkpointSlot)
		if n < checkpointLenV1 {
			continue
		}
		if d, valid := decodeCheckpoint(b[:n]); valid && (!ok || d.seq > best.seq) {
			best, ok = d, true
		}
	}
	c.last = best
	return c, best, ok, nil
}

func decodeCheckpoint(b []byte) (checkpointData, bool) {
	be := binary.BigEndian
	v := be.Uint32(b[4:])
	if be.Uint32(b) != checkpointMagic || (v != 1 && v != checkpointVersion) ||
		be.Uint32(b[44:]) != crc32.ChecksumIEEE(b[:44]) {
		return checkpointData{}, false
	}
	d := checkpointData{
		seq:         be.Uint64(b[8:]),
		physFlushed: int64(be.Uint64(b[16:])),
		cqFlushed:   int64(be.Uint64(b[24:])),
		writtenAtMs: int64(be.Uint64(b[32:])),
		clean:       be.Uint32(b[40:]) == 1,
	}
	if v == checkpointVersion {
		if len(b) < checkpointLen || be.Uint32(b[56:]) != crc32.ChecksumIEEE(b[:56]) {
			return checkpointData{}, false
		}
		d.indexMsgTimestamp = int64(be.Uint64(b[48:]))
	}
	return d, true
}

// write stores d (with the next sequence number) in the older slot and
// forces it to disk. It does not allocate.
func (c *checkpoint) write(d checkpointData) error {
	d.seq = c.last.seq + 1
	d.indexMsgTimestamp = c.last.indexMsgTimestamp
	if c.index != nil {
		d.indexMsgTimestamp = c.index(d.clean)
	}
	be := binary.BigEndian
	b := c.buf[:]
	be.PutUint32(b, checkpointMagic)
	be.PutUint32(b[4:], checkpointVersion)
	be.PutUint64(b[8:], d.seq)
	be.PutUint64(b[16:], uint64(d.physFlushed))
	be.PutUint64(b[24:], uint64(d.cqFlushed))
	be.PutUint64(b[32:], uint64(d.writtenAtMs))
	var clean uint32
	if d.clean {
		clean = 1
	}
	be.PutUint32(b[40:], clean)
	be.PutUint32(b[44:], crc32.ChecksumIEEE(b[:44]))
	be.PutUint64(b[48:], uint64(d.indexMsgTimestamp))
	be.PutUint32(b[56:], crc32.ChecksumIEEE(b[:56]))
	if _, err := c.f.WriteAt(b, int64(d.seq%2)*checkpointSlot); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := mmap.Fdatasync(c.f); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	c.last = d
	return nil
}

func (c *checkpoint) close() error { return c.f.Close() }
