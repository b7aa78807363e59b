// Package grpcfront is the broker's second front: RocketMQ 5's gRPC
// protocol (apache.rocketmq.v2.MessagingService), served in the broker
// itself instead of by a separate proxy. Like RocketMQ's proxy it
// translates each RPC into the remoting request the proxy would send
// (SEND_MESSAGE, END_TRANSACTION ...) and submits it through
// actors.Submit, the same gate, routes, reject checks and processor
// mailboxes the remoting connections use; the processor's answer
// completes the gRPC call, and every busy answer becomes the gRPC status
// the proxy gives (TOO_MANY_REQUESTS for SYSTEM_BUSY, with the remark).
//
// It owns the gRPC server, the per-client telemetry sessions, the
// credential check of the gRPC metadata and the bounded table of half
// messages awaiting EndTransaction. It may import actors (plumbing),
// remoting, remoting/message and remoting/rmqv2; never a handler set,
// supervisor or cmd, and never protoactor.
package grpcfront
