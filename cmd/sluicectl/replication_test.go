package main

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// replication lists a group's master (id 0) and slave (id 1) with their
// commit-log max offsets and the bytes the slave is behind.
func TestReplicationShowsMasterAndSlave(t *testing.T) {
	ns := brokertest.StartNameServer(t)
	mcfg := brokertest.Config(t)
	mcfg.NamesrvAddr = ns.Addr()
	m := brokertest.Start(t, mcfg, supervisor.Options{})
	if r := cli(t, "topic", "create", "ReplTopic", "-b", m.Addr()); r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	scfg := brokertest.Config(t)
	scfg.NamesrvAddr = ns.Addr()
	scfg.BrokerRole, scfg.BrokerID = supervisor.BrokerRoleSlave, 1
	s := brokertest.Start(t, scfg, supervisor.Options{})
	// Messages on the master only (no HA stream here): the slave is
	// behind by exactly their bytes.
	c, err := remoting.Dial(context.Background(), m.Addr(), remoting.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3; i++ {
		resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.SendMessageV2, map[string]string{"a": "pg", "b": "ReplTopic", "c": "TBW102", "d": "1", "e": "0", "f": "0", "g": "0", "h": "0"}, []byte("x")), 5*time.Second)
		if err != nil || resp.ResponseCode() != remoting.Success {
			t.Fatalf("send: %v %v", err, resp)
		}
	}
	if m.Store().MaxPhyOffset() == 0 {
		t.Fatal("nothing stored on the master")
	}
	// The slave follows over the HA stream (its HA address learned from
	// the name server): once it has caught up it is 0 bytes behind, and
	// the master's HA runtime keys are shown.
	end := m.Store().MaxPhyOffset()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := cli(t, "replication", "-n", ns.Addr())
		caughtUp := s.Store().MaxPhyOffset() == end
		if r.code == 0 && caughtUp && regexpMatch(`(?m)^DefaultCluster\s+broker-test\s+0\s+MASTER\s+`+regexp.QuoteMeta(m.Addr())+`\s+`+strconv.FormatInt(end, 10)+`\s+-\s+.*haPush2SlaveMaxOffset=`, r.stdout) &&
			regexpMatch(`(?m)^DefaultCluster\s+broker-test\s+1\s+SLAVE\s+`+regexp.QuoteMeta(s.Addr())+`\s+`+strconv.FormatInt(end, 10)+`\s+0\s+`, r.stdout) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replication (slave at %d of %d): exit %d:\n%s%s", s.Store().MaxPhyOffset(), end, r.code, r.stdout, r.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
