package main

import (
	"context"
	"strconv"
	"strings"
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
	want := "broker-test  1     SLAVE   " + s.Addr()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := cli(t, "replication", "-n", ns.Addr())
		if r.code == 0 && strings.Contains(r.stdout, want) && strings.Contains(r.stdout, "MASTER  "+m.Addr()) {
			behind := strconv.FormatInt(m.Store().MaxPhyOffset()-s.Store().MaxPhyOffset(), 10)
			if !strings.Contains(r.stdout, s.Addr()+"  "+strconv.FormatInt(s.Store().MaxPhyOffset(), 10)) || !strings.Contains(r.stdout, "  "+behind+" ") {
				t.Fatalf("replication: offsets wrong (want behind %s):\n%s", behind, r.stdout)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replication: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
