// Package cputime measures the CPU time of a benchmark loop's own thread,
// for the store's benchmarks: on a machine shared with other work, wall
// time per op says more about the neighbours than about the code. Only
// tests import it.
package cputime

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Measure locks the benchmark to its thread and starts counting its CPU
// time (user + system, so page faults count). Call the returned function
// when the loop ends; it reports cpu-ns/op.
func Measure(b *testing.B) func() {
	runtime.LockOSThread()
	start := Thread(b)
	return func() {
		d := Thread(b) - start
		runtime.UnlockOSThread()
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// Thread is the CPU time the calling thread has used so far.
func Thread(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
