//go:build race

package pull_test

// raceEnabled: the race detector's sync.Pool drops objects on purpose, so
// allocation counts mean nothing under it.
const raceEnabled = true
