package commitlog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash test re-executes this test binary as a child (TestCrashChild)
// that appends to a store and prints every acknowledged record; the parent
// SIGKILLs it at a random moment, reopens the store and checks that every
// acknowledged record is there with its exact bytes and queue offset.
// SLUICE_CRASH_ROUNDS sets the number of kills per mode (3 by default).

const crashTopic = "Crash"

// crashMessage is the deterministic content of record id.
func crashMessage(qid int32, id int64, bodyLen int) *Message {
	body := make([]byte, bodyLen)
	r := rand.New(rand.NewPCG(uint64(id), 7))
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	return &Message{
		Topic: crashTopic, QueueID: qid, BornTimestamp: id, BornHost: testBorn, StoreHost: testStore, Body: body,
		Properties: "TAGS\x01t" + strconv.Itoa(int(id%5)) + "\x02ID\x01" + strconv.FormatInt(id, 10) + "\x02",
	}
}

func crashConfig(dir, mode string) Config {
	cfg := testConfig(dir)
	cfg.MappedFileSizeConsumeQueue = 50 * CQEntrySize
	if mode == "sync" {
		cfg.FlushDiskType = SyncFlush
	}
	return cfg
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv("SLUICE_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestCrashRecovery")
	}
	round, _ := strconv.ParseInt(os.Getenv("SLUICE_CRASH_ROUND"), 10, 64)
	s, err := Open(crashConfig(dir, os.Getenv("SLUICE_CRASH_MODE")), testLogger(t))
	if err != nil {
		fmt.Println("OPEN-FAILED", err)
		os.Exit(2)
	}
	rng := rand.New(rand.NewPCG(uint64(round), uint64(time.Now().UnixNano())))
	out := bufio.NewWriter(os.Stdout)
	id := round * 1_000_000
	type meta struct {
		id      int64
		bodyLen int
	}
	for {
		var batch []*PutRequest
		var metas [][]meta
		for r := 0; r < 1+rng.IntN(6); r++ {
			qid := int32(rng.IntN(4))
			req := &PutRequest{Topic: crashTopic, QueueID: qid}
			var ms []meta
			for k := 0; k < 1+rng.IntN(3); k++ {
				id++
				bl := rng.IntN(3000)
				req.Records, _ = AppendRecord(req.Records, crashMessage(qid, id, bl))
				req.Count++
				ms = append(ms, meta{id, bl})
			}
			batch = append(batch, req)
			metas = append(metas, ms)
		}
		s.Put(batch)
		for i, req := range batch {
			if req.Result.Status != PutOK {
				continue
			}
			phys := req.Result.WroteOffset
			for k, m := range metas[i] {
				n := RecordLen(crashMessage(req.QueueID, m.id, m.bodyLen))
				fmt.Fprintf(out, "ACK %d %d %d %d %d %d\n", req.QueueID, req.Result.QueueOffset+int64(k), phys, req.Result.StoreTimestamp, m.id, m.bodyLen)
				phys += int64(n)
			}
		}
		out.Flush() // one write per Put: printed only after Put returned
	}
}

type crashAck struct {
	qid                     int32
	qoff, phys, storeTS, id int64
	bodyLen                 int
}

func TestCrashRecovery(t *testing.T) {
	rounds := 3
	if v := os.Getenv("SLUICE_CRASH_ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
	}
	for _, mode := range []string{"sync", "async"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			var acks []crashAck
			for round := 1; round <= rounds; round++ {
				got := runCrashChild(t, dir, mode, round)
				if len(got) == 0 {
					t.Fatalf("round %d: child acknowledged nothing", round)
				}
				acks = append(acks, got...)
				verifyCrashAcks(t, dir, mode, acks)
			}
			t.Logf("%d rounds, %d acknowledged records verified", rounds, len(acks))
		})
	}
}

func runCrashChild(t *testing.T, dir, mode string, round int) []crashAck {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "SLUICE_CRASH_DIR="+dir, "SLUICE_CRASH_MODE="+mode, "SLUICE_CRASH_ROUND="+strconv.Itoa(round))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The reader keeps every line without ever blocking: a bounded channel
	// here filled up when the child acknowledged more than it held before
	// the kill, and the reader then never saw EOF.
	var raw []string
	firstLine := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return // a partial last line was never fully acknowledged
			}
			raw = append(raw, line)
			if len(raw) == 1 {
				close(firstLine)
			}
		}
	}()
	select {
	case <-firstLine:
	case <-readDone:
	case <-time.After(20 * time.Second):
	}
	time.Sleep(time.Duration(20+rand.IntN(250)) * time.Millisecond)
	cmd.Process.Kill() // SIGKILL
	<-readDone         // raw is the reader's until here
	cmd.Wait()
	var acks []crashAck
	for _, l := range raw {
		if !strings.HasPrefix(l, "ACK ") {
			t.Fatalf("round %d: child said %q; stderr:\n%s", round, l, stderr.String())
		}
		var a crashAck
		if _, err := fmt.Sscanf(l, "ACK %d %d %d %d %d %d\n", &a.qid, &a.qoff, &a.phys, &a.storeTS, &a.id, &a.bodyLen); err != nil {
			t.Fatalf("bad line %q: %v", l, err)
		}
		acks = append(acks, a)
	}
	return acks
}

func verifyCrashAcks(t *testing.T, dir, mode string, acks []crashAck) {
	t.Helper()
	s, err := Open(crashConfig(dir, mode), testLogger(t))
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	seen := map[[2]int64]bool{}
	for _, a := range acks {
		key := [2]int64{int64(a.qid), a.qoff}
		if seen[key] {
			t.Fatalf("queue %d offset %d acknowledged twice", a.qid, a.qoff)
		}
		seen[key] = true
		want, _ := AppendRecord(nil, crashMessage(a.qid, a.id, a.bodyLen))
		binary.BigEndian.PutUint64(want[offQueueOffset:], uint64(a.qoff))
		binary.BigEndian.PutUint64(want[offPhysOffset:], uint64(a.phys))
		binary.BigEndian.PutUint64(want[storeTimestampOffset(0):], uint64(a.storeTS))
		r := s.GetMessage(crashTopic, a.qid, a.qoff, 1, nil)
		if r.Status != Found || !bytes.Equal(r.Messages[0], want) {
			t.Fatalf("acknowledged record id %d (queue %d offset %d, phys %d) lost or changed after kill: %v", a.id, a.qid, a.qoff, a.phys, r.Status)
		}
	}
	// The store takes writes again where it left off.
	max := s.MaxOffsetInQueue(crashTopic, 0)
	req := &PutRequest{Topic: crashTopic, QueueID: 0, Count: 1}
	req.Records, _ = AppendRecord(nil, crashMessage(0, 999_999_999, 10))
	s.Put([]*PutRequest{req})
	if req.Result.Status != PutOK || req.Result.QueueOffset != max {
		t.Fatalf("put after recovery: %v offset %d want %d", req.Result.Status, req.Result.QueueOffset, max)
	}
}
