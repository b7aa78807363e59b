package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// Against a broker with aclEnable: sends signed with --access-key and
// --secret-key are stored; unsigned ones are refused and counted lost.
func TestACLSignedSends(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.AclEnable = true
	cfg.RocketmqHome = t.TempDir()
	if err := os.MkdirAll(filepath.Join(cfg.RocketmqHome, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	acl := "accounts:\n  - accessKey: benchUser\n    secretKey: benchSecret\n    defaultTopicPerm: PUB\n"
	if err := os.WriteFile(filepath.Join(cfg.RocketmqHome, "conf", "plain_acl.yml"), []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	b := brokertest.Start(t, cfg, supervisor.Options{})
	ns := nameServer(t, map[string][]byte{"BenchmarkTest": routeJSON(stubBroker{"broker-test", b.Addr(), 4})})
	s := produceJSON(t, "-n", ns.addr(), "-c", "50", "-w", "2", "--access-key", "benchUser", "--secret-key", "benchSecret")
	if s.Sent != 50 {
		t.Fatalf("signed sends: %+v", s)
	}
	code, out, _ := produce(t, "-n", ns.addr(), "-c", "5", "-w", "1", "--retries", "0", "--json")
	if code != 1 || !strings.Contains(out, `"sent": 0`) || !strings.Contains(out, `"lost": 5`) {
		t.Fatalf("unsigned sends: exit %d\n%s", code, out)
	}
	if code, _, errOut := produce(t, "-n", ns.addr(), "--access-key", "benchUser"); code != 2 || !strings.Contains(errOut, "--secret-key") {
		t.Fatalf("--access-key alone: exit %d %s", code, errOut)
	}
}
