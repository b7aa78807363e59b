package supervisor

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors/schedule"
	"github.com/sluice-mq/sluice/actors/timer"
)

// passActor runs the passes of a service that delivers parked messages
// when they fall due — RocketMQ's ScheduleMessageService timers (delay
// levels) and TimerMessageStore's enqueue/dequeue threads (timer
// messages): a pass every period, and at once whenever the service asks
// (a batch was stored, or work is left: kick). Plumbing only: the work is
// the service's Tick. A pass may wait for a writer slot, so it runs on its
// own actor, never on the supervisor's.
type passActor struct {
	tick   func(now time.Time)
	period time.Duration
	kick   *passKick
	timer  *time.Timer
}

type passTick struct{}

// passKick posts a tick to a pass actor once it exists; kicks that come
// while one is pending merge into it, so a service's Wake never blocks the
// writer and never floods the mailbox. The actor clears pending as it
// starts a pass, so a batch finished during the pass posts the next one.
type passKick struct {
	send    atomic.Pointer[func()]
	pending atomic.Bool
	posted  atomic.Uint64 // ticks posted by kicks, for tests
}

func (k *passKick) kick() {
	if f := k.send.Load(); f != nil && k.pending.CompareAndSwap(false, true) {
		k.posted.Add(1)
		(*f)()
	}
}

// spawnSchedule runs the delay levels' passes every DelayForAWhile.
func spawnSchedule(ctx actor.Context, svc *schedule.ScheduleMessageService, kick *passKick) (*actor.PID, error) {
	return spawnPasses(ctx, "schedule", schedule.DelayForAWhile, svc.Tick, kick)
}

// spawnTimer runs the timer store's passes every tenth of the precision
// (RocketMQ's enqueue and dequeue threads wait 100 ms × precision / 1 s
// when idle), at least 10 ms apart.
func spawnTimer(ctx actor.Context, svc *timer.TimerMessageStore, kick *passKick) (*actor.PID, error) {
	period := max(10*time.Millisecond, time.Duration(svc.PrecisionMs())*time.Millisecond/10)
	return spawnPasses(ctx, "timer", period, svc.Tick, kick)
}

func spawnPasses(ctx actor.Context, name string, period time.Duration, tick func(time.Time), kick *passKick) (*actor.PID, error) {
	props := actor.PropsFromProducer(func() actor.Actor { return &passActor{tick: tick, period: period, kick: kick} })
	pid, err := ctx.SpawnNamed(props, name)
	if err != nil {
		return nil, err
	}
	root := ctx.ActorSystem().Root
	send := func() { root.Send(pid, &passTick{}) }
	kick.send.Store(&send)
	return pid, nil
}

func (a *passActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.arm(ctx)
	case *passTick:
		// Before the pass: a kick from here on is a new one. (Without this
		// every kick after the first was dropped, and due messages went out
		// one batch per level per 100 ms.)
		a.kick.pending.Store(false)
		a.tick(time.Now())
		a.arm(ctx)
	case *actor.Restarting, *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
		}
	}
}

// arm schedules the next pass after this one, so a slow pass delays the
// next instead of piling ticks up.
func (a *passActor) arm(ctx actor.Context) {
	root, self := ctx.ActorSystem().Root, ctx.Self()
	if a.timer != nil {
		a.timer.Stop()
	}
	a.timer = time.AfterFunc(a.period, func() { root.Send(self, &passTick{}) })
}
