package supervisor

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
)

// supervisorActor is the root of the broker's tree. It spawns the
// processors and the listener, supervises them, and runs the fast-failure
// sweep on a timer.
type supervisorActor struct {
	b       *Broker
	started chan<- error
}

type sweepTick struct{}

func (s *supervisorActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		// Set before any child exists: the listener accepts as soon as it is
		// spawned, and the tree admin call reads this id.
		s.b.supervisor = ctx.Self()
		s.started <- s.spawnChildren(ctx)
		s.scheduleSweep(ctx)
	case *sweepTick:
		s.b.sweep.run(time.Now())
		s.scheduleSweep(ctx)
	}
}

func (s *supervisorActor) spawnChildren(ctx actor.Context) error {
	s.b.inspectors.Register(ctx.Self().Id, func(n *tree.Node) {
		n.Kind = tree.KindSupervisor
		n.Supervisor = s.b.sweep.inspect()
	})
	for _, p := range s.b.routes.Processors() {
		pid, err := p.Spawn(ctx)
		if err != nil {
			return fmt.Errorf("spawn processor %s: %w", p.Name, err)
		}
		s.b.inspectors.Register(pid.Id, p.Inspect)
	}
	pid, err := s.b.writer.Spawn(ctx, ctx.ActorSystem().Root)
	if err != nil {
		return fmt.Errorf("spawn writer: %w", err)
	}
	s.b.inspectors.Register(pid.Id, func(n *tree.Node) {
		s.b.writer.Inspect(n)
		n.Writer.OSPageCacheBusyTimeOutMills = s.b.store.OSPageCacheBusyTimeOutMills()
	})
	if tx := s.b.svc.tx; tx != nil && !s.b.cfg.IsSlave() { // the master checks half messages
		pid, err := spawnTransactionCheck(ctx, tx)
		if err != nil {
			return fmt.Errorf("spawn transaction check: %w", err)
		}
		s.b.inspectors.Register(pid.Id, tx.Inspect)
	}
	if sched := s.b.svc.sched; sched != nil {
		pid, err := spawnSchedule(ctx, sched, &s.b.svc.schedKick)
		if err != nil {
			return fmt.Errorf("spawn schedule: %w", err)
		}
		s.b.inspectors.Register(pid.Id, sched.InspectNode)
	}
	if timers := s.b.svc.timers; timers != nil {
		pid, err := spawnTimer(ctx, timers, &s.b.svc.timerKick)
		if err != nil {
			return fmt.Errorf("spawn timer: %w", err)
		}
		s.b.inspectors.Register(pid.Id, timers.InspectNode)
	}
	if err := s.b.spawnHA(ctx); err != nil {
		return err
	}
	if _, err := s.b.listener.Spawn(ctx, "listener", s.b.routes); err != nil {
		return fmt.Errorf("spawn listener: %w", err)
	}
	if ns := s.b.namesrv; ns != nil {
		if err := ns.spawn(ctx, s.b.inspectors); err != nil {
			return err
		}
	}
	return nil
}

// scheduleSweep re-arms the sweep after each run (it runs even with fast
// failure off, to follow busy periods), so a slow sweep delays
// the next one instead of piling ticks up in the mailbox.
func (s *supervisorActor) scheduleSweep(ctx actor.Context) {
	root, self := ctx.ActorSystem().Root, ctx.Self()
	s.b.sweep.arm(func() { root.Send(self, &sweepTick{}) })
}

// HandleFailure is the supervision strategy for the supervisor's children.
// A processor that panicked is restarted with its queue intact; the
// request that caused the panic is answered SYSTEM_ERROR, because
// protoactor drops that message and the client would otherwise wait for
// its timeout.
func (s *supervisorActor) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason any, message any) {
	restartProcessor(s.b.log, s.b.processors(), sup, child, reason, message)
}

// restartProcessor is the supervision strategy shared by the broker and
// the name server: answer the request that caused the panic with
// SYSTEM_ERROR — protoactor drops that message, and the client would
// otherwise wait for its timeout — log the panic with its stack, and
// restart the actor with its queue intact.
func restartProcessor(zl zerolog.Logger, procs []*actors.Processor, sup actor.Supervisor, child *actor.PID, reason, message any) {
	log := zl.Error().Str("actor", child.Id)
	if p, ok := reason.(*actors.Panic); ok {
		log = log.Interface("panic", p.Value).Str("stack", string(p.Stack))
	} else {
		log = log.Interface("reason", reason)
	}
	if r, ok := actor.UnwrapEnvelopeMessage(message).(*actors.Request); ok {
		log = log.Stringer("code", r.Cmd.RequestCode()).Int32("opaque", r.Cmd.Opaque)
		r.ReplyCode(remoting.SystemError, fmt.Sprintf("%v", reason))
	}
	for _, p := range procs {
		if p.PID() != nil && p.PID().Equal(child) {
			p.Stats.Panics.Add(1)
		}
	}
	log.Msg("actor panicked; restarting it")
	sup.RestartChildren(child)
}
