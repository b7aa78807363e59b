package supervisor

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors/transaction"
)

// transactionCheckActor is RocketMQ's TransactionalMessageCheckService:
// every transactionCheckInterval (counted from the end of the last round,
// as its waitForRunning does) it runs one check round, and on a tick of at
// most a second it lets the service retry op records and move its scan
// point. Plumbing only: the work is transaction.Service's. A round runs
// on this actor's turn; it ends early when the service stops.
type transactionCheckActor struct {
	svc   *transaction.Service
	timer *time.Timer
	due   time.Time
}

type transactionTick struct{}

// spawnTransactionCheck starts the check actor, named "transactionCheck",
// under the supervisor.
func spawnTransactionCheck(ctx actor.Context, svc *transaction.Service) (*actor.PID, error) {
	props := actor.PropsFromProducer(func() actor.Actor { return &transactionCheckActor{svc: svc} })
	return ctx.SpawnNamed(props, "transactionCheck")
}

func (a *transactionCheckActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.due = time.Now().Add(a.svc.CheckInterval())
		a.arm(ctx)
	case *transactionTick:
		a.svc.Housekeep()
		if now := time.Now(); !now.Before(a.due) {
			a.svc.Check(now)
			a.due = time.Now().Add(a.svc.CheckInterval())
		}
		a.arm(ctx)
	case *actor.Restarting, *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
		}
	}
}

// arm schedules the next tick after this one is handled, so a long round
// delays the next instead of piling ticks up.
func (a *transactionCheckActor) arm(ctx actor.Context) {
	root, self := ctx.ActorSystem().Root, ctx.Self()
	a.timer = time.AfterFunc(min(a.svc.CheckInterval(), time.Second), func() { root.Send(self, &transactionTick{}) })
}
