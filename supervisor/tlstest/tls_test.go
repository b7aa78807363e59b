package tlstest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/tlshelper"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

var instanceSeq atomic.Int64

func instance(t testing.TB) string {
	return fmt.Sprintf("%s-%d", t.Name(), instanceSeq.Add(1))
}

func startNameServer(t testing.TB, cfg tlshelper.Config) *supervisor.NameServer {
	t.Helper()
	ns, err := supervisor.StartNameServerWithOptions("127.0.0.1:0", zerolog.Nop(), supervisor.NameServerOptions{TLS: cfg})
	if err != nil {
		t.Fatalf("start name server: %v", err)
	}
	t.Cleanup(func() { _ = ns.Shutdown(context.Background()) })
	return ns
}

// startCluster starts a name server and a broker, both with tlsCfg; the
// broker registers over TLS when tlsCfg makes it (useTLS).
func startCluster(t testing.TB, tlsCfg tlshelper.Config) (*supervisor.NameServer, *brokertest.Broker) {
	t.Helper()
	ns := startNameServer(t, tlsCfg)
	cfg := brokertest.Config(t)
	cfg.NamesrvAddr = ns.Addr()
	cfg.TLS = tlsCfg
	b := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "", func() bool { return len(ns.Routes().LiveBrokers()) > 0 })
	return ns, b
}

func dial(t testing.TB, addr string, tc *tls.Config) (*remoting.Client, error) {
	t.Helper()
	c, err := remoting.Dial(t.Context(), addr, remoting.ClientOptions{TLS: tc})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func sendHeader(topic string, queueID int) map[string]string {
	return map[string]string{
		"producerGroup": "pg", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": strconv.Itoa(queueID), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
		"flag": "0", "properties": "", "reconsumeTimes": "0", "unitMode": "false", "maxReconsumeTimes": "0", "batch": "false",
	}
}

func send(c *remoting.Client, ctx context.Context, topic, body string) error {
	resp, err := c.Invoke(ctx, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0), []byte(body)), 10*time.Second)
	if err != nil {
		return err
	}
	if resp.ResponseCode() != remoting.Success {
		return fmt.Errorf("send: %s %q", resp.ResponseCode(), resp.Remark)
	}
	return nil
}

// Permissive mode (the default once a certificate is configured): a TLS
// client and a plain one send through the same port, and both messages
// are stored.
func TestPermissiveServesPlainAndTLSOnOnePort(t *testing.T) {
	p := brokertest.NewPKI(t)
	cfg := brokertest.Config(t)
	cfg.TLS = tlshelper.Config{ServerCertPath: p.CertPath, ServerKeyPath: p.KeyPath}
	b := brokertest.Start(t, cfg, supervisor.Options{})
	plain, err := dial(t, b.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	secure, err := dial(t, b.Addr(), p.Verifying())
	if err != nil {
		t.Fatalf("TLS dial (the server's certificate verified against the CA): %v", err)
	}
	if err := send(plain, t.Context(), "PermissiveTopic", "plain"); err != nil {
		t.Fatalf("plain client: %v", err)
	}
	if err := send(secure, t.Context(), "PermissiveTopic", "tls"); err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	poll.Until(t, "", func() bool { return b.Store().MaxOffsetInQueue("PermissiveTopic", 0) == 2 })
	if b.Logs.Count("remoting server TLS mode: permissive") == 0 || b.Logs.Count(`"mode":"permissive"`) == 0 {
		t.Fatalf("no TLS mode line:\n%s", b.Logs.String())
	}
}

// Enforcing mode: a plain client is closed without an answer, and the
// broker says why; nothing it sent is stored. A TLS client is served.
func TestEnforcingRefusesPlain(t *testing.T) {
	p := brokertest.NewPKI(t)
	cfg := brokertest.Config(t)
	cfg.TLS = p.Server(tlshelper.Enforcing)
	b := brokertest.Start(t, cfg, supervisor.Options{})
	plain, err := dial(t, b.Addr(), nil)
	if err != nil {
		t.Fatal(err) // TCP connects; the refusal comes with the first byte
	}
	if err := send(plain, t.Context(), "EnforcedTopic", "plain"); err == nil {
		t.Fatal("a plain client was served in enforcing mode")
	}
	poll.Until(t, "", func() bool { return b.Logs.Count("plain (non-TLS) connection refused") > 0 })
	secure, err := dial(t, b.Addr(), p.Verifying())
	if err != nil {
		t.Fatal(err)
	}
	if err := send(secure, t.Context(), "EnforcedTopic", "tls"); err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	// Dispatch follows the answer: wait for the consume queue.
	poll.Within(t, 10*time.Second, "dispatch", func() bool { return b.Store().MaxOffsetInQueue("EnforcedTopic", 0) >= 1 })
	if n := b.Store().MaxOffsetInQueue("EnforcedTopic", 0); n != 1 {
		t.Fatalf("%d messages stored, want the TLS client's one", n)
	}
}

// tls.server.need.client.auth=require with tls.server.authClient=true: a
// client without a certificate is refused, one with a certificate of the
// trusted CA is served.
func TestClientAuthRefusesClientWithoutCertificate(t *testing.T) {
	p := brokertest.NewPKI(t)
	cfg := brokertest.Config(t)
	cfg.TLS = p.Server(tlshelper.Enforcing)
	for k, v := range map[string]string{
		tlshelper.KeyServerNeedClientAuth: "require",
		tlshelper.KeyServerAuthClient:     "true",
		tlshelper.KeyServerTrustCertPath:  p.CAPath,
	} {
		if err := cfg.TLS.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	b := brokertest.Start(t, cfg, supervisor.Options{})
	// TLS 1.3 completes the client's side of the handshake before the
	// server checks its certificate: the refusal may show at dial or at
	// the first call.
	if c, err := dial(t, b.Addr(), p.Verifying()); err == nil {
		if err := send(c, t.Context(), "AuthTopic", "anonymous"); err == nil {
			t.Fatal("a client without a certificate was served")
		}
	}
	poll.Until(t, "", func() bool { return b.Logs.Count("TLS handshake") > 0 })
	withCert := p.Verifying()
	withCert.Certificates = []tls.Certificate{p.Client(t)}
	c, err := dial(t, b.Addr(), withCert)
	if err != nil {
		t.Fatal(err)
	}
	if err := send(c, t.Context(), "AuthTopic", "authenticated"); err != nil {
		t.Fatalf("client with a certificate: %v", err)
	}
	// Dispatch follows the answer: wait for the consume queue.
	poll.Within(t, 10*time.Second, "dispatch", func() bool { return b.Store().MaxOffsetInQueue("AuthTopic", 0) >= 1 })
	if n := b.Store().MaxOffsetInQueue("AuthTopic", 0); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

// ReloadTLS (what SIGHUP calls) swaps the certificate: a new handshake
// sees the new one, a connection made before goes on.
func TestReloadSwapsCertificate(t *testing.T) {
	p := brokertest.NewPKI(t)
	cfg := brokertest.Config(t)
	cfg.TLS = p.Server(tlshelper.Enforcing)
	b := brokertest.Start(t, cfg, supervisor.Options{})
	peer := func() string {
		tc, err := tls.Dial("tcp", b.Addr(), &tls.Config{RootCAs: p.Pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		return tc.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	before, err := dial(t, b.Addr(), p.Verifying())
	if err != nil {
		t.Fatal(err)
	}
	if got := peer(); got != "sluice-server" {
		t.Fatalf("certificate %q", got)
	}
	p.IssueServer(t, "sluice-server-renewed")
	if err := b.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := peer(); got != "sluice-server-renewed" {
		t.Fatalf("certificate %q after the reload, want the renewed one", got)
	}
	if err := send(before, t.Context(), "ReloadTopic", "old connection"); err != nil {
		t.Fatalf("connection made before the reload: %v", err)
	}
}

// The unmodified Go client with WithTls(true) produces and consumes
// through an enforcing broker and an enforcing name server, which the
// broker registers with over TLS (useTLS follows enforcing mode). A plain
// client is refused by that name server.
func TestGoClientWithTLSProducesAndConsumes(t *testing.T) {
	p := brokertest.NewPKI(t)
	ns, b := startCluster(t, p.Server(tlshelper.Enforcing))
	if plain, err := dial(t, ns.Addr(), nil); err == nil {
		resp, err := plain.Invoke(t.Context(), remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil), 5*time.Second)
		if err == nil {
			t.Fatalf("a plain client was answered by an enforcing name server: %s", resp.ResponseCode())
		}
	}
	const topic, n = "TLSTopic", 20
	group := "cg-" + instance(t)
	var mu sync.Mutex
	got := map[string]bool{}
	// Both clients are made before either starts: WithTls writes the
	// process-wide default the started clients read (see doc.go).
	prod, err := rocketmq.NewProducer(
		producer.WithNameServer([]string{ns.Addr()}),
		producer.WithGroupName("pg-"+instance(t)),
		producer.WithInstanceName(instance(t)),
		producer.WithRetry(2),
		producer.WithTls(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer([]string{ns.Addr()}),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance(t)),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithTls(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	// Not shut down when the test ends (rocketmq-client-go's Shutdown
	// races its own goroutines under -race); see supervisor/compat_test.go.
	for i := 0; i < n; i++ {
		res, err := prod.SendSync(t.Context(), primitive.NewMessage(topic, []byte("secret "+strconv.Itoa(i))))
		if err != nil {
			t.Fatalf("send %d over TLS: %v", i, err)
		}
		if res.Status != primitive.SendOK {
			t.Fatalf("send %d: %v", i, res.Status)
		}
	}
	err = cons.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			got[string(m.Body)] = true
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cons.Start(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n
	})
	if b.Logs.Count("plain (non-TLS) connection refused") != 0 {
		t.Fatalf("the broker refused a plain connection: a client or its registration did not use TLS:\n%s", b.Logs.String())
	}
}

// Disabled mode (no TLS key set): a TLS handshake is refused — its first
// bytes read as a frame length far over the limit — and a plain client is
// served as always.
func TestDisabledRefusesTLS(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t), supervisor.Options{})
	if c, err := dial(t, b.Addr(), &tls.Config{InsecureSkipVerify: true}); err == nil {
		if err := send(c, t.Context(), "PlainTopic", "tls"); err == nil {
			t.Fatal("a TLS client was served in disabled mode")
		}
	}
	plain, err := dial(t, b.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := send(plain, t.Context(), "PlainTopic", "plain"); err != nil {
		t.Fatal(err)
	}
	// Dispatch follows the answer: wait for the consume queue.
	poll.Within(t, 10*time.Second, "dispatch", func() bool { return b.Store().MaxOffsetInQueue("PlainTopic", 0) >= 1 })
	if n := b.Store().MaxOffsetInQueue("PlainTopic", 0); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

// A peer that connects and says nothing holds up no one: the first byte is
// awaited on its own connection's goroutine, not in the accept loop.
func TestSilentPeerHoldsNoAcceptSlot(t *testing.T) {
	p := brokertest.NewPKI(t)
	cfg := brokertest.Config(t)
	cfg.TLS = p.Server(tlshelper.Enforcing)
	b := brokertest.Start(t, cfg, supervisor.Options{})
	for i := 0; i < 4; i++ {
		silent, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
	}
	c, err := dial(t, b.Addr(), p.Verifying())
	if err != nil {
		t.Fatal(err)
	}
	if err := send(c, t.Context(), "SilentTopic", "served"); err != nil {
		t.Fatal(err)
	}
}
