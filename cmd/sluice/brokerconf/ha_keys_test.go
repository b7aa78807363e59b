package brokerconf

import (
	"strings"
	"testing"
)

// The HA keys parse with RocketMQ's names; haListenPort follows
// listenPort unless set.
func TestHAKeys(t *testing.T) {
	cfg := Default()
	if _, err := cfg.Load(strings.NewReader("listenPort=20911\nhaMasterAddress=127.0.0.1:10912\nhaSendHeartbeatInterval=1000\nhaHousekeepingInterval=3000\nhaTransferBatchSize=65536\nhaSlaveFallbehindMax=1048576\n")); err != nil {
		t.Fatal(err)
	}
	b := cfg.Broker
	if b.HAListenPort != 20912 || b.HAMasterAddress != "127.0.0.1:10912" || b.HASendHeartbeatInterval != 1000 ||
		b.HAHousekeepingInterval != 3000 || b.HATransferBatchSize != 65536 || b.HASlaveFallbehindMax != 1048576 {
		t.Fatalf("HA keys: %+v", b)
	}
	cfg = Default()
	if _, err := cfg.Load(strings.NewReader("listenPort=20911\nhaListenPort=30000\n")); err != nil || cfg.Broker.HAListenPort != 30000 {
		t.Fatalf("haListenPort set: %d %v", cfg.Broker.HAListenPort, err)
	}
	cfg = Default()
	if _, err := cfg.Load(strings.NewReader("haTransferBatchSize=0\n")); err == nil || !strings.Contains(err.Error(), "haTransferBatchSize") {
		t.Fatalf("haTransferBatchSize=0: %v", err)
	}
}
