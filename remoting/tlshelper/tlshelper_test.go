package tlshelper_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting/tlshelper"
)

// pair is a certificate written to files.
type pair struct {
	cert          tls.Certificate
	certPath, key string
}

func writePair(t *testing.T, dir, name string, ca *tls.Certificate) pair {
	t.Helper()
	cert, err := tlshelper.Issue(name, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, ca)
	if err != nil {
		t.Fatal(err)
	}
	p := pair{cert: cert, certPath: filepath.Join(dir, name+".pem"), key: filepath.Join(dir, name+".key")}
	if err := tlshelper.WriteKeyPair(p.certPath, p.key, cert); err != nil {
		t.Fatal(err)
	}
	return p
}

// echoServer accepts on 127.0.0.1, wraps every connection with s and
// echoes what it reads; a read error of a connection goes to errs.
func echoServer(t *testing.T, s *tlshelper.Server) (addr string, errs <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan error, 16)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c := s.WrapConn(nc)
				defer c.Close()
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						if !errors.Is(err, io.EOF) {
							ch <- err
						}
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), ch
}

// roundTrip writes msg and reads it back.
func roundTrip(c net.Conn, msg string) error {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return errors.New("echo mismatch: " + string(got))
	}
	return nil
}

func newServer(t *testing.T, cfg tlshelper.Config) *tlshelper.Server {
	t.Helper()
	s, err := tlshelper.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		t.Fatal("no server for a TLS mode")
	}
	return s
}

func TestPermissiveServesPlainAndTLSOnOnePort(t *testing.T) {
	p := writePair(t, t.TempDir(), "server", nil)
	s := newServer(t, tlshelper.Config{ServerCertPath: p.certPath, ServerKeyPath: p.key})
	if s.Mode() != tlshelper.Permissive {
		t.Fatalf("mode %s, want permissive (the default once a certificate is configured)", s.Mode())
	}
	addr, _ := echoServer(t, s)

	plain, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	// A remoting frame starts with its length, top byte 0.
	if err := roundTrip(plain, "\x00\x00\x00\x10plain"); err != nil {
		t.Fatalf("plain: %v", err)
	}

	pool := x509.NewCertPool()
	pool.AddCert(p.cert.Leaf)
	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer tc.Close()
	if err := roundTrip(tc, "over tls"); err != nil {
		t.Fatalf("TLS: %v", err)
	}
	if v := tc.ConnectionState().Version; v < tls.VersionTLS12 {
		t.Fatalf("TLS version %x", v)
	}
}

func TestEnforcingRefusesPlain(t *testing.T) {
	p := writePair(t, t.TempDir(), "server", nil)
	s := newServer(t, tlshelper.Config{Mode: tlshelper.Enforcing, ModeSet: true, ServerCertPath: p.certPath, ServerKeyPath: p.key})
	addr, errs := echoServer(t, s)
	plain, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := roundTrip(plain, "\x00\x00\x00\x10plain"); err == nil {
		t.Fatal("a plain connection was served in enforcing mode")
	}
	if err := <-errs; !errors.Is(err, tlshelper.ErrPlainRefused) {
		t.Fatalf("server read error %v, want ErrPlainRefused", err)
	}
	tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := roundTrip(tc, "tls"); err != nil {
		t.Fatalf("TLS in enforcing mode: %v", err)
	}
}

func TestRequiredClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := writePair(t, dir, "ca", nil)
	srv := writePair(t, dir, "server", &ca.cert)
	client := writePair(t, dir, "client", &ca.cert)
	stranger := writePair(t, dir, "stranger", nil) // not issued by ca
	s := newServer(t, tlshelper.Config{
		ServerCertPath: srv.certPath, ServerKeyPath: srv.key,
		NeedClientAuth: tlshelper.ClientAuthRequire, ServerAuthClient: true, ServerTrustCertPath: ca.certPath,
	})
	if s.ClientAuth() != tls.RequireAndVerifyClientCert {
		t.Fatalf("client auth %v", s.ClientAuth())
	}
	addr, _ := echoServer(t, s)
	dial := func(certs ...tls.Certificate) error {
		tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: certs})
		if err != nil {
			return err
		}
		defer tc.Close()
		// TLS 1.3 clients learn of the refusal at their first read.
		return roundTrip(tc, "hello")
	}
	if err := dial(); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	if err := dial(stranger.cert); err == nil {
		t.Fatal("a client with a certificate of another CA was served")
	}
	if err := dial(client.cert); err != nil {
		t.Fatalf("a client with a CA-issued certificate: %v", err)
	}
	// Plain connections in permissive mode carry no certificate at all:
	// client authentication is a TLS matter, as in RocketMQ.
}

func TestReloadSwapsCertificate(t *testing.T) {
	dir := t.TempDir()
	first := writePair(t, dir, "first", nil)
	s := newServer(t, tlshelper.Config{ServerCertPath: first.certPath, ServerKeyPath: first.key})
	addr, _ := echoServer(t, s)
	subject := func() string {
		tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		return tc.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := subject(); got != "first" {
		t.Fatalf("certificate %q, want first", got)
	}
	second, err := tlshelper.SelfSigned("second", nil, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tlshelper.WriteKeyPair(first.certPath, first.key, second); err != nil {
		t.Fatal(err)
	}
	if got := subject(); got != "first" {
		t.Fatalf("certificate %q before the reload", got)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := subject(); got != "second" {
		t.Fatalf("certificate %q after the reload, want second", got)
	}
	// A broken file keeps the current certificate.
	if err := os.WriteFile(first.certPath, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("reload of a broken certificate succeeded")
	}
	if got := subject(); got != "second" {
		t.Fatalf("certificate %q after a failed reload, want second", got)
	}
}

// A peer that connects and sends nothing is dropped after the handshake
// timeout, not held until the idle limit.
func TestSilentPeerIsDropped(t *testing.T) {
	p := writePair(t, t.TempDir(), "server", nil)
	s := newServer(t, tlshelper.Config{ServerCertPath: p.certPath, ServerKeyPath: p.key, HandshakeTimeout: 50 * time.Millisecond})
	addr, errs := echoServer(t, s)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := <-errs; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("server error %v, want a deadline", err)
	}
}

// The reader's own deadline (the idle limit), set before the first read,
// applies once the connection is settled.
func TestDeadlineSetBeforeDetectionApplies(t *testing.T) {
	p := writePair(t, t.TempDir(), "server", nil)
	s := newServer(t, tlshelper.Config{ServerCertPath: p.certPath, ServerKeyPath: p.key})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	w := s.WrapConn(nc)
	defer w.Close()
	if _, err := c.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	if err := w.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := w.Read(buf); err != nil || n != 1 {
		t.Fatalf("first read %d, %v", n, err)
	}
	if tlshelper.IsTLS(w) {
		t.Fatal("a plain connection reported as TLS")
	}
	if _, err := w.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second read: %v, want the deadline set before detection", err)
	}
}

func TestEncryptedKeyIsRefused(t *testing.T) {
	dir := t.TempDir()
	p := writePair(t, dir, "server", nil)
	enc := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	if err := os.WriteFile(p.key, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := tlshelper.NewServer(tlshelper.Config{ServerCertPath: p.certPath, ServerKeyPath: p.key})
	if err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Fatalf("error %v, want one that says the key is encrypted", err)
	}
	_, err = tlshelper.NewServer(tlshelper.Config{ServerCertPath: p.certPath, ServerKeyPath: p.key, ServerKeyPassword: "secret"})
	if err == nil || !strings.Contains(err.Error(), tlshelper.KeyServerKeyPassword) {
		t.Fatalf("error %v, want one naming %s", err, tlshelper.KeyServerKeyPassword)
	}
}

func TestTestModeServesSelfSigned(t *testing.T) {
	var cfg tlshelper.Config
	if err := cfg.Set(tlshelper.KeyTestModeEnable, "true"); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, cfg)
	addr, _ := echoServer(t, s)
	tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := roundTrip(tc, "test mode"); err != nil {
		t.Fatal(err)
	}
}

func TestConfigKeys(t *testing.T) {
	var c tlshelper.Config
	if c.ServerMode() != tlshelper.Disabled || c.ClientEnabled() {
		t.Fatal("TLS on with no key set")
	}
	if s, err := tlshelper.NewServer(c); s != nil || err != nil {
		t.Fatalf("disabled mode built %v, %v", s, err)
	}
	set := func(k, v string) {
		t.Helper()
		if err := c.Set(k, v); err != nil {
			t.Fatalf("%s=%s: %v", k, v, err)
		}
	}
	set(tlshelper.KeyServerCertPath, "/x.pem")
	set(tlshelper.KeyServerKeyPath, "/x.key")
	if c.ServerMode() != tlshelper.Permissive {
		t.Fatalf("mode %s with a certificate, want permissive", c.ServerMode())
	}
	set(tlshelper.KeyServerMode, "enforcing")
	if !c.ClientEnabled() {
		t.Fatal("enforcing mode should default useTLS to true, as BrokerStartup does")
	}
	set(tlshelper.KeyUseTLS, "false")
	if c.ClientEnabled() {
		t.Fatal("useTLS=false ignored")
	}
	set(tlshelper.KeyServerNeedClientAuth, "REQUIRE")
	if c.NeedClientAuth != tlshelper.ClientAuthRequire || c.Get(tlshelper.KeyServerNeedClientAuth) != "require" {
		t.Fatalf("need.client.auth %v", c.NeedClientAuth)
	}
	for k, v := range map[string]string{
		tlshelper.KeyServerMode:           "enforce",
		tlshelper.KeyServerNeedClientAuth: "always",
		tlshelper.KeyServerAuthClient:     "yes",
	} {
		if err := c.Set(k, v); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
	if err := c.Set("tls.server.certpath", "x"); !errors.Is(err, tlshelper.ErrUnknownKey) {
		t.Errorf("misspelt key: %v", err)
	}
	set(tlshelper.KeyTestModeEnable, "true")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tlshelper.KeyTestModeEnable) {
		t.Fatalf("test mode with a certificate: %v", err)
	}
	var m tlshelper.Config
	if err := m.Set(tlshelper.KeyServerMode, "permissive"); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), tlshelper.KeyServerCertPath) {
		t.Fatalf("permissive without a certificate: %v", err)
	}
}

func TestClientFlags(t *testing.T) {
	p := writePair(t, t.TempDir(), "server", nil)
	f := tlshelper.ClientFlags{}
	if c, err := f.Config(); c != nil || err != nil {
		t.Fatalf("no flags: %v, %v", c, err)
	}
	f = tlshelper.ClientFlags{CA: p.certPath}
	c, err := f.Config()
	if err != nil || c == nil || c.InsecureSkipVerify || c.RootCAs == nil {
		t.Fatalf("--tls-ca: %+v, %v", c, err)
	}
	f = tlshelper.ClientFlags{Insecure: true, CA: p.certPath}
	if _, err := f.Config(); err == nil {
		t.Fatal("--tls-insecure with --tls-ca accepted")
	}
	f = tlshelper.ClientFlags{Cert: p.certPath}
	if _, err := f.Config(); err == nil {
		t.Fatal("--tls-cert without --tls-key accepted")
	}
}

// The broker's client side: RocketMQ's default does not verify the
// server; tls.client.authServer with a trust path does, and refuses a
// server the CA did not issue.
func TestClientTLS(t *testing.T) {
	dir := t.TempDir()
	ca := writePair(t, dir, "ca", nil)
	srv := writePair(t, dir, "server", &ca.cert)
	other := writePair(t, dir, "other", nil)
	var c tlshelper.Config
	if tc, err := c.ClientTLS(); tc != nil || err != nil {
		t.Fatalf("client TLS with nothing set: %v %v", tc, err)
	}
	if err := c.Set(tlshelper.KeyEnable, "true"); err != nil {
		t.Fatal(err)
	}
	tc, err := c.ClientTLS()
	if err != nil || tc == nil || !tc.InsecureSkipVerify {
		t.Fatalf("tls.enable=true: %+v %v; want RocketMQ's unverified default", tc, err)
	}
	c.ClientAuthServer, c.ClientTrustCertPath = true, ca.certPath
	if tc, err = c.ClientTLS(); err != nil || tc.InsecureSkipVerify || tc.RootCAs == nil {
		t.Fatalf("authServer: %+v %v", tc, err)
	}
	for _, p := range []struct {
		pair pair
		ok   bool
	}{{srv, true}, {other, false}} {
		s := newServer(t, tlshelper.Config{ServerCertPath: p.pair.certPath, ServerKeyPath: p.pair.key})
		addr, _ := echoServer(t, s)
		cfg := tc.Clone()
		cfg.ServerName = "127.0.0.1"
		conn, err := tls.Dial("tcp", addr, cfg)
		if err == nil {
			conn.Close()
		}
		if (err == nil) != p.ok {
			t.Errorf("server %s: dial error %v, want ok=%v", p.pair.certPath, err, p.ok)
		}
	}
}

// Once settled, a plain connection on a permissive port reads through
// the wrapper without allocating.
func TestSettledPlainReadAllocatesNothing(t *testing.T) {
	p := writePair(t, t.TempDir(), "server", nil)
	s := newServer(t, tlshelper.Config{ServerCertPath: p.certPath, ServerKeyPath: p.key})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	w := s.WrapConn(nc)
	defer w.Close()
	msg := []byte{0, 0, 0, 8}
	buf := make([]byte, 4)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(w, buf); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(w, buf); err != nil {
			t.Fatal(err)
		}
		if err := w.SetReadDeadline(time.Time{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per read", allocs)
	}
}
