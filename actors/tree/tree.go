package tree

import "time"

// Kinds of node.
const (
	KindSupervisor = "supervisor"
	KindProcessor  = "processor"
	KindWriter     = "writer"
	KindListener   = "listener"
	KindConnection = "connection"
	KindActor      = "actor" // an actor with no inspector of its own
	// KindService is an actor that runs a broker service on a timer (the
	// transaction check).
	KindService = "service"
)

// Snapshot is the whole tree at one instant.
type Snapshot struct {
	BrokerName string    `json:"brokerName"`
	Addr       string    `json:"addr"`
	TakenAt    time.Time `json:"takenAt"`
	Root       *Node     `json:"root"`
}

// Node is one actor.
type Node struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Kind       string          `json:"kind"`
	Processor  *ProcessorInfo  `json:"processor,omitempty"`
	Writer     *WriterInfo     `json:"writer,omitempty"`
	Supervisor *SupervisorInfo `json:"supervisor,omitempty"`
	Connection *ConnectionInfo `json:"connection,omitempty"`
	// Transaction is the transactional-message service, on the actor
	// that runs its check.
	Transaction *TransactionInfo `json:"transaction,omitempty"`
	Children    []*Node          `json:"children,omitempty"`
}

// ProcessorInfo is a processor's queue and counters.
type ProcessorInfo struct {
	Codes            []string          `json:"codes"`
	Depth            int               `json:"depth"`
	Capacity         int               `json:"capacity"`
	OldestWaitMillis int64             `json:"oldestWaitMillis"`
	MaxWaitMillis    int64             `json:"maxWaitMillis"`
	Processed        uint64            `json:"processed"`
	Panics           uint64            `json:"panics"`
	Busy             map[string]uint64 `json:"busy"`
}

// WriterInfo is the commit-log writer's lock-hold state.
type WriterInfo struct {
	BeginTimeInLock             int64 `json:"beginTimeInLock"`
	LockHoldMillis              int64 `json:"lockHoldMillis"`
	PageCacheBusy               bool  `json:"pageCacheBusy"`
	OSPageCacheBusyTimeOutMills int64 `json:"osPageCacheBusyTimeOutMills"`
	// LockHold counts appends by how long each held the writer: the lock
	// hold, plus the sync wait under SYNC_FLUSH (the writer waits for the
	// flush inside Put); LockHoldSumMillis is their total.
	LockHold               []Bucket `json:"lockHold"`
	LockHoldSumMillis      float64  `json:"lockHoldSumMillis"`
	TransientPoolEnabled   bool     `json:"transientPoolEnabled"`
	TransientPoolFree      int      `json:"transientPoolFree"`
	TransientPoolTotal     int      `json:"transientPoolTotal"`
	TransientPoolDeficient bool     `json:"transientPoolDeficient"`
	Depth                  int      `json:"depth"`
	Appended               uint64   `json:"appended"`
	Batches                uint64   `json:"batches"`
}

// Bucket counts lock holds up to LeMillis (the last bucket is unbounded,
// LeMillis -1).
type Bucket struct {
	LeMillis int64  `json:"leMillis"`
	Count    uint64 `json:"count"`
}

// SupervisorInfo is the fast-failure sweep's state.
type SupervisorInfo struct {
	FastFailureEnable bool              `json:"fastFailureEnable"`
	SweepPeriodMillis int64             `json:"sweepPeriodMillis"`
	LastSweep         time.Time         `json:"lastSweep"`
	Cleaned           map[string]uint64 `json:"cleaned"`
	BusyPeriods       uint64            `json:"busyPeriods"`
	InBusyPeriod      bool              `json:"inBusyPeriod"`
}

// ConnectionInfo is one client connection.
type ConnectionInfo struct {
	Remote   string `json:"remote"`
	ClientID string `json:"clientId,omitempty"`
	Language string `json:"language,omitempty"`
	Version  int    `json:"version,omitempty"`
	Inflight int64  `json:"inflight"`
	// QueuedBytes and QueuedAnswers wait to be written to the client;
	// ReadPaused is true while the client's requests are not read because
	// they passed the write-buffer high-water mark (Backlogs counts how
	// often that happened).
	QueuedBytes   int64 `json:"queuedBytes"`
	QueuedAnswers int   `json:"queuedAnswers"`
	ReadPaused    bool  `json:"readPaused,omitempty"`
	Backlogs      int64 `json:"backlogs,omitempty"`
}

// Walk calls fn for n and every node below it, depth first.
func (n *Node) Walk(fn func(*Node, int)) { n.walk(fn, 0) }

func (n *Node) walk(fn func(*Node, int), depth int) {
	fn(n, depth)
	for _, c := range n.Children {
		c.walk(fn, depth+1)
	}
}

// Find returns the first node with the given name.
func (n *Node) Find(name string) *Node {
	var found *Node
	n.Walk(func(x *Node, _ int) {
		if found == nil && x.Name == name {
			found = x
		}
	})
	return found
}

// TransactionInfo is the transactional-message service: half messages
// without a decision, the decisions taken, and the check-back
// (TransactionalMessageCheckService) with its settings.
type TransactionInfo struct {
	// HalfPending counts half messages without a decision yet.
	HalfPending int64 `json:"halfPending"`
	// HalfOffset and OpOffset are the check's progress in the half and op
	// queues (group CID_RMQ_SYS_TRANS); the Max offsets are the queues' ends.
	HalfOffset    int64 `json:"halfOffset"`
	HalfMaxOffset int64 `json:"halfMaxOffset"`
	OpOffset      int64 `json:"opOffset"`
	OpMaxOffset   int64 `json:"opMaxOffset"`
	// InFlight counts decisions being stored (commit or op record).
	InFlight   int    `json:"inFlight"`
	Committed  uint64 `json:"committed"`
	RolledBack uint64 `json:"rolledBack"`
	// Duplicates are END_TRANSACTIONs repeating a decision already taken:
	// nothing changed. Refused ones named no half message, or contradicted
	// or came after a decision or discard; StoreFailures were not stored.
	Duplicates    uint64 `json:"duplicates"`
	Refused       uint64 `json:"refused"`
	StoreFailures uint64 `json:"storeFailures"`
	// ChecksSent counts CHECK_TRANSACTION_STATE sent to producers;
	// ChecksUnsent the checks no live producer of the group could take.
	ChecksSent   uint64 `json:"checksSent"`
	ChecksUnsent uint64 `json:"checksUnsent"`
	// Discarded counts half messages moved to TRANS_CHECK_MAX_TIME_TOPIC.
	Discarded           uint64    `json:"discarded"`
	CheckRounds         uint64    `json:"checkRounds"`
	LastCheck           time.Time `json:"lastCheck"`
	CheckIntervalMillis int64     `json:"checkIntervalMillis"`
	TimeoutMillis       int64     `json:"timeoutMillis"`
	CheckMax            int       `json:"checkMax"`
}
