package transaction

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// Config is BrokerConfig's transaction keys and what the service needs of
// the store's.
type Config struct {
	// TransactionTimeOut (transactionTimeOut, 6000 ms): a half message
	// younger than this is not checked yet.
	TransactionTimeOut time.Duration
	// TransactionCheckMax (transactionCheckMax, 15): checks before a half
	// message is discarded to TRANS_CHECK_MAX_TIME_TOPIC.
	TransactionCheckMax int
	// TransactionCheckInterval (transactionCheckInterval, 60000 ms): the
	// period of the check (run by the supervisor's actor; shown in the tree).
	TransactionCheckInterval time.Duration
	// FileReservedTime (fileReservedTime, 72 h): a half message born longer
	// ago is discarded unchecked (needSkip).
	FileReservedTime time.Duration
	// MappedFileSizeCommitLog is the commit-log file size (Recover steps
	// over a file's end marker with it).
	MappedFileSizeCommitLog int64
	// MaxInFlight bounds the decisions being stored at once (ours): the
	// END_TRANSACTION that would exceed it waits for one to finish.
	MaxInFlight int
}

// DefaultConfig is RocketMQ's defaults.
func DefaultConfig() Config {
	return Config{
		TransactionTimeOut:       6 * time.Second,
		TransactionCheckMax:      15,
		TransactionCheckInterval: 60 * time.Second,
		FileReservedTime:         72 * time.Hour,
		MappedFileSizeCommitLog:  commitlog.DefaultConfig().MappedFileSizeCommitLog,
		MaxInFlight:              1024,
	}
}

// watermarkLag is how far the commit log may grow past the last op
// record's scan point, with no decision in flight, before Housekeep writes
// an op record that only moves the scan point: it bounds what Recover reads
// after a crash.
const watermarkLag = 256 << 20

// Service is TransactionalMessageService, EndTransactionProcessor and the
// check's work, over one store. Build it with New, call Recover before the
// broker takes requests, then Start; Stop at shutdown.
type Service struct {
	id     metadata.BrokerIdentity
	store  *commitlog.Store
	writer *actors.Writer
	meta   *metadata.Managers
	log    zerolog.Logger
	cfg    Config
	// abort aborts a wait for the writer (the broker gave up waiting).
	abort <-chan struct{}

	table table
	fl    flight
	// slots bounds the decisions in flight: one is taken when a decision
	// is claimed and given back once its op record is stored (or it failed).
	slots chan struct{}
	ops   chan *decision
	opMu  sync.Mutex
	// opsClosed is set once the op writer has stopped; later decisions
	// fail instead of waiting for it.
	opsClosed bool
	decisions sync.Pool

	quit     chan struct{}
	draining chan struct{}
	opAbort  chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	ready    atomic.Bool
	repairs  []*decision
	opaque   atomic.Int32
	halfBase atomic.Int64
	opBase   atomic.Int64
	lastScan atomic.Int64 // PropertyScanFrom of the last op record written
	// lastOpPhys is where the last op record landed: a record boundary
	// no later commit can precede (-1: none yet).
	lastOpPhys atomic.Int64
	lastRound  atomic.Int64 // unix ms of the last check round's start
	check      checkState

	stats stats
}

// stats are the service's counters, for the tree and metrics.
type stats struct {
	committed, rolledBack, duplicates, conflicts, refused, notFound, unknown atomic.Uint64
	commitFailures, opFailures                                               atomic.Uint64
	checksSent, checksUnsent, discarded, immunityPuts, rounds                atomic.Uint64
}

// flight tracks commits stored or being stored whose op record is not yet
// stored: the oldest of them bounds where Recover must look for commits
// without an op record (PropertyScanFrom).
type flight struct {
	mu      sync.Mutex
	commits []*decision // in submission order
	redo    []*decision // commits whose op record failed; Housekeep retries
}

// Options are what New needs.
type Options struct {
	ID     metadata.BrokerIdentity
	Store  *commitlog.Store
	Writer *actors.Writer
	Meta   *metadata.Managers
	Log    zerolog.Logger
	Config Config
	// Abort is closed when the broker stops waiting for the writer.
	Abort <-chan struct{}
}

// New returns a service; it does nothing until Recover and Start.
func New(o Options) *Service {
	cfg := o.Config
	if cfg.MaxInFlight < 1 {
		cfg.MaxInFlight = 1
	}
	if cfg.MappedFileSizeCommitLog <= 0 {
		cfg.MappedFileSizeCommitLog = commitlog.DefaultConfig().MappedFileSizeCommitLog
	}
	s := &Service{
		id: o.ID, store: o.Store, writer: o.Writer, meta: o.Meta, log: o.Log, cfg: cfg, abort: o.Abort,
		slots:    make(chan struct{}, cfg.MaxInFlight),
		ops:      make(chan *decision, cfg.MaxInFlight),
		quit:     make(chan struct{}),
		draining: make(chan struct{}),
		opAbort:  make(chan struct{}),
	}
	s.table.init(0)
	s.lastScan.Store(-1)
	s.lastOpPhys.Store(-1)
	return s
}

// ByCode maps the request codes served here to their handlers.
func (s *Service) ByCode() map[remoting.RequestCode]actors.HandlerFunc {
	return map[remoting.RequestCode]actors.HandlerFunc{remoting.EndTransaction: s.endTransaction}
}

// Start runs the op writer and hands it the op records Recover found
// missing.
func (s *Service) Start() {
	s.wg.Add(1)
	go s.runOpWriter()
	repairs := s.repairs
	s.repairs = nil
	for _, d := range repairs {
		select {
		case s.slots <- struct{}{}:
		case <-s.quit:
			return
		}
		d.slot = true
		s.enqueueOp(d)
	}
}

// Stop ends the check, lets the op writer store what it holds for up to
// drain, and stops it. Decisions taken after that are answered as failed.
func (s *Service) Stop(drain time.Duration) {
	s.stopOnce.Do(func() {
		close(s.quit)
		close(s.draining)
		t := time.AfterFunc(drain, func() { close(s.opAbort) })
		s.wg.Wait()
		t.Stop()
	})
}

func (s *Service) stopping() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// decision is one END_TRANSACTION being stored (or an op record Recover or
// Housekeep writes): the commit's record and job, then the op record's.
type decision struct {
	s      *Service
	origin int64 // the original half message's queue offset
	copy   int64 // the queue offset the decision quotes: the op record's body
	kind   state // committed, rolledBack; closed for an op that only moves the scan point
	req    *actors.Request
	// halfPhys is the commit-log offset of the half message the decision
	// quotes; a commit lands after it, so it is the commit's lower bound.
	halfPhys int64
	lb       int64 // commits: where the scan for it may start (a record boundary ≤ where it lands)
	phys     int64 // commits: where the commit landed, -1 before
	lbScan   int64 // the op record's PropertyScanFrom
	slot     bool  // holds one of s.slots
	commit   actors.AppendJob
	op       actors.AppendJob
	buf      []byte // the commit's record
	opBuf    []byte // the op record
	props    []byte // scratch for properties
}

func (s *Service) getDecision() *decision {
	if d, ok := s.decisions.Get().(*decision); ok {
		return d
	}
	d := &decision{s: s}
	d.commit.Done = d.commitDone
	d.op.Done = d.opDone
	return d
}

func (s *Service) putDecision(d *decision) {
	for _, b := range []*[]byte{&d.buf, &d.opBuf, &d.props} {
		if cap(*b) > 1<<20 {
			*b = nil // don't pin a rare big message's buffer
		}
		*b = (*b)[:0]
	}
	d.req, d.slot, d.phys = nil, false, -1
	d.commit.Put, d.op.Put = commitlog.PutRequest{}, commitlog.PutRequest{}
	s.decisions.Put(d)
}

func (s *Service) release(d *decision) {
	if d.slot {
		d.slot = false
		<-s.slots
	}
}

// acquire takes a decision slot, waiting at most wait.
func (s *Service) acquire(wait time.Duration) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-s.quit:
	}
	return false
}

// addCommit records a commit about to be submitted.
func (f *flight) addCommit(d *decision) {
	f.mu.Lock()
	f.commits = append(f.commits, d)
	f.mu.Unlock()
}

// removeCommit forgets d (its op record is stored, or its commit failed).
func (f *flight) removeCommit(d *decision) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.commits {
		if c == d {
			if i == 0 {
				f.commits[0] = nil
				f.commits = f.commits[1:]
			} else {
				copy(f.commits[i:], f.commits[i+1:])
				f.commits[len(f.commits)-1] = nil
				f.commits = f.commits[:len(f.commits)-1]
			}
			return
		}
	}
}

// scanFrom is where a commit without its op record may lie, as far as the
// decisions in flight tell: the oldest one's lower bound, the offset of the
// half message it quotes (a record boundary, and the commit lands after
// it). ok is false when none is in flight.
func (f *flight) scanFrom() (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.commits) == 0 {
		return 0, false
	}
	return f.commits[0].lb, true
}

func (f *flight) inFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.commits)
}

// enqueueOp hands d to the op writer. It never blocks: every decision in
// the channel holds a slot, and there are as many places as slots.
func (s *Service) enqueueOp(d *decision) {
	s.opMu.Lock()
	if s.opsClosed {
		s.opMu.Unlock()
		d.failOp("the broker is shutting down")
		return
	}
	select {
	case s.ops <- d:
		s.opMu.Unlock()
	default:
		s.opMu.Unlock()
		s.log.Error().Int64("halfOffset", d.copy).Msg("[BUG] op-record queue full")
		d.failOp("op-record queue full")
	}
}

// runOpWriter submits op records. It is a goroutine of its own because an
// op record follows its commit, whose result arrives on the writer's
// goroutine, which must never wait for a writer slot.
func (s *Service) runOpWriter() {
	defer s.wg.Done()
	for {
		select {
		case d := <-s.ops:
			s.writeOp(d)
		case <-s.draining:
			s.opMu.Lock()
			s.opsClosed = true
			s.opMu.Unlock()
			for {
				select {
				case d := <-s.ops:
					s.writeOp(d)
				default:
					return
				}
			}
		}
	}
}

func (s *Service) writeOp(d *decision) {
	if err := s.encodeOp(d); err != nil {
		s.log.Error().Err(err).Int64("halfOffset", d.copy).Msg("op record not encoded")
		d.failOp(err.Error())
		return
	}
	if !s.writer.Submit(&d.op, s.opAbort) {
		d.failOp("the broker is shutting down")
	}
}
