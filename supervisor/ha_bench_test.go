package supervisor_test

import (
	"testing"

	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// BenchmarkHASend compares, in one run, 64 publishers waiting on
// rocketmq-client-go's SendSync (1 KiB bodies) against a master with no
// slave, an ASYNC_MASTER with a slave following, and a SYNC_MASTER whose
// every answer waits for the slave's acknowledgement. Read the ratios of
// the three, not the absolute figures (the machine is shared):
//
//	go test -run '^$' -bench BenchmarkHASend -benchtime 20000x -count 3 ./supervisor/
func BenchmarkHASend(b *testing.B) {
	for _, mode := range []string{"no-slave", "ASYNC_MASTER", "SYNC_MASTER"} {
		b.Run("role="+mode, func(b *testing.B) {
			role := mode
			if mode == "no-slave" {
				role = "ASYNC_MASTER"
			}
			mutate := func(c *supervisor.Config) { c.Store.MappedFileSizeCommitLog = 64 << 20 }
			var nsAddr string
			if mode == "no-slave" {
				ns, _ := startCluster(b, func(c *supervisor.Config) { c.BrokerRole = role; c.HAListenPort = 0; mutate(c) })
				nsAddr = ns.Addr()
			} else {
				ns, master, _ := haPair(b, role, mutate, nil)
				poll.Until(b, "slave connected", func() bool { return len(haNode(b, master, "ha-service").Children) == 1 })
				nsAddr = ns.Addr()
			}
			p := newProducer(b, nsAddr)
			benchWaitingPublishers(b, p, "HABench", 64)
		})
	}
}
