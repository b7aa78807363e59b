// Package pop is RocketMQ 5's pop consumption as request logic:
// POP_MESSAGE (PopMessageProcessor), ACK_MESSAGE (AckMessageProcessor),
// CHANGE_MESSAGE_INVISIBLETIME (ChangeInvisibleTimeProcessor) and the
// revive of checkpoints whose invisible time ran out (PopReviveService):
// the un-acked messages are put into the group's pop retry topic
// (%RETRY%<group>_<topic>) with reconsumeTimes+1, or into %DLQ%<group> past
// the group's retryMaxTimes.
//
// It owns the checkpoint table and its journal (<storePathRootDir>/pop/
// checkpoint.log), its long-polling holds and its revive goroutine. It may
// use actors (requests, the writer), metadata, commitlog and remoting; it
// must not import protoactor or supervisor.
package pop
