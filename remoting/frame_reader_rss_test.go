package remoting

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the bytes the server side has taken off the socket,
// so that a measurement is taken once everything sent has arrived.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestFrameRSSTricklingClaims reproduces the slow-loris of issue 11 and
// reports the figure for the README: 500 connections each announce a
// 16 MiB frame and then trickle 38 000 bytes of it (19 MB in all). The
// scenario runs twice in the process, because the second round reuses a
// heap the first has touched, as a broker that has been running does: a
// fresh heap's untouched pages would hide claimed-but-unused buffers from
// the RSS. It is a measurement, not part of the ordinary run:
//
//	SLUICE_FRAME_RSS=1 go test -run TestFrameRSSTricklingClaims -v ./remoting/
func TestFrameRSSTricklingClaims(t *testing.T) {
	if os.Getenv("SLUICE_FRAME_RSS") != "1" {
		t.Skip("set SLUICE_FRAME_RSS=1 to measure")
	}
	runtime.GC()
	start := memFigures(t)
	t.Logf("start:             %s", start)
	for round := 1; round <= 2; round++ {
		// One budget for the server's connections, as a broker has.
		budget := NewFrameBudget(0)
		during, inUse := trickleClaims(t, budget)
		t.Logf("round %d, received: %s, frame budget in use %s", round, during, mib(uint64(inUse)))
		runtime.GC()
		t.Logf("round %d, closed:   %s", round, memFigures(t))
		// Per connection: the frame buffer (at most twice what arrived),
		// the read buffer, and 64 KiB for the Conn and the peer's socket.
		bound := start.heapInuse + rssConns*(2*rssPerConn+readBufferSize+64<<10)
		if during.heapInuse > bound {
			t.Errorf("round %d: heap in use %s, bound %s", round, mib(during.heapInuse), mib(bound))
		}
	}
}

const (
	rssConns   = 500
	rssPerConn = 38000 // 19 MB in all, as in issue 11
)

// trickleClaims opens the connections, sends the claims and the trickle,
// and returns the memory figures and the budget in use once the server has
// read every byte.
func trickleClaims(t *testing.T, budget *FrameBudget) (memFig, int64) {
	const (
		conns   = rssConns
		perConn = rssPerConn
		piece   = 2000
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var received atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var server []*Conn
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := NewConn(countingConn{nc, &received}, ConnOptions{FrameBudget: budget})
			mu.Lock()
			server = append(server, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.ReadLoop(func(*Command) { t.Error("a frame completed") })
			}()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range server {
			c.Close(nil)
		}
		mu.Unlock()
		wg.Wait()
	}()

	peers := make([]net.Conn, conns)
	for i := range peers {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		peers[i] = nc
		var hdr [8]byte
		binary.BigEndian.PutUint32(hdr[:], DefaultMaxFrameSize-4) // the largest claim accepted
		binary.BigEndian.PutUint32(hdr[4:], 100)                  // JSON, 100-byte header
		if _, err := nc.Write(hdr[:]); err != nil {
			t.Fatal(err)
		}
	}
	chunk := bytes.Repeat([]byte{' '}, piece)
	for sent := 4; sent < perConn; sent += piece {
		for _, nc := range peers {
			if _, err := nc.Write(chunk[:min(piece, perConn-sent)]); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := int64(conns * (perConn + 4))
	deadline := time.Now().Add(long)
	for received.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("server received %d of %d bytes", received.Load(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d connections, each claiming %d bytes, sent %d bytes in all", conns, DefaultMaxFrameSize, want)
	return memFigures(t), budget.InUse()
}

type memFig struct {
	rss, hwm          string
	heapInuse, sysMem uint64
}

func (m memFig) String() string {
	return "VmRSS " + m.rss + ", VmHWM " + m.hwm +
		", HeapInuse " + mib(m.heapInuse) + ", Sys " + mib(m.sysMem)
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func memFigures(t *testing.T) memFig {
	t.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memFig{heapInuse: ms.HeapInuse, sysMem: ms.Sys}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatalf("read RSS: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			m.rss = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			m.hwm = strings.TrimSpace(v)
		}
	}
	return m
}
