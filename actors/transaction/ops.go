package transaction

import (
	"strconv"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// encodeOp builds d's op record (TransactionalMessageBridge#
// addRemoveTagInTransactionOp): topic RMQ_SYS_TRANS_OP_HALF_TOPIC, the half
// message's queue id (0), tags "d", the half message's queue offset as text
// for body; and Sluice's properties: the original (TRAN_PREPARED_QUEUE_OFFSET),
// the decision and the scan point. An op record that only moves the scan
// point (kind closed) has body "-1", which RocketMQ's check skips as
// already done.
func (s *Service) encodeOp(d *decision) error {
	w, ok := s.fl.scanFrom()
	if !ok {
		// Nothing in flight: a commit stored from now on lands after the
		// last op record and after the half message this one quotes. Both
		// are record boundaries, which Recover needs to read from.
		w = max(s.lastOpPhys.Load(), d.halfPhys)
	}
	d.lbScan = w
	var num [20]byte
	body := strconv.AppendInt(num[:0], d.copy, 10)
	p := message.Append(d.props[:0], message.PropertyTags, RemoveTag)
	if d.kind != closed {
		p = message.Append(p, message.PropertyTransactionPreparedQOffset, strconv.FormatInt(d.origin, 10))
		typ := TransactionCommitType
		if d.kind == rolledBack {
			typ = TransactionRollbackType
		}
		p = message.Append(p, PropertyDecision, strconv.Itoa(int(typ)))
	}
	p = message.Append(p, PropertyScanFrom, strconv.FormatInt(w, 10))
	d.props = p
	m := commitlog.Message{
		Topic:         OpTopic,
		QueueID:       0,
		BornTimestamp: time.Now().UnixMilli(),
		BornHost:      s.id.StoreHost,
		StoreHost:     s.id.StoreHost,
		Body:          body,
		Properties:    unsafeString(p),
	}
	var err error
	d.opBuf, err = commitlog.AppendRecordLimit(d.opBuf[:0], &m, s.id.MaxMessageSize)
	if err != nil {
		return err
	}
	d.op.Put = commitlog.PutRequest{Topic: OpTopic, QueueID: 0, Records: d.opBuf, Count: 1}
	return nil
}

// opDone runs where the append's Done runs (actors.AppendJob: the
// writer's goroutine, or the group-commit one under SYNC_FLUSH) once d's op
// record is stored (or not). A rollback is answered here.
func (d *decision) opDone(*actors.AppendJob) {
	s, res := d.s, d.op.Put.Result
	if !res.Status.Stored() {
		s.stats.opFailures.Add(1)
		d.failOp("op record not stored: " + res.Status.String())
		return
	}
	s.lastScan.Store(d.lbScan)
	if res.WroteOffset > s.lastOpPhys.Load() {
		s.lastOpPhys.Store(res.WroteOffset) // only the op writer's results get here, in order
	}
	switch d.kind {
	case committed:
		s.fl.removeCommit(d)
	case rolledBack:
		s.table.finish(d.origin, rolledBack, true)
		s.stats.rolledBack.Add(1)
	}
	req := d.req
	s.release(d)
	s.putDecision(d)
	if req != nil {
		req.ReplyCode(remoting.Success, "")
	}
}

// failOp handles an op record that could not be stored. A rollback is
// undone (the check will ask again) and answered; a commit is already
// stored, so its op record is kept for Housekeep to retry, and holds the
// scan point back until then: a restart meanwhile finds the commit by it.
func (d *decision) failOp(reason string) {
	s := d.s
	switch d.kind {
	case committed:
		s.log.Error().Int64("halfOffset", d.copy).Str("reason", reason).
			Msg("op record of a committed transaction not stored; retried at the next check tick")
		s.fl.mu.Lock()
		s.fl.redo = append(s.fl.redo, d)
		s.fl.mu.Unlock()
		return
	case rolledBack:
		s.table.finish(d.origin, rolledBack, false)
	}
	req := d.req
	s.release(d)
	s.putDecision(d)
	if req != nil {
		req.ReplyCode(remoting.SystemError, "rollback not stored: "+reason)
	}
}

// Housekeep is the check actor's frequent tick: it retries op records that
// failed and, when no decision is in flight and the log has grown far past
// the last op record's scan point, writes one that moves it, so that
// Recover never has far to read.
func (s *Service) Housekeep() {
	if !s.ready.Load() || s.stopping() {
		return
	}
	s.fl.mu.Lock()
	redo := s.fl.redo
	s.fl.redo = nil
	s.fl.mu.Unlock()
	for _, d := range redo {
		s.enqueueOp(d)
	}
	last := s.lastScan.Load()
	if last < 0 || s.lastOpPhys.Load() < 0 || s.fl.inFlight() > 0 || s.store.MaxPhyOffset()-last < watermarkLag {
		return
	}
	select {
	case s.slots <- struct{}{}:
	default:
		return
	}
	d := s.getDecision()
	d.origin, d.copy, d.kind, d.slot, d.phys, d.halfPhys = -1, -1, closed, true, -1, -1
	// One at a time: the next waits for the log to grow again. Each moves
	// the scan point to the op record before it.
	s.lastScan.Store(s.store.MaxPhyOffset())
	s.enqueueOp(d)
}
