package transaction

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// Remarks of EndTransactionProcessor (TransactionalMessageServiceImpl#
// getHalfMessageByOffset and #checkPrepareMessage), word for word.
const (
	remarkNotFound          = "Find prepared transaction message failed"
	remarkGroupWrong        = "The producer group wrong"
	remarkStateOffsetWrong  = "The transaction state table offset wrong"
	remarkCommitOffsetWrong = "The commit log offset wrong"
)

// slotWait is how long an END_TRANSACTION waits for a decision slot; the
// end-transaction queue's own limit (waitTimeMillsInTransactionQueue) is
// of the same order.
const slotWait = 3 * time.Second

// endTransaction is EndTransactionProcessor#processRequest. A commit
// stores the message in its real topic and queue, then an op record; a
// rollback only the op record. Either is taken once per original half
// message: a repeat, or the other decision after one was taken, changes
// nothing. The answer comes once the commit (or the rollback's op record)
// is stored; producers send END_TRANSACTION one-way, so it is usually not
// written at all.
func (s *Service) endTransaction(r *actors.Request) {
	h, err := remoting.DecodeEndTransactionRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	var kind state
	switch h.CommitOrRollback {
	case TransactionCommitType:
		kind = committed
	case TransactionRollbackType:
		kind = rolledBack
	case TransactionNotType:
		// Java answers nothing; here every request gets one answer (a
		// one-way one is not written). The check asks again later.
		s.stats.unknown.Add(1)
		s.log.Debug().Str("producer", r.RemoteAddr()).Bool("fromTransactionCheck", h.FromTransactionCheck).
			Int64("tranStateTableOffset", h.TranStateTableOffset).Str("remark", r.Cmd.Remark).
			Msg("the producer ended the transaction in its pending status")
		r.ReplyCode(remoting.Success, "")
		return
	default:
		r.ReplyCode(remoting.SystemError, "commitOrRollback "+strconv.Itoa(int(h.CommitOrRollback))+
			" is neither 8 (commit), 12 (rollback) nor 0 (unknown)")
		return
	}
	if !s.ready.Load() || s.stopping() {
		r.ReplyCode(remoting.ServiceNotAvailable, "broker is shutting down")
		return
	}
	half, code, remark := s.findPrepared(&h)
	if code != remoting.Success {
		s.stats.notFound.Add(1)
		s.log.Debug().Int64("commitLogOffset", h.CommitLogOffset).Int64("tranStateTableOffset", h.TranStateTableOffset).
			Str("producerGroup", h.ProducerGroup).Str("remark", remark).Msg("end transaction refused")
		r.ReplyCode(code, remark)
		return
	}
	origin := originOf(&half)
	if !s.acquire(slotWait) {
		r.ReplyCode(remoting.SystemBusy, "too many transactions being ended at once ("+strconv.Itoa(cap(s.slots))+
			" in flight); nothing changed")
		return
	}
	switch res, was := s.table.claim(origin, kind); res {
	case claimed:
	case claimDuplicate:
		<-s.slots
		s.stats.duplicates.Add(1)
		s.log.Debug().Int64("halfOffset", origin).Stringer("decision", kind).Msg("end transaction repeated; nothing changed")
		r.ReplyCode(remoting.Success, "")
		return
	default:
		<-s.slots
		var why string
		switch res {
		case claimConflict:
			s.stats.conflicts.Add(1)
			why = "was already " + was.String()
		case claimClosed:
			s.stats.refused.Add(1)
			why = "was discarded after " + strconv.Itoa(s.cfg.TransactionCheckMax) + " checks (see " + CheckMaxTimeTopic + ")"
		default:
			s.stats.refused.Add(1)
			why = "is no longer tracked: it was ended or discarded before"
		}
		remark := fmt.Sprintf("the transaction of the half message at queue offset %d %s; this %s changed nothing",
			origin, why, decisionName(kind))
		s.log.Warn().Int64("halfOffset", origin).Str("producer", r.RemoteAddr()).Str("remark", remark).Msg("end transaction refused")
		r.ReplyCode(remoting.SystemError, remark)
		return
	}
	d := s.getDecision()
	d.origin, d.copy, d.kind, d.req, d.slot, d.phys = origin, half.QueueOffset, kind, r, true, -1
	d.halfPhys, d.lb = half.PhysicalOffset, half.PhysicalOffset
	fail := func(code remoting.ResponseCode, remark string) {
		s.table.finish(origin, kind, false)
		s.release(d)
		s.putDecision(d)
		r.ReplyCode(code, remark)
	}
	// What the store would refuse, refused before anything is written
	// (SendMessageProcessor's and sendFinalMessage's answers).
	switch s.store.CheckStoreStatus() {
	case commitlog.PutOSPageCacheBusy:
		fail(remoting.SystemError, "OS page cache busy, please try another machine")
		return
	case commitlog.PutServiceNotAvailable:
		fail(remoting.ServiceNotAvailable, "Service not available now.")
		return
	}
	if kind == rolledBack {
		s.enqueueOp(d)
		return
	}
	if err := s.encodeCommit(d, &half, h.CommitLogOffset); err != nil {
		fail(remoting.MessageIllegal, illegalRemark(s.id.MaxMessageSize)+" ("+err.Error()+")")
		return
	}
	// From now until its op record is stored, op records name the half
	// message's offset as where a commit without one may lie.
	s.fl.addCommit(d)
	if !s.writer.Submit(&d.commit, s.abort) {
		s.fl.removeCommit(d)
		fail(remoting.ServiceNotAvailable, "broker is shutting down")
	}
}

func decisionName(k state) string {
	if k == committed {
		return "commit"
	}
	return "rollback"
}

func illegalRemark(limit int) string {
	return fmt.Sprintf("The message is illegal, maybe msg body or properties length not matched. msg body length limit %dB, msg properties length limit 32KB.", limit)
}

// findPrepared is getHalfMessageByOffset and checkPrepareMessage: the half
// message the header names, as RocketMQ checks it (and, beyond it, that the
// record found is a half message at all).
func (s *Service) findPrepared(h *remoting.EndTransactionRequestHeader) (commitlog.StoredMessage, remoting.ResponseCode, string) {
	rec, err := s.store.LookMessageByOffset(h.CommitLogOffset)
	if err != nil {
		return commitlog.StoredMessage{}, remoting.SystemError, remarkNotFound
	}
	m, err := commitlog.DecodeRecord(rec)
	if err != nil || m.Topic != HalfTopic {
		return commitlog.StoredMessage{}, remoting.SystemError, remarkNotFound
	}
	if pg, ok := message.Lookup(m.Properties, message.PropertyProducerGroup); !ok || pg != h.ProducerGroup {
		return m, remoting.SystemError, remarkGroupWrong
	}
	if m.QueueOffset != h.TranStateTableOffset {
		return m, remoting.SystemError, remarkStateOffsetWrong
	}
	if m.PhysicalOffset != h.CommitLogOffset {
		return m, remoting.SystemError, remarkCommitOffsetWrong
	}
	return m, remoting.Success, ""
}

// errNoRealTopic is a half message that does not say where it goes.
var errNoRealTopic = errors.New("half message without " + message.PropertyRealTopic + "/" + message.PropertyRealQueueID)

// encodeCommit is EndTransactionProcessor#endMessageTransaction: the
// half message back in its real topic and queue, sysFlag COMMIT, its
// prepared-transaction offset the half message's commit-log offset.
// RocketMQ means to drop REAL_TOPIC, REAL_QID and TRAN_MSG but clears them
// after building the stored properties, so its commits keep them; here
// they go, with the copy link (TRAN_PREPARED_QUEUE_OFFSET).
func (s *Service) encodeCommit(d *decision, half *commitlog.StoredMessage, commitLogOffset int64) error {
	topic, ok := message.Lookup(half.Properties, message.PropertyRealTopic)
	qidText, ok2 := message.Lookup(half.Properties, message.PropertyRealQueueID)
	qid, err := strconv.Atoi(qidText)
	if !ok || !ok2 || err != nil || qid < 0 {
		return errNoRealTopic
	}
	d.props = appendPropertiesWithout(d.props[:0], half.Properties,
		message.PropertyRealTopic, message.PropertyRealQueueID, message.PropertyTransactionPrepared,
		message.PropertyTransactionPreparedQOffset)
	m := commitlog.Message{
		Topic:                     topic,
		QueueID:                   int32(qid),
		Flag:                      half.Flag,
		SysFlag:                   ResetTransactionValue(half.SysFlag, TransactionCommitType),
		BornTimestamp:             half.BornTimestamp,
		BornHost:                  half.BornHost,
		StoreHost:                 half.StoreHost,
		ReconsumeTimes:            half.ReconsumeTimes,
		PreparedTransactionOffset: commitLogOffset,
		Body:                      half.Body,
		Properties:                unsafeString(d.props),
	}
	if d.buf, err = commitlog.AppendRecordLimit(d.buf[:0], &m, s.id.MaxMessageSize); err != nil {
		return err
	}
	d.commit.Put = commitlog.PutRequest{Topic: topic, QueueID: int32(qid), Records: d.buf, Count: 1}
	return nil
}

// appendPropertiesWithout appends props, less the items named, to dst.
func appendPropertiesWithout(dst []byte, props string, drop ...string) []byte {
	message.Each(props, func(k, v string) {
		for _, n := range drop {
			if k == n {
				return
			}
		}
		dst = message.Append(dst, k, v)
	})
	return dst
}

// commitDone runs where the append's Done runs (actors.AppendJob) once the
// commit is stored (or not): the producer's answer, then the op record.
func (d *decision) commitDone(*actors.AppendJob) {
	s, req, res := d.s, d.req, d.commit.Put.Result
	if res.Status.Stored() {
		d.phys = res.WroteOffset
		s.table.finish(d.origin, committed, true)
		s.stats.committed.Add(1)
		d.req = nil
		s.enqueueOp(d)
		if req != nil {
			req.ReplyCode(remoting.Success, "")
		}
		return
	}
	s.stats.commitFailures.Add(1)
	s.fl.removeCommit(d)
	s.table.finish(d.origin, committed, false)
	s.release(d)
	s.putDecision(d)
	code, remark := finalMessageFailure(res, s.id.MaxMessageSize)
	s.log.Warn().Stringer("status", res.Status).Int64("halfOffset", d.origin).Str("remark", remark).
		Msg("commit of a transactional message not stored; the check will ask its producer again")
	if req != nil {
		req.ReplyCode(code, remark)
	}
}

// finalMessageFailure is sendFinalMessage's answer to a failed put.
func finalMessageFailure(res commitlog.PutResult, maxSize int) (remoting.ResponseCode, string) {
	switch res.Status {
	case commitlog.PutCreateMappedFileFailed:
		return remoting.SystemError, "Create mapped file failed."
	case commitlog.PutMessageIllegal:
		return remoting.MessageIllegal, illegalRemark(maxSize)
	case commitlog.PutServiceNotAvailable:
		return remoting.ServiceNotAvailable, "Service not available now."
	case commitlog.PutOSPageCacheBusy:
		return remoting.SystemError, "OS page cache busy, please try another machine"
	case commitlog.PutUnknownError:
		if res.Err != nil {
			return remoting.SystemError, "UNKNOWN_ERROR: " + res.Err.Error()
		}
		return remoting.SystemError, "UNKNOWN_ERROR"
	}
	return remoting.SystemError, "UNKNOWN_ERROR DEFAULT"
}
