// Package query is RocketMQ's QueryMessageProcessor as request logic —
// QUERY_MESSAGE (by key or unique key in a time range, over the message
// index) and VIEW_MESSAGE_BY_ID (one record by commit-log offset, the
// offset an offset msgId carries) — with GET_EARLIEST_MSG_STORETIME, which
// RocketMQ serves in AdminBrokerProcessor and tools use beside them.
//
// It owns no actor and no state: handlers take an *actors.Request and
// answer it exactly once from the store (commitlog.Store#QueryMessage,
// LookMessageByOffset, EarliestMessageTime). It may use actors, commitlog
// and remoting; it must not import protoactor, supervisor or cmd.
package query
