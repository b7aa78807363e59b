package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors/tree"
)

// The tree shows a master's HA service with its slave and a slave's link.
func TestRenderTreeHA(t *testing.T) {
	s := &tree.Snapshot{TakenAt: time.Now(), Root: &tree.Node{Name: "broker", Kind: tree.KindSupervisor, Children: []*tree.Node{
		{Name: "ha-service", Kind: tree.KindHA, HA: &tree.HAInfo{Role: "SYNC_MASTER", ListenAddr: "127.0.0.1:10912", Slaves: 1, MaxOffset: 500, Push2SlaveMaxOffset: 400},
			Children: []*tree.Node{{Name: "slave-1", Kind: tree.KindHA, HA: &tree.HAInfo{Slave: &tree.HASlaveInfo{Addr: "127.0.0.1:5555", AckedOffset: 400, LagBytes: 100, BytesSent: 400}}}}},
		{Name: "ha-client", Kind: tree.KindHA, HA: &tree.HAInfo{Role: "SLAVE", Client: &tree.HAClientInfo{MasterAddr: "10.0.0.1:10912", Connected: true, MaxOffset: 400, LastReport: 400}}},
	}}}
	out := renderTree(s, renderOptions{})
	for _, want := range []string{"SYNC_MASTER on 127.0.0.1:10912, 1 slave", "slave 127.0.0.1:5555 acked 400, lag 100 bytes", "master 10.0.0.1:10912 connected, max offset 400"} {
		if !strings.Contains(out, want) {
			t.Errorf("tree lacks %q:\n%s", want, out)
		}
	}
}
