package tlshelper

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The keys, RocketMQ's (TlsSystemConfig), plus NettyClientConfig's useTLS.
const (
	KeyServerMode           = "tls.server.mode"
	KeyEnable               = "tls.enable"
	KeyConfigFile           = "tls.config.file"
	KeyTestModeEnable       = "tls.test.mode.enable"
	KeyServerNeedClientAuth = "tls.server.need.client.auth"
	KeyServerKeyPath        = "tls.server.keyPath"
	KeyServerKeyPassword    = "tls.server.keyPassword"
	KeyServerCertPath       = "tls.server.certPath"
	KeyServerAuthClient     = "tls.server.authClient"
	KeyServerTrustCertPath  = "tls.server.trustCertPath"
	KeyClientKeyPath        = "tls.client.keyPath"
	KeyClientKeyPassword    = "tls.client.keyPassword"
	KeyClientCertPath       = "tls.client.certPath"
	KeyClientAuthServer     = "tls.client.authServer"
	KeyClientTrustCertPath  = "tls.client.trustCertPath"
	// KeyUseTLS is NettyClientConfig's field, which broker.conf sets: TLS
	// on the broker's own connections (to its name servers).
	KeyUseTLS = "useTLS"
)

// DefaultConfigFile is where RocketMQ looks for tls.properties when
// tls.config.file is not given.
const DefaultConfigFile = "/etc/rocketmq/tls.properties"

// DefaultHandshakeTimeout bounds the wait for a connection's first byte and
// its TLS handshake (ours; Netty has no such bound): a peer that connects
// and says nothing is closed after it, not held open until the idle limit.
const DefaultHandshakeTimeout = 10 * time.Second

// Mode is the server's TLS mode (RocketMQ's TlsMode).
type Mode int

const (
	// Disabled serves plain connections only.
	Disabled Mode = iota
	// Permissive serves plain and TLS connections on the same port.
	Permissive
	// Enforcing serves TLS connections only; a plain one is closed.
	Enforcing
)

func (m Mode) String() string {
	switch m {
	case Disabled:
		return "disabled"
	case Permissive:
		return "permissive"
	case Enforcing:
		return "enforcing"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode reads tls.server.mode. RocketMQ takes any unknown name for
// permissive; a typo of "enforcing" would then serve plain connections, so
// an unknown name is an error here.
func ParseMode(s string) (Mode, error) {
	switch strings.TrimSpace(s) {
	case "disabled":
		return Disabled, nil
	case "permissive":
		return Permissive, nil
	case "enforcing":
		return Enforcing, nil
	}
	return Disabled, fmt.Errorf("want disabled, permissive or enforcing")
}

// ClientAuth is tls.server.need.client.auth (Netty's ClientAuth).
type ClientAuth int

const (
	ClientAuthNone ClientAuth = iota
	ClientAuthOptional
	ClientAuthRequire
)

func (a ClientAuth) String() string {
	switch a {
	case ClientAuthOptional:
		return "optional"
	case ClientAuthRequire:
		return "require"
	}
	return "none"
}

// Config is the tls.* keys. The zero value is RocketMQ's defaults except
// where the field says otherwise; a tri-state key (one whose default
// depends on others) records whether it was set.
type Config struct {
	// Mode is tls.server.mode. RocketMQ defaults to permissive with a
	// self-signed test certificate; Sluice defaults to disabled unless TLS
	// is configured (a server certificate, or test mode asked for), then
	// to permissive. See ServerMode.
	Mode    Mode
	ModeSet bool
	// Enable is tls.enable: TLS on outgoing connections; by default what
	// the server's mode is enforcing. useTLS (UseTLS), when set, wins.
	Enable, EnableSet bool
	UseTLS, UseTLSSet bool
	// ConfigFile is tls.config.file; "" means DefaultConfigFile, read only
	// if it exists (as RocketMQ does).
	ConfigFile string
	// TestMode is tls.test.mode.enable: a self-signed certificate made at
	// start, and no verification of the server by clients. RocketMQ's
	// default is true, which makes its certPath keys do nothing until the
	// operator also sets it false; Sluice's is false, and asking for both
	// is refused.
	TestMode, TestModeSet bool

	NeedClientAuth    ClientAuth // tls.server.need.client.auth: none
	ServerKeyPath     string     // tls.server.keyPath
	ServerKeyPassword string     // tls.server.keyPassword: refused (encrypted keys are not supported)
	ServerCertPath    string     // tls.server.certPath: PEM chain
	// ServerAuthClient is tls.server.authClient: verify client
	// certificates against ServerTrustCertPath (the system roots when
	// empty). When false a client certificate is asked for per
	// NeedClientAuth but taken unverified, as RocketMQ's insecure trust
	// manager does.
	ServerAuthClient    bool
	ServerTrustCertPath string // tls.server.trustCertPath

	ClientKeyPath       string // tls.client.keyPath
	ClientKeyPassword   string // tls.client.keyPassword: refused
	ClientCertPath      string // tls.client.certPath
	ClientAuthServer    bool   // tls.client.authServer: false = server certificates unverified (RocketMQ's default)
	ClientTrustCertPath string // tls.client.trustCertPath

	// HandshakeTimeout is not a key: 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// ErrUnknownKey is Set's answer for a key that is not a TLS key.
var ErrUnknownKey = errors.New("not a TLS key")

// Keys lists every key Set takes, sorted.
func Keys() []string {
	keys := []string{KeyServerMode, KeyEnable, KeyConfigFile, KeyTestModeEnable, KeyServerNeedClientAuth,
		KeyServerKeyPath, KeyServerKeyPassword, KeyServerCertPath, KeyServerAuthClient, KeyServerTrustCertPath,
		KeyClientKeyPath, KeyClientKeyPassword, KeyClientCertPath, KeyClientAuthServer, KeyClientTrustCertPath, KeyUseTLS}
	sort.Strings(keys)
	return keys
}

// IsKey reports whether key is one of Keys.
func IsKey(key string) bool {
	for _, k := range Keys() {
		if k == key {
			return true
		}
	}
	return false
}

// Set applies one key. Booleans are true or false (any case); an unknown
// key is ErrUnknownKey.
func (c *Config) Set(key, value string) error {
	value = strings.TrimSpace(value)
	var err error
	switch key {
	case KeyServerMode:
		c.Mode, err = ParseMode(value)
		c.ModeSet = err == nil
	case KeyEnable:
		c.Enable, err = parseBool(value)
		c.EnableSet = err == nil
	case KeyUseTLS:
		c.UseTLS, err = parseBool(value)
		c.UseTLSSet = err == nil
	case KeyConfigFile:
		c.ConfigFile = value
	case KeyTestModeEnable:
		c.TestMode, err = parseBool(value)
		c.TestModeSet = err == nil
	case KeyServerNeedClientAuth:
		// Netty's names, upper-cased as RocketMQ compares them.
		switch strings.ToLower(value) {
		case "", "none":
			c.NeedClientAuth = ClientAuthNone
		case "optional":
			c.NeedClientAuth = ClientAuthOptional
		case "require":
			c.NeedClientAuth = ClientAuthRequire
		default:
			err = fmt.Errorf("want none, optional or require")
		}
	case KeyServerKeyPath:
		c.ServerKeyPath = value
	case KeyServerKeyPassword:
		c.ServerKeyPassword = value
	case KeyServerCertPath:
		c.ServerCertPath = value
	case KeyServerAuthClient:
		c.ServerAuthClient, err = parseBool(value)
	case KeyServerTrustCertPath:
		c.ServerTrustCertPath = value
	case KeyClientKeyPath:
		c.ClientKeyPath = value
	case KeyClientKeyPassword:
		c.ClientKeyPassword = value
	case KeyClientCertPath:
		c.ClientCertPath = value
	case KeyClientAuthServer:
		c.ClientAuthServer, err = parseBool(value)
	case KeyClientTrustCertPath:
		c.ClientTrustCertPath = value
	default:
		return fmt.Errorf("%q: %w", key, ErrUnknownKey)
	}
	return err
}

// Get returns a key's effective value as Set would take it back.
func (c *Config) Get(key string) string {
	switch key {
	case KeyServerMode:
		return c.ServerMode().String()
	case KeyEnable:
		return strconv.FormatBool(c.EnableSet && c.Enable)
	case KeyUseTLS:
		return strconv.FormatBool(c.ClientEnabled())
	case KeyConfigFile:
		return c.ConfigFilePath()
	case KeyTestModeEnable:
		return strconv.FormatBool(c.TestMode)
	case KeyServerNeedClientAuth:
		return c.NeedClientAuth.String()
	case KeyServerKeyPath:
		return c.ServerKeyPath
	case KeyServerKeyPassword:
		if c.ServerKeyPassword != "" {
			return "***"
		}
		return ""
	case KeyServerCertPath:
		return c.ServerCertPath
	case KeyServerAuthClient:
		return strconv.FormatBool(c.ServerAuthClient)
	case KeyServerTrustCertPath:
		return c.ServerTrustCertPath
	case KeyClientKeyPath:
		return c.ClientKeyPath
	case KeyClientKeyPassword:
		if c.ClientKeyPassword != "" {
			return "***"
		}
		return ""
	case KeyClientCertPath:
		return c.ClientCertPath
	case KeyClientAuthServer:
		return strconv.FormatBool(c.ClientAuthServer)
	case KeyClientTrustCertPath:
		return c.ClientTrustCertPath
	}
	return ""
}

// ConfigFilePath is tls.config.file or its default.
func (c *Config) ConfigFilePath() string {
	if c.ConfigFile != "" {
		return c.ConfigFile
	}
	return DefaultConfigFile
}

// ServerMode is the effective tls.server.mode: as set, else permissive
// when a server certificate or test mode is configured, else disabled.
func (c *Config) ServerMode() Mode {
	switch {
	case c.ModeSet:
		return c.Mode
	case c.ServerCertPath != "" || c.ServerKeyPath != "" || c.TestMode:
		return Permissive
	}
	return Disabled
}

// ClientEnabled is whether outgoing connections use TLS: useTLS if set,
// else tls.enable if set, else whether the server mode is enforcing — the
// default RocketMQ's BrokerStartup gives NettyClientConfig.useTLS.
func (c *Config) ClientEnabled() bool {
	switch {
	case c.UseTLSSet:
		return c.UseTLS
	case c.EnableSet:
		return c.Enable
	}
	return c.ServerMode() == Enforcing
}

// Validate checks the keys together: what Set cannot see alone.
func (c *Config) Validate() error {
	var errs []error
	mode := c.ServerMode()
	if mode != Disabled {
		switch {
		case c.TestMode && (c.ServerCertPath != "" || c.ServerKeyPath != ""):
			errs = append(errs, fmt.Errorf("%s=true and %s/%s both set: test mode serves a self-signed certificate and would ignore the configured one (RocketMQ does so silently); set %s=false", KeyTestModeEnable, KeyServerCertPath, KeyServerKeyPath, KeyTestModeEnable))
		case !c.TestMode && (c.ServerCertPath == "" || c.ServerKeyPath == ""):
			errs = append(errs, fmt.Errorf("%s=%s needs %s and %s (or %s=true for a self-signed test certificate)", KeyServerMode, mode, KeyServerCertPath, KeyServerKeyPath, KeyTestModeEnable))
		}
		if c.ServerKeyPassword != "" {
			errs = append(errs, fmt.Errorf("%s: encrypted private keys are not supported; decrypt the key (openssl pkcs8 -in enc.key -out server.key) and protect the file by its permissions", KeyServerKeyPassword))
		}
	}
	if c.ClientEnabled() {
		if c.ClientKeyPassword != "" {
			errs = append(errs, fmt.Errorf("%s: encrypted private keys are not supported; decrypt the key and protect the file by its permissions", KeyClientKeyPassword))
		}
		if (c.ClientCertPath == "") != (c.ClientKeyPath == "") {
			errs = append(errs, fmt.Errorf("%s and %s go together", KeyClientCertPath, KeyClientKeyPath))
		}
	}
	return errors.Join(errs...)
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("want true or false")
}
