package supervisor_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// Environment of the broker process TestTransactionSurvivesKill starts.
const (
	crashEnvStore   = "SLUICE_TX_CRASH_STORE"
	crashEnvPort    = "SLUICE_TX_CRASH_PORT"
	crashEnvNamesrv = "SLUICE_TX_CRASH_NAMESRV"
)

// TestTransactionCrashChild is not a test of its own: it is the broker that
// TestTransactionSurvivesKill runs in a process of its own and kills with
// SIGKILL. It never checks back (transactionTimeOut of an hour), so what
// the store holds at the kill is only what the test did.
func TestTransactionCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnvStore)
	if dir == "" {
		t.Skip("the broker process of TestTransactionSurvivesKill")
	}
	cfg := brokertest.Config(t)
	cfg.Store.StorePathRootDir = dir
	cfg.ListenPort, _ = strconv.Atoi(os.Getenv(crashEnvPort))
	cfg.NamesrvAddr = os.Getenv(crashEnvNamesrv)
	cfg.TransactionTimeOut = 3600_000
	cfg.FaultInjectionEnable = true
	b, err := supervisor.Start(cfg, supervisor.Options{Log: zerolog.Nop()})
	if err != nil {
		fmt.Println("FAILED", err)
		os.Exit(1)
	}
	fmt.Println("READY", b.Addr())
	select {} // until killed
}

// A broker killed with SIGKILL (kill -9) between half messages and their
// decisions, restarted on the same store and port: what was committed is
// there exactly once — even the commit stored right before the kill whose
// op record never followed — a repeated commit changes nothing, what was
// rolled back never appears, and the undecided half message is checked
// again and committed by a producer of its group.
func TestTransactionSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a broker process")
	}
	ns := brokertest.StartNameServer(t)
	dir := t.TempDir()
	port := freePort(t)
	child := exec.Command(os.Args[0], "-test.run=^TestTransactionCrashChild$")
	child.Env = append(os.Environ(), crashEnvStore+"="+dir, crashEnvPort+"="+strconv.Itoa(port),
		crashEnvNamesrv+"="+ns.Addr(), "TMPDIR="+t.TempDir())
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = child.Process.Kill() // SIGKILL, to the process this test started
			_ = child.Wait()
		}
	}
	t.Cleanup(kill)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- addr
			}
		}
		close(ready)
	}()
	var addr string
	select {
	case a, ok := <-ready:
		if !ok {
			t.Fatalf("broker process ended before it was ready: %s", stderr.String())
		}
		addr = a
	case <-time.After(60 * time.Second):
		t.Fatalf("broker process not ready: %s", stderr.String())
	}

	const topic, group = "TxCrash", "pg-crash"
	c := dial(t, addr)
	type half struct{ offset, phys int64 }
	sendHalf := func(body string) half {
		props := message.Append(message.Append(message.Append(nil, message.PropertyTransactionPrepared, "true"),
			message.PropertyProducerGroup, group), message.PropertyUniqClientMessageIDKeyIdx, "UNIQ-"+body)
		hdr := sendHeader(topic, 0, string(props))
		hdr["producerGroup"] = group
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, hdr, []byte(body)))
		if resp.ResponseCode() != remoting.Success {
			t.Fatalf("half %s: %s %q", body, resp.ResponseCode(), resp.Remark)
		}
		off, _ := strconv.ParseInt(resp.Ext("queueOffset"), 10, 64)
		phys, err := strconv.ParseInt(resp.Ext("msgId")[16:], 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		return half{off, phys}
	}
	end := func(c *remoting.Client, h half, body string, kind int32) *remoting.Command {
		req := remoting.NewRequest(remoting.EndTransaction, nil, nil)
		(&remoting.EndTransactionRequestHeader{ProducerGroup: group, TranStateTableOffset: h.offset, CommitLogOffset: h.phys,
			CommitOrRollback: kind, MsgID: "UNIQ-" + body}).Encode(req)
		return invokeCmd(t, c, req)
	}
	committed, rolled := sendHalf("committed"), sendHalf("rolled back")
	sendHalf("undecided")
	last := sendHalf("last")
	if r := end(c, committed, "committed", 8); r.ResponseCode() != remoting.Success {
		t.Fatalf("commit: %s %q", r.ResponseCode(), r.Remark)
	}
	if r := end(c, rolled, "rolled back", 12); r.ResponseCode() != remoting.Success {
		t.Fatalf("rollback: %s %q", r.ResponseCode(), r.Remark)
	}
	// The answer comes once the commit is stored; its op record follows.
	// With every append held 800 ms, the kill comes while the op record
	// waits for its append: the commit is stored, its op record is not.
	setFault(t, c, map[string]string{"appendStallMillis": "800"})
	if r := end(c, last, "last", 8); r.ResponseCode() != remoting.Success {
		t.Fatalf("commit: %s %q", r.ResponseCode(), r.Remark)
	}
	kill()

	cfg := brokertest.Config(t)
	cfg.Store.StorePathRootDir = dir
	cfg.ListenPort = port
	cfg.NamesrvAddr = ns.Addr()
	cfg.TransactionTimeOut = 300
	cfg.TransactionCheckInterval = 200
	b := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "the broker registered again", func() bool { return len(ns.Routes().LiveBrokers()) == 1 })
	stored := func() map[string]int { return storedBodies(t, b, topic, 4) }
	poll.Until(t, "the commits dispatched", func() bool { s := stored(); return s["committed"] == 1 && s["last"] == 1 })
	if n := b.Logs.Count("a commit without its op record"); n != 1 {
		t.Fatalf("%d commits found without their op record, want the last one", n)
	}

	c2 := dial(t, b.Addr())
	if r := end(c2, committed, "committed", 8); r.ResponseCode() != remoting.Success {
		t.Fatalf("repeated commit after the restart: %s %q", r.ResponseCode(), r.Remark)
	}
	if r := end(c2, last, "last", 8); r.ResponseCode() != remoting.Success {
		t.Fatalf("repeated commit after the restart: %s %q", r.ResponseCode(), r.Remark)
	}
	if r := end(c2, rolled, "rolled back", 8); r.ResponseCode() != remoting.SystemError {
		t.Fatalf("commit after a rollback, after the restart: %s %q", r.ResponseCode(), r.Remark)
	}

	// The undecided one is checked again; a producer of its group commits.
	poll.Until(t, topic+" routed", func() bool { _, ok := ns.Routes().PickupTopicRouteData(topic); return ok })
	inst := instance(t)
	listener := &countingListener{state: primitive.CommitMessageState}
	p, err := rocketmq.NewTransactionProducer(listener, producer.WithNameServer([]string{ns.Addr()}),
		producer.WithGroupName(group), producer.WithInstanceName(inst))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// Not shut down when the test ends: see newProducer.
	heartbeatNow(t, ns.Addr(), inst, topic, &received{msgs: map[string]*primitive.MessageExt{}})
	poll.Within(t, 30*time.Second, "the undecided transaction committed after the check", func() bool { return stored()["undecided"] == 1 })
	poll.Until(t, "nothing pending", func() bool { i := txInfo(b); return i.HalfPending == 0 && i.InFlight == 0 })
	want := map[string]int{"committed": 1, "last": 1, "undecided": 1}
	if got := stored(); len(got) != len(want) || got["committed"] != 1 || got["last"] != 1 || got["undecided"] != 1 {
		t.Fatalf("stored %v, want %v", got, want)
	}
	if listener.checks.Load() == 0 {
		t.Fatal("the undecided transaction was never checked")
	}
}

// freePort returns a port the OS picked on 127.0.0.1, free once returned.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
