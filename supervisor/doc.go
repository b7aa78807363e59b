// Package supervisor is the root of the broker's actor tree. It turns a
// Config into a running broker: it opens the store and the remoting port,
// spawns the processors, the writer and the listener as children of the
// supervisor actor, restarts a processor that panics (answering the
// request that caused it with SYSTEM_ERROR), runs RocketMQ's fast-failure
// sweep, and shuts everything down in order.
//
// It owns the root actor, the supervision strategy, the fast-failure sweep
// and busy periods (fast_failure.go, busy_period.go), the processor layout
// (processors.go: which request codes share a queue, RocketMQ's
// registerProcessor) and start and shutdown. Request handling lives in the
// handler sets under actors/, the wire format in remoting, the files in
// commitlog, and broker.conf parsing beside its only user, cmd/sluice.
package supervisor
