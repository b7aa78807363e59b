package tlshelper

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// Server is the server side of one listener's TLS: its mode and the
// crypto/tls configuration new handshakes use. The configuration sits
// behind an atomic pointer, so Reload swaps certificates (and trusted
// client CAs) for new connections while established ones go on.
type Server struct {
	cfg     Config
	mode    Mode
	timeout time.Duration
	current atomic.Pointer[tls.Config]
	// base is handed to tls.Server for every connection; its
	// GetConfigForClient returns current, so a handshake reads the
	// configuration of its own moment.
	base *tls.Config
}

// NewServer builds the server side of cfg; nil (and no error) when the
// mode is disabled, so a disabled listener carries nothing per connection.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mode := cfg.ServerMode()
	if mode == Disabled {
		return nil, nil
	}
	s := &Server{cfg: cfg, mode: mode, timeout: cfg.HandshakeTimeout}
	if s.timeout <= 0 {
		s.timeout = DefaultHandshakeTimeout
	}
	tc, err := s.build()
	if err != nil {
		return nil, err
	}
	s.current.Store(tc)
	s.base = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current.Load(), nil
		},
	}
	return s, nil
}

// Mode is the server's effective mode (never Disabled: see NewServer).
func (s *Server) Mode() Mode { return s.mode }

// ClientAuth is how client certificates are asked for and checked.
func (s *Server) ClientAuth() tls.ClientAuthType { return s.current.Load().ClientAuth }

// TestMode reports whether the certificate is a self-signed test one.
func (s *Server) TestMode() bool { return s.cfg.TestMode }

// Certificate is the leaf certificate new handshakes present.
func (s *Server) Certificate() *x509.Certificate {
	certs := s.current.Load().Certificates
	if len(certs) == 0 {
		return nil
	}
	return certs[0].Leaf
}

// Reload reads the certificate, key and trusted CAs again; new handshakes
// use them from the moment it returns. On error the previous ones stay.
// In test mode a new self-signed certificate is made.
func (s *Server) Reload() error {
	tc, err := s.build()
	if err != nil {
		return err
	}
	s.current.Store(tc)
	return nil
}

// build makes the configuration handshakes use, after TlsHelper's
// buildSslContext(false).
func (s *Server) build() (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if s.cfg.TestMode {
		cert, err = SelfSigned("sluice-test-mode", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	} else {
		cert, err = LoadKeyPair(s.cfg.ServerCertPath, s.cfg.ServerKeyPath, KeyServerCertPath, KeyServerKeyPath)
	}
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// gRPC clients (the gRPC front shares these modes) require ALPN
		// h2; remoting clients offer no ALPN, so nothing changes for them.
		NextProtos: []string{"h2"},
	}
	// Netty's ClientAuth with RocketMQ's trust managers: authClient=false
	// installs an insecure one (a certificate is asked for, never checked).
	switch s.cfg.NeedClientAuth {
	case ClientAuthNone:
		tc.ClientAuth = tls.NoClientCert
	case ClientAuthOptional:
		tc.ClientAuth = tls.RequestClientCert
		if s.cfg.ServerAuthClient {
			tc.ClientAuth = tls.VerifyClientCertIfGiven
		}
	case ClientAuthRequire:
		tc.ClientAuth = tls.RequireAnyClientCert
		if s.cfg.ServerAuthClient {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	if s.cfg.ServerAuthClient && s.cfg.ServerTrustCertPath != "" {
		// With no trust path the system roots verify, as the JDK's
		// default trust store does.
		if tc.ClientCAs, err = LoadCertPool(s.cfg.ServerTrustCertPath, KeyServerTrustCertPath); err != nil {
			return nil, err
		}
	}
	return tc, nil
}

// WrapConn returns the connection the remoting layer should read: nc
// itself never (see NewServer: a disabled listener has no Server), a
// wrapper that on its first read or write waits for the first byte —
// within the handshake timeout — and continues as TLS (0x16) or plain,
// refusing plain in enforcing mode. Nothing blocks here: the wait happens
// in the connection's own reading goroutine, so a silent peer holds no
// accept slot.
func (s *Server) WrapConn(nc net.Conn) net.Conn {
	return &detectConn{raw: nc, s: s}
}

// ErrPlainRefused is the read error of a plain connection to an enforcing
// server (RocketMQ closes it with a warning).
var ErrPlainRefused = errors.New("plain (non-TLS) connection refused: tls.server.mode=enforcing")

// LoadKeyPair reads a PEM certificate chain and its private key, refusing
// encrypted keys with a message that says so.
func LoadKeyPair(certPath, keyPath, certKey, keyKey string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", certKey, err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", keyKey, err)
	}
	if err := refuseEncrypted(keyPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("%s %s: %w", keyKey, keyPath, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s %s / %s %s: %w", certKey, certPath, keyKey, keyPath, err)
	}
	return cert, nil
}

func refuseEncrypted(keyPEM []byte) error {
	for rest := keyPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil
		}
		//lint:ignore SA1019 only detected, to refuse it
		if b.Type == "ENCRYPTED PRIVATE KEY" || x509.IsEncryptedPEMBlock(b) { //nolint:staticcheck
			return errors.New("the private key is encrypted, which is not supported: decrypt it (openssl pkcs8 -in enc.key -out plain.key) and protect the file by its permissions")
		}
	}
}

// LoadCertPool reads PEM certificates to trust.
func LoadCertPool(path, key string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s %s: no PEM certificate in it", key, path)
	}
	return pool, nil
}

// KeyPair is a certificate and key read from files, swapped atomically by
// Reload: for servers other than the remoting port (the metrics endpoint).
type KeyPair struct {
	certPath, keyPath, certKey, keyKey string
	current                            atomic.Pointer[tls.Certificate]
}

// NewKeyPair reads the pair; certKey and keyKey name the keys the paths
// came from, for errors.
func NewKeyPair(certPath, keyPath, certKey, keyKey string) (*KeyPair, error) {
	k := &KeyPair{certPath: certPath, keyPath: keyPath, certKey: certKey, keyKey: keyKey}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload reads the files again; on error the previous pair stays.
func (k *KeyPair) Reload() error {
	cert, err := LoadKeyPair(k.certPath, k.keyPath, k.certKey, k.keyKey)
	if err != nil {
		return err
	}
	k.current.Store(&cert)
	return nil
}

// TLSConfig serves the current pair, TLS 1.2 and later.
func (k *KeyPair) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return k.current.Load(), nil
		},
	}
}
