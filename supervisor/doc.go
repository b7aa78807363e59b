// Package supervisor is the root of the broker's actor tree. It turns a
// Config into a running broker: it opens the store and the remoting port,
// spawns the processors, the writer and the listener as children of the
// supervisor actor, restarts a processor that panics (answering the
// request that caused it with SYSTEM_ERROR), runs RocketMQ's fast-failure
// sweep, and shuts everything down in order.
//
// It owns wiring and lifecycle only; request handling lives in actors, the
// wire format in remoting and the files in commitlog.
package supervisor
