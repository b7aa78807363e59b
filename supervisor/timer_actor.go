package supervisor

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors/timer"
)

// timerActor runs RocketMQ 5's TimerMessageStore services: a pass of
// timer.TimerMessageStore every tenth of the precision (RocketMQ's
// enqueue and dequeue threads wait 100 ms × precision / 1 s when idle),
// and at once whenever the service asks (a batch was stored, or work is
// left). Plumbing only, like scheduleActor; a pass may wait for a writer
// slot, so it runs on this actor, never on the supervisor's.
type timerActor struct {
	svc    *timer.TimerMessageStore
	kick   *scheduleKick
	period time.Duration
	timer  *time.Timer
}

type timerTick struct{}

func spawnTimer(ctx actor.Context, svc *timer.TimerMessageStore, kick *scheduleKick) (*actor.PID, error) {
	period := max(10*time.Millisecond, time.Duration(svc.PrecisionMs())*time.Millisecond/10)
	props := actor.PropsFromProducer(func() actor.Actor { return &timerActor{svc: svc, kick: kick, period: period} })
	pid, err := ctx.SpawnNamed(props, "timer")
	if err != nil {
		return nil, err
	}
	root := ctx.ActorSystem().Root
	send := func() { root.Send(pid, &timerTick{}) }
	kick.send.Store(&send)
	return pid, nil
}

func (a *timerActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.arm(ctx)
	case *timerTick:
		// A kick from now on posts another tick: the one it asks for may
		// come after this pass has read what it saw.
		a.kick.pending.Store(false)
		a.svc.Tick(time.Now())
		a.arm(ctx)
	case *actor.Restarting, *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
		}
	}
}

// arm schedules the next periodic pass after this one.
func (a *timerActor) arm(ctx actor.Context) {
	root, self := ctx.ActorSystem().Root, ctx.Self()
	if a.timer != nil {
		a.timer.Stop()
	}
	a.timer = time.AfterFunc(a.period, func() { root.Send(self, &timerTick{}) })
}
