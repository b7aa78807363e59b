package timer

import (
	"errors"
	"fmt"
	"math"
)

// BlankSlots is how many wheel slots are kept beyond the window
// (RocketMQ's TIMER_BLANK_SLOTS): after a crash the wheel restarts from the
// last checkpointed read time, a little behind where it was, and the
// slots in between must not collide with the window's far end.
const BlankSlots = 60

// Config is what Open needs.
type Config struct {
	// Dir holds the timer-log files.
	Dir string
	// PrecisionMs is the width of one slot (timerPrecisionMs).
	PrecisionMs int64
	// Slots is the window: a unit due further ahead than Slots-1 slots
	// after the read time is rolled (timerRollWindowSlot).
	Slots int
	// FileSize is the size of one timer-log file, rounded down to a
	// multiple of UnitSize.
	FileSize int64
}

// slot is one tick of the wheel (RocketMQ's Slot): the chain's first and
// last unit and how many it has. timeMs tells a live slot from one left
// over from a previous turn of the wheel.
type slot struct {
	timeMs      int64
	first, last int64
	num         int32
}

// Index is the timer log and the wheel over it (package comment).
type Index struct {
	cfg Config
	log *TimerLog
	// wheel is made at its first use (slotOf): a broker that never parks
	// a timer message keeps no wheel, which with the default window
	// (timerRollWindowSlot, two days of seconds) is 5.5 MB the garbage
	// collector would otherwise count as live and pace by: about as much
	// again of anonymous memory under load. Nil exactly while no unit
	// was ever chained or looked up.
	wheel []slot

	// readMs is the next slot to read: every slot before it is delivered.
	readMs int64
	// reading is set between BeginSlot and EndSlot: units placed now go to
	// the next slot, since the chain of readMs is being walked.
	reading bool
	// pending counts units chained into slots at or after readMs.
	pending int64
	// next caches NextSlot's scan: the first non-empty slot at or after
	// readMs; -1 when unknown.
	next int64
}

// Recovered is what Open found.
type Recovered struct {
	// Units is how many valid units the log held; Live how many of them
	// are chained into slots not yet read.
	Units, Live int64
	// Reindexed counts live units Open could not chain where they were
	// and appended again (see Open).
	Reindexed int64
	// MaxQueueOffset is the highest consume-queue offset of any unit; -1
	// when the log is empty.
	MaxQueueOffset int64
	// TruncatedBytes is what was cut off the log's end (a torn write).
	TruncatedBytes int64
}

// Open opens the timer log in cfg.Dir and rebuilds the wheel from it for
// the slots from readMs on (the checkpoint's read time: every slot before
// it was delivered). Units of earlier slots are done and ignored.
//
// A live unit that cannot be chained into its slot as it was written —
// its slot is held by another time (the read time moved back to the
// checkpoint past BlankSlots), it lies beyond the wheel or off its ticks
// (Slots or PrecisionMs changed since), or its prev pointer does not
// match the rebuilt chain — is appended again as a fresh unit and the original marked
// dead, so it is delivered once from its new place and never from the old.
func Open(cfg Config, readMs int64) (*Index, Recovered, error) {
	if cfg.PrecisionMs <= 0 || cfg.Slots < 2 {
		return nil, Recovered{}, fmt.Errorf("timer: precision %d ms and %d slots: want a positive precision and 2 slots or more", cfg.PrecisionMs, cfg.Slots)
	}
	ix := &Index{cfg: cfg, next: -1}
	ix.readMs = ix.align(readMs)
	rec := Recovered{MaxQueueOffset: -1}
	type misplaced struct {
		pos int64
		u   Unit
	}
	var again []misplaced
	l, truncated, err := openLog(cfg.Dir, cfg.FileSize, func(pos int64, u *Unit) error {
		rec.Units++
		rec.MaxQueueOffset = max(rec.MaxQueueOffset, u.QueueOffset)
		if u.Flags&flagDead != 0 || u.SlotMs < ix.readMs {
			return nil
		}
		s := ix.slotOf(u.SlotMs)
		switch {
		case u.SlotMs > ix.readMs+(ix.slots()-1)*cfg.PrecisionMs || u.SlotMs%cfg.PrecisionMs != 0:
			// Beyond the wheel's turn from the checkpoint (it would share a
			// slot with an earlier time; or the wheel shrank), or indexed
			// with another precision (no tick of this one would read it).
			again = append(again, misplaced{pos, *u})
			return nil
		case s.timeMs == u.SlotMs && s.num > 0 && u.Prev == s.last:
			s.last = pos
			s.num++
		case (s.num == 0 || s.timeMs < ix.readMs) && u.Prev == -1:
			*s = slot{timeMs: u.SlotMs, first: pos, last: pos, num: 1}
		default:
			// Bounded by the units written between the checkpoint and the
			// crash: a few seconds' worth.
			again = append(again, misplaced{pos, *u})
			return nil
		}
		rec.Live++
		return nil
	})
	if err != nil {
		return nil, rec, err
	}
	ix.log = l
	ix.pending = rec.Live
	rec.TruncatedBytes = truncated
	for _, m := range again {
		dead := m.u
		dead.Flags |= flagDead
		if err := l.rewrite(m.pos, &dead); err != nil {
			return nil, rec, err
		}
		u := m.u
		u.Flags &^= FlagRoll
		if _, err := ix.place(u, u.Rolls); err != nil {
			return nil, rec, err
		}
		rec.Reindexed++
		ix.pending++
	}
	if err := l.Flush(); err != nil {
		return nil, rec, err
	}
	return ix, rec, nil
}

func (ix *Index) align(ms int64) int64 {
	if ms < 0 {
		return 0
	}
	return ms / ix.cfg.PrecisionMs * ix.cfg.PrecisionMs
}

// slots is the wheel's length: the window and the blank slots beyond it.
func (ix *Index) slots() int64 { return int64(ix.cfg.Slots) + BlankSlots }

func (ix *Index) slotOf(timeMs int64) *slot {
	if ix.wheel == nil {
		ix.wheel = make([]slot, ix.slots())
	}
	return &ix.wheel[(timeMs/ix.cfg.PrecisionMs)%int64(len(ix.wheel))]
}

// Add indexes a message parked at commit-log offset offsetPy (size
// sizePy, consume-queue offset queueOffset), due at deliverMs and indexed
// at enqueueMs (math.MaxInt64: it was already late, as RocketMQ marks it).
// A message due before the read time goes into the next slot to read.
func (ix *Index) Add(offsetPy int64, sizePy int32, queueOffset, deliverMs, enqueueMs int64) error {
	_, err := ix.place(Unit{
		DeliverMs: deliverMs, EnqueueMs: enqueueMs, OffsetPy: offsetPy, SizePy: sizePy, QueueOffset: queueOffset, Prev: -1,
	}, 0)
	if err == nil {
		ix.pending++
	}
	return err
}

// Reroll indexes again a roll unit read from its slot: it goes to its
// delivery slot, or rolls once more.
func (ix *Index) Reroll(u Unit) error {
	u.Flags &^= FlagRoll
	_, err := ix.place(u, u.Rolls+1)
	if err == nil {
		ix.pending++
	}
	return err
}

// place chains u into the slot of its delivery time, bounded by the next
// slot to read and the window's end (a roll unit then).
func (ix *Index) place(u Unit, rolls uint32) (int64, error) {
	p := ix.cfg.PrecisionMs
	lo := ix.readMs
	if ix.reading {
		lo += p
	}
	hi := ix.readMs + int64(ix.cfg.Slots-1)*p
	t := ix.align(u.DeliverMs)
	u.Rolls = rolls
	switch {
	case t < lo:
		t = lo
	case t > hi:
		t = hi
		u.Flags |= FlagRoll
	}
	s := ix.slotOf(t)
	if s.timeMs != t || s.num == 0 {
		*s = slot{timeMs: t, first: -1, last: -1}
	}
	u.SlotMs, u.Prev = t, s.last
	pos, err := ix.log.append(&u)
	if err != nil {
		return -1, err
	}
	if s.first < 0 {
		s.first = pos
	}
	s.last = pos
	s.num++
	if ix.next >= 0 && t < ix.next {
		ix.next = t
	}
	return pos, nil
}

// ReadMs is the next slot to read.
func (ix *Index) ReadMs() int64 { return ix.readMs }

// Due reports whether the next slot is due at nowMs: a slot is read once
// its whole tick has passed (RocketMQ reads slot t when
// t < floor(now/precision)*precision), so no message is delivered before
// its time.
func (ix *Index) Due(nowMs int64) bool { return ix.readMs+ix.cfg.PrecisionMs <= nowMs }

// ErrChainDamaged is Next's error for a chain that leads out of its slot:
// the cursor is then done.
var ErrChainDamaged = errors.New("timer: damaged chain")

// Cursor walks one slot's chain, newest unit first.
type Cursor struct {
	next int64 // position of the next unit; -1 when done
	// Num is the slot's unit count when the walk began.
	Num int32
}

// Done reports the chain's end.
func (c *Cursor) Done() bool { return c.next < 0 }

// BeginSlot starts reading the slot at ReadMs. Until EndSlot, units placed
// into it go to the next slot.
func (ix *Index) BeginSlot() Cursor {
	ix.reading = true
	s := ix.slotOf(ix.readMs)
	if s.timeMs != ix.readMs || s.num == 0 {
		return Cursor{next: -1}
	}
	return Cursor{next: s.last, Num: s.num}
}

// Next returns the cursor's next unit. An error leaves the cursor where it
// was, for a later try.
func (ix *Index) Next(c *Cursor) (Unit, error) {
	if c.next < 0 {
		return Unit{}, errors.New("timer: the chain is done")
	}
	u, err := ix.log.read(c.next)
	if err != nil {
		return Unit{}, fmt.Errorf("timer: the unit at %d of slot %d: %w", c.next, ix.readMs, err)
	}
	if u.SlotMs != ix.readMs {
		// The chain points outside its slot: the log was damaged. What was
		// read so far is delivered; the rest cannot be found.
		c.next = -1
		return Unit{}, fmt.Errorf("%w: the chain of slot %d leads to a unit of slot %d; the rest of the slot is lost", ErrChainDamaged, ix.readMs, u.SlotMs)
	}
	c.next = u.Prev
	return u, nil
}

// EndSlot marks the slot at ReadMs read (every unit of it delivered or
// rerolled) and moves to the next.
func (ix *Index) EndSlot() {
	s := ix.slotOf(ix.readMs)
	if s.timeMs == ix.readMs {
		ix.pending -= int64(s.num)
		*s = slot{}
	}
	if ix.next == ix.readMs {
		ix.next = -1
	}
	ix.readMs += ix.cfg.PrecisionMs
	ix.reading = false
}

// SkipTo moves the read time forward to ms without reading: only for
// slots known to be empty (Pending() == 0).
func (ix *Index) SkipTo(ms int64) {
	if ix.pending == 0 && !ix.reading && ix.align(ms) > ix.readMs {
		ix.readMs = ix.align(ms)
	}
}

// Pending is how many units are chained into slots not yet read (a
// message indexed twice after a crash counts twice: it will be delivered
// twice).
func (ix *Index) Pending() int64 { return ix.pending }

// NextSlot returns the first non-empty slot at or after ReadMs and its
// count; ok is false when the wheel is empty.
func (ix *Index) NextSlot() (timeMs int64, num int32, ok bool) {
	if ix.pending == 0 {
		return 0, 0, false
	}
	if ix.next >= ix.readMs {
		if s := ix.slotOf(ix.next); s.timeMs == ix.next && s.num > 0 {
			return ix.next, s.num, true
		}
	}
	// A scan of the wheel (a few ms at most), cached until the slot found
	// is read or an earlier one gains a unit.
	p := ix.cfg.PrecisionMs
	for i := int64(0); i < ix.slots(); i++ {
		t := ix.readMs + i*p
		if s := ix.slotOf(t); s.timeMs == t && s.num > 0 {
			ix.next = t
			return t, s.num, true
		}
	}
	return 0, 0, false
}

// SlotCount is how many units the slot of timeMs holds.
func (ix *Index) SlotCount(timeMs int64) int32 {
	t := ix.align(timeMs)
	if s := ix.slotOf(t); s.timeMs == t {
		return s.num
	}
	return 0
}

// Flush writes buffered units to the files.
func (ix *Index) Flush() error { return ix.log.Flush() }

// Sync flushes and makes the log durable.
func (ix *Index) Sync() error {
	if err := ix.log.Flush(); err != nil {
		return err
	}
	return ix.log.Sync()
}

// FlushedPos is the log position up to which units are written.
func (ix *Index) FlushedPos() int64 { return ix.log.Flushed() }

// DeleteRead removes the log files whose units all lie in slots before
// readMs. Pass the read time of the last durable checkpoint, not
// ReadMs: after a crash Open restarts from the checkpoint and needs them.
func (ix *Index) DeleteRead(readMs int64) (int64, error) { return ix.log.deleteRead(readMs) }

// DiskBytes is the size of the log files.
func (ix *Index) DiskBytes() int64 { return ix.log.DiskBytes() }

// Close flushes the log and closes its files.
func (ix *Index) Close() error {
	err := ix.log.Flush()
	return errors.Join(err, ix.log.close())
}

// NeverEnqueued is the EnqueueMs of a message indexed after its time
// (RocketMQ's TIMER_ENQUEUE_MS=Long.MAX_VALUE).
const NeverEnqueued = math.MaxInt64

// EarliestSlot scans the log in cfg.Dir for the earliest slot any unit is
// chained into, for a start without a checkpoint: reading from there
// delivers every message the log holds (some again), loses none.
func EarliestSlot(cfg Config) (int64, bool, error) {
	earliest, found := int64(math.MaxInt64), false
	l, _, err := openLog(cfg.Dir, cfg.FileSize, func(_ int64, u *Unit) error {
		if u.Flags&flagDead == 0 {
			earliest, found = min(earliest, u.SlotMs), true
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return earliest, found, l.close()
}
