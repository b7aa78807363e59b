package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// -pprof serves the profiles on the address given, and nothing else.
func TestServePprof(t *testing.T) {
	var logBuf strings.Builder
	stop, err := servePprof("127.0.0.1:0", zerolog.New(&logBuf))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// The bound address is in the start line.
	addr := between(logBuf.String(), `"addr":"`, `"`)
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("goroutine profile: %d %.200q", resp.StatusCode, body)
	}
	resp, err = http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/ answered %d, want 404", resp.StatusCode)
	}
}

func between(s, from, to string) string {
	_, after, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(after, to)
	return v
}
