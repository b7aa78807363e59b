package transaction

import (
	"math/bits"
	"sync"
)

// state is what the decision table knows of one queue offset of the half
// topic.
type state uint8

const (
	// undecided: an original half message without a decision yet (also
	// every offset beyond what the table has seen).
	undecided state = iota
	committed
	rolledBack
	// closed: not an original (a copy re-put for a check or for its
	// immunity time), or an original discarded after transactionCheckMax
	// checks. No decision is taken for it any more.
	closed
)

func (s state) String() string {
	switch s {
	case committed:
		return "committed"
	case rolledBack:
		return "rolled back"
	case closed:
		return "discarded"
	}
	return "undecided"
}

// maxTracked bounds the window of half-topic offsets the table covers
// (two bits each, so at most 16 MiB). An original falls out of the window
// only when this many half messages and copies were stored after it while
// it was still undecided — far beyond transactionCheckMax rounds at any
// rate this broker sustains. Its decisions are then refused, never applied
// twice, and the check discards it (refusedUntracked).
const maxTracked = 1 << 26

// maxReputs bounds the copies the table remembers (16 bytes each).
const maxReputs = 1 << 20

// reput is a copy the check service stored and has not yet passed.
type reput struct{ copy, origin int64 }

// table is the decision of every original half message in a window of
// half-topic offsets [floor, ∞): two bits per offset, dense because queue
// offsets are. Below floor nothing is tracked: those originals were passed
// by the check service for good (decided, discarded) or fell out of the
// window. Safe for concurrent use.
type table struct {
	mu    sync.Mutex
	floor int64
	base  int64    // offset of the first state in words; a multiple of 32, ≤ floor
	words []uint64 // 32 states per word, offset base+32*i+j at bits 2j, 2j+1
	// inflight are originals whose decision is being stored: the check
	// service stops at them, a repeat of the same decision is a duplicate.
	// At most Config.MaxInFlight (one slot each).
	inflight map[int64]state
	// reputs are the copies not yet passed by the check service, in queue
	// order with strictly increasing origins (a sliding-window minimum):
	// the front's origin is the oldest original still alive behind a copy,
	// which the floor must not pass.
	reputs []reput
	// untracked counts originals that fell out of the window undecided.
	untracked uint64
}

func (t *table) init(floor int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.floor = max(floor, 0)
	t.base = t.floor &^ 31
	t.words = t.words[:0]
	t.inflight = make(map[int64]state)
	t.reputs = t.reputs[:0]
}

// getLocked returns the state of offset o and whether it is tracked.
func (t *table) getLocked(o int64) (state, bool) {
	if o < t.floor {
		return undecided, false
	}
	i := (o - t.base) >> 5
	if i >= int64(len(t.words)) {
		return undecided, true
	}
	return state(t.words[i]>>(2*uint((o-t.base)&31))) & 3, true
}

// setLocked records st for offset o; an offset below the floor is ignored.
func (t *table) setLocked(o int64, st state) {
	if o < t.floor {
		return
	}
	if o-t.floor >= maxTracked {
		t.forceFloorLocked(o - maxTracked + 1)
	}
	i := (o - t.base) >> 5
	for i >= int64(len(t.words)) {
		t.words = append(t.words, 0)
	}
	sh := 2 * uint((o-t.base)&31)
	t.words[i] = t.words[i]&^(3<<sh) | uint64(st)<<sh
}

// advanceLocked raises the floor to f, forgetting the offsets below.
func (t *table) advanceLocked(f int64) {
	if f <= t.floor {
		return
	}
	t.floor = f
	drop := min((f-t.base)>>5, int64(len(t.words)))
	t.words = t.words[drop:]
	t.base += drop * 32
	if len(t.words) == 0 {
		t.base = f &^ 31
	}
	// Re-slicing keeps the old array; copy once it is mostly dead.
	if cap(t.words) > 1024 && cap(t.words) > 4*len(t.words) {
		t.words = append(make([]uint64, 0, 2*len(t.words)+1), t.words...)
	}
}

// forceFloorLocked raises the floor past originals that may still be
// undecided (the window's bound), counting those it drops.
func (t *table) forceFloorLocked(f int64) {
	for o := t.floor; o < f && o < t.base+int64(len(t.words))*32; o++ {
		if st, _ := t.getLocked(o); st == undecided {
			t.untracked++
		}
	}
	t.advanceLocked(f)
}

// claimResult is what claim made of a decision.
type claimResult int

const (
	claimed        claimResult = iota // the caller stores the decision
	claimDuplicate                    // the same decision was taken (or is being stored)
	claimConflict                     // the other decision was taken (or is being stored)
	claimClosed                       // the original was discarded after its checks
	claimUntracked                    // below the floor: passed for good, or out of the window
)

// claim reserves original o for decision kind (committed or rolledBack).
// It returns the state that decided otherwise, if any.
func (t *table) claim(o int64, kind state) (claimResult, state) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, tracked := t.getLocked(o)
	if !tracked {
		return claimUntracked, undecided
	}
	if f, ok := t.inflight[o]; ok {
		st = f
	}
	switch st {
	case undecided:
		t.inflight[o] = kind
		return claimed, undecided
	case kind:
		return claimDuplicate, st
	case closed:
		return claimClosed, st
	}
	return claimConflict, st
}

// finish ends a claim: on success the decision is recorded, otherwise the
// original is undecided again (the check service will ask).
func (t *table) finish(o int64, kind state, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.inflight, o)
	if ok {
		t.setLocked(o, kind)
	}
}

// lookup is what the check service needs to know of original o.
func (t *table) lookup(o int64) (st state, tracked, inflight bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, tracked = t.getLocked(o)
	_, inflight = t.inflight[o]
	return st, tracked, inflight
}

// set records st for o (recovery, discards).
func (t *table) set(o int64, st state) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setLocked(o, st)
}

// get returns o's state and whether it is tracked.
func (t *table) get(o int64) (state, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.getLocked(o)
}

// addReput records a copy stored for original origin: the copy's offset
// is no original (closed), and the original stays tracked while the copy
// is ahead of the check service.
func (t *table) addReput(copy, origin int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setLocked(copy, closed)
	for n := len(t.reputs); n > 0 && t.reputs[n-1].origin >= origin; n-- {
		t.reputs = t.reputs[:n-1]
	}
	if len(t.reputs) >= maxReputs {
		// Beyond the bound the oldest original loses its hold on the floor
		// (it will be refused and discarded like one out of the window).
		t.reputs = t.reputs[1:]
	}
	t.reputs = append(t.reputs, reput{copy: copy, origin: origin})
}

// passed moves the floor after the check service has processed every
// offset below halfBase: to halfBase, or to the oldest original still
// alive behind a copy ahead of it. It returns the new floor.
func (t *table) passed(halfBase int64) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for n < len(t.reputs) && t.reputs[n].copy < halfBase {
		n++
	}
	t.reputs = t.reputs[n:]
	if cap(t.reputs) > 1024 && cap(t.reputs) > 4*len(t.reputs) {
		t.reputs = append(make([]reput, 0, 2*len(t.reputs)+1), t.reputs...)
	}
	f := halfBase
	if len(t.reputs) > 0 && t.reputs[0].origin < f {
		f = t.reputs[0].origin
	}
	t.advanceLocked(f)
	return t.floor
}

// pending counts the undecided originals in [floor, head): every offset of
// the half topic is an original or a copy, and copies are closed.
func (t *table) pending(head int64) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if head <= t.floor {
		return 0
	}
	var n int64
	o := t.floor
	end := min(head, t.base+int64(len(t.words))*32)
	// Whole words where possible: a state is non-zero when either bit is.
	for o < end {
		if (o-t.base)&31 == 0 && o+32 <= end {
			w := t.words[(o-t.base)>>5]
			n += 32 - int64(bits.OnesCount64((w|w>>1)&0x5555555555555555))
			o += 32
			continue
		}
		if st, _ := t.getLocked(o); st == undecided {
			n++
		}
		o++
	}
	if head > end {
		n += head - max(end, t.floor)
	}
	return n - int64(len(t.inflight))
}
