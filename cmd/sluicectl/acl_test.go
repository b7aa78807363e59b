package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// With aclEnable, sluicectl signs with --access-key/--secret-key; the
// actor tree is admin-only, runtime info needs any account.
func TestACLCredentials(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.AclEnable = true
	cfg.RocketmqHome = t.TempDir()
	if err := os.MkdirAll(filepath.Join(cfg.RocketmqHome, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	acl := "accounts:\n  - accessKey: ctlAdmin\n    secretKey: ctlSecret1\n    admin: true\n  - accessKey: ctlUser1\n    secretKey: ctlSecret2\n"
	if err := os.WriteFile(filepath.Join(cfg.RocketmqHome, "conf", "plain_acl.yml"), []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	b := brokertest.Start(t, cfg, supervisor.Options{})
	if r := cli(t, "tree", "-b", b.Addr()); r.code != 1 || !strings.Contains(r.stderr, "No accessKey is configured") {
		t.Fatalf("tree without credentials: %+v", r)
	}
	if r := cli(t, "tree", "-b", b.Addr(), "--access-key", "ctlUser1", "--secret-key", "ctlSecret2"); r.code != 1 || !strings.Contains(r.stderr, "Need admin permission for request code=10001") {
		t.Fatalf("tree as a non-admin: %+v", r)
	}
	if r := cli(t, "status", "-b", b.Addr(), "--access-key", "ctlUser1", "--secret-key", "ctlSecret2"); r.code != 0 {
		t.Fatalf("status as a non-admin: %+v", r)
	}
	if r := cli(t, "fault", "off", "-b", b.Addr(), "--access-key", "ctlUser1", "--secret-key", "ctlSecret2"); r.code != 1 || !strings.Contains(r.stderr, "Need admin permission for request code=10002") {
		t.Fatalf("fault as a non-admin: %+v", r)
	}
	t.Setenv(envAccessKey, "ctlAdmin")
	t.Setenv(envSecretKey, "ctlSecret1")
	if r := cli(t, "tree", "-b", b.Addr()); r.code != 0 {
		t.Fatalf("tree as admin from the environment: %+v", r)
	}
}
