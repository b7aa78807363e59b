package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// The tour in a test: with the writer stalled through `sluicectl fault`
// (1.5 s per append) and 64 senders — more than the writer's window —
// `sluicectl tree` shows the writer page-cache-busy while the bundled
// producer reports REJECTREQUEST or PCBUSY_CLEAN_QUEUE failures.
func TestStalledWriterShowsInTreeAndProducer(t *testing.T) {
	ctl := binary(t)
	producerBin := filepath.Join(filepath.Dir(ctl), "sluice-producer")
	if out, err := exec.Command("go", "build", "-o", producerBin, "../sluice-producer").CombinedOutput(); err != nil {
		t.Fatalf("build sluice-producer: %v\n%s", err, out)
	}
	ns := brokertest.StartNameServer(t)
	cfg := brokertest.Config(t)
	cfg.NamesrvAddr = ns.Addr()
	cfg.FaultInjectionEnable = true
	// A window smaller than the producer's 64 senders leaves sends waiting
	// in the send queue behind each stalled append, so busy answers come
	// whatever the scheduling (with 256, all 64 may join one batch).
	cfg.WriterWindowSize = 8
	b := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "", func() bool { return len(ns.Routes().LiveBrokers()) == 1 })

	if r := runBinary(t, "fault", "stall", "1500", "-b", b.Addr()); r.code != 0 {
		t.Fatalf("fault stall: %+v", r)
	}
	prod := exec.Command(producerBin, "-n", ns.Addr(), "-t", "StallTour", "-w", "64", "-d", "6s", "--json")
	var out []byte
	done := make(chan error, 1)
	go func() {
		var err error
		out, err = prod.Output()
		done <- err
	}()
	t.Cleanup(func() { _ = prod.Process.Kill() })

	busySeen := false
	for deadline := time.Now().Add(5 * time.Second); !busySeen && time.Now().Before(deadline); {
		r := runBinary(t, "tree", "--json", "-b", b.Addr())
		var snap tree.Snapshot
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &snap) == nil {
			if w := snap.Root.Find("writer"); w != nil && w.Writer != nil && w.Writer.PageCacheBusy {
				busySeen = w.Writer.LockHoldMillis > w.Writer.OSPageCacheBusyTimeOutMills
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !busySeen {
		t.Fatal("sluicectl tree never showed the writer page-cache-busy")
	}
	// Leave the stall on until senders beyond the writer's window have met
	// busy answers.
	poll.Until(t, "busy answers from the send processor", func() bool {
		send := b.Tree().Root.Find("send")
		return send != nil && send.Processor != nil &&
			send.Processor.Busy["REJECTREQUEST"]+send.Processor.Busy["PCBUSY_CLEAN_QUEUE"] > 0
	})
	if r := runBinary(t, "fault", "off", "-b", b.Addr()); r.code != 0 {
		t.Fatalf("fault off: %+v", r)
	}
	if err := <-done; err != nil {
		t.Fatalf("producer: %v\n%s", err, out)
	}
	var s struct {
		Sent           uint64            `json:"sent"`
		FailedAttempts map[string]uint64 `json:"failedAttempts"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("producer summary: %v\n%s", err, out)
	}
	if s.FailedAttempts["REJECTREQUEST"]+s.FailedAttempts["PCBUSY_CLEAN_QUEUE"] == 0 || s.Sent == 0 {
		t.Fatalf("producer saw no busy answers or sent nothing: %+v\n%s", s, out)
	}
}
