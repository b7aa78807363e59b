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
	// transaction check, the schedule message service).
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
	// Schedule is the schedule message service (delay levels), on the
	// actor that delivers its due messages.
	Schedule *ScheduleInfo `json:"schedule,omitempty"`
	Children []*Node       `json:"children,omitempty"`
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

// ScheduleInfo is RocketMQ's ScheduleMessageService: messages parked in
// SCHEDULE_TOPIC_XXXX by delay level, and how their delivery to their real
// topics is going.
type ScheduleInfo struct {
	Levels []ScheduleLevelInfo `json:"levels"`
	// Lateness counts deliveries by how long after their due time they
	// were stored in their real topic (LeMillis -1: unbounded);
	// LatenessSumMillis is their total.
	Lateness          []Bucket `json:"lateness"`
	LatenessSumMillis float64  `json:"latenessSumMillis"`
}

// ScheduleLevelInfo is one delay level.
type ScheduleLevelInfo struct {
	Level       int32 `json:"level"`
	DelayMillis int64 `json:"delayMillis"`
	// Offset is the level's progress in its queue (delayOffset.json),
	// MaxOffset the queue's end; Waiting the messages between them.
	Offset    int64 `json:"offset"`
	MaxOffset int64 `json:"maxOffset"`
	Waiting   int64 `json:"waiting"`
	// HeadDue is when the oldest message not yet delivered is (or was)
	// due; NextDue when the first one not yet due is due. Zero: none.
	HeadDue time.Time `json:"headDue"`
	NextDue time.Time `json:"nextDue"`
	// LatenessMillis is how long after its due time the last delivery
	// was stored; LastDelivery when.
	LatenessMillis int64     `json:"latenessMillis"`
	LastDelivery   time.Time `json:"lastDelivery"`
	InFlight       int       `json:"inFlight"`
	Delivered      uint64    `json:"delivered"`
	// Retries counts passes that waited 100 ms (DELAY_FOR_A_WHILE)
	// instead of delivering: BusyBackoffs because the page cache was
	// busy, the rest because a put failed.
	Retries      uint64 `json:"retries"`
	BusyBackoffs uint64 `json:"busyBackoffs"`
	// PassedOver counts entries skipped: record deleted, or no real topic.
	PassedOver uint64    `json:"passedOver"`
	LastError  string    `json:"lastError,omitempty"`
	RetryAt    time.Time `json:"retryAt"`
}
