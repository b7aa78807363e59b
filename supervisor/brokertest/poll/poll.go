// Package poll is the tests' one way to wait for a condition that another
// goroutine or process will make true: poll it until it holds or a deadline
// passes. Tests await events this way instead of sleeping a fixed time.
//
// It imports only the standard library, so tests of every package (actors
// and commitlog included) may use it without an import cycle.
package poll

import (
	"testing"
	"time"
)

// DefaultTimeout is how long Until waits: far beyond what any condition
// needs on a loaded 2-core machine, so a failure means "never", not "slow".
const DefaultTimeout = 10 * time.Second

// Until polls cond until it holds, failing the test after DefaultTimeout
// with what in the message (the caller's line is reported either way).
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Within(t, DefaultTimeout, what, cond)
}

// Within polls cond until it holds, failing the test after d.
func Within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	interval := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			if what == "" {
				what = "condition"
			}
			t.Fatalf("%s: not met within %s", what, d)
		}
		time.Sleep(interval)
		// Back off to 20 ms so that a long wait does not spin a core the
		// broker under test needs.
		interval = min(2*interval, 20*time.Millisecond)
	}
}
