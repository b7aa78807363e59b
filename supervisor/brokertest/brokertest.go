package brokertest

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/supervisor"
)

// Broker is a broker started for one test.
type Broker struct {
	*supervisor.Broker
	Logs *LogBuffer
}

// Config returns the defaults with loopback binding and port 0, so tests
// never collide on ports and never reach beyond this machine.
func Config(t testing.TB) supervisor.Config {
	cfg := supervisor.DefaultConfig()
	cfg.BrokerName = "broker-test"
	cfg.BindAddress = "127.0.0.1"
	cfg.BrokerIP1 = "127.0.0.1"
	cfg.ListenPort = 0
	cfg.NamesrvListenPort = 0
	cfg.GRPCServerPort = 0 // off; tests that use it pick a free port
	cfg.MetricsPromExporterPort = 0
	cfg.HAListenPort = 0
	cfg.Store.StorePathRootDir = t.TempDir()
	cfg.Store.StorePathCommitLog = ""
	// Small files keep tests fast and their disk use low.
	cfg.Store.MappedFileSizeCommitLog = 4 << 20
	cfg.Store.MappedFileSizeConsumeQueue = 20 * 10000
	cfg.Store.MaxHashSlotNum = 10000
	cfg.Store.MaxIndexNum = 40000
	return cfg
}

// Start starts a broker with cfg and opts and stops it when the test ends.
// Logs go to a buffer the test can search (and to stderr with -v and
// SLUICE_TEST_LOGS=1).
func Start(t testing.TB, cfg supervisor.Config, opts supervisor.Options) *Broker {
	t.Helper()
	logs := &LogBuffer{}
	var w = zerolog.LevelWriterAdapter{Writer: logs}
	var out zerolog.LevelWriter = w
	if os.Getenv("SLUICE_TEST_LOGS") != "" {
		out = zerolog.MultiLevelWriter(w, zerolog.ConsoleWriter{Out: os.Stderr})
	}
	opts.Log = zerolog.New(out).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	b, err := supervisor.Start(cfg, opts)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("shutdown broker: %v", err)
		}
	})
	return &Broker{Broker: b, Logs: logs}
}

// LogBuffer collects log lines; safe for concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Count returns how many log lines contain s.
func (l *LogBuffer) Count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Count(l.buf.Bytes(), []byte(s))
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// StartNameServer starts a standalone name server on 127.0.0.1 with a port
// the OS picks, stopped when the test ends.
func StartNameServer(t testing.TB) *supervisor.NameServer {
	t.Helper()
	ns, err := supervisor.StartNameServer("127.0.0.1:0", zerolog.Nop())
	if err != nil {
		t.Fatalf("start name server: %v", err)
	}
	t.Cleanup(func() { _ = ns.Shutdown(context.Background()) })
	return ns
}
