package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// The tour's scheduled-messages step as a test: delayed messages (sent
// with the unmodified Go client, two delay levels) fall due while the
// writer is stalled (`sluicectl fault stall`, an append holding it past
// osPageCacheBusyTimeOutMills); the schedule actor backs off instead of
// piling puts into the writer — `sluicectl tree` shows the levels overdue
// with busy back-offs — and once the stall is off every message is
// delivered to its topic, none before its due time, none lost.
func TestScheduledDeliveriesBackOffDuringStall(t *testing.T) {
	binary(t) // built first: skipped with -short
	ns := brokertest.StartNameServer(t)
	cfg := brokertest.Config(t)
	cfg.NamesrvAddr = ns.Addr()
	cfg.FaultInjectionEnable = true
	// Short levels keep the test short; the stall below outlasts them.
	cfg.Store.MessageDelayLevel = "3s 4s"
	delays := map[int]time.Duration{1: 3 * time.Second, 2: 4 * time.Second}
	b := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "", func() bool { return len(ns.Routes().LiveBrokers()) == 1 })
	const topic = "SchedTour"
	admin, err := remoting.Dial(context.Background(), b.Addr(), remoting.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	resp, err := admin.Invoke(context.Background(), remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{
		"topic": topic, "readQueueNums": "2", "writeQueueNums": "2", "perm": "6",
	}, nil), 10*time.Second)
	if err != nil || resp.ResponseCode() != remoting.Success {
		t.Fatalf("create %s: %v %v", topic, resp, err)
	}
	poll.Until(t, "the route of "+topic, func() bool { _, ok := ns.Routes().PickupTopicRouteData(topic); return ok })

	type got struct {
		level        int
		born, stored int64
	}
	var mu sync.Mutex
	delivered := map[string]*got{}
	duplicates := 0
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer([]string{ns.Addr()}), consumer.WithGroupName("sched-tour"),
		consumer.WithInstance(fmt.Sprintf("sched-tour-%d", time.Now().UnixNano())),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			var level int
			fmt.Sscanf(string(m.Body), "L%d", &level)
			if _, ok := delivered[string(m.Body)]; ok {
				duplicates++
				continue
			}
			delivered[string(m.Body)] = &got{level: level, born: m.BornTimestamp, stored: m.StoreTimestamp}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Neither client is shut down at the end: see supervisor/compat_test.go.
	p, err := rocketmq.NewProducer(producer.WithNameServer([]string{ns.Addr()}), producer.WithGroupName("sched-tour-pg"),
		producer.WithInstanceName(fmt.Sprintf("sched-tour-%d", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}

	// 1: delayed messages, due 3 s and 4 s from now.
	const perLevel = 40
	sent := map[string]int{}
	for level := 1; level <= 2; level++ {
		for i := range perLevel {
			body := fmt.Sprintf("L%d-%03d", level, i)
			m := primitive.NewMessage(topic, []byte(body))
			m.WithDelayTimeLevel(level)
			if res, err := p.SendSync(context.Background(), m); err != nil || res.Status != primitive.SendOK {
				t.Fatalf("send %s: %v %v", body, res, err)
			}
			sent[body] = level
		}
	}
	sentAt := time.Now()

	// 2: stall the writer, and give it an append to stall on: from a
	// second into it, the page cache is busy — when the messages fall due.
	if r := runBinary(t, "fault", "stall", "5000", "-b", b.Addr()); r.code != 0 {
		t.Fatalf("fault stall: %+v", r)
	}
	hold := make(chan error, 1)
	go func() {
		resp, err := admin.Invoke(context.Background(), remoting.NewRequest(remoting.SendMessage, map[string]string{
			"producerGroup": "pg", "topic": "SchedTourHold", "defaultTopic": "TBW102", "defaultTopicQueueNums": "1",
			"queueId": "0", "sysFlag": "0", "bornTimestamp": fmt.Sprint(time.Now().UnixMilli()), "flag": "0",
			"properties": "", "reconsumeTimes": "0", "unitMode": "false", "maxReconsumeTimes": "0", "batch": "false",
		}, []byte("holds the writer")), 30*time.Second)
		if err == nil && resp.ResponseCode() != remoting.Success {
			err = fmt.Errorf("%s %q", resp.ResponseCode(), resp.Remark)
		}
		hold <- err
	}()
	busyAt := time.Time{}
	poll.Until(t, "the writer page-cache-busy", func() bool {
		w := b.Tree().Root.Find("writer")
		if w != nil && w.Writer != nil && w.Writer.PageCacheBusy {
			busyAt = time.Now()
			return true
		}
		return false
	})
	if busyAt.After(sentAt.Add(2500 * time.Millisecond)) {
		t.Logf("the stall began %v after the sends; the first messages may have been delivered before it", busyAt.Sub(sentAt))
	}

	// 3: the levels fall due and back off; sluicectl tree shows it.
	var snap tree.Snapshot
	poll.Within(t, 20*time.Second, "busy back-offs on both levels in sluicectl tree", func() bool {
		r := runBinary(t, "tree", "--json", "-b", b.Addr())
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &snap) != nil {
			return false
		}
		n := snap.Root.Find("schedule")
		if n == nil || n.Schedule == nil {
			t.Fatalf("no schedule service in sluicectl tree --json:\n%s", r.stdout)
		}
		backedOff := 0
		for _, lv := range n.Schedule.Levels {
			if lv.BusyBackoffs > 0 {
				backedOff++
			}
		}
		return backedOff == 2
	})
	r := runBinary(t, "tree", "-b", b.Addr())
	if r.code != 0 || !strings.Contains(r.stdout, "busy back-offs") || !strings.Contains(r.stdout, "delayed messages waiting") ||
		!strings.Contains(r.stdout, "overdue") {
		t.Fatalf("sluicectl tree during the stall shows no backing-off schedule service:\n%s%s", r.stdout, r.stderr)
	}
	t.Logf("sluicectl tree during the stall:\n%s", r.stdout)
	for _, lv := range snap.Root.Find("schedule").Schedule.Levels {
		if lv.Waiting == 0 || lv.InFlight > 32 {
			t.Fatalf("level %d during the stall: %+v (want messages waiting, at most a batch in the writer)", lv.Level, lv)
		}
	}

	// 4: the stall off: every message delivered, none early, none lost.
	if r := runBinary(t, "fault", "off", "-b", b.Addr()); r.code != 0 {
		t.Fatalf("fault off: %+v", r)
	}
	if err := <-hold; err != nil {
		t.Fatalf("the append held by the stall: %v", err)
	}
	poll.Within(t, 60*time.Second, "every delayed message delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == len(sent)
	})
	mu.Lock()
	defer mu.Unlock()
	for body, level := range sent {
		d := delivered[body]
		if d.level != level {
			t.Fatalf("%s delivered as level %d", body, d.level)
		}
		// Stored for delivery no earlier than its due time: its parked copy
		// was stored after it was born, plus the level's delay (5 ms for
		// the clocks' millisecond rounding).
		if early := d.born + delays[level].Milliseconds() - d.stored; early > 5 {
			t.Fatalf("%s (level %d) stored for delivery %d ms before it was due", body, level, early)
		}
	}
	var backoffs uint64
	n := b.Tree().Root.Find("schedule")
	for _, lv := range n.Schedule.Levels {
		backoffs += lv.BusyBackoffs
		if lv.Waiting != 0 || lv.Delivered != perLevel {
			t.Fatalf("level %d after: %+v", lv.Level, lv)
		}
	}
	t.Logf("%d delayed messages delivered after the stall, %d duplicates, %d busy back-offs", len(delivered), duplicates, backoffs)
}
