// Package pull is RocketMQ's PullMessageProcessor and
// PullRequestHoldService as request logic: PULL_MESSAGE checked in
// RocketMQ's order and with its codes, read from the store, and — when it
// finds nothing and the consumer allows suspension — parked in the hold
// service, which answers it when a message arrives for its queue or its
// suspend time runs out. One goroutine serves every held pull.
//
// It owns no actor: handlers take an *actors.Request and answer it exactly
// once. It may use actors (the request), metadata, commitlog and remoting;
// it must not import protoactor or supervisor.
package pull
