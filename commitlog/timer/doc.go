// Package timer is the on-disk index of RocketMQ 5's timer messages: a
// TimerLog (append-only units naming a parked message by its commit-log
// offset and size, with its delivery time and a pointer to the previous
// unit of the same slot) and a TimerWheel (one slot per precision tick,
// holding the first and last unit of the slot's chain and its count),
// after RocketMQ's store/timer.
//
// It differs from RocketMQ's in two ways, both measured (README,
// Performance):
//
//   - The wheel is not a file. It is rebuilt at Open from the live part of
//     the timer log (units whose slot is not yet read), so the wheel and the
//     log can never disagree after a crash and there is no 38 MB wheel file
//     to keep in step. Open reads the live log sequentially; deleting files
//     whose units are all read (DeleteRead) keeps that bounded by what is
//     pending.
//   - A unit too far ahead for the wheel is chained into the wheel's last
//     slot with the roll flag; when that slot is read the unit is appended
//     again (Reroll), 64 bytes, instead of RocketMQ's re-put of the whole
//     message into the commit log.
//
// Memory is bounded by the wheel (Slots+BlankSlots slots of 32 bytes, made
// at its first use: none for a broker without timer messages), one write
// buffer and one read block; pending messages live on disk only.
//
// # What it owns
//
// Config.Dir (<storePathRootDir>/timerlog): files named by their first
// byte offset (20 digits), Config.FileSize bytes each at most, holding
// UnitSize-byte units. A unit never straddles two files.
//
// It imports nothing of Sluice (the layering test allows it
// remoting/message only). It knows nothing of topics, messages or actors:
// the broker's timer service (actors/timer) decides what to index and what
// to deliver. An Index is not safe for concurrent use: one goroutine (the
// timer service's Tick) drives it.
package timer
