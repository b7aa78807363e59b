// Package actors is the broker's actor plumbing below the root: the
// listener and one connection actor per TCP connection, the processor
// actors with their bounded mailboxes, the request a processor hands its
// handler, and the writer actor that owns the commit log's write side.
//
// Request logic is not here. RocketMQ's processors live in the handler
// sets beside this package — send (SendMessageProcessor), pull
// (PullMessageProcessor and its hold service), client (ClientManage- and
// ConsumerManageProcessor), admin (AdminBrokerProcessor), namesrv (the name
// server's DefaultRequestProcessor) — as functions over *Request that know
// nothing of protoactor, so each is tested with a fake request
// (handlertest). A Processor here is the queue and the actor that runs a
// handler set's functions; which codes share a queue is the supervisor's
// layout.
//
// The path of a request (RocketMQ's NettyRemotingAbstract#processRequestCommand):
//
//	socket ──decoder goroutine──▶ connection actor ──PostAndRun──▶ processor mailbox ──▶ processor actor
//	                                   │ idle send processor: its turn runs on the decoder  │
//	                                   │ no route: REQUEST_CODE_NOT_SUPPORTED               │
//	                                   │ reject check: REJECTREQUEST                        │ Request.Reply, from
//	socket ◀──batching writer── Conn ◀─┘ mailbox full: OVERLOAD                             ▼ any goroutine
//	                              ◀───────────────── Conn.Send ◀─── processor, writer or group commit
//
// Where the actor model costs more than it gives, twice. A send that finds
// the send processor idle (and the writer with a free slot) is handled on
// the decoder goroutine that queued it: Mailbox.PostAndRun takes the
// processor's turn there, for that one request, instead of waking the
// processor's goroutine to take it — the hand-off cost more than the
// handling at waiting producers, where the processor mostly sits idle.
// It is the same turn under the same mailbox status, so turns never
// overlap and the queue, its bound and the sweep are unchanged; a busy
// processor, or one slowed by SetDelay, is left to its own goroutine
// (Processor.RunOnArrival). And an answer is written by
// whoever has it ready — the processor, the writer after an append, the
// group-commit service after a sync — straight into the connection's
// batching writer (remoting.Conn.Send is safe from any goroutine and never
// blocks); it used to travel back through the connection actor, whose turn
// only decremented a counter: a goroutine hand-off and an allocation per
// request for nothing. The connection actor stays for what an actor is
// good at — routing, lifecycle, supervision and inspection (the tree) —
// and is off the answer path. For the same reason the writer runs on a
// pinned goroutine rather than protoactor's per-turn one, and a send's
// answer is built on the writer's goroutine, not in a further actor.
//
// The connection actor never blocks: a full mailbox is answered at once,
// and a send run on arrival does not wait for the writer (it runs only
// while the writer has a free slot).
// The one wait is opt-in backpressure (Processor.Backpressure,
// backpressure.go): after queuing into a processor above its high mark the
// decoder goroutine holds its socket unread, between frames and for at
// most the queue's wait limit, instead of letting the overflow be answered
// OVERLOAD.
// Each request carries its arrival time, and whoever removes it from a
// mailbox — the processor, or the supervisor's fast-failure sweep through
// Mailbox.TakeHeadIf — is the only one that answers it; Request.Reply also
// refuses a second answer.
//
// Parallelism. A processor actor runs one request at a time, like a
// RocketMQ executor with one thread. Requests of one connection still run
// concurrently because they go to different processors, and processors
// whose work waits on something else do not wait in Receive: a held pull is
// parked and answered when a message arrives, and a send is encoded on the
// send processor's goroutine (outside the writer's critical section) and
// then handed to the single writer actor, which drains many queued appends
// per turn and answers each. The send processor bounds how many appends it
// has handed to the writer and not yet seen accepted, so a stalled writer
// leaves the backlog in the send mailbox, where the sweep can see it.
//
// This package may use remoting and commitlog; it must not import the
// handler sets, supervisor (which owns the tree's root and wires
// everything together) or cmd. supervisor/layering_test.go checks it.
package actors
