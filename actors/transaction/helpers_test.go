package transaction

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/handlertest"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// rig is a service over a handlertest store with a real writer actor.
type rig struct {
	t      *testing.T
	env    *handlertest.Env
	writer *actors.Writer
	cfg    Config
	svc    *Service
	end    actors.HandlerFunc
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.MappedFileSizeCommitLog = 1 << 20 // handlertest's
	cfg.TransactionTimeOut = 0
	cfg.TransactionCheckMax = 3
	return cfg
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	env := handlertest.New(t)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	w := actors.NewWriter(env.Store, 64)
	if _, err := w.Spawn(sys.Root, sys.Root); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, env: env, writer: w, cfg: cfg}
	t.Cleanup(func() {
		if r.svc != nil {
			r.svc.Stop(time.Second)
		}
		sys.Shutdown()
		w.Stop()
	})
	r.restart()
	return r
}

// restart replaces the service with a new one over the same store, as a
// broker restart does (the store itself stays open: what the service keeps
// in memory is what a restart loses).
func (r *rig) restart() {
	r.t.Helper()
	if r.svc != nil {
		r.svc.Stop(time.Second)
		// A reopened store has indexed its whole log before anything reads
		// it; this one stays open, so wait for its dispatcher.
		poll.Until(r.t, "dispatch caught up", func() bool { return r.env.Store.RuntimeInfo()["dispatchBehindBytes"] == "0" })
	}
	r.svc = New(Options{ID: r.env.ID, Store: r.env.Store, Writer: r.writer, Meta: r.env.Meta, Log: zerolog.Nop(), Config: r.cfg})
	if err := r.svc.Recover(); err != nil {
		r.t.Fatalf("recover: %v", err)
	}
	r.svc.Start()
	r.end = r.svc.ByCode()[remoting.EndTransaction]
}

// put appends m through the writer and waits for it.
func (r *rig) put(m *commitlog.Message) commitlog.PutResult {
	r.t.Helper()
	done := make(chan struct{})
	buf, err := commitlog.AppendRecord(nil, m)
	if err != nil {
		r.t.Fatal(err)
	}
	j := &actors.AppendJob{Put: commitlog.PutRequest{Topic: m.Topic, QueueID: m.QueueID, Records: buf, Count: 1}}
	j.Done = func(*actors.AppendJob) { close(done) }
	if !r.writer.Submit(j, nil) {
		r.t.Fatal("submit refused")
	}
	<-done
	if j.Put.Result.Status != commitlog.PutOK {
		r.t.Fatalf("put: %v", j.Put.Result.Status)
	}
	return j.Put.Result
}

// half is a stored half message.
type half struct {
	offset, phys int64
	uniq         string
}

// storeHalf stores a half message as the send path does.
func (r *rig) storeHalf(topic string, qid int32, body, group string, extra ...string) half {
	r.t.Helper()
	uniq := "UNIQ-" + body
	props := message.Append(nil, message.PropertyTransactionPrepared, "true")
	props = message.Append(props, message.PropertyProducerGroup, group)
	props = message.Append(props, message.PropertyUniqClientMessageIDKeyIdx, uniq)
	props = message.Append(props, message.PropertyTags, "TagA")
	for i := 0; i+1 < len(extra); i += 2 {
		props = message.Append(props, extra[i], extra[i+1])
	}
	m := commitlog.Message{
		Topic: topic, QueueID: qid, SysFlag: TransactionPreparedType, BornTimestamp: time.Now().UnixMilli() - 1000,
		BornHost: netip.MustParseAddrPort("127.0.0.1:50000"), StoreHost: r.env.ID.StoreHost,
		Body: []byte(body), Properties: string(props),
	}
	ParseHalfMessageInner(&m, nil)
	res := r.put(&m)
	poll.Until(r.t, "half message dispatched", func() bool { return r.env.Store.MaxOffsetInQueue(HalfTopic, 0) > res.QueueOffset })
	return half{offset: res.QueueOffset, phys: res.WroteOffset, uniq: uniq}
}

// endTx sends END_TRANSACTION for h and returns the answer.
func (r *rig) endTx(h half, group string, commitOrRollback int32, fromCheck bool) *remoting.Command {
	r.t.Helper()
	req := remoting.NewRequest(remoting.EndTransaction, nil, nil)
	(&remoting.EndTransactionRequestHeader{
		ProducerGroup: group, TranStateTableOffset: h.offset, CommitLogOffset: h.phys,
		CommitOrRollback: commitOrRollback, FromTransactionCheck: fromCheck, MsgID: h.uniq, TransactionID: h.uniq,
	}).Encode(req)
	return handlertest.Call(r.t, r.end, remoting.EndTransaction, req.ExtFields, nil)
}

// messages reads every message of a queue.
func (r *rig) messages(topic string, qid int32) []commitlog.StoredMessage {
	r.t.Helper()
	var out []commitlog.StoredMessage
	res := r.env.Store.GetMessage(topic, qid, 0, 1000, nil)
	for _, rec := range res.Messages {
		m, err := commitlog.DecodeRecord(rec)
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// waitCount waits until the queue holds n messages.
func (r *rig) waitCount(topic string, qid int32, n int64) {
	r.t.Helper()
	poll.Until(r.t, topic+" holds "+strconv.FormatInt(n, 10), func() bool { return r.env.Store.MaxOffsetInQueue(topic, qid) == n })
}

// producer is a fake producer connection that records what it is sent.
type producer struct {
	id     string
	mu     sync.Mutex
	closed bool
	got    []*remoting.Command
}

func (p *producer) ID() string    { return p.id }
func (p *producer) Notify(string) {}
func (p *producer) Closed() bool  { p.mu.Lock(); defer p.mu.Unlock(); return p.closed }
func (p *producer) close()        { p.mu.Lock(); p.closed = true; p.mu.Unlock() }
func (p *producer) count() int    { p.mu.Lock(); defer p.mu.Unlock(); return len(p.got) }
func (p *producer) last() *remoting.Command {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got[len(p.got)-1]
}

func (p *producer) Send(c *remoting.Command) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("connection closed")
	}
	p.got = append(p.got, c)
	return nil
}

// checkNow runs a round once the clock has moved past the millisecond of
// everything stored so far (a round stops at what was stored since it
// began, its own copies among them).
func (r *rig) checkNow() {
	r.t.Helper()
	stored := time.Now().UnixMilli()
	poll.Until(r.t, "the clock moves on", func() bool { return time.Now().UnixMilli() > stored })
	r.svc.Check(time.Now())
}

// noProducerGroups lists the groups of the last round's unsent checks.
func (s *Service) noProducerGroups() []string {
	var out []string
	for g := range s.check.unsent {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// floorAndSize reports the table's window.
func (t *table) floorAndSize() (floor int64, words int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.floor, len(t.words)
}
