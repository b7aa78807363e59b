package supervisor_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/actors/schedule"
	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

const replGroup = "broker-repl"

// masterConfig and slaveConfig are one broker group (one brokerName) of a
// master and its slave, registered with ns.
func masterConfig(t *testing.T, ns *supervisor.NameServer) supervisor.Config {
	cfg := brokertest.Config(t)
	cfg.BrokerName = replGroup
	cfg.NamesrvAddr = ns.Addr()
	cfg.DefaultTopicQueueNums = 2
	return cfg
}

func slaveConfig(t *testing.T, ns *supervisor.NameServer) supervisor.Config {
	cfg := masterConfig(t, ns)
	cfg.BrokerRole = supervisor.BrokerRoleSlave
	cfg.BrokerID = 1
	cfg.SlaveSyncIntervalMillis = 100
	return cfg
}

// brokerIDs are the ids the name server routes brokerName to.
func brokerIDs(ns *supervisor.NameServer) map[int64]string {
	for _, bd := range ns.Routes().ClusterInfo().BrokerAddrTable {
		if bd.BrokerName == replGroup {
			out := map[int64]string{}
			for id, addr := range bd.BrokerAddrs {
				out[id] = addr
			}
			return out
		}
	}
	return nil
}

func shutdown(t *testing.T, b *brokertest.Broker) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// copyDir seeds a slave's store from a stopped master's, as an operator
// seeds a slave by copying the master's files (the HA stream, commitlog/ha,
// is how a running slave gets them).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if strings.HasSuffix(p, ".lock") || d.Name() == "lock" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy store: %v", err)
	}
}

// A broker demoted to SLAVE (restarted on its address with brokerRole=
// SLAVE, brokerId=1) refuses the Go producer that still routes to it as
// RocketMQ's slave does — SERVICE_NOT_AVAILABLE, "messages are put to the
// slave" — and END_TRANSACTION and send-back too; it runs no schedule,
// timer or transaction-check service.
func TestSlaveRefusesSends(t *testing.T) {
	ns := brokertest.StartNameServer(t)
	port := freePort(t)
	dir := t.TempDir()
	cfg := masterConfig(t, ns)
	cfg.ListenPort = port
	cfg.Store.StorePathRootDir = dir
	m := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "master registered", func() bool { return brokerIDs(ns)[0] != "" })
	const topic = "RoleTopic"
	p := newProducer(t, ns.Addr())
	if res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("to master"))); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("send to master: %v %v", err, res)
	}
	shutdown(t, m)

	scfg := slaveConfig(t, ns)
	scfg.ListenPort = port
	scfg.Store.StorePathRootDir = dir
	s := brokertest.Start(t, scfg, supervisor.Options{})
	poll.Until(t, "slave registered", func() bool { return brokerIDs(ns)[1] != "" })
	// The producer's cached route still names this address as the master.
	_, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("to slave")))
	if err == nil || !strings.Contains(err.Error(), "messages are put to the slave") {
		t.Fatalf("send to slave: err = %v, want SERVICE_NOT_AVAILABLE", err)
	}
	if s.Logs.Count("putMessage is forbidden") == 0 {
		t.Fatalf("no log line for the refused send")
	}

	c := dial(t, s.Addr())
	resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessageV2, map[string]string{"a": "pg", "b": topic, "c": "TBW102", "d": "2", "e": "0", "f": "0", "g": "0", "h": "0"}, []byte("x")))
	if resp.ResponseCode() != remoting.ServiceNotAvailable || !strings.Contains(resp.Remark, "messages are put to the slave") {
		t.Fatalf("SEND_MESSAGE_V2: %s %q", resp.ResponseCode(), resp.Remark)
	}
	resp = invokeCmd(t, c, remoting.NewRequest(remoting.ConsumerSendMsgBack, map[string]string{"offset": "0", "group": "cg", "delayLevel": "0", "originMsgId": "x", "originTopic": topic}, nil))
	if resp.ResponseCode() != remoting.SystemError || resp.Remark != "SERVICE_NOT_AVAILABLE" {
		t.Fatalf("CONSUMER_SEND_MSG_BACK: %s %q", resp.ResponseCode(), resp.Remark)
	}
	resp = invokeCmd(t, c, remoting.NewRequest(remoting.EndTransaction, map[string]string{"producerGroup": "pg", "tranStateTableOffset": "0", "commitLogOffset": "0", "commitOrRollback": "8", "fromTransactionCheck": "false", "msgId": "x"}, nil))
	if resp.ResponseCode() != remoting.SlaveNotAvailable {
		t.Fatalf("END_TRANSACTION: %s %q", resp.ResponseCode(), resp.Remark)
	}
	resp = invokeCmd(t, c, remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{
		"topic": "SlaveTopic", "defaultTopic": "TBW102", "readQueueNums": "1", "writeQueueNums": "1", "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}, nil))
	if resp.ResponseCode() != remoting.SystemError || !strings.Contains(resp.Remark, "from slave broker") {
		t.Fatalf("UPDATE_AND_CREATE_TOPIC: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if s.Logs.Count("end transaction is forbidden") == 0 || s.Logs.Count("broker role is SLAVE: sends refused") == 0 {
		t.Fatalf("missing role log lines:\n%s", s.Logs.String())
	}
	if s.Timers() != nil {
		t.Fatalf("the slave runs a timer message store")
	}
	var walk func(n *tree.Node)
	walk = func(n *tree.Node) {
		if strings.Contains(n.ID, "schedule") || strings.Contains(n.ID, "timer") || strings.Contains(n.ID, "transaction") {
			t.Fatalf("the slave's tree has %s", n.ID)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(s.Tree().Root)
}

// The slave copies the master's topics, consumer offsets, delay offsets
// and subscription groups (SlaveSynchronize) over the master's remoting
// port, at the master address the name server's REGISTER_BROKER answer
// gave it; it takes offset commits itself, and the master's offsets win at
// the next sync, as Java's putAll.
func TestSlaveSyncsMetadataFromMaster(t *testing.T) {
	ns := brokertest.StartNameServer(t)
	m := brokertest.Start(t, masterConfig(t, ns), supervisor.Options{})
	poll.Until(t, "master registered", func() bool { return brokerIDs(ns)[0] != "" })
	mc := dial(t, m.Addr())
	ok := func(resp *remoting.Command, what string) {
		t.Helper()
		if resp.ResponseCode() != remoting.Success {
			t.Fatalf("%s: %s %q", what, resp.ResponseCode(), resp.Remark)
		}
	}
	ok(invokeCmd(t, mc, remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{
		"topic": "SyncTopic", "defaultTopic": "TBW102", "readQueueNums": "3", "writeQueueNums": "3", "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}, nil)), "create topic")
	ok(invokeCmd(t, mc, remoting.NewRequest(remoting.UpdateAndCreateSubscriptionGroup, nil,
		[]byte(`{"groupName":"SyncGroup","consumeEnable":true,"retryMaxTimes":7}`))), "create group")
	commit := func(c *remoting.Client, group string, off int64) {
		t.Helper()
		invokeCmd(t, c, remoting.NewRequest(remoting.UpdateConsumerOffset, map[string]string{
			"consumerGroup": group, "topic": "SyncTopic", "queueId": "0", "commitOffset": strconv.FormatInt(off, 10)}, nil))
	}
	commit(mc, "SyncGroup", 5)
	// A delayed message makes the master's schedule service record an
	// offset for level 1.
	p := newProducer(t, ns.Addr())
	dm := primitive.NewMessage("SyncTopic", []byte("later"))
	dm.WithDelayTimeLevel(1)
	if _, err := p.SendSync(context.Background(), dm); err != nil {
		t.Fatal(err)
	}

	scfg := slaveConfig(t, ns)
	s := brokertest.Start(t, scfg, supervisor.Options{})
	poll.Until(t, "slave learns the master", func() bool { return s.SlaveSync().MasterAddr() == m.Addr() })
	if ids := brokerIDs(ns); ids[0] != m.Addr() || ids[1] != s.Addr() {
		t.Fatalf("route ids %v, want 0 = master %s and 1 = slave %s", ids, m.Addr(), s.Addr())
	}
	sc := dial(t, s.Addr())
	get := func(c *remoting.Client, code remoting.RequestCode) string {
		resp := invokeCmd(t, c, remoting.NewRequest(code, nil, nil))
		return string(resp.Body)
	}
	query := func(group string) string {
		resp := invokeCmd(t, sc, remoting.NewRequest(remoting.QueryConsumerOffset, map[string]string{"consumerGroup": group, "topic": "SyncTopic", "queueId": "0"}, nil))
		return resp.Ext("offset")
	}
	poll.Until(t, "topic, group and offset on the slave", func() bool {
		return strings.Contains(get(sc, remoting.GetAllTopicConfig), `"SyncTopic"`) &&
			strings.Contains(get(sc, remoting.GetAllSubscriptionGroupConfig), `"SyncGroup"`) && query("SyncGroup") == "5"
	})
	var topics struct {
		TopicConfigTable map[string]struct{ ReadQueueNums int } `json:"topicConfigTable"`
	}
	if err := json.Unmarshal([]byte(get(sc, remoting.GetAllTopicConfig)), &topics); err != nil || topics.TopicConfigTable["SyncTopic"].ReadQueueNums != 3 {
		t.Fatalf("slave's SyncTopic: %+v %v", topics.TopicConfigTable["SyncTopic"], err)
	}
	if !strings.Contains(get(sc, remoting.GetAllSubscriptionGroupConfig), `"retryMaxTimes":7`) {
		t.Fatalf("slave's SyncGroup lacks the master's retryMaxTimes")
	}
	poll.Until(t, "delay offsets on the slave", func() bool {
		data, err := os.ReadFile(filepath.Join(scfg.Store.StorePathRootDir, "config", schedule.DelayOffsetFile))
		return err == nil && strings.Contains(string(data), "offsetTable") && string(data) == get(mc, remoting.GetAllDelayOffset)
	})

	// The slave takes commits; the master's pair wins at the next sync,
	// a pair only the slave has stays.
	commit(sc, "SyncGroup", 99)
	commit(sc, "SlaveOnlyGroup", 42)
	before := s.SlaveSync().Synced()
	poll.Until(t, "two more syncs", func() bool { return s.SlaveSync().Synced() >= before+2 })
	if got := query("SyncGroup"); got != "5" {
		t.Fatalf("slave's SyncGroup offset %s after sync, want the master's 5", got)
	}
	if got := query("SlaveOnlyGroup"); got != "42" {
		t.Fatalf("slave-only offset %s, want 42 kept", got)
	}
}

// A Go push consumer follows the master's suggestWhichBrokerId to the
// slave and reads there what only the slave holds; with the master gone
// from the name server, the group's route is the slave alone (brokerId 1,
// the queue data kept), which the client's FindBrokerAddressInSubscribe
// falls back to. The slave's store was seeded from the master's files
// while it was stopped, plus messages put on it while it briefly ran as a
// standalone master: the master has lost those, the slave has them.
func TestGoClientReadsFromSlave(t *testing.T) {
	ns := brokertest.StartNameServer(t)
	mcfg := masterConfig(t, ns)
	mcfg.SlaveReadEnable = true
	mcfg.TotalPhysicalMemorySize = 100 // 40 bytes "in memory", less than a record: every read is far behind
	m := brokertest.Start(t, mcfg, supervisor.Options{})
	poll.Until(t, "master registered", func() bool { return brokerIDs(ns)[0] != "" })
	const topic, n1, n2 = "FailoverTopic", 10, 10
	p := newProducer(t, ns.Addr())
	for i := 0; i < n1; i++ {
		if res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("m-"+strconv.Itoa(i)))); err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send %d: %v %v", i, err, res)
		}
	}
	shutdown(t, m)
	scfg := slaveConfig(t, ns)
	// The slave keeps the consumer (suggests brokerId 1 itself): with
	// slaveReadEnable off it would send it back to the master, which has
	// not the slave-only messages (PULL_OFFSET_MOVED there).
	scfg.SlaveReadEnable = true
	scfg.TotalPhysicalMemorySize = 100
	copyDir(t, mcfg.Store.StorePathRootDir, scfg.Store.StorePathRootDir)
	solo := scfg
	solo.BrokerRole, solo.BrokerID, solo.NamesrvAddr = supervisor.BrokerRoleAsyncMaster, 0, ""
	b := brokertest.Start(t, solo, supervisor.Options{})
	bc := dial(t, b.Addr())
	for i := n1; i < n1+n2; i++ {
		resp := invokeCmd(t, bc, remoting.NewRequest(remoting.SendMessageV2, map[string]string{"a": "pg", "b": topic, "c": "TBW102", "d": "2",
			"e": strconv.Itoa(i % 2), "f": "0", "g": strconv.FormatInt(time.Now().UnixMilli(), 10), "h": "0"}, []byte("m-"+strconv.Itoa(i))))
		if resp.ResponseCode() != remoting.Success {
			t.Fatalf("put on the slave's store: %s %q", resp.ResponseCode(), resp.Remark)
		}
	}
	bc.Close()
	shutdown(t, b)

	m = brokertest.Start(t, mcfg, supervisor.Options{})
	poll.Until(t, "master back", func() bool { return brokerIDs(ns)[0] == m.Addr() })
	s := brokertest.Start(t, scfg, supervisor.Options{})
	poll.Until(t, "both ids routed", func() bool { ids := brokerIDs(ns); return ids[0] == m.Addr() && ids[1] == s.Addr() })
	poll.Until(t, "the slave learns its master from the REGISTER_BROKER answer", func() bool { return s.SlaveSync().MasterAddr() == m.Addr() })

	rec := &received{msgs: map[string]*primitive.MessageExt{}}
	newPushConsumer(t, ns.Addr(), "cg-"+instance(t), topic, rec)
	poll.Within(t, 60*time.Second, "every message, the slave-only ones included", func() bool { return rec.count() == n1+n2 })
	if pullsServed(s) == 0 {
		t.Fatalf("the slave served no pull")
	}

	shutdown(t, m)
	poll.Until(t, "master unregistered", func() bool { ids := brokerIDs(ns); return ids[0] == "" && ids[1] == s.Addr() })
	route, ok := ns.Routes().PickupTopicRouteData(topic)
	if !ok || len(route.QueueDatas) != 1 || route.BrokerDatas[0].BrokerAddrs[1] != s.Addr() {
		t.Fatalf("route of %s without its master: %+v", topic, route)
	}
}

func pullsServed(b *brokertest.Broker) uint64 {
	for _, p := range b.Routes().Processors() {
		if p.Name == supervisor.ProcPull {
			return p.Stats.Processed.Load()
		}
	}
	return 0
}

// A master answers pulls with suggestWhichBrokerId: with slaveReadEnable,
// the group's whichBrokerWhenConsumeSlowly (1) once the reader is further
// behind the commit log's end than physical memory *
// accessMessageInMemoryMaxRatio / 100 (the memory figure injected), else
// 0; without slaveReadEnable always 0.
func TestPullSuggestsSlaveWhenNotInMemory(t *testing.T) {
	for _, tc := range []struct {
		name      string
		readable  bool
		memory    int64
		wantFirst string // reading from offset 0: far behind
		wantLast  string // reading the last message: in memory
	}{
		{"slaveReadEnable, small memory", true, 2000, "1", "0"},
		{"slaveReadEnable, large memory", true, 1 << 40, "0", "0"},
		{"slaveReadEnable off", false, 2000, "0", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := brokertest.Config(t)
			cfg.SlaveReadEnable = tc.readable
			cfg.TotalPhysicalMemorySize = tc.memory // 40%: 800 bytes
			b := brokertest.Start(t, cfg, supervisor.Options{})
			c := dial(t, b.Addr())
			const topic = "SuggestTopic"
			for i := 0; i < 20; i++ {
				resp := invokeCmd(t, c, remoting.NewRequest(remoting.SendMessageV2, map[string]string{"a": "pg", "b": topic, "c": "TBW102", "d": "1", "e": "0", "f": "0", "g": strconv.FormatInt(time.Now().UnixMilli(), 10), "h": "0"}, []byte(strings.Repeat("x", 100))))
				if resp.ResponseCode() != remoting.Success {
					t.Fatalf("send: %s %q", resp.ResponseCode(), resp.Remark)
				}
			}
			pull := func(off int) string {
				resp := invokeCmd(t, c, remoting.NewRequest(remoting.PullMessage, map[string]string{
					"consumerGroup": "cg-suggest", "topic": topic, "queueId": "0", "queueOffset": strconv.Itoa(off),
					"maxMsgNums": "1", "sysFlag": "4", "commitOffset": "0", "suspendTimeoutMillis": "0",
					"subscription": "*", "subVersion": "0", "expressionType": "TAG"}, nil))
				if resp.ResponseCode() != remoting.Success {
					t.Fatalf("pull %d: %s %q", off, resp.ResponseCode(), resp.Remark)
				}
				return resp.Ext("suggestWhichBrokerId")
			}
			if got := pull(0); got != tc.wantFirst {
				t.Errorf("from offset 0: suggestWhichBrokerId %s, want %s", got, tc.wantFirst)
			}
			if got := pull(19); got != tc.wantLast {
				t.Errorf("from the last message: suggestWhichBrokerId %s, want %s", got, tc.wantLast)
			}
		})
	}
}
