package supervisor

import (
	"net"
	"path/filepath"
	"strconv"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/admin"
	"github.com/sluice-mq/sluice/actors/schedule"
	"github.com/sluice-mq/sluice/actors/send"
	"github.com/sluice-mq/sluice/actors/slave"
	"github.com/sluice-mq/sluice/actors/transaction"
	"github.com/sluice-mq/sluice/remoting"
)

// The broker's role (brokerRole) decides what runs: a SLAVE stores only
// what its master streams to it, so it refuses sends and end-transactions
// as RocketMQ's slave does, runs no schedule, timer or transaction-check
// service (BrokerController runs them on the master only), and copies the
// master's metadata every slaveSyncIntervalMillis (SlaveSynchronize). Pulls,
// queries, offsets and admin reads are served in every role.

// roleHandlers replaces the send codes and END_TRANSACTION on a slave.
func (b *Broker) roleHandlers(h map[remoting.RequestCode]actors.HandlerFunc) {
	if !b.cfg.IsSlave() {
		return
	}
	for c, f := range send.SlaveRefusals(b.log) {
		h[c] = f
	}
	for c, f := range admin.SlaveRefusals(b.log) {
		h[c] = f
	}
	h[remoting.EndTransaction] = transaction.SlaveRefusal(b.log)
}

// openSlave is openServices' end on a slave: no schedule message service,
// no timer message store, and the metadata synchronizer in their place.
func (b *Broker) openSlave(s *services, configDir string) {
	b.log.Info().Int64("brokerId", b.cfg.BrokerID).
		Msg("broker role is SLAVE: sends refused, schedule, timer and transaction-check services not started (they run on the master); syncing metadata from the master")
	s.slaveSync = slave.New(slave.Config{
		Meta:            s.meta,
		DelayOffsetPath: filepath.Join(configDir, schedule.DelayOffsetFile),
		Self:            net.JoinHostPort(b.cfg.BrokerIP1, strconv.Itoa(b.port())),
		Interval:        millis(b.cfg.SlaveSyncIntervalMillis),
		TLS:             b.tls.client,
		Credentials:     b.credentials(),
		Log:             b.log,
	})
}

// masterAddressChanged takes the master's addresses from each
// REGISTER_BROKER answer (BrokerController#doRegisterBrokerAll).
func (b *Broker) masterAddressChanged(masterAddr, haServerAddr string) {
	if b.svc == nil || b.svc.slaveSync == nil {
		return
	}
	b.svc.slaveSync.SetMasterAddr(masterAddr)
	if f := b.haMasterAddress; f != nil && haServerAddr != "" {
		f(haServerAddr)
	}
}

// SlaveSync is the slave's metadata synchronizer (nil on a master), for
// tests and the tree.
func (b *Broker) SlaveSync() *slave.Synchronize { return b.svc.slaveSync }

// assumedPhysicalMemory stands in for a RAM size the OS does not tell.
const assumedPhysicalMemory = 8 << 30

// memoryForPull is the share of the commit log's tail counted as still in
// memory: physical RAM * accessMessageInMemoryMaxRatio / 100, as
// DefaultMessageStore computes it (TotalPhysicalMemorySize replaces the
// RAM figure, for tests).
func (b *Broker) memoryForPull() int64 {
	total := b.cfg.TotalPhysicalMemorySize
	if total <= 0 {
		total = physicalMemory()
	}
	if total <= 0 {
		total = assumedPhysicalMemory
	}
	return int64(float64(total) * (float64(b.cfg.AccessMessageInMemoryMaxRatio) / 100.0))
}
