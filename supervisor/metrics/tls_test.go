package metrics_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/metrics"
)

// metricsTlsCertPath / metricsTlsKeyPath: the endpoint serves HTTPS only,
// and the broker's ReloadTLS (SIGHUP) renews its certificate too.
func TestMetricsOverTLS(t *testing.T) {
	p := brokertest.NewPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := brokertest.Config(t)
	cfg.MetricsPromExporterPort = port
	cfg.MetricsTLSCertPath, cfg.MetricsTLSKeyPath = p.CertPath, p.KeyPath
	b := brokertest.Start(t, cfg, supervisor.Options{})

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: p.Verifying()}}
	scrape := func() string {
		resp, err := client.Get("https://" + b.MetricsAddr() + metrics.Path)
		if err != nil {
			t.Fatalf("HTTPS scrape: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "sluice_") {
			t.Fatalf("HTTPS scrape: %s %.200s", resp.Status, body)
		}
		return resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	if cn := scrape(); cn != "sluice-server" {
		t.Fatalf("certificate %q", cn)
	}
	if resp, err := http.Get("http://" + b.MetricsAddr() + metrics.Path); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP scrape served by a TLS endpoint")
		}
	}
	p.IssueServer(t, "sluice-server-renewed")
	if err := b.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	client.Transport.(*http.Transport).CloseIdleConnections()
	if cn := scrape(); cn != "sluice-server-renewed" {
		t.Fatalf("certificate %q after the reload", cn)
	}
}
