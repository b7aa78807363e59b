package brokerconf

import (
	"fmt"

	"github.com/sluice-mq/sluice/supervisor"
)

// haFields binds replication's keys (MessageStoreConfig's ha* keys).
// brokerRole is bound with the store's keys.
func haFields(f fields, b *supervisor.Config) {
	f.int("haListenPort", &b.HAListenPort)
	f.str("haMasterAddress", &b.HAMasterAddress)
	f.int64("haSendHeartbeatInterval", &b.HASendHeartbeatInterval)
	f.int64("haHousekeepingInterval", &b.HAHousekeepingInterval)
	f.int("haTransferBatchSize", &b.HATransferBatchSize)
	f.int64("haSlaveFallbehindMax", &b.HASlaveFallbehindMax)
}

// haDefaults gives haListenPort its default, listenPort + 1 (RocketMQ's
// BrokerStartup sets it so), unless the file set it.
func haDefaults(b *supervisor.Config, props []Property) {
	for _, p := range props {
		if p.Key == "haListenPort" {
			return
		}
	}
	b.HAListenPort = 0 // listenPort 0: the system picks both
	if b.ListenPort > 0 {
		b.HAListenPort = b.ListenPort + 1
	}
}

// validateHA checks the HA keys.
func validateHA(b *supervisor.Config) []error {
	var errs []error
	if b.HAListenPort < 0 || b.HAListenPort > 65535 {
		errs = append(errs, fmt.Errorf("haListenPort = %d: not a port", b.HAListenPort))
	}
	for k, v := range map[string]int64{
		"haSendHeartbeatInterval": b.HASendHeartbeatInterval, "haHousekeepingInterval": b.HAHousekeepingInterval,
		"haTransferBatchSize": int64(b.HATransferBatchSize), "haSlaveFallbehindMax": b.HASlaveFallbehindMax,
	} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s = %d: must be positive", k, v))
		}
	}
	if b.HATransferBatchSize > 4<<20-12 {
		errs = append(errs, fmt.Errorf("haTransferBatchSize = %d: a transfer must fit in the slave's 4 MiB read buffer", b.HATransferBatchSize))
	}
	return errs
}
