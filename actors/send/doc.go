// Package send is RocketMQ's SendMessageProcessor as request logic:
// SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE and
// CONSUMER_SEND_MSG_BACK. It checks a send (topic, permission, queue),
// encodes its records into the store's layout on the send processor's
// goroutine — outside the writer's critical section — re-checks the page
// cache (PC_SYNCHRONIZED) and hands the records to the writer, whose
// callback answers the producer.
//
// It owns no actor: handlers take an *actors.Request and answer it exactly
// once, now or from the writer's callback. It may use actors (the request,
// the writer's job), metadata, commitlog and remoting; it must not import
// protoactor or supervisor.
package send
