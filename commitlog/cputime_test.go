package commitlog

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU measures the CPU time (user + system, so page faults count)
// of the benchmark loop's own thread: on a machine shared with other work
// wall time per op says more about the neighbours than about the code.
// Call the returned function when the loop ends; it reports cpu-ns/op.
func threadCPU(b *testing.B) func() {
	runtime.LockOSThread()
	start := rusageThread(b)
	return func() {
		d := rusageThread(b) - start
		runtime.UnlockOSThread()
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func rusageThread(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
