package brokerconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-mq/sluice/remoting/tlshelper"
)

// The tls.* keys in broker.conf, then tls.properties over them (its values
// win, as TlsHelper applies the file over the system properties).
func TestTLSKeysAndTLSPropertiesFile(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "tls.properties")
	if err := os.WriteFile(props, []byte("tls.server.certPath=/file/server.pem\ntls.server.keyPath=/file/server.key\n"+
		"tls.server.need.client.auth=optional\nlistenPort=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	conf := "tls.server.mode=enforcing\ntls.server.certPath=/conf/server.pem\ntls.config.file=" + props + "\nmetricsTlsCertPath=/m.pem\nmetricsTlsKeyPath=/m.key\n"
	if w, err := cfg.Load(strings.NewReader(conf)); err != nil || len(w) != 0 {
		t.Fatalf("load: %v %v", w, err)
	}
	path, warnings, err := cfg.LoadTLSFile()
	if err != nil {
		t.Fatal(err)
	}
	if path != props || len(warnings) != 1 || warnings[0].Key != "listenPort" {
		t.Fatalf("read %q, warnings %v", path, warnings)
	}
	tc := cfg.Broker.TLS
	if tc.ServerMode() != tlshelper.Enforcing || tc.ServerCertPath != "/file/server.pem" || tc.NeedClientAuth != tlshelper.ClientAuthOptional || !tc.ClientEnabled() {
		t.Fatalf("TLS config %+v", tc)
	}
	if cfg.Broker.MetricsTLSCertPath != "/m.pem" || cfg.Broker.MetricsTLSKeyPath != "/m.key" {
		t.Fatalf("metrics TLS keys not applied")
	}
	var out strings.Builder
	if err := cfg.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tls.server.mode=enforcing\n", "useTLS=true\n", "tls.server.certPath=/file/server.pem\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-p lacks %q", want)
		}
	}
}

func TestTLSConfigErrors(t *testing.T) {
	cases := map[string]string{
		"tls.server.mode=enforce\n":                "tls.server.mode",
		"tls.server.need.client.auth=always\n":     "tls.server.need.client.auth",
		"tlsEnable=true\n":                         "proxy",
		"tls.config.file=/nonexistent/tls.props\n": "tls.config.file",
		"tls.server.mode=permissive\n":             "tls.server.certPath",
		"tls.test.mode.enable=true\ntls.server.certPath=/a\ntls.server.keyPath=/b\n": "tls.test.mode.enable",
	}
	for conf, want := range cases {
		cfg := Default()
		_, err := cfg.Load(strings.NewReader(conf))
		if err == nil {
			_, _, err = cfg.LoadTLSFile()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one naming %s", conf, err, want)
		}
	}
	// A default-path file that does not exist is skipped, as RocketMQ does.
	cfg := Default()
	cfg.Broker.TLS.ConfigFile = ""
	if _, err := os.Stat(tlshelper.DefaultConfigFile); err == nil {
		t.Skip(tlshelper.DefaultConfigFile + " exists on this machine")
	}
	if path, _, err := cfg.LoadTLSFile(); path != "" || err != nil {
		t.Fatalf("default path: %q %v", path, err)
	}
}
