package supervisor

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors/schedule"
)

// scheduleActor runs RocketMQ's ScheduleMessageService timers: every
// DelayForAWhile, and at once whenever a level's batch has been stored
// (Wake), one pass of the service delivers what is due. Plumbing only: the
// work is schedule.ScheduleMessageService's. A pass may wait for a writer
// slot, so it runs on this actor, never on the supervisor's.
type scheduleActor struct {
	svc   *schedule.ScheduleMessageService
	kick  *scheduleKick
	timer *time.Timer
}

type scheduleTick struct{}

// scheduleKick posts a tick to the schedule actor once it exists; kicks
// that come while one is pending merge into it, so Wake never blocks the
// writer and never floods the mailbox. The actor clears pending as it
// starts a pass, so a batch finished during the pass posts the next one.
type scheduleKick struct {
	send    atomic.Pointer[func()]
	pending atomic.Bool
	posted  atomic.Uint64 // ticks posted by kicks, for tests
}

func (k *scheduleKick) kick() {
	if f := k.send.Load(); f != nil && k.pending.CompareAndSwap(false, true) {
		k.posted.Add(1)
		(*f)()
	}
}

func spawnSchedule(ctx actor.Context, svc *schedule.ScheduleMessageService, kick *scheduleKick) (*actor.PID, error) {
	props := actor.PropsFromProducer(func() actor.Actor { return &scheduleActor{svc: svc, kick: kick} })
	pid, err := ctx.SpawnNamed(props, "schedule")
	if err != nil {
		return nil, err
	}
	root := ctx.ActorSystem().Root
	send := func() { root.Send(pid, &scheduleTick{}) }
	kick.send.Store(&send)
	return pid, nil
}

func (a *scheduleActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.arm(ctx)
	case *scheduleTick:
		// Before the pass: a Wake from here on is a new kick. (Without this
		// every kick after the first was dropped, and due messages went out
		// one batch per level per 100 ms.)
		a.kick.pending.Store(false)
		a.svc.Tick(time.Now())
		a.arm(ctx)
	case *actor.Restarting, *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
		}
	}
}

// arm schedules the next pass after this one, so a slow pass delays the
// next instead of piling ticks up.
func (a *scheduleActor) arm(ctx actor.Context) {
	root, self := ctx.ActorSystem().Root, ctx.Self()
	if a.timer != nil {
		a.timer.Stop()
	}
	a.timer = time.AfterFunc(schedule.DelayForAWhile, func() { root.Send(self, &scheduleTick{}) })
}
