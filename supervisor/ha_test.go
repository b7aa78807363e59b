package supervisor_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// haPair starts a master of role masterRole and its slave (brokerId 1,
// the same brokerName), both registered with one name server; the slave
// follows haVia(master's HA address), or, when that is "", the address
// the name server's REGISTER_BROKER answer gives it.
func haPair(t testing.TB, masterRole string, mutate func(*supervisor.Config), haVia func(string) string) (*supervisor.NameServer, *brokertest.Broker, *brokertest.Broker) {
	t.Helper()
	ns, master := startCluster(t, func(c *supervisor.Config) {
		storeDirs[master0(t)] = c.Store.StorePathRootDir
		c.BrokerRole = masterRole
		c.HAListenPort = 0
		if mutate != nil {
			mutate(c)
		}
	})
	cfg := brokertest.Config(t)
	cfg.BrokerRole = "SLAVE"
	cfg.BrokerID = 1
	cfg.HAListenPort = 0
	cfg.NamesrvAddr = ns.Addr()
	cfg.SlaveSyncIntervalMillis = 100 // the topics come from the master
	addr := master.HAAddr()
	if haVia != nil {
		addr = haVia(addr)
	}
	cfg.HAMasterAddress = addr
	// Registered, so that it learns its master's remoting address and
	// syncs the master's topics (a slave refuses topic changes).
	cfg.NamesrvAddr = ns.Addr()
	cfg.SlaveSyncIntervalMillis = 100
	if mutate != nil {
		mutate(&cfg)
	}
	slave := brokertest.Start(t, cfg, supervisor.Options{})
	storeDirs[slave0(t)] = cfg.Store.StorePathRootDir
	return ns, master, slave
}

// storeDirs: each test's master and slave store roots (tests here do not
// run in parallel).
var storeDirs = map[string]string{}

func master0(t testing.TB) string { return t.Name() + "/master" }
func slave0(t testing.TB) string  { return t.Name() + "/slave" }

// sameCommitLog fails unless every commit-log file of the slave is
// byte-identical to the master's of the same name, and the slave has the
// master's log up to its end.
func sameCommitLog(t *testing.T, master, slave *brokertest.Broker, mdir, sdir string) {
	t.Helper()
	names, err := os.ReadDir(filepath.Join(sdir, "commitlog"))
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, e := range names {
		s, err := os.ReadFile(filepath.Join(sdir, "commitlog", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m, err := os.ReadFile(filepath.Join(mdir, "commitlog", e.Name()))
		if err != nil {
			t.Fatalf("slave file %s: master has none: %v", e.Name(), err)
		}
		if !bytes.Equal(s, m) {
			t.Fatalf("commit-log file %s differs between master and slave", e.Name())
		}
		compared++
	}
	if compared == 0 {
		t.Fatal("the slave has no commit-log file")
	}
}

func haNode(t testing.TB, b *brokertest.Broker, name string) *tree.Node {
	t.Helper()
	var found *tree.Node
	b.Tree().Root.Walk(func(n *tree.Node, _ int) {
		if n.HA != nil && n.Name == name && found == nil {
			found = n
		}
	})
	return found
}

// A slave follows a SYNC_MASTER byte for byte: every send the unmodified
// Go client makes is acknowledged SEND_OK once the slave has it, the two
// commit logs are identical file by file, and the slave's consume queues
// (built by its own dispatcher from the streamed bytes) serve pulls.
func TestHASlaveFollowsMasterByteForByte(t *testing.T) {
	ns, master, slave := haPair(t, "SYNC_MASTER", func(c *supervisor.Config) {
		c.HASendHeartbeatInterval = 200
		c.HAHousekeepingInterval = 2000
		c.HATransferBatchSize = 4096 // many transfers, records cut across them
	}, func(string) string { return "" })
	poll.Until(t, "the slave learns the master's HA address from the name server", func() bool {
		return slave.HAClient().MasterAddress() == master.HAAddr()
	})
	poll.Until(t, "slave connected", func() bool { return master.Store().Replication().Slaves == 1 })
	const topic = "HATopic"
	createTopic(t, master.Addr(), topic, 4)
	before := slave.SlaveSync().Synced()
	poll.Until(t, "the slave synced the topic from its master", func() bool { return slave.SlaveSync().Synced() >= before+2 })
	p := newProducer(t, ns.Addr())
	const n = 200
	for i := 0; i < n; i++ {
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, bytes.Repeat([]byte("x"), 100+i*10)).WithKeys([]string{"k" + strconv.Itoa(i)}))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send %d: %v %v", i, res, err)
		}
	}
	end := master.Store().MaxPhyOffset()
	poll.Until(t, "slave caught up", func() bool { return slave.Store().MaxWroteOffset() == end })
	if got := master.Store().Replication().Acked; got < end {
		t.Fatalf("master's acked offset %d < its end %d after SYNC_MASTER sends", got, end)
	}
	poll.Until(t, "slave dispatched", func() bool { return messagesIn(slave, topic, 4) == n })
	c := dial(t, slave.Addr())
	poll.Until(t, "the slave has the master's topic", func() bool {
		resp := invokeCmd(t, c, remoting.NewRequest(remoting.PullMessage, pullHeader(topic, 0, 0, 0), nil))
		return resp.ResponseCode() != remoting.TopicNotExist
	})
	pulled := 0
	for q := 0; q < 4; q++ {
		pulled += len(pullAll(t, c, topic, q))
	}
	if pulled != n {
		t.Fatalf("pulled %d messages from the slave, want %d", pulled, n)
	}
	sameCommitLog(t, master, slave, storeDirs[master0(t)], storeDirs[slave0(t)])

	// The tree shows both ends.
	svc := haNode(t, master, "ha-service")
	if svc == nil || svc.HA.Slaves != 1 || len(svc.Children) != 1 || svc.Children[0].HA == nil || svc.Children[0].HA.Slave == nil {
		t.Fatalf("master's tree has no HA service with one slave child: %+v", svc)
	}
	if s := svc.Children[0].HA.Slave; s.AckedOffset != end || s.LagBytes != 0 || s.BytesSent == 0 {
		t.Fatalf("slave connection node: %+v, want acked %d, lag 0", s, end)
	}
	cl := haNode(t, slave, "ha-client")
	if cl == nil || cl.HA.Client == nil || !cl.HA.Client.Connected || cl.HA.Client.MaxOffset != end {
		t.Fatalf("slave's tree: %+v", cl)
	}
	info := master.RuntimeInfo()
	if info["haSlaveConnections"] != "1" {
		t.Fatalf("runtime info haSlaveConnections = %q", info["haSlaveConnections"])
	}
	// The slave refuses sends at the store (SERVICE_NOT_AVAILABLE).
	resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0, ""), []byte("to the slave")))
	if resp.ResponseCode() == remoting.Success {
		t.Fatal("the slave stored a send")
	}
}

// proxy is a TCP relay between slave and master that can blackhole the
// link: while cut it forwards nothing either way (connections stay open,
// as a dead network does), and new connections are accepted and starved.
type proxy struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go p.pipe(c, u)
			go p.pipe(u, c)
		}
	}()
	return p
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.cut.Load() {
			// Blackholed: hold the bytes (a dead link delivers nothing).
			time.Sleep(5 * time.Millisecond)
			if errors.Is(err, io.EOF) {
				break
			}
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// Through a proxy that blackholes and restores the HA link, a SYNC_MASTER
// answers FLUSH_SLAVE_TIMEOUT while the slave is still connected but gets
// nothing, SLAVE_NOT_AVAILABLE once housekeeping has dropped it, and SEND_OK
// again after the link is back, without a restart.
func TestHABlackholedLinkThenRecovery(t *testing.T) {
	var px *proxy
	ns, master, slave := haPair(t, "SYNC_MASTER", func(c *supervisor.Config) {
		c.Store.SyncFlushTimeout = 300
		c.HASendHeartbeatInterval = 100
		c.HAHousekeepingInterval = 1000
	}, func(addr string) string { px = newProxy(t, addr); return px.ln.Addr().String() })
	poll.Until(t, "slave connected", func() bool { return master.Store().Replication().Slaves == 1 })
	const topic = "HACutTopic"
	createTopic(t, master.Addr(), topic, 1)
	p := newProducer(t, ns.Addr(), producer.WithRetry(0), producer.WithSendMsgTimeout(5*time.Second))
	send := func() primitive.SendStatus {
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("m")))
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		return res.Status
	}
	if st := send(); st != primitive.SendOK {
		t.Fatalf("before the cut: %v", st)
	}
	px.cut.Store(true)
	if st := send(); st != primitive.SendFlushSlaveTimeout {
		t.Fatalf("cut, slave still connected: %v, want FLUSH_SLAVE_TIMEOUT", st)
	}
	poll.Until(t, "housekeeping drops the slave", func() bool { return master.Store().Replication().Slaves == 0 })
	if st := send(); st != primitive.SendSlaveNotAvailable {
		t.Fatalf("cut, slave dropped: %v, want SLAVE_NOT_AVAILABLE", st)
	}
	px.cut.Store(false)
	poll.Until(t, "SEND_OK again", func() bool { return send() == primitive.SendOK })
	end := master.Store().MaxPhyOffset()
	poll.Until(t, "slave caught up", func() bool { return slave.Store().MaxWroteOffset() == end })
	sameCommitLog(t, master, slave, storeDirs[master0(t)], storeDirs[slave0(t)])
	if r := master.Store().Replication(); r.Timeouts == 0 || r.Unavailable == 0 {
		t.Fatalf("replication counters: %+v", r)
	}
	// The wait shows as a busy period caused by replication lag, logged
	// once it is over.
	poll.Until(t, "busy period, cause replicationLag", func() bool {
		return master.Logs.Count(`"cause":"replicationLag"`) == 1
	})
}

// ASYNC_MASTER: sends do not wait for the slave; while the link is cut
// the lag grows and shows in the tree, and after it is restored the slave
// catches up and the lag is zero.
func TestHAAsyncMasterLagThenCatchUp(t *testing.T) {
	var px *proxy
	ns, master, slave := haPair(t, "ASYNC_MASTER", func(c *supervisor.Config) {
		c.HASendHeartbeatInterval = 100
		c.HAHousekeepingInterval = 60000 // the cut must not drop the link
	}, func(addr string) string { px = newProxy(t, addr); return px.ln.Addr().String() })
	poll.Until(t, "slave connected", func() bool { return len(haNode(t, master, "ha-service").Children) == 1 })
	const topic = "HAAsyncTopic"
	createTopic(t, master.Addr(), topic, 2)
	p := newProducer(t, ns.Addr())
	px.cut.Store(true)
	for i := 0; i < 100; i++ {
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, bytes.Repeat([]byte("a"), 1000)))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send %d: %v %v", i, res, err)
		}
	}
	lag := haNode(t, master, "ha-service").Children[0].HA.Slave.LagBytes
	if lag < 100*1000 {
		t.Fatalf("lag while cut = %d bytes, want at least the burst", lag)
	}
	px.cut.Store(false)
	poll.Until(t, "lag back to zero", func() bool {
		ch := haNode(t, master, "ha-service").Children
		return len(ch) == 1 && ch[0].HA.Slave.LagBytes == 0
	})
	if slave.Store().MaxWroteOffset() != master.Store().MaxPhyOffset() {
		t.Fatal("lag 0 but the slave's log is not at the master's end")
	}
	sameCommitLog(t, master, slave, storeDirs[master0(t)], storeDirs[slave0(t)])
}
