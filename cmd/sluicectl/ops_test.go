package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// getBrokerConfig and updateBrokerConfig against a real broker: a live key
// changes and is printed; a key that cannot change live is refused by name.
func TestBrokerConfigCommands(t *testing.T) {
	b := startBroker(t, supervisor.Options{})
	r := cli(t, "updateBrokerConfig", "-b", b.Addr(), "-k", "waitTimeMillsInPullQueue", "-v", "1234")
	if r.code != 0 || !strings.Contains(r.stdout, "update broker config success") {
		t.Fatalf("update: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, "getBrokerConfig", "-b", b.Addr())
	if r.code != 0 || !regexpMatch(`(?m)^waitTimeMillsInPullQueue\s+=  1234$`, r.stdout) {
		t.Fatalf("get: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, "updateBrokerConfig", "-b", b.Addr(), "-k", "listenPort", "-v", "1")
	if r.code != 1 || !strings.Contains(r.stderr, "listenPort cannot change while the broker runs") {
		t.Fatalf("refused key: exit %d: %s", r.code, r.stderr)
	}
}

// topicStatus, consumerProgress and resetOffsetByTime decode the
// MessageQueue-keyed tables of the broker's answers.
func TestTopicAndGroupCommands(t *testing.T) {
	b := startBroker(t, supervisor.Options{})
	addr := b.Addr()
	if r := cli(t, "topic", "create", "StatusTopic", "-b", addr, "-r", "2", "-w", "2"); r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	r := cli(t, "topicStatus", "-b", addr, "-t", "StatusTopic")
	if r.code != 0 || !regexpMatch(`(?m)^broker-test\s+1\s+0\s+0\s*$`, r.stdout) {
		t.Fatalf("topicStatus: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for q := 0; q < 2; q++ {
		req := remoting.NewRequest(remoting.UpdateConsumerOffset, map[string]string{"consumerGroup": "G", "topic": "StatusTopic",
			"queueId": string(rune('0' + q)), "commitOffset": "0"}, nil)
		if resp, err := c.Invoke(context.Background(), req, 5*time.Second); err != nil || resp.ResponseCode() != remoting.Success {
			t.Fatalf("commit offset: %v %v", err, resp)
		}
	}
	r = cli(t, "consumerProgress", "-b", addr, "-g", "G")
	if r.code != 0 || !regexpMatch(`(?m)^StatusTopic\s+broker-test\s+1\s+0\s+0\s+0\s+N/A$`, r.stdout) || !strings.Contains(r.stdout, "Diff Total: 0") {
		t.Fatalf("consumerProgress: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	// No consumer online: the broker says so, and so does the command.
	r = cli(t, "resetOffsetByTime", "-b", addr, "-g", "G", "-t", "StatusTopic", "-s", "now")
	if r.code != 1 || !strings.Contains(r.stderr, "Consumer not online") {
		t.Fatalf("resetOffsetByTime: exit %d: %s", r.code, r.stderr)
	}
}

// clusterList and topicList through a name server.
func TestClusterListAndTopicList(t *testing.T) {
	ns := brokertest.StartNameServer(t)
	cfg := brokertest.Config(t)
	cfg.NamesrvAddr = ns.Addr()
	b := brokertest.Start(t, cfg, supervisor.Options{})
	if r := cli(t, "topic", "create", "ListedTopic", "-b", b.Addr()); r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := cli(t, "topicList", "-n", ns.Addr())
		if r.code == 0 && strings.Contains(r.stdout, "ListedTopic\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topicList: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := cli(t, "clusterList", "-n", ns.Addr())
	if r.code != 0 || !regexpMatch(`(?m)^DefaultCluster\s+broker-test\s+0\s+127\.0\.0\.1:\d+\s+V4_9_8 \(Sluice\)\s+0\.00\(0,0ms\)\s+0\.00\(0,0ms\)\s+0\s+`, r.stdout) {
		t.Fatalf("clusterList: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A watch's lines are cut to the terminal's width, colour kept and reset.
func TestWatchTruncatesToWidth(t *testing.T) {
	if got := truncateLine("abcdef", 4); got != "abcd" {
		t.Fatalf("%q", got)
	}
	if got := truncateLine("\x1b[31m├─ré\x1b[0mxyz", 3); got != "\x1b[31m├─r\x1b[0m" {
		t.Fatalf("%q", got)
	}
	if got := truncateLine("short", 80); got != "short" {
		t.Fatalf("%q", got)
	}
	var out strings.Builder
	e := &env{stdout: &out, tty: true, width: func() int { return 3 }}
	drawFrame(e, "abcdef\nxy\n", 2)
	if got, want := out.String(), termHome+"abc"+termClearLine+"\nxy"+termClearLine+"\n"+termClearBelow; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
