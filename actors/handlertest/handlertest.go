// Package handlertest runs request handlers without a broker: a store and
// metadata in a test's temporary directory, and fake requests whose answer
// the test reads back. It is what makes each handler set testable on its
// own, through the same *actors.Request the processors hand it.
package handlertest

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// Env is a store and the metadata managers over one temporary directory.
type Env struct {
	Store *commitlog.Store
	Meta  *metadata.Managers
	ID    metadata.BrokerIdentity
}

// New opens an empty store and metadata for t, closed when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	dir := t.TempDir()
	cfg := commitlog.DefaultConfig()
	cfg.StorePathRootDir = dir
	cfg.MappedFileSizeCommitLog = 1 << 20
	cfg.MappedFileSizeConsumeQueue = 20 * 1000
	cfg.MaxHashSlotNum, cfg.MaxIndexNum = 1000, 4000 // small index files
	// A disk that always looks 10 % full: a busy /tmp must not turn puts away.
	cfg.DiskUsage = func(string) (uint64, uint64, error) { return 10, 100, nil }
	store, err := commitlog.Open(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	mc := metadata.DefaultConfig(dir + "/config")
	mc.Log = zerolog.Nop()
	meta, err := metadata.Open(mc)
	if err != nil {
		t.Fatalf("open metadata: %v", err)
	}
	return &Env{Store: store, Meta: meta, ID: metadata.BrokerIdentity{
		ClusterName: "DefaultCluster", BrokerName: "broker-test",
		StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"), RegionID: "DefaultRegion", MaxMessageSize: 4 << 20,
	}}
}

// Call runs h on a fake request for code with ext and body, and returns
// the answer, failing t if the handler does not answer within a few
// seconds (a handler may answer from another goroutine) or answers twice.
func Call(t testing.TB, h actors.HandlerFunc, code remoting.RequestCode, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	var (
		mu      sync.Mutex
		answers []*remoting.Command
		got     = make(chan struct{}, 1)
	)
	r := &actors.Request{Cmd: remoting.NewRequest(code, ext, body), Arrived: time.Now()}
	r.ReplyTo = func(resp *remoting.Command) {
		mu.Lock()
		answers = append(answers, resp)
		mu.Unlock()
		got <- struct{}{}
	}
	h(r)
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no answer", code)
	}
	if r.Reply(remoting.NewResponse(r.Cmd, remoting.Success, "")) {
		t.Fatalf("%s: a second answer was accepted", code)
	}
	mu.Lock()
	defer mu.Unlock()
	return answers[0]
}
