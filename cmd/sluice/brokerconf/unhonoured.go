package brokerconf

import (
	"fmt"
	"strings"
)

// unhonoured knows the RocketMQ keys whose meaning Sluice does not implement yet
// and that an operator relies on: a value that asks for the feature makes
// Load fail, naming the key, rather than start a broker with a weaker
// guarantee than configured (a SYNC_MASTER that keeps one copy, a
// tlsEnable that sends in the clear). Values that ask for nothing — the
// feature's default, "off" — are accepted.
//
// Keys that change nothing a client or operator can observe stay plain
// unknown-key warnings. The README's "Keys Sluice refuses" lists these.
func unhonoured(key string) (check func(v string) error, known bool) {
	switch key {
	case "brokerRole":
		return checkBrokerRole, true
	case "haMasterAddress":
		return nonEmpty("no replication yet: a broker with a master to follow is a slave, and Sluice runs masters only"), true
	case "tlsEnable", "tlsTestModeEnable":
		// RocketMQ 5's proxy keys: a broker ignores them, and whoever
		// wrote them meant the broker's tls.* keys.
		return isTrue("a RocketMQ proxy key, which a broker ignores: use tls.server.mode / tls.enable / tls.test.mode.enable (README \"TLS\")"), true
	case "enableDLegerCommitLog":
		return isTrue("no DLedger commit log: Sluice's store is a plain commit log"), true
	case "enableControllerMode":
		return isTrue("no controller mode: Sluice runs masters only"), true
	case "enableSlaveActingMaster":
		return isTrue("no replication yet: there is no slave to act as master"), true
	case "enablePopBufferMerge":
		return isTrue("no pop buffer merge: Sluice writes each pop checkpoint and ack to its checkpoint journal at once (README \"Pop consumption\")"), true
	case "enableRetryTopicV2":
		return isTrue("pop retry topics are named %RETRY%<group>_<topic> (V1) only"), true
	case "popConsumerKVServiceEnable", "popConsumerFSServiceInit":
		return isTrue("no RocksDB pop consumer service: pop checkpoints live in Sluice's checkpoint journal"), true
	case "enablePopMessageThreshold":
		return isTrue("no in-flight threshold for pops yet: pops are not stopped by popInflightMessageThreshold"), true
	case "popResponseReturnActualRetryTopic":
		return isTrue("pops answer retry messages under the consumer's topic with their POP_CK, as RocketMQ's default does"), true
	case "enablePropertyFilter", "enableCalcFilterBitMap":
		return isTrue("no SQL92 filters yet: only TAG subscriptions are served (SQL92 ones are answered as the Java broker answers them when this is off)"), true
	}
	return nil, false
}

func checkBrokerRole(v string) error {
	switch v {
	case "ASYNC_MASTER":
		return nil
	case "SYNC_MASTER":
		return fmt.Errorf("no replication yet: a SYNC_MASTER acknowledges a send only once a slave has it, and Sluice has no slaves; use ASYNC_MASTER")
	case "SLAVE":
		return fmt.Errorf("no replication yet: Sluice runs masters only")
	}
	return fmt.Errorf("want ASYNC_MASTER, SYNC_MASTER or SLAVE")
}

func isTrue(why string) func(string) error {
	return func(v string) error {
		if strings.EqualFold(strings.TrimSpace(v), "true") {
			return fmt.Errorf("%s", why)
		}
		return nil
	}
}

func nonEmpty(why string) func(string) error {
	return func(v string) error {
		if strings.TrimSpace(v) != "" {
			return fmt.Errorf("%s", why)
		}
		return nil
	}
}
