package gcheadroom

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// basePercent is Go's default GOGC, the least the tuner sets.
const basePercent = 100

// heapMinimum is the runtime's least heap goal at GOGC=100 (4 MiB), which
// it scales by GOGC/100 like the rest of the goal: at GOGC=800 no heap is
// collected below 32 MiB. So a live heap under it counts as this much, or
// a tiny live heap (an idle broker) would get a goal far above the
// headroom.
const heapMinimum = 4 << 20

// poll is how often the live heap is looked at. Collections under load
// come several times a second and the live heap moves slowly; a new
// percent applies to the collection in progress at once.
const poll = 100 * time.Millisecond

// Percent is the GOGC percent that makes the heap goal about live +
// headroom: the goal is live + (live + roots) × GOGC / 100, where roots
// are the goroutine stacks and globals the collector also scans. Never
// below basePercent.
func Percent(headroom, live, roots uint64) int {
	p := headroom * 100 / max(live+roots, heapMinimum)
	return int(max(p, basePercent))
}

// Tuner adjusts GOGC after each collection. Its zero value is not usable;
// make one with Start.
type Tuner struct {
	headroom uint64
	samples  []metrics.Sample
	cycles   uint64
	percent  int // the percent in force, set by the tuner

	stop chan struct{}
	done sync.WaitGroup
}

var sampleNames = []string{
	"/gc/cycles/total:gc-cycles",
	"/gc/heap/live:bytes",
	"/gc/scan/stack:bytes",
	"/gc/scan/globals:bytes",
}

// New returns a tuner for headroom bytes that has set nothing yet; Step
// applies it once, Run after every collection.
func New(headroom uint64) *Tuner {
	t := &Tuner{headroom: headroom, percent: basePercent, stop: make(chan struct{})}
	t.samples = make([]metrics.Sample, len(sampleNames))
	for i, n := range sampleNames {
		t.samples[i].Name = n
	}
	return t
}

// Start sets GOGC for headroom bytes now and after every collection, until
// the returned function is called; that restores GOGC=100. Call it only
// when the environment sets no GOGC.
func Start(headroom uint64) (stop func()) {
	t := New(headroom)
	t.Step()
	t.done.Add(1)
	go t.run()
	return func() {
		close(t.stop)
		t.done.Wait()
		debug.SetGCPercent(basePercent)
	}
}

func (t *Tuner) run() {
	defer t.done.Done()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			t.Step()
		case <-t.stop:
			return
		}
	}
}

// Step reads the live heap of the last collection and, if a collection has
// finished since the last step, sets the percent it calls for. It returns
// the percent in force.
func (t *Tuner) Step() int {
	metrics.Read(t.samples)
	for _, s := range t.samples {
		if s.Value.Kind() != metrics.KindUint64 {
			return t.percent // a runtime without these metrics: leave GOGC alone
		}
	}
	cycles := t.samples[0].Value.Uint64()
	if cycles == t.cycles && t.cycles != 0 {
		return t.percent
	}
	t.cycles = cycles
	p := Percent(t.headroom, t.samples[1].Value.Uint64(), t.samples[2].Value.Uint64()+t.samples[3].Value.Uint64())
	// Within a tenth of the percent in force: not worth a change (the
	// live heap wobbles from one collection to the next).
	if d := p - t.percent; d*10 > t.percent || -d*10 > t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
	return t.percent
}
