package main

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/remoting/tlshelper"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// Against an enforcing broker and name server: --tls-ca verifies and
// works, plain is refused, --tls alone fails verification (the test CA is
// not a system root), --tls-insecure works.
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

	if r := cli(t, "topic", "list", "-b", b.Addr(), "--tls-ca", p.CAPath); r.code != 0 {
		t.Fatalf("--tls-ca: exit %d: %s", r.code, r.stderr)
	}
	if r := cli(t, "topic", "list", "-b", b.Addr(), "--tls-insecure"); r.code != 0 {
		t.Fatalf("--tls-insecure: exit %d: %s", r.code, r.stderr)
	}
	if r := cli(t, "topic", "list", "-b", b.Addr()); r.code != 1 {
		t.Fatalf("plain against enforcing: exit %d, want 1", r.code)
	}
	r := cli(t, "topic", "list", "-b", b.Addr(), "--tls")
	if r.code != 1 || !strings.Contains(r.stderr, "certificate") {
		t.Fatalf("--tls with an unknown CA: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := cli(t, "topic", "list", "-b", b.Addr(), "--tls-ca", p.CAPath, "--tls-insecure"); r.code != 2 {
		t.Fatalf("--tls-ca with --tls-insecure: exit %d, want 2", r.code)
	}
	if r := cli(t, "cluster", "-n", ns.Addr(), "--tls-ca", p.CAPath); r.code != 0 || !strings.Contains(r.stdout, b.Addr()) {
		t.Fatalf("cluster over TLS: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
