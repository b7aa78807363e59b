// Package client is RocketMQ's ClientManageProcessor and
// ConsumerManageProcessor as request logic — heartbeats, unregistration,
// the consumer list of a group, consumer offsets — and its
// ClientHousekeepingService, which drops clients that went silent.
//
// It owns no actor: handlers take an *actors.Request and answer it exactly
// once. It may use actors (the request, its connection), metadata,
// commitlog and remoting; it must not import protoactor or supervisor.
package client
