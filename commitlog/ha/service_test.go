package ha

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// emptyLog is a master's log with nothing in it.
type emptyLog struct{ conns atomic.Int64 }

func (*emptyLog) ReadRaw(int64, []byte) (int, error) { return 0, nil }
func (*emptyLog) MaxPhyOffset() int64                { return 0 }
func (*emptyLog) SlaveAcked(int64)                   {}
func (l *emptyLog) SetSlaveConnections(n int)        { l.conns.Store(int64(n)) }

// Past MaxConnections the master closes new HA links at once instead of
// giving each a transfer buffer and two goroutines; the links it holds
// keep being served.
func TestServiceBoundsConnections(t *testing.T) {
	log := &emptyLog{}
	s, err := Listen("127.0.0.1:0", Config{HeartbeatInterval: time.Hour, HousekeepingInterval: time.Hour}, log, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	for i := 0; i < MaxConnections; i++ {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for log.conns.Load() != MaxConnections {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections registered, want %d", log.conns.Load(), MaxConnections)
		}
		time.Sleep(10 * time.Millisecond)
	}
	extra, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("connection past the bound: read %v, want EOF (closed by the master)", err)
	}
	if n := len(s.Connections()); n != MaxConnections {
		t.Fatalf("%d connections served after the refusal, want %d", n, MaxConnections)
	}
}
