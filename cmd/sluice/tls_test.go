package main

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// The real binaries with RocketMQ's tls.properties: a standalone name
// server (-tls-config) and a broker (tls.config.file in broker.conf), both
// enforcing; the broker registers over TLS; SIGHUP makes each serve the
// renewed certificate to new handshakes.
func TestBinaryTLSAndSIGHUPReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	p := brokertest.NewPKI(t)
	dir := t.TempDir()
	tlsProps := filepath.Join(dir, "tls.properties")
	if err := os.WriteFile(tlsProps, []byte("tls.server.mode=enforcing\ntls.test.mode.enable=false\n"+
		"tls.server.certPath="+p.CertPath+"\ntls.server.keyPath="+p.KeyPath+"\n"+
		"tls.client.authServer=true\ntls.client.trustCertPath="+p.CAPath+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nsCmd, _, nsAddr := startProcess(t, "name server started", bin, "namesrv", "-listen", "127.0.0.1:0", "-tls-config", tlsProps)
	conf := filepath.Join(dir, "broker.conf")
	if err := os.WriteFile(conf, []byte("listenPort=0\nnamesrvListenPort=0\ngrpcServerPort=0\nmetricsPromExporterPort=0\nbrokerName=broker-tls\n"+
		"tls.config.file="+tlsProps+"\nstorePathRootDir="+dir+"/store\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bCmd, _, bAddr := startProcess(t, "broker started", bin, "-c", conf, "-n", nsAddr)

	c, err := remoting.Dial(context.Background(), nsAddr, remoting.ClientOptions{TLS: p.Verifying()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	poll.Until(t, "the broker's registration over TLS", func() bool {
		resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": "TBW102"}, nil), 5*time.Second)
		return err == nil && resp.ResponseCode() == remoting.Success && strings.Contains(string(resp.Body), "broker-tls")
	})

	peer := func(addr string) string {
		tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.Pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("TLS dial %s: %v", addr, err)
		}
		defer tc.Close()
		return tc.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	for _, addr := range []string{nsAddr, bAddr} {
		if got := peer(addr); got != "sluice-server" {
			t.Fatalf("%s serves %q", addr, got)
		}
	}
	p.IssueServer(t, "sluice-server-renewed")
	for _, cmd := range []*os.Process{nsCmd.Process, bCmd.Process} {
		if err := cmd.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	for _, addr := range []string{nsAddr, bAddr} {
		poll.Until(t, "the renewed certificate on "+addr, func() bool { return peer(addr) == "sluice-server-renewed" })
	}
	// SIGHUP is not a shutdown: the broker still answers.
	bc, err := remoting.Dial(context.Background(), bAddr, remoting.ClientOptions{TLS: p.Verifying()})
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	resp, err := bc.Invoke(context.Background(), remoting.NewRequest(4242, nil, nil), 5*time.Second)
	if err != nil || resp.ResponseCode() != remoting.RequestCodeNotSupported {
		t.Fatalf("after SIGHUP: %v %+v", err, resp)
	}
}
