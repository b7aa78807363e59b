package transaction

import (
	"strconv"
	"strings"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting/message"
)

// Topics, group and tag of RocketMQ's transactional message store
// (TopicValidator, MixAll.CID_SYS_RMQ_TRANS, TransactionalMessageUtil).
const (
	HalfTopic         = metadata.RMQSysTransHalfTopic
	OpTopic           = metadata.RMQSysTransOpHalfTopic
	CheckMaxTimeTopic = metadata.RMQSysTransCheckMaxTimeTopic
	// ConsumerGroup is MixAll.CID_SYS_RMQ_TRANS, whose value is this.
	ConsumerGroup = "CID_RMQ_SYS_TRANS"
	// RemoveTag is TransactionalMessageUtil.REMOVETAG, the tag of op records.
	RemoveTag = "d"
)

// Sysflag transaction types (MessageSysFlag), also the values of
// END_TRANSACTION's commitOrRollback.
const (
	TransactionNotType      = 0
	TransactionPreparedType = commitlog.SysFlagTxPrepared
	TransactionCommitType   = commitlog.SysFlagTxCommit
	TransactionRollbackType = commitlog.SysFlagTxRollback
	transactionTypeMask     = commitlog.SysFlagTxRollback
)

// Properties of op records that are Sluice's own (RocketMQ's op records
// carry only TAGS; its check service ignores the rest).
const (
	// PropertyDecision is 8 (commit) or 12 (rollback): the decision the op
	// record stands for, so that a restart knows which one was taken.
	PropertyDecision = "SLUICE_TRAN_DECISION"
	// PropertyScanFrom is the commit-log offset at or after which a
	// commit may lie whose op record was not yet written when this one
	// was (see Recover).
	PropertyScanFrom = "SLUICE_TRAN_SCAN_FROM"
)

// IsTransactional reports a send whose properties ask for a half message:
// TRAN_MSG parsed as Java's Boolean.parseBoolean.
func IsTransactional(props string) bool {
	v, ok := message.Lookup(props, message.PropertyTransactionPrepared)
	return ok && strings.EqualFold(v, "true")
}

// ResetTransactionValue is MessageSysFlag#resetTransactionValue.
func ResetTransactionValue(sysFlag, typ int32) int32 {
	return sysFlag&^transactionTypeMask | typ
}

// ParseHalfMessageInner is TransactionalMessageBridge#parseHalfMessageInner:
// m, a producer's message for its real topic and queue, becomes the half
// message stored in queue 0 of RMQ_SYS_TRANS_HALF_TOPIC, with REAL_TOPIC
// and REAL_QID naming where a commit puts it and the transaction bits of
// its sysFlag reset (TRANSACTION_NOT_TYPE), so that the store indexes it
// like any message. The two properties are appended to
// m.PropertiesSuffix, built in scratch (returned for reuse: m refers to it
// until the record is encoded). A producer's own TRAN_PREPARED_QUEUE_OFFSET
// is dropped: here it links a copy to its original, and a fresh half
// message is an original.
func ParseHalfMessageInner(m *commitlog.Message, scratch []byte) []byte {
	for _, name := range [...]string{message.PropertyRealTopic, message.PropertyRealQueueID, message.PropertyTransactionPreparedQOffset} {
		if _, ok := message.Lookup(m.Properties, name); ok {
			m.Properties = message.Delete(m.Properties, name)
		}
	}
	scratch = append(scratch[:0], m.PropertiesSuffix...)
	scratch = message.Append(scratch, message.PropertyRealTopic, m.Topic)
	scratch = message.Append(scratch, message.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)))
	m.PropertiesSuffix = unsafeString(scratch)
	m.SysFlag = ResetTransactionValue(m.SysFlag, TransactionNotType)
	m.Topic = HalfTopic
	m.QueueID = 0
	return scratch
}

// originOf is the queue offset of the original of half message m: its own,
// or, for a copy, the one its TRAN_PREPARED_QUEUE_OFFSET names (always
// earlier in the queue; anything else is not trusted).
func originOf(m *commitlog.StoredMessage) int64 {
	if v, ok := message.Lookup(m.Properties, message.PropertyTransactionPreparedQOffset); ok {
		if o, err := strconv.ParseInt(v, 10, 64); err == nil && o >= 0 && o < m.QueueOffset {
			return o
		}
	}
	return m.QueueOffset
}

// transactionID is the id a producer knows its transaction by: the
// message's client id (UNIQ_KEY), as RocketMQ 5 answers it and as the
// Go client reads it.
func transactionID(props string) string {
	return message.Get(props, message.PropertyUniqClientMessageIDKeyIdx)
}
