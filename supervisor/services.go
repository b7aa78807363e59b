package supervisor

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/remoting"
)

// services are the broker's shared state behind the request handlers:
// the metadata managers and the handler objects built on them.
type services struct {
	meta   *metadata.Managers
	send   *actors.SendProcessor
	pull   *actors.PullProcessor
	holds  *actors.PullHoldService
	client *actors.ClientProcessor
	admin  *actors.AdminProcessor

	stopOnce sync.Once
	stops    []func()
}

// identity is what handlers need to know about this broker.
func (b *Broker) identity() (actors.BrokerIdentity, error) {
	ip, err := netip.ParseAddr(b.cfg.BrokerIP1)
	if err != nil {
		return actors.BrokerIdentity{}, fmt.Errorf("brokerIP1 = %q: not an IP address: %w", b.cfg.BrokerIP1, err)
	}
	return actors.BrokerIdentity{
		ClusterName:    b.cfg.BrokerClusterName,
		BrokerName:     b.cfg.BrokerName,
		BrokerID:       b.cfg.BrokerID,
		StoreHost:      netip.AddrPortFrom(ip.Unmap(), uint16(b.port())),
		RegionID:       "DefaultRegion",
		MaxMessageSize: b.cfg.Store.MaxMessageSize,
	}, nil
}

// port is the remoting port actually bound (listenPort=0 picks one).
func (b *Broker) port() int {
	if b.listener != nil {
		if _, p, err := net.SplitHostPort(b.listener.Addr().String()); err == nil {
			n, _ := strconv.Atoi(p)
			return n
		}
	}
	return b.cfg.ListenPort
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
	meta, err := metadata.Open(mc)
	if err != nil {
		return nil, fmt.Errorf("load broker metadata: %w", err)
	}
	s := &services{meta: meta, holds: actors.NewPullHoldService()}
	s.send = &actors.SendProcessor{ID: id, Store: b.store, Writer: b.writer, Meta: meta, Log: b.log, Stop: b.stopping}
	s.pull = &actors.PullProcessor{
		ID: id, Store: b.store, Meta: meta, Holds: s.holds,
		LongPollingEnable: b.cfg.LongPollingEnable,
		ShortPollingTime:  millis(b.cfg.ShortPollingTimeMills),
		Log:               b.log,
	}
	s.client = &actors.ClientProcessor{Meta: meta, Store: b.store}
	s.admin = &actors.AdminProcessor{Meta: meta, Store: b.store}
	return s, nil
}

// start runs the services' background work: long polling, the client
// housekeeping scan and the consumer-offset persister.
func (s *services) start(b *Broker) {
	s.holds.Start(s.pull)
	b.store.OnMessageArrived(s.holds.NotifyMessageArriving)
	s.stops = append(s.stops, s.meta.Offsets.StartPersister(millis(b.cfg.FlushConsumerOffsetInterval)))
	stopScan := make(chan struct{})
	go func() {
		// ClientHousekeepingService: every 10 s drop clients silent for 120 s.
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopScan:
				return
			case now := <-t.C:
				for _, ch := range s.meta.ScanNotActive(now) {
					b.log.Info().Str("channel", ch.ID()).Msg("client silent for 120 s removed; closing its connection")
					if c, ok := ch.(*actors.Connection); ok {
						c.Close(errors.New("client silent for 120 s"))
					}
				}
			}
		}
	}()
	s.stops = append(s.stops, func() { close(stopScan) })
}

// stop answers held pulls, stops the background work and persists the
// metadata files.
func (s *services) stop() error {
	var err error
	s.stopOnce.Do(func() {
		s.holds.Stop()
		for _, f := range s.stops {
			f()
		}
		err = s.meta.Persist()
	})
	return err
}

// handlers maps every request code the broker serves to its handler. Each
// processor's table covers distinct codes by construction; a clash is a bug
// caught by every test that starts a broker.
func (s *services) handlers() map[remoting.RequestCode]actors.HandlerFunc {
	h := map[remoting.RequestCode]actors.HandlerFunc{}
	for _, m := range []map[remoting.RequestCode]actors.HandlerFunc{
		s.send.Handlers(), s.pull.Handlers(), s.client.HeartbeatHandlers(), s.client.ClientManageHandlers(),
		s.client.ConsumerManageHandlers(), s.admin.Handlers(),
	} {
		for c, f := range m {
			if _, dup := h[c]; dup {
				panic(errors.New("request code " + c.String() + " has two handlers"))
			}
			h[c] = f
		}
	}
	return h
}
