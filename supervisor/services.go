package supervisor

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
)

// services are the broker's shared state behind the request handlers:
// the metadata managers and the handler objects built on them.
type services struct {
	topics *metadata.TopicConfigManager
	groups *metadata.SubscriptionGroupManager
	send   *actors.SendProcessor
}

// identity is what handlers need to know about this broker.
func (b *Broker) identity() (actors.BrokerIdentity, error) {
	ip, err := netip.ParseAddr(b.cfg.BrokerIP1)
	if err != nil {
		return actors.BrokerIdentity{}, fmt.Errorf("brokerIP1 = %q: not an IP address: %w", b.cfg.BrokerIP1, err)
	}
	port := b.cfg.ListenPort
	if b.listener != nil {
		if _, p, err := net.SplitHostPort(b.listener.Addr().String()); err == nil {
			port, _ = strconv.Atoi(p)
		}
	}
	return actors.BrokerIdentity{
		ClusterName:    b.cfg.BrokerClusterName,
		BrokerName:     b.cfg.BrokerName,
		BrokerID:       b.cfg.BrokerID,
		StoreHost:      netip.AddrPortFrom(ip.Unmap(), uint16(port)),
		RegionID:       "DefaultRegion",
		MaxMessageSize: b.cfg.Store.MaxMessageSize,
	}, nil
}

// openServices loads the metadata under <storePathRootDir>/config and
// builds the handler objects. It runs after the listener is bound, since
// the store host written into every record carries the bound port.
func (b *Broker) openServices() (*services, error) {
	id, err := b.identity()
	if err != nil {
		return nil, err
	}
	mc := metadata.DefaultConfig(filepath.Join(b.cfg.Store.StorePathRootDir, "config"))
	mc.BrokerClusterName = b.cfg.BrokerClusterName
	mc.BrokerName = b.cfg.BrokerName
	mc.AutoCreateTopicEnable = b.cfg.AutoCreateTopicEnable
	mc.DefaultTopicQueueNums = b.cfg.DefaultTopicQueueNums
	mc.AutoCreateSubscriptionGroup = b.cfg.AutoCreateSubscriptionGroup
	mc.Log = b.log
	s := &services{}
	if s.topics, err = metadata.NewTopicConfigManager(mc); err != nil {
		return nil, fmt.Errorf("load topics: %w", err)
	}
	if s.groups, err = metadata.NewSubscriptionGroupManager(mc); err != nil {
		return nil, fmt.Errorf("load subscription groups: %w", err)
	}
	s.send = &actors.SendProcessor{
		ID:     id,
		Store:  b.store,
		Writer: b.writer,
		Topics: s.topics,
		Groups: s.groups,
		Log:    b.log,
		Stop:   b.stopping,
	}
	return s, nil
}
