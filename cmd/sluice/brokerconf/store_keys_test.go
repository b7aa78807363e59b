package brokerconf

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/commitlog"
)

// messageDelayLevel reaches the store as written, is parsed as RocketMQ's
// parseDelayLevel parses it, and a value the store could not use stops the
// start naming the key and the value.
func TestMessageDelayLevelKey(t *testing.T) {
	cfg := Default()
	if got := cfg.Broker.Store.MessageDelayLevel; got != commitlog.DefaultMessageDelayLevel {
		t.Fatalf("default %q", got)
	}
	if got := cfg.Broker.Store.FlushDelayOffsetInterval; got != 10000 {
		t.Fatalf("flushDelayOffsetInterval default %d", got)
	}
	warnings, err := cfg.Load(strings.NewReader("messageDelayLevel=1s 3s 1m 2h 1d\nflushDelayOffsetInterval=2000\n"))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("load: %v %v", err, warnings)
	}
	s := cfg.Broker.Store
	levels, err := commitlog.ParseMessageDelayLevel(s.MessageDelayLevel)
	if err != nil || len(levels) != 5 || levels[1] != 3*time.Second || levels[4] != 24*time.Hour || s.FlushDelayOffsetInterval != 2000 {
		t.Fatalf("store config %q %d: %v %v", s.MessageDelayLevel, s.FlushDelayOffsetInterval, levels, err)
	}
	var out strings.Builder
	if err := cfg.Print(&out); err != nil || !strings.Contains(out.String(), "\nmessageDelayLevel=1s 3s 1m 2h 1d\n") {
		t.Fatalf("printed:\n%s", out.String())
	}
	for _, v := range []string{"1s  5s", "5x", "1ms", "-1s", ""} {
		bad := Default()
		_, err := bad.Load(strings.NewReader("messageDelayLevel=" + v + "\n"))
		if err == nil {
			t.Fatalf("messageDelayLevel=%q accepted", v)
		}
		if !strings.Contains(err.Error(), "messageDelayLevel") || !strings.Contains(err.Error(), `"`+v+`"`) {
			t.Fatalf("messageDelayLevel=%q: error %q does not name the key and the value", v, err)
		}
	}
}

// The message index's keys: RocketMQ's names and defaults, into the store.
func TestMessageIndexKeys(t *testing.T) {
	cfg := Default()
	s := cfg.Broker.Store
	if !s.MessageIndexEnable || s.MessageIndexSafe || s.MaxHashSlotNum != 5_000_000 || s.MaxIndexNum != 20_000_000 {
		t.Fatalf("defaults %v %v %d %d", s.MessageIndexEnable, s.MessageIndexSafe, s.MaxHashSlotNum, s.MaxIndexNum)
	}
	warnings, err := cfg.Load(strings.NewReader("messageIndexEnable=false\nmessageIndexSafe=true\nmaxHashSlotNum=1000\nmaxIndexNum=4000\n"))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("load: %v %v", err, warnings)
	}
	s = cfg.Broker.Store
	if s.MessageIndexEnable || !s.MessageIndexSafe || s.MaxHashSlotNum != 1000 || s.MaxIndexNum != 4000 {
		t.Fatalf("loaded %v %v %d %d", s.MessageIndexEnable, s.MessageIndexSafe, s.MaxHashSlotNum, s.MaxIndexNum)
	}
	var out strings.Builder
	if err := cfg.Print(&out); err != nil || !strings.Contains(out.String(), "\nmaxIndexNum=4000\n") || !strings.Contains(out.String(), "\nmessageIndexSafe=true\n") {
		t.Fatalf("printed:\n%s", out.String())
	}
	bad := Default()
	if _, err := bad.Load(strings.NewReader("maxIndexNum=lots\n")); err == nil || !strings.Contains(err.Error(), "maxIndexNum") {
		t.Fatalf("bad maxIndexNum: %v", err)
	}
}

// commitLogWriteThrough (ours) is on by default and reaches the store.
func TestCommitLogWriteThroughKey(t *testing.T) {
	cfg := Default()
	if !cfg.Broker.Store.CommitLogWriteThrough {
		t.Fatal("commitLogWriteThrough is off by default")
	}
	warnings, err := cfg.Load(strings.NewReader("flushDiskType=SYNC_FLUSH\ncommitLogWriteThrough=false\n"))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("load: %v %v", err, warnings)
	}
	if s := cfg.Broker.Store; s.CommitLogWriteThrough || s.FlushDiskType != commitlog.SyncFlush {
		t.Fatalf("loaded %v %v", s.CommitLogWriteThrough, s.FlushDiskType)
	}
	var out strings.Builder
	if err := cfg.Print(&out); err != nil || !strings.Contains(out.String(), "\ncommitLogWriteThrough=false\n") {
		t.Fatalf("printed:\n%s", out.String())
	}
	bad := Default()
	if _, err := bad.Load(strings.NewReader("commitLogWriteThrough=maybe\n")); err == nil || !strings.Contains(err.Error(), "commitLogWriteThrough") {
		t.Fatalf("bad commitLogWriteThrough: %v", err)
	}
}
