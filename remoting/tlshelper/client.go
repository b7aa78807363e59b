package tlshelper

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
)

// ClientTLS is the configuration of outgoing connections (TlsHelper's
// buildSslContext(true)); nil when ClientEnabled is false. As RocketMQ,
// the server's certificate is verified only with tls.client.authServer
// (and never in test mode), against tls.client.trustCertPath or the
// system roots.
func (c *Config) ClientTLS() (*tls.Config, error) {
	if !c.ClientEnabled() {
		return nil, nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TestMode || !c.ClientAuthServer {
		tc.InsecureSkipVerify = true
	} else if c.ClientTrustCertPath != "" {
		pool, err := LoadCertPool(c.ClientTrustCertPath, KeyClientTrustCertPath)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if c.ClientCertPath != "" {
		cert, err := LoadKeyPair(c.ClientCertPath, c.ClientKeyPath, KeyClientCertPath, KeyClientKeyPath)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ClientFlags are the tools' TLS flags (sluicectl, sluice-producer).
// Unlike RocketMQ's clients, which never check the server unless told to,
// the tools verify it unless --tls-insecure says not to.
type ClientFlags struct {
	Enable   bool
	CA       string
	Insecure bool
	Cert     string
	Key      string
	Server   string
}

// Register adds --tls, --tls-ca, --tls-insecure, --tls-cert, --tls-key
// and --tls-server-name to fs.
func (f *ClientFlags) Register(fs *flag.FlagSet) {
	fs.BoolVar(&f.Enable, "tls", false, "connect with TLS (implied by the other --tls-* flags)")
	fs.StringVar(&f.CA, "tls-ca", "", "PEM file of the CA certificates that verify the server (default: the system roots)")
	fs.BoolVar(&f.Insecure, "tls-insecure", false, "do not verify the server's certificate (RocketMQ clients' default)")
	fs.StringVar(&f.Cert, "tls-cert", "", "PEM client certificate, for servers that ask for one (tls.server.need.client.auth)")
	fs.StringVar(&f.Key, "tls-key", "", "PEM private key of --tls-cert (unencrypted)")
	fs.StringVar(&f.Server, "tls-server-name", "", "name to verify in the server's certificate (default: the host dialled)")
}

// Config is the flags' TLS configuration, nil for plain connections.
func (f *ClientFlags) Config() (*tls.Config, error) {
	if !f.Enable && f.CA == "" && !f.Insecure && f.Cert == "" && f.Key == "" && f.Server == "" {
		return nil, nil
	}
	if f.Insecure && f.CA != "" {
		return nil, errors.New("--tls-insecure and --tls-ca: choose one")
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.Insecure, ServerName: f.Server}
	if f.CA != "" {
		pool, err := LoadCertPool(f.CA, "--tls-ca")
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if f.Cert != "" {
		cert, err := LoadKeyPair(f.Cert, f.Key, "--tls-cert", "--tls-key")
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
