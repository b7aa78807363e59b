package commitlog

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// copyRaw streams master's log into slave as the HA link does: from the
// start of master's first file, in chunks of random sizes (cutting
// records anywhere), never across a file.
func copyRaw(t *testing.T, master, slave *Store, from int64, rng *rand.Rand) int64 {
	t.Helper()
	buf := make([]byte, 8192)
	for {
		n, err := master.ReadRaw(from, buf[:1+rng.Intn(len(buf)-1)])
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return from
		}
		if err := slave.AppendRaw(from, buf[:n]); err != nil {
			t.Fatalf("AppendRaw %d bytes at %d: %v", n, from, err)
		}
		from += int64(n)
	}
}

// A slave store fed the master's raw bytes in odd-sized chunks over
// several files (BLANK markers included) ends with a byte-identical log,
// consume queues that serve the same messages, and the same index keys.
func TestAppendRawMirrorsTheMaster(t *testing.T) {
	master := openTestStore(t, testConfig(t.TempDir()))
	scfg := testConfig(t.TempDir())
	scfg.BrokerRole = Slave
	slave := openTestStore(t, scfg)
	rng := rand.New(rand.NewSource(1))
	const n = 300
	for i := 0; i < n; i++ {
		put(t, master, testMessage("T", int32(i%3), i, 100+rng.Intn(900)))
	}
	settle(t, master)
	if master.clq.count() < 3 {
		t.Fatalf("want the log over several files, got %d", master.clq.count())
	}
	end := copyRaw(t, master, slave, 0, rng)
	if end != master.MaxPhyOffset() || slave.MaxWroteOffset() != end {
		t.Fatalf("copied to %d, slave at %d, master at %d", end, slave.MaxWroteOffset(), master.MaxPhyOffset())
	}
	settle(t, slave)
	for q := int32(0); q < 3; q++ {
		if a, b := master.MaxOffsetInQueue("T", q), slave.MaxOffsetInQueue("T", q); a != b {
			t.Fatalf("queue %d: master %d entries, slave %d", q, a, b)
		}
		g := slave.GetMessage("T", q, 0, 32, nil)
		m := master.GetMessage("T", q, 0, 32, nil)
		if g.Status != Found || len(g.Messages) != len(m.Messages) || !bytes.Equal(g.Messages[0], m.Messages[0]) {
			t.Fatalf("queue %d: slave read %v %d messages", q, g.Status, len(g.Messages))
		}
	}
	if err := slave.Close(); err != nil {
		t.Fatal(err)
	}
	if err := master.Close(); err != nil {
		t.Fatal(err)
	}
	sdir, mdir := filepath.Join(scfg.StorePathRootDir, "commitlog"), master.cfg.commitLogDir()
	files, _ := os.ReadDir(sdir)
	if len(files) == 0 {
		t.Fatal("slave has no commit-log file")
	}
	for _, f := range files {
		a, _ := os.ReadFile(filepath.Join(sdir, f.Name()))
		b, err := os.ReadFile(filepath.Join(mdir, f.Name()))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("file %s differs (%v)", f.Name(), err)
		}
	}
}

// A new slave starts at the master's last file: its empty log takes a
// file-aligned offset above 0 and dispatches from there; an unaligned
// start, a gap, and any role but Slave are refused; a slave takes no Put.
func TestAppendRawOffsets(t *testing.T) {
	master := openTestStore(t, testConfig(t.TempDir()))
	for i := 0; i < 200; i++ {
		put(t, master, testMessage("T", 0, i, 700))
	}
	settle(t, master)
	last := master.clq.last().from
	if last == 0 {
		t.Fatal("want more than one file")
	}
	scfg := testConfig(t.TempDir())
	scfg.BrokerRole = Slave
	slave := openTestStore(t, scfg)
	if err := slave.AppendRaw(last+1, []byte{1}); !errors.Is(err, ErrRawOffset) {
		t.Fatalf("unaligned start: %v", err)
	}
	end := copyRaw(t, master, slave, last, rand.New(rand.NewSource(2)))
	if slave.MinPhyOffset() != last || slave.MaxWroteOffset() != end {
		t.Fatalf("slave log [%d,%d), want [%d,%d)", slave.MinPhyOffset(), slave.MaxWroteOffset(), last, end)
	}
	if err := slave.AppendRaw(end+8, []byte{1}); !errors.Is(err, ErrRawOffset) {
		t.Fatalf("gap: %v", err)
	}
	settle(t, slave)
	if slave.MaxOffsetInQueue("T", 0) != master.MaxOffsetInQueue("T", 0) {
		t.Fatalf("slave queue ends at %d, master at %d", slave.MaxOffsetInQueue("T", 0), master.MaxOffsetInQueue("T", 0))
	}
	req := &PutRequest{Topic: "T", QueueID: 0, Records: encode(t, testMessage("T", 0, 1, 10)), Count: 1}
	slave.Put([]*PutRequest{req})
	if req.Result.Status != PutServiceNotAvailable {
		t.Fatalf("Put on a slave: %v", req.Result.Status)
	}
	if err := master.AppendRaw(master.MaxWroteOffset(), []byte{1}); err == nil {
		t.Fatal("a master took a raw append")
	}
}

// SYNC_MASTER's wait: no slave is SLAVE_NOT_AVAILABLE at once; a slave's
// acknowledgement answers PUT_OK; none in time is FLUSH_SLAVE_TIMEOUT;
// with SYNC_FLUSH too the slave's failure wins, its success leaves the
// flush's answer.
func TestSyncMasterWait(t *testing.T) {
	for _, flush := range []FlushDiskType{AsyncFlush, SyncFlush} {
		cfg := testConfig(t.TempDir())
		cfg.BrokerRole = SyncMaster
		cfg.FlushDiskType = flush
		cfg.SyncFlushTimeout = 200
		s := openTestStore(t, cfg)
		one := func() PutStatus {
			req := &PutRequest{Topic: "T", QueueID: 0, Records: encode(t, testMessage("T", 0, 1, 10)), Count: 1}
			s.Put([]*PutRequest{req})
			return req.Result.Status
		}
		if st := one(); st != PutSlaveNotAvailable {
			t.Fatalf("%v, no slave: %v", flush, st)
		}
		s.SetSlaveConnections(1)
		if st := one(); st != PutFlushSlaveTimeout {
			t.Fatalf("%v, silent slave: %v", flush, st)
		}
		// The slave acknowledges everything so far, then each next batch.
		s.SlaveAcked(s.MaxPhyOffset())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 500; i++ {
				s.SlaveAcked(s.MaxWroteOffset())
				time.Sleep(time.Millisecond)
			}
		}()
		if st := one(); st != PutOK {
			t.Fatalf("%v, acknowledging slave: %v", flush, st)
		}
		<-done
		// Too far behind (haSlaveFallbehindMax) is SLAVE_NOT_AVAILABLE.
		s.cfg.HASlaveFallbehindMax = 1
		if st := one(); st != PutSlaveNotAvailable {
			t.Fatalf("%v, slave behind: %v", flush, st)
		}
		r := s.Replication()
		if !r.Enabled || r.Timeouts != 1 || r.Unavailable != 2 || r.Waiting != 0 {
			t.Fatalf("%v: %+v", flush, r)
		}
	}
}

// The replication hot paths allocate nothing: the master's ReadRaw, the
// slave's AppendRaw, and a SYNC_MASTER Put acknowledged by its slave.
func TestReplicationSteadyStateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	mcfg := testConfig(t.TempDir())
	mcfg.BrokerRole = SyncMaster
	master := openTestStore(t, mcfg)
	master.SetSlaveConnections(1)
	scfg := testConfig(t.TempDir())
	scfg.BrokerRole = Slave
	slave := openTestStore(t, scfg)
	req := &PutRequest{Topic: "T", QueueID: 0, Records: encode(t, testMessage("T", 0, 1, 100)), Count: 1}
	batch := []*PutRequest{req}
	buf := make([]byte, 4096)
	from := int64(0)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				master.SlaveAcked(master.MaxWroteOffset())
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	step := func() {
		master.Put(batch)
		if req.Result.Status != PutOK {
			t.Fatalf("put: %v", req.Result.Status)
		}
		for {
			n, err := master.ReadRaw(from, buf)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
			if err := slave.AppendRaw(from, buf[:n]); err != nil {
				t.Fatal(err)
			}
			from += int64(n)
		}
	}
	for i := 0; i < 50; i++ {
		step() // warm the queue's table entry and the FIFO's ring
	}
	if a := testing.AllocsPerRun(200, step); a > 0 {
		t.Fatalf("%.1f allocations per replicated put", a)
	}
}
