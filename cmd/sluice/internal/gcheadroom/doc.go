// Package gcheadroom sets the garbage collector's GOGC percent from the live
// heap, so that the heap goal is never less than the live heap plus a fixed
// headroom: GOGC=100 while the live heap is larger than the headroom, more
// while it is smaller.
//
// Why: with Go's default the collector runs whenever the heap has doubled.
// A broker under load allocates about 3 KB per message (the request frame
// above all) but keeps only a few MiB alive when few producers pipeline,
// so at 80 k msgs/s it collected several times a second and the collector
// and the allocator's sweeping took 18 % of its CPU (1 producer, 256 in
// flight). A fixed amount of garbage between collections costs memory the
// machine has anyway; with a large live heap (many connections with
// requests in flight) the goal is GOGC=100's, so the peak stays where it
// was (README, Performance: "The collector's headroom").
//
// It owns the process's GOGC setting and nothing else, and so belongs to
// the broker binary, not to the supervisor, which tests start many times in
// one process. An operator's GOGC in the environment wins: then it does
// nothing.
package gcheadroom
