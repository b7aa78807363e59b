package main

import (
	"io"
	"runtime/debug"
	"testing"

	"github.com/rs/zerolog"
)

// The broker binary applies gcHeadroomMB unless it is 0 or GOGC is set in
// the environment, and restores Go's default when it returns.
func TestStartGCHeadroom(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	log := zerolog.New(io.Discard)
	if stop := startGCHeadroom(0, log); stop != nil {
		stop()
		t.Fatal("gcHeadroomMB=0 started the tuner")
	}
	t.Setenv("GOGC", "200")
	if stop := startGCHeadroom(32, log); stop != nil {
		stop()
		t.Fatal("GOGC in the environment did not win over gcHeadroomMB")
	}
}

func TestStartGCHeadroomAppliesAndRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	if _, set := lookupGOGC(); set {
		t.Skip("GOGC is set in this test's environment")
	}
	stop := startGCHeadroom(1024, zerolog.New(io.Discard))
	if stop == nil {
		t.Fatal("gcHeadroomMB=1024 did not start the tuner")
	}
	got := debug.SetGCPercent(100) // read it (and set it back below)
	debug.SetGCPercent(got)
	stop()
	if got <= 100 {
		t.Fatalf("GOGC %d with 1 GiB of headroom, want more than 100", got)
	}
	if after := debug.SetGCPercent(100); after != 100 {
		t.Fatalf("GOGC %d after stop, want 100", after)
	}
}
