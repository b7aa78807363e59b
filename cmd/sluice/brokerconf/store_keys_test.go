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
