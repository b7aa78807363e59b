package supervisor_test

import (
	"encoding/binary"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Through TCP: connections that claim 16 MiB frames and trickle bytes cost
// the broker what they sent plus its bounded frame buffers, not what they
// claimed, and a normal client is still served meanwhile.
func TestClaimedFrameLengthsDoNotPinMemory(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	before := heapInUse()
	const conns, sent = 200, 40 << 10
	chunk := make([]byte, sent)
	for i := 0; i < conns; i++ {
		nc, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		var hdr [8]byte
		binary.BigEndian.PutUint32(hdr[:], 16<<20-4) // a frame of 16 MiB, the maximum
		binary.BigEndian.PutUint32(hdr[4:], 100)     // JSON header of 100 bytes
		if _, err := nc.Write(append(hdr[:], chunk...)); err != nil {
			t.Fatal(err)
		}
	}
	// A normal client goes on being served.
	c := dial(t, b.Addr())
	for i := 0; i < 20; i++ {
		if resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("TrickleTopic", 0, ""), []byte("normal"))); resp.ResponseCode() != remoting.Success {
			t.Fatalf("normal send %d: %s %q", i, resp.ResponseCode(), resp.Remark)
		}
	}
	// Wait until the broker has read past every frame's free first 32 KiB
	// chunk (each has then grown its buffer once, charging the budget 32
	// KiB), then the heap must follow the bytes, not the 3.2 GB claimed.
	// (Waiting on the heap itself was flaky: what earlier tests' clients
	// free meanwhile can hide the growth.)
	poll.Until(t, "the trickled bytes read", func() bool { return b.FrameBudget().InUse() >= conns*32<<10 })
	grown := int64(heapInUse()) - int64(before)
	limit := int64(conns) * (2*sent + 64<<10) // at most twice what arrived plus a chunk each
	t.Logf("%d connections claiming 16 MiB and sending %d bytes each: frame budget %d bytes in use, heap grew %d bytes (bound %d, claimed %d)",
		conns, sent, b.FrameBudget().InUse(), grown, limit, int64(conns)*16<<20)
	if grown > limit {
		t.Fatalf("heap grew %d bytes for %d bytes received", grown, conns*sent)
	}
}

// Through TCP: a client that sends pulls of a 4 MiB message and never
// reads the answers costs the broker a few answers' worth of memory, not
// one 4 MiB answer per pull (1.2 GB for 300 before).
func TestUnreadPullAnswersAreBounded(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	c := dial(t, b.Addr())
	const topic = "BigTopic"
	big := make([]byte, 4<<20-64<<10)
	if resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, ""), big)); resp.ResponseCode() != remoting.Success {
		t.Fatalf("send: %s %q", resp.ResponseCode(), resp.Remark)
	}
	poll.Until(t, "the big message dispatched", func() bool { return b.Store().MaxOffsetInQueue(topic, 0) == 1 })
	before := heapInUse()

	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const pulls = 300
	go func() {
		for i := 0; i < pulls; i++ {
			req := remoting.NewRequest(remoting.PullMessage, pullHeader(topic, 0, 0, 0), nil)
			req.Opaque = int32(i + 1)
			frame, _ := remoting.Encode(req)
			_ = nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
			if _, err := nc.Write(frame); err != nil {
				return // the broker stopped reading: the socket buffers filled
			}
		}
	}()
	pullsTaken := func() uint64 { return b.Tree().Root.Find("pull").Processor.Processed }
	// Once the unread answers pass the connection's high-water mark, the
	// pulls still read off the socket get bodiless PULL_RETRY_IMMEDIATELY
	// answers instead of 4 MiB each, and the socket is read no further
	// until the queue drains: whatever the broker has taken, it holds only
	// a few big answers.
	poll.Until(t, "the pulls the broker read answered", func() bool {
		n := pullsTaken()
		time.Sleep(20 * time.Millisecond)
		return n > 0 && pullsTaken() == n && b.Tree().Root.Find("pull").Processor.Depth == 0
	})
	grown := int64(heapInUse()) - int64(before)
	t.Logf("%d pulls of a 4 MiB message sent and never read, %d taken, heap grew %d bytes", pulls, pullsTaken(), grown)
	if grown > 64<<20 {
		t.Fatalf("heap grew %d bytes for unread answers", grown)
	}
}
