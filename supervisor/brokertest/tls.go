package brokertest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"

	"github.com/sluice-mq/sluice/remoting/tlshelper"
)

// PKI is a test CA and a server certificate for 127.0.0.1 it issued, as
// PEM files in a temporary directory.
type PKI struct {
	CA                tls.Certificate
	CAPath            string
	CertPath, KeyPath string
	Pool              *x509.CertPool
	dir               string
}

// NewPKI makes a CA and a server certificate named "sluice-server".
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := tlshelper.SelfSigned("sluice test CA", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{CA: ca, dir: dir, CAPath: filepath.Join(dir, "ca.pem"),
		CertPath: filepath.Join(dir, "server.pem"), KeyPath: filepath.Join(dir, "server.key")}
	if err := tlshelper.WriteKeyPair(p.CAPath, filepath.Join(dir, "ca.key"), ca); err != nil {
		t.Fatal(err)
	}
	p.IssueServer(t, "sluice-server")
	p.Pool = x509.NewCertPool()
	p.Pool.AddCert(ca.Leaf)
	return p
}

// IssueServer (re)writes the server certificate files with a new
// certificate whose common name is cn.
func (p *PKI) IssueServer(t testing.TB, cn string) {
	t.Helper()
	cert, err := tlshelper.Issue(cn, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, &p.CA)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlshelper.WriteKeyPair(p.CertPath, p.KeyPath, cert); err != nil {
		t.Fatal(err)
	}
}

// Client issues a client certificate.
func (p *PKI) Client(t testing.TB) tls.Certificate {
	t.Helper()
	cert, err := tlshelper.Issue("sluice-client", nil, nil, &p.CA)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Server is the TLS configuration of a broker or name server in mode
// with the server certificate.
func (p *PKI) Server(mode tlshelper.Mode) tlshelper.Config {
	return tlshelper.Config{Mode: mode, ModeSet: true, ServerCertPath: p.CertPath, ServerKeyPath: p.KeyPath}
}

// Verifying is a client configuration that checks the server against the
// CA.
func (p *PKI) Verifying() *tls.Config {
	return &tls.Config{RootCAs: p.Pool, MinVersion: tls.VersionTLS12}
}
