package main

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
)

// Async mode keeps its window in flight without a goroutine per message
// or per answer: with 4 senders × 64 sends unanswered at a stub broker the
// process has far fewer than 256 more goroutines. And --connections 3
// opens three connections to the broker, not one.
func TestPipelineNoGoroutinePerMessageAndConnections(t *testing.T) {
	b := startStub(t, func(*remoting.Command) *remoting.Command { return nil }) // never answers
	ns := nameServer(t, map[string][]byte{"T": routeJSON(stubBroker{"broker-a", b.addr(), 4})})
	before := runtime.NumGoroutine()
	done := make(chan string, 1)
	go func() {
		_, out, _ := produce(t, "--json", "-n", ns.addr(), "-t", "T", "-c", "256", "-w", "4", "--async", "64",
			"--connections", "3", "--retries", "0", "--timeout", "3s")
		done <- out
	}()
	deadline := time.Now().Add(20 * time.Second)
	for b.sends.Load() < 256 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := b.sends.Load(); n != 256 {
		t.Fatalf("%d sends in flight, want 256", n)
	}
	if g := runtime.NumGoroutine() - before; g > 64 {
		t.Errorf("%d more goroutines with 256 sends in flight: a goroutine per message?", g)
	}
	b.mu.Lock()
	conns := len(b.conns)
	b.mu.Unlock()
	if conns != 3 {
		t.Errorf("broker saw %d connections, want 3 (--connections 3)", conns)
	}
	// No answer at all: every send times out and is lost, exit status 1.
	if out := <-done; !strings.Contains(out, `"attempted": 256`) || !strings.Contains(out, `"lost": 256`) {
		t.Errorf("summary %s", out)
	}
}
