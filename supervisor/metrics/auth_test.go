package metrics_test

import (
	"net/http"
	"testing"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/supervisor/metrics"
)

// metricsPromExporterBearerToken: a scrape without the token, or with
// another, is answered 401; with it, the exposition.
func TestBearerToken(t *testing.T) {
	srv, err := metrics.ServeWith("127.0.0.1:0", metrics.ServeOptions{BearerToken: "s3cret-token"}, func() *tree.Snapshot { return nil }, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func(auth string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+srv.Addr()+metrics.Path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for auth, want := range map[string]int{"": 401, "Bearer wrong": 401, "s3cret-token": 401, "Bearer s3cret-token": 200} {
		if got := get(auth); got != want {
			t.Errorf("Authorization %q: %d, want %d", auth, got, want)
		}
	}
}
