// Package transaction is RocketMQ's transactional messages as request
// logic: TransactionalMessageService and its bridge (half messages, op
// records, progress), EndTransactionProcessor (END_TRANSACTION) and the
// work of TransactionalMessageCheckService (CHECK_TRANSACTION_STATE to a
// producer of the group, re-put, discard after transactionCheckMax).
//
// # What it owns
//
// The records it writes, all through the single writer (actors.Writer):
//
//	RMQ_SYS_TRANS_HALF_TOPIC queue 0     half messages (ParseHalfMessageInner; the send path
//	                                     stores them) and the copies re-put for each check
//	RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0  one op record per decision: body = the half message's
//	                                     queue offset as text, tags "d" (RocketMQ's layout)
//	<REAL_TOPIC> <REAL_QID>               the committed message
//	TRANS_CHECK_MAX_TIME_TOPIC queue 0   half messages checked transactionCheckMax times
//
// and the progress of group CID_RMQ_SYS_TRANS on the half and op queues
// in the ConsumerOffsetManager (consumerOffset.json), as RocketMQ keeps it.
//
// # Beyond RocketMQ: a decision counts once
//
// RocketMQ treats each copy of a half message (the original and every
// copy re-put for a check) on its own, so a late END_TRANSACTION for the
// original and the answer to a check can both commit: the message is
// delivered twice. Here every copy names its original's queue offset
// (TRAN_PREPARED_QUEUE_OFFSET, the property RocketMQ uses for the same
// link on immunity copies), and the decision table (decisions.go) records
// one state per original: the first commit or rollback wins, a repeat
// changes nothing. Op records carry the original and the decision
// (SLUICE_TRAN_DECISION), so the table is rebuilt after a restart.
//
// A commit is stored before its op record (RocketMQ's order). A crash in
// between leaves a commit without its op; every op record therefore names
// the commit-log offset from which such commits may lie
// (SLUICE_TRAN_SCAN_FROM), and Recover reads the log from there, so a
// committed message is never committed again after a restart.
//
// # What it may not touch
//
// It appends only through actors.Writer (never Store.Put), reads the store
// with GetMessage and LookMessageByOffset, and answers each request exactly
// once. It imports actors, metadata, commitlog and remoting; never
// protoactor, supervisor or cmd. The actor that runs the periodic check
// (TransactionalMessageCheckService) is the supervisor's; it only calls
// Check and Housekeep here.
package transaction
