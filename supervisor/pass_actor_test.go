package supervisor

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// Due messages flow at the writer's pace, not a batch per level per
// 100 ms: every batch the writer finishes posts the next pass (Wake). A
// kick is merged only with a tick still pending, and the actor clears that
// as it starts a pass — 320 due messages in batches of 32 take at least
// ten kicked passes. (Once every kick after the first was dropped.)
func TestScheduleActorIsKickedAfterEveryBatch(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BindAddress, cfg.BrokerIP1, cfg.ListenPort, cfg.NamesrvListenPort, cfg.MetricsPromExporterPort = "127.0.0.1", "127.0.0.1", 0, 0, 0
	cfg.Store.StorePathRootDir = t.TempDir()
	cfg.Store.StorePathCommitLog = ""
	cfg.Store.MappedFileSizeCommitLog = 4 << 20
	cfg.Store.MappedFileSizeConsumeQueue = 20 * 10000
	cfg.Store.MessageDelayLevel = "1s"
	b, err := Start(cfg, Options{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	c, err := remoting.Dial(context.Background(), b.Addr(), remoting.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 320
	for i := range n {
		props := string(message.Append(nil, message.PropertyDelayTimeLevel, "1"))
		resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.SendMessage, map[string]string{
			"producerGroup": "pg", "topic": "Kicked", "defaultTopic": "TBW102", "defaultTopicQueueNums": "1",
			"queueId": "0", "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0",
			"properties": props, "reconsumeTimes": "0", "unitMode": "false", "maxReconsumeTimes": "0", "batch": "false",
		}, []byte("x")), 10*time.Second)
		if err != nil || resp.ResponseCode() != remoting.Success {
			t.Fatalf("send %d: %v %v", i, resp, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for b.svc.sched.Inspect()[0].Delivered < n {
		if time.Now().After(deadline) {
			t.Fatalf("not delivered within 30 s: %+v", b.svc.sched.Inspect()[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if posted := b.svc.schedKick.posted.Load(); posted < n/32 {
		t.Fatalf("%d passes kicked for %d batches: kicks after a pass were dropped", posted, n/32)
	}
}
