package tlstest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/tlshelper"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// BenchmarkSendRoundTripTLSvsPlain is one synchronous SEND_MESSAGE (1 KiB
// body) round trip over a TLS connection and over a plain one to the same
// permissive broker, alternating, so both see the same machine at the
// same moment; it reports the medians and their ratio. One op is one send
// on each connection:
//
//	go test -run '^$' -bench SendRoundTripTLSvsPlain -benchtime 20000x -count 3 ./supervisor/tlstest/
func BenchmarkSendRoundTripTLSvsPlain(b *testing.B) {
	p := brokertest.NewPKI(b)
	cfg := brokertest.Config(b)
	cfg.TLS = p.Server(tlshelper.Permissive)
	cfg.Store.MappedFileSizeCommitLog = 64 << 20
	br := brokertest.Start(b, cfg, supervisor.Options{})
	plain, err := dial(b, br.Addr(), nil)
	if err != nil {
		b.Fatal(err)
	}
	secure, err := dial(b, br.Addr(), p.Verifying())
	if err != nil {
		b.Fatal(err)
	}
	const topic = "BenchTLS"
	body := make([]byte, 1024)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	ctx := context.Background()
	roundTrip := func(c *remoting.Client) time.Duration {
		start := time.Now()
		resp, err := c.Invoke(ctx, remoting.NewRequest(remoting.SendMessage, sendHeader(topic, 0), body), 10*time.Second)
		if err != nil || resp.ResponseCode() != remoting.Success {
			b.Fatalf("send: %v %v", err, resp)
		}
		return time.Since(start)
	}
	for i := 0; i < 200; i++ {
		roundTrip(plain)
		roundTrip(secure)
	}
	plainLat := make([]time.Duration, 0, b.N)
	tlsLat := make([]time.Duration, 0, b.N)
	b.SetBytes(int64(2 * len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate which goes first, so neither always follows the other.
		if i%2 == 0 {
			plainLat = append(plainLat, roundTrip(plain))
			tlsLat = append(tlsLat, roundTrip(secure))
		} else {
			tlsLat = append(tlsLat, roundTrip(secure))
			plainLat = append(plainLat, roundTrip(plain))
		}
	}
	b.StopTimer()
	slices.Sort(plainLat)
	slices.Sort(tlsLat)
	pm, tm := plainLat[len(plainLat)/2], tlsLat[len(tlsLat)/2]
	b.ReportMetric(float64(pm.Microseconds()), "plain-p50-us")
	b.ReportMetric(float64(tm.Microseconds()), "tls-p50-us")
	b.ReportMetric(float64(tm)/float64(pm), "tls/plain-p50")
	b.ReportMetric(float64(tlsLat[len(tlsLat)*99/100])/float64(plainLat[len(plainLat)*99/100]), "tls/plain-p99")
}
