package supervisor

import (
	"errors"
	"net"
	"strconv"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/acl"
	"github.com/sluice-mq/sluice/actors/admin"
	"github.com/sluice-mq/sluice/remoting"
)

// aclConfig maps the broker's keys onto the ACL's file rules: the files
// live under rocketmqHome, or under storePathRootDir when it is unset.
func aclConfig(cfg *Config) acl.Config {
	home := cfg.RocketmqHome
	if home == "" {
		home = cfg.Store.StorePathRootDir
	}
	return acl.Config{Home: home, PlainFile: cfg.AclPlainFile, WatchInterval: millis(cfg.AclFileWatchIntervalMillis)}
}

// openACL loads the ACL files when aclEnable is set and returns the gates
// for the broker's port and the embedded name server's; both are nil
// interfaces (no check at all) when ACL is off.
func (b *Broker) openACL() (broker, namesrv actors.RequestGate, err error) {
	cfg := &b.cfg
	if !cfg.AclEnable {
		return nil, nil, nil
	}
	embedded := cfg.NamesrvAddr == "" && cfg.NamesrvListenPort != 0
	if embedded && b.credentials() == nil {
		return nil, nil, errors.New("aclEnable=true with the embedded name server: set brokerAccessKey and brokerSecretKey " +
			"to an admin account of the ACL file, which the broker signs its registration with")
	}
	m, err := acl.NewPlainPermissionManager(aclConfig(cfg), b.log)
	if err != nil {
		return nil, nil, err
	}
	m.Start()
	b.acl = m
	return acl.NewPlainAccessValidator(m, acl.ModeBroker, b.log),
		acl.NewPlainAccessValidator(m, acl.ModeNamesrv, b.log), nil
}

// credentials are the broker's own account (brokerAccessKey), nil if unset.
func (b *Broker) credentials() *remoting.Credentials {
	if b.cfg.BrokerAccessKey == "" {
		return nil
	}
	return &remoting.Credentials{AccessKey: b.cfg.BrokerAccessKey, SecretKey: b.cfg.BrokerSecretKey}
}

// aclHandlers are the ACL admin codes' handlers. With ACL off they are
// refused by name: RocketMQ's broker would fail on its empty validator
// map and answer a bare SYSTEM_ERROR.
func (b *Broker) aclHandlers(handlers map[remoting.RequestCode]actors.HandlerFunc) {
	if b.acl == nil {
		for _, c := range acl.Codes() {
			handlers[c] = admin.Refuse(b.log, c, `: ACL is off on this broker; set aclEnable=true to manage accounts (README "Security")`,
				"refused: ACL admin code with aclEnable=false")
		}
		return
	}
	id := acl.Identity{
		BrokerName:  b.cfg.BrokerName,
		BrokerAddr:  net.JoinHostPort(b.cfg.BrokerIP1, strconv.Itoa(b.port())),
		ClusterName: b.cfg.BrokerClusterName,
	}
	for c, h := range acl.Handlers(b.acl, id, b.log) {
		handlers[c] = h
	}
}
