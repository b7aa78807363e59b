package brokerconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/sluice-mq/sluice/remoting/tlshelper"
)

// tlsFields binds RocketMQ's tls.* keys (system properties in RocketMQ,
// broker.conf keys here) and NettyClientConfig's useTLS.
func tlsFields(f fields, t *tlshelper.Config) {
	for _, key := range tlshelper.Keys() {
		key := key
		f.custom(key, func(v string) error { return t.Set(key, v) }, func() string { return t.Get(key) })
	}
}

// LoadTLSFile applies RocketMQ's tls.properties over the tls.* keys of
// broker.conf, as TlsHelper#extractTlsConfigFromFile applies it over the
// system properties: the file's values win. The file is tls.config.file,
// which must then exist, or /etc/rocketmq/tls.properties if that exists.
// It returns the path read, "" when none was.
func (c *Config) LoadTLSFile() (string, []Warning, error) {
	t := &c.Broker.TLS
	return LoadTLSProperties(t.ConfigFilePath(), t, t.ConfigFile != "")
}

// LoadTLSProperties reads a tls.properties file into t (the standalone
// name server's -tls-config too). A missing file is an error only when
// mustExist; keys that are not TLS keys are warnings.
func LoadTLSProperties(path string, t *tlshelper.Config, mustExist bool) (string, []Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		if !mustExist && errors.Is(err, fs.ErrNotExist) {
			if err := t.Validate(); err != nil {
				return "", nil, fmt.Errorf("TLS config: %w", err)
			}
			return "", nil, nil
		}
		return "", nil, fmt.Errorf("%s: %w", tlshelper.KeyConfigFile, err)
	}
	defer f.Close()
	props, err := ParseProperties(f)
	if err != nil {
		return "", nil, fmt.Errorf("TLS config %s: %w", path, err)
	}
	var warnings []Warning
	var errs []error
	for _, p := range props {
		switch {
		case p.Key == tlshelper.KeyConfigFile:
			errs = append(errs, fmt.Errorf("line %d: %s inside the TLS config file names another file; set it in broker.conf", p.Line, p.Key))
		case !tlshelper.IsKey(p.Key):
			warnings = append(warnings, Warning{Key: p.Key, Line: p.Line})
		default:
			if err := t.Set(p.Key, p.Value); err != nil {
				errs = append(errs, fmt.Errorf("line %d: %s = %q: %w", p.Line, p.Key, p.Value, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return path, warnings, fmt.Errorf("TLS config %s: %w", path, err)
	}
	if err := t.Validate(); err != nil {
		return path, warnings, fmt.Errorf("TLS config (broker.conf and %s): %w", path, err)
	}
	return path, warnings, nil
}
