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
	// transaction check, the schedule message service, the timer message
	// store).
	KindService = "service"
	// KindHA is an actor of master/slave replication: the master's HA
	// service, one per connected slave, or the slave's HA client.
	KindHA = "ha"
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
	// Timer is RocketMQ 5's TimerMessageStore, on the actor that runs its
	// passes.
	Timer *TimerInfo `json:"timer,omitempty"`
	// HA is master/slave replication (HAInfo).
	HA *HAInfo `json:"ha,omitempty"`
	// Front is a second front (the gRPC server), not an actor: its
	// requests by RPC and its busy answers by kind.
	Front *FrontInfo `json:"front,omitempty"`
	// Pop is RocketMQ 5's pop consumption (checkpoints, revive), on a
	// node of its own under the root.
	Pop      *PopInfo `json:"pop,omitempty"`
	Children []*Node  `json:"children,omitempty"`
}

// PopInfo is the pop service's counters and in-flight messages.
type PopInfo struct {
	Pops        uint64 `json:"pops"`
	Popped      uint64 `json:"popped"`
	Acks        uint64 `json:"acks"`
	Changes     uint64 `json:"changes"`
	Revived     uint64 `json:"revived"`
	DLQ         uint64 `json:"dlq"`
	Checkpoints int    `json:"checkpoints"`
	Held        int    `json:"held"`
	// InFlight is the popped, un-acked messages by "group@topic" (the
	// topic read: the normal one or the pop retry topic).
	InFlight map[string]int `json:"inFlight,omitempty"`
}

// KindFront is a front that is not an actor (the gRPC server).
const KindFront = "front"

// FrontInfo counts one front's traffic (front="grpc").
type FrontInfo struct {
	Front    string            `json:"front"`
	Addr     string            `json:"addr"`
	Sessions int               `json:"sessions"`
	Requests map[string]uint64 `json:"requests"`
	Busy     map[string]uint64 `json:"busy"`
}

// ProcessorInfo is a processor's queue and counters.
type ProcessorInfo struct {
	Codes            []string `json:"codes"`
	Depth            int      `json:"depth"`
	Capacity         int      `json:"capacity"`
	OldestWaitMillis int64    `json:"oldestWaitMillis"`
	MaxWaitMillis    int64    `json:"maxWaitMillis"`
	Processed        uint64   `json:"processed"`
	// RanOnArrival counts the processed requests whose turn ran on the
	// goroutine that queued them, the connection's decoder, rather than
	// on the processor's own (the send processor while idle).
	RanOnArrival uint64            `json:"ranOnArrival,omitempty"`
	Panics       uint64            `json:"panics"`
	Busy         map[string]uint64 `json:"busy"`
	// With backpressure on (sendQueueBackpressure): connections held
	// before their next read now, reads held since the start, and those of
	// them that ended at the wait limit.
	HeldNow      int    `json:"heldNow,omitempty"`
	HeldReads    uint64 `json:"heldReads,omitempty"`
	HoldTimeouts uint64 `json:"holdTimeouts,omitempty"`
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

// TimerInfo is RocketMQ 5's TimerMessageStore: timer messages parked in
// rmq_sys_wheel_timer, indexed in the timer log, and how their delivery
// to their real topics is going.
type TimerInfo struct {
	PrecisionMs int64 `json:"precisionMs"`
	MaxDelaySec int64 `json:"maxDelaySec"`
	// Pending counts messages indexed and not yet delivered
	// (timerCongestNum); Behind the rmq_sys_wheel_timer entries not yet
	// indexed (timerOffsetBehind), QueueOffset being the next one and
	// MaxQueueOffset the queue's end.
	Pending        int64 `json:"pending"`
	Behind         int64 `json:"behind"`
	QueueOffset    int64 `json:"queueOffset"`
	MaxQueueOffset int64 `json:"maxQueueOffset"`
	// ReadTime is the next slot to read: every message due before it was
	// delivered (now − ReadTime is timerReadBehind).
	ReadTime time.Time `json:"readTime"`
	// OldestDue is when the earliest pending message falls due (its slot's
	// end), OldestDueCount how many fall due then; zero when none pending.
	OldestDue      time.Time `json:"oldestDue"`
	OldestDueCount int32     `json:"oldestDueCount"`
	// LatenessMillis is how long after its due time the last delivered
	// message was handed to the writer; LastDelivery when it was stored.
	LatenessMillis int64     `json:"latenessMillis"`
	LastDelivery   time.Time `json:"lastDelivery"`
	InFlight       int       `json:"inFlight"`
	// Enqueued counts messages indexed, Delivered those stored back in
	// their topic, Rolled the re-indexings of messages due beyond the
	// wheel, PassedOver the entries skipped (record gone or unreadable).
	Enqueued   uint64 `json:"enqueued"`
	Delivered  uint64 `json:"delivered"`
	Rolled     uint64 `json:"rolled"`
	PassedOver uint64 `json:"passedOver"`
	// Retries counts passes that waited 100 ms instead of delivering:
	// BusyBackoffs because the store was busy, the rest because a put or
	// the timer log failed.
	Retries      uint64 `json:"retries"`
	BusyBackoffs uint64 `json:"busyBackoffs"`
	// EnqueueTps and DequeueTps are the rates over the last second.
	EnqueueTps float64 `json:"enqueueTps"`
	DequeueTps float64 `json:"dequeueTps"`
	// DiskBytes is the timer log's size; Checkpoint when timercheck.json
	// was last written.
	DiskBytes  int64     `json:"diskBytes"`
	Checkpoint time.Time `json:"checkpoint"`
	LastError  string    `json:"lastError,omitempty"`
	RetryAt    time.Time `json:"retryAt"`
	// Lateness counts deliveries by how long after their due time they
	// were handed to the writer (LeMillis -1: unbounded);
	// LatenessSumMillis is their total.
	Lateness          []Bucket `json:"lateness"`
	LatenessSumMillis float64  `json:"latenessSumMillis"`
}

// HAInfo is master/slave replication (commitlog/ha): on the master's HA
// service actor the service, on each of its children one slave, on a
// slave's HA client actor the link to its master.
type HAInfo struct {
	Role string `json:"role"`
	// Master: the HA port, the log's end, SYNC_MASTER's wait.
	ListenAddr          string `json:"listenAddr,omitempty"`
	MaxOffset           int64  `json:"maxOffset"`
	Push2SlaveMaxOffset int64  `json:"push2SlaveMaxOffset,omitempty"`
	Slaves              int    `json:"slaves,omitempty"`
	// WaitingBatches wait for a slave's acknowledgement (SYNC_MASTER);
	// OldestWaitMillis is the replication lag a waiting send sees.
	WaitingBatches     int   `json:"waitingBatches,omitempty"`
	OldestWaitMillis   int64 `json:"oldestWaitMillis,omitempty"`
	FlushSlaveTimeouts int64 `json:"flushSlaveTimeouts,omitempty"`
	SlaveNotAvailable  int64 `json:"slaveNotAvailable,omitempty"`
	// Slave is one connection, on the service's children.
	Slave *HASlaveInfo `json:"slave,omitempty"`
	// Client is the slave's link.
	Client *HAClientInfo `json:"client,omitempty"`
}

// HASlaveInfo is one slave as its master sees it.
type HASlaveInfo struct {
	Addr         string `json:"addr"`
	AckedOffset  int64  `json:"ackedOffset"`
	LagBytes     int64  `json:"lagBytes"`
	BytesSent    int64  `json:"bytesSent"`
	NextTransfer int64  `json:"nextTransfer"`
	LastReportMs int64  `json:"lastReportMs"`
}

// HAClientInfo is a slave's link to its master.
type HAClientInfo struct {
	MasterAddr     string `json:"masterAddr"`
	Connected      bool   `json:"connected"`
	MaxOffset      int64  `json:"maxOffset"`
	LastReport     int64  `json:"lastReport"`
	LastReportMs   int64  `json:"lastReportMs"`
	BytesReceived  int64  `json:"bytesReceived"`
	Reconnects     int64  `json:"reconnects"`
	OffsetMismatch int64  `json:"offsetMismatch"`
}
