package transaction

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// A half message as parseHalfMessageInner leaves it: half topic, queue 0,
// REAL_TOPIC and REAL_QID, the transaction bits of sysFlag cleared.
func TestParseHalfMessageInner(t *testing.T) {
	props := string(message.Append(message.Append(nil, message.PropertyTransactionPrepared, "true"),
		message.PropertyTransactionPreparedQOffset, "7"))
	m := commitlog.Message{Topic: "T", QueueID: 3, SysFlag: TransactionPreparedType | commitlog.SysFlagMultiTags,
		Properties: props, PropertiesSuffix: "CLUSTER\x01c\x02"}
	ParseHalfMessageInner(&m, nil)
	if m.Topic != HalfTopic || m.QueueID != 0 || m.SysFlag != commitlog.SysFlagMultiTags {
		t.Fatalf("half message: %s %d sysFlag %d", m.Topic, m.QueueID, m.SysFlag)
	}
	all := m.Properties + m.PropertiesSuffix
	if message.Get(all, message.PropertyRealTopic) != "T" || message.Get(all, message.PropertyRealQueueID) != "3" ||
		message.Get(all, "CLUSTER") != "c" || message.Get(all, message.PropertyTransactionPrepared) != "true" {
		t.Fatalf("properties %q", all)
	}
	if _, ok := message.Lookup(all, message.PropertyTransactionPreparedQOffset); ok {
		t.Fatalf("a producer's TRAN_PREPARED_QUEUE_OFFSET kept: %q", all)
	}
}

// A commit stores the message in its real topic and queue once, with an op
// record in RocketMQ's layout; repeating it, or rolling back afterwards,
// changes nothing.
func TestEndTransactionCommitsOnce(t *testing.T) {
	r := newRig(t, testConfig())
	h := r.storeHalf("TxTopic", 2, "b1", "pg")
	if resp := r.endTx(h, "pg", TransactionCommitType, false); resp.ResponseCode() != remoting.Success {
		t.Fatalf("commit: %s %q", resp.ResponseCode(), resp.Remark)
	}
	r.waitCount("TxTopic", 2, 1)
	r.waitCount(OpTopic, 0, 1)
	c := r.messages("TxTopic", 2)[0]
	if string(c.Body) != "b1" || c.SysFlag&transactionTypeMask != TransactionCommitType || c.PreparedTransactionOffset != h.phys {
		t.Fatalf("commit: body %q sysFlag %d preparedTransactionOffset %d (half at %d)", c.Body, c.SysFlag, c.PreparedTransactionOffset, h.phys)
	}
	for _, gone := range []string{message.PropertyRealTopic, message.PropertyRealQueueID, message.PropertyTransactionPrepared} {
		if _, ok := message.Lookup(c.Properties, gone); ok {
			t.Errorf("commit keeps %s: %q", gone, c.Properties)
		}
	}
	if message.Get(c.Properties, message.PropertyTags) != "TagA" || message.Get(c.Properties, message.PropertyUniqClientMessageIDKeyIdx) != h.uniq {
		t.Errorf("commit lost properties: %q", c.Properties)
	}
	op := r.messages(OpTopic, 0)[0]
	if string(op.Body) != strconv.FormatInt(h.offset, 10) || message.Get(op.Properties, message.PropertyTags) != RemoveTag ||
		message.Get(op.Properties, PropertyDecision) != "8" {
		t.Fatalf("op record: body %q properties %q", op.Body, op.Properties)
	}

	if resp := r.endTx(h, "pg", TransactionCommitType, true); resp.ResponseCode() != remoting.Success {
		t.Fatalf("repeated commit: %s %q", resp.ResponseCode(), resp.Remark)
	}
	resp := r.endTx(h, "pg", TransactionRollbackType, true)
	if resp.ResponseCode() != remoting.SystemError || !strings.Contains(resp.Remark, "already committed") {
		t.Fatalf("rollback after commit: %s %q", resp.ResponseCode(), resp.Remark)
	}
	// Nothing more is stored: a message sent after is the next one in
	// each queue.
	r.put(&commitlog.Message{Topic: "TxTopic", QueueID: 2, Body: []byte("marker"), BornHost: r.env.ID.StoreHost, StoreHost: r.env.ID.StoreHost})
	r.waitCount("TxTopic", 2, 2)
	if got := string(r.messages("TxTopic", 2)[1].Body); got != "marker" {
		t.Fatalf("second message in the real queue is %q", got)
	}
	r.waitCount(OpTopic, 0, 1)
	if n := r.env.Store.MaxOffsetInQueue(OpTopic, 0); n != 1 {
		t.Fatalf("%d op records", n)
	}
	if r.svc.stats.duplicates.Load() != 1 || r.svc.stats.conflicts.Load() != 1 {
		t.Fatalf("duplicates %d conflicts %d", r.svc.stats.duplicates.Load(), r.svc.stats.conflicts.Load())
	}
}

// A rollback writes only the op record; the message never appears.
func TestEndTransactionRollback(t *testing.T) {
	r := newRig(t, testConfig())
	h := r.storeHalf("TxTopic", 0, "b1", "pg")
	if resp := r.endTx(h, "pg", TransactionRollbackType, false); resp.ResponseCode() != remoting.Success {
		t.Fatalf("rollback: %s %q", resp.ResponseCode(), resp.Remark)
	}
	r.waitCount(OpTopic, 0, 1)
	if resp := r.endTx(h, "pg", TransactionCommitType, true); resp.ResponseCode() != remoting.SystemError ||
		!strings.Contains(resp.Remark, "already rolled back") {
		t.Fatalf("commit after rollback: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if n := r.env.Store.MaxOffsetInQueue("TxTopic", 0); n != 0 {
		t.Fatalf("%d messages in the real topic after a rollback", n)
	}
	if st, _ := r.svc.table.get(h.offset); st != rolledBack {
		t.Fatalf("state %s", st)
	}
}

// EndTransactionProcessor's checks, with its remarks; an unknown state
// (0) is taken and changes nothing.
func TestEndTransactionRefusals(t *testing.T) {
	r := newRig(t, testConfig())
	h := r.storeHalf("TxTopic", 0, "b1", "pg")
	plain := r.put(&commitlog.Message{Topic: "TxTopic", QueueID: 1, Body: []byte("plain"), BornHost: r.env.ID.StoreHost, StoreHost: r.env.ID.StoreHost,
		Properties: string(message.Append(nil, message.PropertyProducerGroup, "pg"))})
	for _, tc := range []struct {
		name   string
		h      half
		group  string
		remark string
	}{
		{"unknown offset", half{offset: h.offset, phys: 1 << 40}, "pg", remarkNotFound},
		{"not a half message", half{offset: 0, phys: plain.WroteOffset}, "pg", remarkNotFound},
		{"another group", h, "other", remarkGroupWrong},
		{"another queue offset", half{offset: h.offset + 5, phys: h.phys, uniq: h.uniq}, "pg", remarkStateOffsetWrong},
	} {
		resp := r.endTx(tc.h, tc.group, TransactionCommitType, false)
		if resp.ResponseCode() != remoting.SystemError || resp.Remark != tc.remark {
			t.Errorf("%s: %s %q, want SYSTEM_ERROR %q", tc.name, resp.ResponseCode(), resp.Remark, tc.remark)
		}
	}
	if resp := r.endTx(h, "pg", TransactionNotType, false); resp.ResponseCode() != remoting.Success {
		t.Fatalf("unknown state: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if resp := r.endTx(h, "pg", 5, false); resp.ResponseCode() != remoting.SystemError {
		t.Fatalf("commitOrRollback 5: %s", resp.ResponseCode())
	}
	resp := r.endTx(h, "pg", TransactionCommitType, false)
	if resp.ResponseCode() != remoting.Success {
		t.Fatalf("the half message is still there to commit: %s %q", resp.ResponseCode(), resp.Remark)
	}
	r.waitCount("TxTopic", 0, 1)
}

// The check re-puts an undecided half message with TRANSACTION_CHECK_TIMES
// raised and asks a producer of its group about the copy; an answer quoting
// the copy commits, a late answer quoting the original is a duplicate.
func TestCheckThenCommitByCopy(t *testing.T) {
	r := newRig(t, testConfig())
	p := &producer{id: "conn-1"}
	r.env.Meta.Producers.Register(p, "client-1", "GO", 409, "pg")
	h := r.storeHalf("TxTopic", 1, "b1", "pg")
	r.checkNow()
	if p.count() != 1 {
		t.Fatalf("%d checks sent", p.count())
	}
	cmd := p.last()
	hdr, err := remoting.DecodeCheckTransactionStateRequestHeader(cmd)
	if err != nil || !cmd.IsOneway() || cmd.RequestCode() != remoting.CheckTransactionState {
		t.Fatalf("check: %v %v oneway %v", cmd.RequestCode(), err, cmd.IsOneway())
	}
	if hdr.TranStateTableOffset != h.offset+1 || hdr.MsgID != h.uniq || hdr.TransactionID != h.uniq ||
		hdr.OffsetMsgID != message.OffsetMsgID(r.env.ID.StoreHost, hdr.CommitLogOffset) {
		t.Fatalf("check header %+v (half at %d)", hdr, h.offset)
	}
	body, err := commitlog.DecodeRecord(cmd.Body)
	if err != nil || body.Topic != "TxTopic" || body.QueueID != 1 || body.QueueOffset != hdr.TranStateTableOffset ||
		body.PhysicalOffset != hdr.CommitLogOffset || string(body.Body) != "b1" ||
		message.Get(body.Properties, message.PropertyTransactionCheckTimes) != "1" {
		t.Fatalf("check body: %+v %v", body, err)
	}
	if r.svc.halfBase.Load() != h.offset+1 {
		t.Fatalf("half progress %d", r.svc.halfBase.Load())
	}
	if off, ok := r.env.Meta.Offsets.QueryOffset(ConsumerGroup, HalfTopic, 0); !ok || off != h.offset+1 {
		t.Fatalf("committed half progress %d %v", off, ok)
	}
	copyHalf := half{offset: hdr.TranStateTableOffset, phys: hdr.CommitLogOffset, uniq: h.uniq}
	if resp := r.endTx(copyHalf, "pg", TransactionCommitType, true); resp.ResponseCode() != remoting.Success {
		t.Fatalf("commit by the copy: %s %q", resp.ResponseCode(), resp.Remark)
	}
	if resp := r.endTx(h, "pg", TransactionCommitType, false); resp.ResponseCode() != remoting.Success {
		t.Fatalf("late commit by the original: %s %q", resp.ResponseCode(), resp.Remark)
	}
	r.waitCount("TxTopic", 1, 1)
	r.waitCount(OpTopic, 0, 1)
	if r.svc.stats.duplicates.Load() != 1 {
		t.Fatalf("duplicates %d", r.svc.stats.duplicates.Load())
	}
	// The next round passes the copy, decided; nothing more is checked.
	r.checkNow()
	if p.count() != 1 || r.svc.halfBase.Load() != h.offset+2 {
		t.Fatalf("after the decision: %d checks, progress %d", p.count(), r.svc.halfBase.Load())
	}
	poll.Until(t, "op progress", func() bool {
		off, _ := r.env.Meta.Offsets.QueryOffset(ConsumerGroup, OpTopic, 0)
		return off == 1
	})
	if n := r.svc.table.pending(r.env.Store.MaxOffsetInQueue(HalfTopic, 0)); n != 0 {
		t.Fatalf("%d pending", n)
	}
}

// After transactionCheckMax checks without a decision the half message goes
// to TRANS_CHECK_MAX_TIME_TOPIC, and a decision after that is refused.
func TestCheckMaxDiscards(t *testing.T) {
	cfg := testConfig()
	cfg.TransactionCheckMax = 2
	r := newRig(t, cfg)
	p := &producer{id: "conn-1"}
	r.env.Meta.Producers.Register(p, "client-1", "GO", 409, "pg")
	h := r.storeHalf("TxTopic", 0, "b1", "pg")
	for round := 1; round <= 3; round++ {
		r.checkNow()
	}
	if p.count() != 2 {
		t.Fatalf("%d checks sent, want transactionCheckMax 2", p.count())
	}
	r.waitCount(CheckMaxTimeTopic, 0, 1)
	d := r.messages(CheckMaxTimeTopic, 0)[0]
	if string(d.Body) != "b1" || message.Get(d.Properties, message.PropertyRealTopic) != "TxTopic" ||
		message.Get(d.Properties, message.PropertyTransactionCheckTimes) != "2" {
		t.Fatalf("discarded: %q %q", d.Body, d.Properties)
	}
	if _, ok := r.env.Meta.Topics.Select(CheckMaxTimeTopic); !ok {
		t.Fatal(CheckMaxTimeTopic + " not created")
	}
	resp := r.endTx(h, "pg", TransactionCommitType, true)
	if resp.ResponseCode() != remoting.SystemError || !strings.Contains(resp.Remark, "discarded") {
		t.Fatalf("commit after the discard: %s %q", resp.ResponseCode(), resp.Remark)
	}
	r.checkNow()
	if p.count() != 2 || r.svc.stats.discarded.Load() != 1 {
		t.Fatalf("after the discard: %d checks, %d discarded", p.count(), r.svc.stats.discarded.Load())
	}
	if n := r.env.Store.MaxOffsetInQueue("TxTopic", 0); n != 0 {
		t.Fatalf("%d committed", n)
	}
}

// The producer heard from last is asked first; when its connection is
// gone, another producer of the group is. With none, the check is counted
// unsent and the next round asks again.
func TestCheckGoesToAnotherProducer(t *testing.T) {
	r := newRig(t, testConfig())
	a, b := &producer{id: "conn-1"}, &producer{id: "conn-2"}
	r.env.Meta.Producers.Register(a, "client-1", "GO", 409, "pg")
	r.env.Meta.Producers.Register(b, "client-2", "GO", 409, "pg")
	first, other := a, b
	if ch, _ := r.env.Meta.Producers.AvailableChannel("pg"); ch.ID() == b.id {
		first, other = b, a
	}
	r.storeHalf("TxTopic", 0, "b1", "pg")
	first.close()
	r.checkNow()
	if other.count() != 1 || first.count() != 0 {
		t.Fatalf("checks: first choice %d, the other %d", first.count(), other.count())
	}
	other.close()
	r.checkNow()
	if r.svc.stats.checksUnsent.Load() != 1 || len(r.svc.noProducerGroups()) != 1 {
		t.Fatalf("unsent %d, groups %v", r.svc.stats.checksUnsent.Load(), r.svc.noProducerGroups())
	}
}

// A half message younger than transactionTimeOut is not checked, and stops
// the round (RocketMQ's "new arrived").
func TestCheckWaitsForTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.TransactionTimeOut = time.Hour
	r := newRig(t, cfg)
	p := &producer{id: "conn-1"}
	r.env.Meta.Producers.Register(p, "client-1", "GO", 409, "pg")
	r.storeHalf("TxTopic", 0, "b1", "pg")
	r.checkNow()
	if p.count() != 0 || r.svc.halfBase.Load() != 0 {
		t.Fatalf("young message checked: %d, progress %d", p.count(), r.svc.halfBase.Load())
	}
}

// CHECK_IMMUNITY_TIME_IN_SECONDS overrides transactionTimeOut: within it
// the half message is re-put without a check (RocketMQ's
// putImmunityMsgBackToHalfQueue), so it does not hold the round up, and a
// decision quoting the original still counts.
func TestCheckImmunity(t *testing.T) {
	r := newRig(t, testConfig())
	p := &producer{id: "conn-1"}
	r.env.Meta.Producers.Register(p, "client-1", "GO", 409, "pg")
	h := r.storeHalf("TxTopic", 0, "b1", "pg", message.PropertyCheckImmunityTimeInSeconds, "3600")
	later := r.storeHalf("TxTopic", 0, "b2", "pg")
	r.checkNow()
	if p.count() != 1 || r.svc.stats.immunityPuts.Load() != 1 {
		t.Fatalf("%d checks (want the second message only), %d immunity copies", p.count(), r.svc.stats.immunityPuts.Load())
	}
	if hdr, _ := remoting.DecodeCheckTransactionStateRequestHeader(p.last()); hdr.MsgID != later.uniq {
		t.Fatalf("checked %q", hdr.MsgID)
	}
	if n := r.svc.table.pending(r.env.Store.MaxOffsetInQueue(HalfTopic, 0)); n != 2 {
		t.Fatalf("%d pending, want both originals", n)
	}
	if resp := r.endTx(h, "pg", TransactionCommitType, false); resp.ResponseCode() != remoting.Success {
		t.Fatalf("commit by the original: %s %q", resp.ResponseCode(), resp.Remark)
	}
	r.waitCount("TxTopic", 0, 1)
	r.checkNow()
	if r.svc.stats.immunityPuts.Load() != 1 {
		t.Fatalf("a decided message was re-put again")
	}
}

// After a restart the decisions are known from the op records, and a commit
// stored without its op record (the broker died in between) is found in
// the commit log: it is neither committed again nor checked, and its op
// record is written.
func TestRecoverDecisionsAndCommitWithoutOp(t *testing.T) {
	r := newRig(t, testConfig())
	p := &producer{id: "conn-1"}
	r.env.Meta.Producers.Register(p, "client-1", "GO", 409, "pg")
	committedHalf := r.storeHalf("TxTopic", 0, "committed", "pg")
	rolledHalf := r.storeHalf("TxTopic", 0, "rolled", "pg")
	orphan := r.storeHalf("TxTopic", 0, "orphan", "pg")
	open := r.storeHalf("TxTopic", 0, "undecided", "pg")
	if resp := r.endTx(committedHalf, "pg", TransactionCommitType, false); resp.ResponseCode() != remoting.Success {
		t.Fatal(resp.Remark)
	}
	if resp := r.endTx(rolledHalf, "pg", TransactionRollbackType, false); resp.ResponseCode() != remoting.Success {
		t.Fatal(resp.Remark)
	}
	r.waitCount(OpTopic, 0, 2)
	// The commit of "orphan" as EndTransactionProcessor stores it, but no op
	// record: what a kill between the two leaves.
	rec, err := r.env.Store.LookMessageByOffset(orphan.phys)
	if err != nil {
		t.Fatal(err)
	}
	hm, _ := commitlog.DecodeRecord(rec)
	d := r.svc.getDecision()
	if err := r.svc.encodeCommit(d, &hm, orphan.phys); err != nil {
		t.Fatal(err)
	}
	m, _ := commitlog.DecodeRecord(d.buf)
	r.put(&m.Message)
	r.waitCount("TxTopic", 0, 2)

	r.restart()
	r.waitCount(OpTopic, 0, 3)
	for _, tc := range []struct {
		h    half
		want state
	}{{committedHalf, committed}, {rolledHalf, rolledBack}, {orphan, committed}, {open, undecided}} {
		if st, _ := r.svc.table.get(tc.h.offset); st != tc.want {
			t.Errorf("half at %d: %s, want %s", tc.h.offset, st, tc.want)
		}
	}
	if resp := r.endTx(orphan, "pg", TransactionCommitType, true); resp.ResponseCode() != remoting.Success {
		t.Fatal(resp.Remark)
	}
	r.checkNow()
	if p.count() != 1 {
		t.Fatalf("%d checks, want one (the undecided message)", p.count())
	}
	if hdr, _ := remoting.DecodeCheckTransactionStateRequestHeader(p.last()); hdr.MsgID != open.uniq {
		t.Fatalf("checked %q", hdr.MsgID)
	}
	if n := r.env.Store.MaxOffsetInQueue("TxTopic", 0); n != 2 {
		t.Fatalf("%d messages in the real topic, want committed and orphan once each", n)
	}
	if r.svc.stats.duplicates.Load() != 1 {
		t.Fatalf("duplicates %d", r.svc.stats.duplicates.Load())
	}

	// Another restart: the copy checked above keeps its original tracked,
	// and an answer quoting the copy commits it.
	hdr, _ := remoting.DecodeCheckTransactionStateRequestHeader(p.last())
	r.restart()
	if resp := r.endTx(half{offset: hdr.TranStateTableOffset, phys: hdr.CommitLogOffset, uniq: open.uniq}, "pg", TransactionCommitType, true); resp.ResponseCode() != remoting.Success {
		t.Fatalf("commit by the copy after a restart: %s %q", resp.ResponseCode(), resp.Remark)
	}
	r.waitCount("TxTopic", 0, 3)
	if resp := r.endTx(open, "pg", TransactionCommitType, false); resp.ResponseCode() != remoting.Success {
		t.Fatal(resp.Remark)
	}
	if r.svc.stats.duplicates.Load() != 1 {
		t.Fatalf("the late commit by the original was not a duplicate")
	}
}

// The table: claims, the floor and its window, pending counts.
func TestDecisionTable(t *testing.T) {
	var tb table
	tb.init(10)
	if res, _ := tb.claim(5, committed); res != claimUntracked {
		t.Fatalf("below the floor: %v", res)
	}
	if res, _ := tb.claim(12, committed); res != claimed {
		t.Fatal(res)
	}
	if res, _ := tb.claim(12, committed); res != claimDuplicate {
		t.Fatalf("in flight, same: %v", res)
	}
	if res, was := tb.claim(12, rolledBack); res != claimConflict || was != committed {
		t.Fatalf("in flight, other: %v %v", res, was)
	}
	tb.finish(12, committed, false)
	if res, _ := tb.claim(12, rolledBack); res != claimed {
		t.Fatalf("after a failed commit: %v", res)
	}
	tb.finish(12, rolledBack, true)
	if st, _ := tb.get(12); st != rolledBack {
		t.Fatal(st)
	}
	// Offsets 10..99: 12 decided, 40 a copy of 11.
	tb.addReput(40, 11)
	if n := tb.pending(100); n != 88 {
		t.Fatalf("pending %d, want 88", n)
	}
	if f := tb.passed(30); f != 11 {
		t.Fatalf("floor %d, want 11 (kept by the copy at 40)", f)
	}
	if f := tb.passed(41); f != 41 {
		t.Fatalf("floor %d, want 41", f)
	}
	for o := int64(41); o < 41+200; o++ {
		tb.set(o, committed)
	}
	if n := tb.pending(41 + 200); n != 0 {
		t.Fatalf("pending %d", n)
	}
	// The window's bound: an offset maxTracked past the floor raises it.
	tb.set(41+maxTracked+5, committed)
	if f, _ := tb.floorAndSize(); f != 41+6 {
		t.Fatalf("floor %d", f)
	}
	if tb.untracked != 0 {
		t.Fatalf("untracked %d: every dropped original was decided", tb.untracked)
	}
}

// The system topics the check creates, as Java's selectTopicConfig does.
func TestCheckCreatesHalfTopic(t *testing.T) {
	r := newRig(t, testConfig())
	r.checkNow()
	tc, ok := r.env.Meta.Topics.Select(HalfTopic)
	if !ok || tc.ReadQueueNums != 1 || tc.Perm != metadata.PermRead|metadata.PermWrite {
		t.Fatalf("%s: %+v %v", HalfTopic, tc, ok)
	}
}
