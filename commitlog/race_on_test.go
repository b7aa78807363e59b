//go:build race

package commitlog

// raceEnabled: allocation counts mean nothing under the race detector.
const raceEnabled = true
