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
	case "tlsEnable", "tlsTestModeEnable":
		// RocketMQ 5's proxy keys: a broker ignores them, and whoever
		// wrote them meant the broker's tls.* keys.
		return isTrue("a RocketMQ proxy key, which a broker ignores: use tls.server.mode / tls.enable / tls.test.mode.enable (README \"TLS\")"), true
	case "enableDLegerCommitLog":
		return isTrue("no DLedger commit log: Sluice's store is a plain commit log"), true
	case "enableControllerMode":
		return isTrue("no controller mode: a slave is promoted by hand (README \"Replication\")"), true
	case "enableSlaveActingMaster":
		return isTrue("RocketMQ 5's slave acting as master is not implemented: a 4.x slave serves reads only (README \"Replication\")"), true
	case "enablePropertyFilter", "enableCalcFilterBitMap":
		return isTrue("no SQL92 filters yet: only TAG subscriptions are served (SQL92 ones are answered as the Java broker answers them when this is off)"), true
	}
	return nil, false
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
