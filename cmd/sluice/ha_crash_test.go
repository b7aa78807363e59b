package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/sluice-mq/sluice/remoting"
)

// Three processes — a standalone name server, a SYNC_MASTER and its
// SLAVE — and the unmodified Go client. Under send load the master is
// killed with SIGKILL; then a new consumer group reads, from the slave
// alone, every message the master acknowledged SEND_OK, and the two
// commit logs are byte-identical up to the slave's end.
//
// The name server drops the killed master as soon as its connection
// closes (onChannelDestroy), so the reader finds the slave alone in the
// route at once.
func TestHAMasterKilledUnderSyncMasterLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes and a SIGKILL: not in -short")
	}
	rlog.SetLogLevel("error")
	t0 := time.Now()
	bin := buildBinary(t)
	dir := t.TempDir()
	nsAddr := freeAddr(t)
	ns := exec.Command(bin, "namesrv", "-listen", nsAddr)
	var nsLog bytes.Buffer
	ns.Stdout, ns.Stderr = &nsLog, &nsLog
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Process.Signal(syscall.SIGKILL); _ = ns.Wait() })
	waitDial(t, nsAddr)

	runs := newCrashRuns(t)
	common := []string{"namesrvAddr=" + nsAddr, "brokerName=ha-crash", "haSendHeartbeatInterval=200", "haHousekeepingInterval=3000", "syncFlushTimeout=3000"}
	mdir, sdir := filepath.Join(dir, "master"), filepath.Join(dir, "slave")
	for _, d := range []string{mdir, sdir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mconf := writeCrashConf(t, mdir, "ASYNC_FLUSH", append(common, "brokerRole=SYNC_MASTER", "mappedFileSizeCommitLog=1048576")...)
	sconf := writeCrashConf(t, sdir, "ASYNC_FLUSH", append(common, "brokerRole=SLAVE", "brokerId=1", "slaveReadEnable=true", "slaveSyncIntervalMillis=200", "mappedFileSizeCommitLog=1048576",
		// The reader stops at a queue's first empty pull: short polling keeps
		// that to 100 ms, where a held pull would take 20 s per queue.
		"longPollingEnable=false", "shortPollingTimeMills=100")...)
	master := runs.start(bin, mconf, 0)
	slave := runs.start(bin, sconf, 0)
	const topic = "HACrashTopic"
	mc, err := remoting.Dial(context.Background(), master.addr, remoting.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	resp, err := mc.Invoke(context.Background(), remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{
		"topic": topic, "defaultTopic": "TBW102", "readQueueNums": "4", "writeQueueNums": "4",
		"perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false",
	}, nil), 5*time.Second)
	if err != nil || resp.ResponseCode() != remoting.Success {
		t.Fatalf("create topic: %v %v", resp, err)
	}
	waitFor(t, 30*time.Second, "the slave follows the master", func() bool { return runtimeInfo(t, master.addr)["haSlaveConnections"] == "1" })

	t.Logf("%v: slave follows", time.Since(t0))
	p, err := rocketmq.NewProducer(producer.WithNameServer([]string{nsAddr}), producer.WithGroupName("ha-crash-pg"),
		producer.WithInstanceName("ha-crash-p"), producer.WithRetry(0), producer.WithSendMsgTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// Not shut down: see supervisor/compat_test.go's newProducer.
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf("g%d-m%d-%s", g, i, bytes.Repeat([]byte("x"), 200))
				res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(body)))
				if err == nil && res.Status == primitive.SendOK {
					mu.Lock()
					acked[body] = true
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	master.kill() // SIGKILL under load
	close(stop)
	wg.Wait()
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n < 50 {
		t.Fatalf("only %d sends acknowledged before the kill", n)
	}
	t.Logf("%d sends acknowledged SEND_OK before SIGKILL", n)

	// A new group reads from the slave alone, with the Go client's pull
	// consumer (its push consumer fetches a group's offsets from the
	// master only, FindBrokerAddrByName), in a process of its own: see
	// testdata/slavereader.
	t.Logf("%v: killed, senders stopped", time.Since(t0))
	reader := buildSlaveReader(t)
	t.Logf("%v: reader built", time.Since(t0))
	var missing int
	waitFor(t, 60*time.Second, "every acknowledged message read from the slave", func() bool {
		out, err := exec.Command(reader, "-n", nsAddr, "-t", topic, "-b", "ha-crash", "-g", "ha-crash-cg", "-q", "4").Output()
		if err != nil {
			t.Logf("slave reader: %v", err)
			return false
		}
		got := map[string]bool{}
		for _, line := range bytes.Fields(out) {
			body, err := hex.DecodeString(string(line))
			if err != nil {
				t.Fatalf("slave reader printed %q: %v", line, err)
			}
			got[string(body)] = true
		}
		missing = 0
		for b := range acked {
			if !got[b] {
				missing++
			}
		}
		if missing > 0 {
			t.Logf("%d of %d acknowledged messages not on the slave yet", missing, n)
		}
		return missing == 0
	})

	t.Logf("%v: all read", time.Since(t0))
	// Byte-identical up to the slave's end.
	send := runtimeInfo(t, slave.addr)["commitLogMaxOffset"]
	end, err := strconv.ParseInt(send, 10, 64)
	if err != nil || end == 0 {
		t.Fatalf("slave commitLogMaxOffset %q", send)
	}
	if err := slave.stop(); err != nil {
		t.Fatal(err)
	}
	ml, sl := readLog(t, filepath.Join(mdir, "store", "commitlog"), end), readLog(t, filepath.Join(sdir, "store", "commitlog"), end)
	if len(sl) == 0 || !bytes.Equal(ml[:len(sl)], sl) {
		t.Fatalf("commit logs differ below the slave's end %d (first difference at %d)", end, firstDiff(ml, sl))
	}
}

// buildSlaveReader builds testdata/slavereader without the race detector
// (GOFLAGS cleared, as buildBinary does), into the test's temp dir.
func buildSlaveReader(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "slavereader")
	build := exec.Command("go", "build", "-o", bin, "./testdata/slavereader")
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the slave reader: %v\n%s", err, out)
	}
	return bin
}

// readLog concatenates a commit log's files, up to offset end.
func readLog(t *testing.T, dir string, end int64) []byte {
	t.Helper()
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, f := range files {
		from, err := strconv.ParseInt(f.Name(), 10, 64)
		if err != nil || from >= end {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[:min(int64(len(b)), end-from)]...)
	}
	return out
}

func runtimeInfo(t *testing.T, addr string) map[string]string {
	t.Helper()
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{})
	if err != nil {
		return nil
	}
	defer c.Close()
	resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil), 5*time.Second)
	if err != nil || resp.ResponseCode() != remoting.Success {
		return nil
	}
	var kv struct{ Table map[string]string }
	if err := json.Unmarshal(resp.Body, &kv); err != nil {
		t.Fatalf("runtime info body: %v", err)
	}
	return kv.Table
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitDial(t *testing.T, addr string) {
	t.Helper()
	waitFor(t, 30*time.Second, "the name server listens", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
