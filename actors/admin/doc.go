// Package admin is RocketMQ's AdminBrokerProcessor as request logic:
// offsets by queue and by time, queue locks for orderly consumers, topic
// and subscription-group administration (Handlers), and what concerns the
// broker as a whole — GET_BROKER_RUNTIME_INFO, Sluice's actor-tree query
// and run-time fault injection (BrokerHandlers).
//
// It owns no actor: handlers take an *actors.Request and answer it exactly
// once. It may use actors (the request, processors' queues and counters),
// metadata, commitlog and remoting; it must not import protoactor or
// supervisor.
package admin
