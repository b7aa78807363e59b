package supervisor

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/remoting/tlshelper"
)

// tlsState is a process's TLS: the server side of its remoting listeners
// (nil when tls.server.mode is disabled), the client side of its
// registrations with name servers (nil without useTLS / tls.enable), and
// the metrics endpoint's key pair (nil when it serves plain HTTP).
type tlsState struct {
	server  *tlshelper.Server
	client  *tls.Config
	metrics *tlshelper.KeyPair
}

// newTLSState builds cfg's TLS and logs the modes it runs in, as
// NettyRemotingServer#loadSslContext logs its mode.
func newTLSState(cfg tlshelper.Config, metricsCert, metricsKey string, log zerolog.Logger) (*tlsState, error) {
	t := &tlsState{}
	var err error
	if t.server, err = tlshelper.NewServer(cfg); err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	if t.client, err = cfg.ClientTLS(); err != nil {
		return nil, fmt.Errorf("TLS (client side): %w", err)
	}
	switch {
	case metricsCert != "" && metricsKey != "":
		if t.metrics, err = tlshelper.NewKeyPair(metricsCert, metricsKey, "metricsTlsCertPath", "metricsTlsKeyPath"); err != nil {
			return nil, fmt.Errorf("metrics TLS: %w", err)
		}
	case metricsCert != "" || metricsKey != "":
		return nil, errors.New("metrics TLS: metricsTlsCertPath and metricsTlsKeyPath go together")
	}
	ev := log.Info().Stringer("mode", cfg.ServerMode())
	if t.server != nil {
		ev = ev.Stringer("clientAuth", t.server.ClientAuth())
		if c := t.server.Certificate(); c != nil {
			ev = ev.Str("subject", c.Subject.String()).Time("notAfter", c.NotAfter)
		}
	}
	// RocketMQ's "Server is running in TLS {mode} mode", with the mode in
	// the text so that "disabled" does not read as TLS being on.
	ev.Bool("clientTLS", t.client != nil).Msg("remoting server TLS mode: " + cfg.ServerMode().String())
	if t.server != nil && t.server.Mode() == tlshelper.Permissive && cfg.NeedClientAuth == tlshelper.ClientAuthRequire {
		log.Warn().Str("key", tlshelper.KeyServerNeedClientAuth).Msg("client certificates are required of TLS connections only: permissive mode still serves plain ones without any; set tls.server.mode=enforcing")
	}
	if t.server != nil && t.server.TestMode() {
		log.Warn().Str("key", tlshelper.KeyTestModeEnable).Msg("TLS test mode: serving a self-signed certificate made at start; clients cannot authenticate this server")
	}
	if t.client != nil && t.client.InsecureSkipVerify {
		log.Warn().Str("key", tlshelper.KeyClientAuthServer).Msg("TLS to name servers without verifying their certificates (tls.client.authServer=false, RocketMQ's default)")
	}
	return t, nil
}

// wrapConn is the listeners' ServerOptions.WrapConn: nil in disabled
// mode, so plain listeners carry nothing per connection.
func (t *tlsState) wrapConn() func(net.Conn) net.Conn {
	if t == nil || t.server == nil {
		return nil
	}
	return t.server.WrapConn
}

// reload reads the certificates again (SIGHUP); whatever fails keeps its
// previous certificate.
func (t *tlsState) reload(log zerolog.Logger) error {
	if t == nil {
		return nil
	}
	var errs []error
	if t.server != nil {
		if err := t.server.Reload(); err != nil {
			errs = append(errs, fmt.Errorf("remoting TLS: %w", err))
		} else if c := t.server.Certificate(); c != nil {
			log.Info().Str("subject", c.Subject.String()).Time("notAfter", c.NotAfter).Msg("remoting TLS certificate reloaded")
		}
	}
	if t.metrics != nil {
		if err := t.metrics.Reload(); err != nil {
			errs = append(errs, fmt.Errorf("metrics TLS: %w", err))
		} else {
			log.Info().Msg("metrics TLS certificate reloaded")
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		log.Error().Err(err).Msg("TLS reload failed; the previous certificates stay in use")
	}
	return err
}

// ReloadTLS reads the broker's certificates again (cmd/sluice calls it on
// SIGHUP): new handshakes use them, established connections go on.
func (b *Broker) ReloadTLS() error { return b.tls.reload(b.log) }

// ReloadTLS reads the name server's certificate again.
func (n *NameServer) ReloadTLS() error { return n.tls.reload(n.log) }
