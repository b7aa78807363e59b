package main

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/remoting/tlshelper"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// With --tls-ca the load generator reaches an enforcing name server and
// broker; without it it cannot.
func TestTLSFlags(t *testing.T) {
	p := brokertest.NewPKI(t)
	ns, err := supervisor.StartNameServerWithOptions("127.0.0.1:0", zerolog.Nop(), supervisor.NameServerOptions{TLS: p.Server(tlshelper.Enforcing)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Shutdown(context.Background()) })
	cfg := brokertest.Config(t)
	cfg.TLS = p.Server(tlshelper.Enforcing)
	cfg.NamesrvAddr = ns.Addr()
	b := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "", func() bool { return len(ns.Routes().LiveBrokers()) > 0 })

	s := produceJSON(t, "-n", ns.Addr(), "-c", "100", "-w", "2", "--tls-ca", p.CAPath)
	if s.Sent != 100 {
		t.Fatalf("sent %d of 100 over TLS: %+v", s.Sent, s)
	}
	if n := b.Store().MaxPhyOffset(); n == 0 {
		t.Fatal("nothing stored")
	}
	if code, _, _ := produce(t, "-n", ns.Addr(), "-c", "10", "-w", "1"); code == 0 {
		t.Fatal("plain sends to an enforcing cluster succeeded")
	}
}
