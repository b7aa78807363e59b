package supervisor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/disk"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// pullAll reads a queue through TCP from offset 0 to its end and returns
// the bodies in order.
func pullAll(t *testing.T, c *remoting.Client, topic string, queueID int) []string {
	t.Helper()
	var bodies []string
	for offset := int64(0); ; {
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.PullMessage, pullHeader(topic, queueID, offset, 0), nil))
		switch resp.ResponseCode() {
		case remoting.Success:
		case remoting.PullNotFound:
			return bodies
		default:
			t.Fatalf("pull %s:%d at %d: %s %q", topic, queueID, offset, resp.ResponseCode(), resp.Remark)
		}
		for _, m := range primitive.DecodeMessage(resp.Body) {
			bodies = append(bodies, string(m.Body))
		}
		next, err := strconv.ParseInt(resp.Ext("nextBeginOffset"), 10, 64)
		if err != nil || next <= offset {
			t.Fatalf("pull %s:%d at %d: nextBeginOffset %q", topic, queueID, offset, resp.Ext("nextBeginOffset"))
		}
		offset = next
	}
}

// Disk full, through TCP on a small real file system: every send the
// broker acknowledged can be pulled, to new and existing topics alike;
// the rest are refused; once space is freed sends succeed again without a
// restart.
func TestDiskFullNeverLeavesAnAcknowledgedMessageUnconsumable(t *testing.T) {
	dir := disk.MountTmpfs(t, 48<<20)
	cfg := brokertest.Config(t)
	cfg.Store.StorePathRootDir = filepath.Join(dir, "store")
	cfg.Store.MappedFileSizeCommitLog = 4 << 20
	cfg.Store.DiskMaxUsedSpaceRatio = 95
	b := brokertest.Start(t, cfg, supervisor.Options{})
	c := dial(t, b.Addr())
	filler := disk.Fill(t, dir, 10<<20)

	body := make([]byte, 8<<10)
	acked := map[string][]string{}
	refused := 0
	for i := 0; i < 4000 && refused < 20; i++ {
		topic := "Full" + strconv.Itoa(i%8) // new topics keep coming while the disk fills
		if i > 400 {
			topic = "Full" + strconv.Itoa(i%40)
		}
		msg := fmt.Sprintf("%s-%05d-", topic, i)
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, ""), append([]byte(msg), body...)))
		if resp.ResponseCode() == remoting.Success {
			acked[topic] = append(acked[topic], msg)
			continue
		}
		refused++
	}
	if refused == 0 {
		t.Fatal("the disk never filled: nothing was refused")
	}
	for topic, want := range acked {
		poll.Until(t, "dispatch of "+topic, func() bool { return b.Store().MaxOffsetInQueue(topic, 0) >= int64(len(want)) })
		got := pullAll(t, c, topic, 0)
		if len(got) != len(want) {
			t.Fatalf("%s: %d acknowledged, %d consumable", topic, len(want), len(got))
		}
		for i := range want {
			if got[i][:len(want[i])] != want[i] {
				t.Fatalf("%s[%d]: %q, want %q", topic, i, got[i][:len(want[i])], want[i])
			}
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "sends accepted again after space was freed", func() bool {
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader("AfterFull", 0, ""), []byte("room again")))
		return resp.ResponseCode() == remoting.Success
	})
	t.Logf("%d topics, %d refused sends", len(acked), refused)
}

// A consume-queue file cut short while the broker was stopped cleanly is
// rebuilt at the next start: every acknowledged message is still pulled.
func TestShortConsumeQueueAfterCleanStopIsRebuilt(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Store.MappedFileSizeConsumeQueue = 20 * 1000
	b := brokertest.Start(t, cfg, supervisor.Options{})
	c := dial(t, b.Addr())
	const topic, n = "ShortCQ", 3000
	for i := 0; i < n; i++ {
		if resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, ""), []byte(strconv.Itoa(i)))); resp.ResponseCode() != remoting.Success {
			t.Fatalf("send %d: %s %q", i, resp.ResponseCode(), resp.Remark)
		}
	}
	poll.Until(t, "all dispatched", func() bool { return b.Store().MaxOffsetInQueue(topic, 0) == n })
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The last file of the queue (entries 2000–2999) loses two thirds.
	last := filepath.Join(cfg.Store.StorePathRootDir, "consumequeue", topic, "0", fmt.Sprintf("%020d", 2*20*1000))
	if err := os.Truncate(last, 20*300); err != nil {
		t.Fatal(err)
	}
	b2 := brokertest.Start(t, cfg, supervisor.Options{})
	c2 := dial(t, b2.Addr())
	got := pullAll(t, c2, topic, 0)
	if len(got) != n {
		t.Fatalf("%d of %d acknowledged messages visible after the restart", len(got), n)
	}
	for i, body := range got {
		if body != strconv.Itoa(i) {
			t.Fatalf("message %d is %q", i, body)
		}
	}
}

// Topic sprawl: a hundred auto-created topics with one small message each
// cost what they hold, not a preallocated consume-queue file each.
func TestIdleAutoCreatedTopicsCostKilobytes(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Store.MappedFileSizeConsumeQueue = 300_000 * 20 // RocketMQ's default, 6 MB
	b := brokertest.Start(t, cfg, supervisor.Options{})
	c := dial(t, b.Addr())
	const topics = 100
	for i := 0; i < topics; i++ {
		topic := "Sprawl" + strconv.Itoa(i)
		if resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, ""), []byte("tiny"))); resp.ResponseCode() != remoting.Success {
			t.Fatalf("send to %s: %s %q", topic, resp.ResponseCode(), resp.Remark)
		}
	}
	poll.Until(t, "dispatch of the last topic", func() bool { return b.Store().MaxOffsetInQueue("Sprawl"+strconv.Itoa(topics-1), 0) == 1 })
	used := disk.Bytes(t, filepath.Join(cfg.Store.StorePathRootDir, "consumequeue"))
	t.Logf("consume queues of %d one-message topics: %d bytes of disk (%d per topic)", topics, used, used/topics)
	if used > topics*64<<10 {
		t.Fatalf("consume queues use %d bytes for %d one-message topics", used, topics)
	}
}
