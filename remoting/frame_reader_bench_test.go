package remoting

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// benchLargeFrame reads one frame of size bytes: what a frame that does not
// fit in one chunk costs now that its buffer grows as it arrives instead of
// being allocated at the claimed length.
func benchLargeFrame(b *testing.B, size int) {
	c := NewRequest(SendMessage, map[string]string{"topic": "T"}, bytes.Repeat([]byte{'x'}, size))
	frame, err := Encode(c)
	if err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(frame)
	// A reader with a budget, as a broker's connections have.
	fr := newFrameReader(r, 0, NewFrameBudget(0), 0, nil)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(frame)
		if _, err := fr.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFrame256KiB(b *testing.B) { benchLargeFrame(b, 256<<10) }
func BenchmarkReadFrame4MiB(b *testing.B)   { benchLargeFrame(b, 4<<20) }

// BenchmarkConnEcho drives requests through a Conn over loopback TCP: the
// peer writes b.N SEND_MESSAGE frames, the Conn's ReadLoop answers each
// with Send, and the peer reads every answer. It covers what the
// accounting of queued answers adds to Send and to the writer.
func BenchmarkConnEcho(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c := NewConn(nc, ConnOptions{})
		accepted <- c
		_ = c.ReadLoop(func(req *Command) {
			resp := NewResponse(req, Success, "")
			resp.SetExt("msgId", "C0A8000100002A9F0000000000000001")
			resp.SetExt("queueOffset", strconv.Itoa(int(req.Opaque)))
			_ = c.Send(resp)
		})
	}()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	conn := <-accepted
	defer conn.Close(nil)

	frame, err := Encode(benchSendRequest(SerializeJSON))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Batches of frames, as a pipelining client writes them.
		const perWrite = 64
		batch := bytes.Repeat(frame, perWrite)
		for left := b.N; left > 0; left -= perWrite {
			n := min(left, perWrite)
			if _, err := peer.Write(batch[:n*len(frame)]); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	var lenBuf [4]byte
	discard := make([]byte, 64<<10)
	for i := 0; i < b.N; i++ {
		if _, err := io.ReadFull(peer, lenBuf[:]); err != nil {
			b.Fatal(err)
		}
		n := int(binary.BigEndian.Uint32(lenBuf[:]))
		if _, err := io.ReadFull(peer, discard[:n]); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}
