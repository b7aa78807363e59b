package supervisor

import (
	"os"
	"time"

	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/tlshelper"
)

// Config is the broker's configuration, one field per broker.conf key. The
// key names and defaults are RocketMQ's (BrokerConfig, NettyServerConfig)
// unless the comment says "ours".
type Config struct {
	BrokerClusterName string // brokerClusterName: DefaultCluster
	BrokerName        string // brokerName: the host name, as RocketMQ
	BrokerID          int64  // brokerId: 0 = master
	NamesrvAddr       string // namesrvAddr: "host:port;host:port"
	// BrokerIP1 is the address advertised to name servers and clients.
	// RocketMQ guesses the host's first non-loopback address, a well-known
	// trap; Sluice advertises loopback unless told otherwise.
	BrokerIP1 string // brokerIP1: 127.0.0.1 (RocketMQ: guessed)
	BrokerIP2 string // brokerIP2: BrokerIP1
	// BindAddress is the interface the remoting port listens on (ours).
	BindAddress string // bindAddress: 127.0.0.1
	ListenPort  int    // listenPort: 10911
	// NamesrvListenPort is the embedded name server's port; 0 turns it off
	// (ours).
	NamesrvListenPort int // namesrvListenPort: 9876
	// GRPCServerPort is the gRPC front's port for RocketMQ 5 clients (the
	// proxy's key); 0 turns it off.
	GRPCServerPort int // grpcServerPort: 8081

	SendThreadPoolQueueCapacity            int // 10000
	PullThreadPoolQueueCapacity            int // 100000
	HeartbeatThreadPoolQueueCapacity       int // 50000
	ClientManagerThreadPoolQueueCapacity   int // 1000000
	ConsumerManagerThreadPoolQueueCapacity int // 1000000
	EndTransactionPoolQueueCapacity        int // 100000
	AdminBrokerThreadPoolQueueCapacity     int // 10000 (RocketMQ 5's key; 4.x is unbounded)

	BrokerFastFailureEnable bool // brokerFastFailureEnable: true
	// BrokerFastFailurePeriodMillis is the sweep period (ours): 10 ms, what
	// RocketMQ's BrokerFastFailure schedules, not the 10 s the article says.
	BrokerFastFailurePeriodMillis   int64 // 10
	WaitTimeMillsInSendQueue        int64 // 200
	WaitTimeMillsInPullQueue        int64 // 5000
	WaitTimeMillsInHeartbeatQueue   int64 // 31000
	WaitTimeMillsInTransactionQueue int64 // 3000
	WaitTimeMillsInAdminBrokerQueue int64 // 5000
	SendQueueAdmissionControl       bool  // sendQueueAdmissionControl (ours): false
	SendQueueBackpressure           bool  // sendQueueBackpressure (ours): false

	// Transactional messages (BrokerConfig).
	TransactionTimeOut       int64 // transactionTimeOut: 6000 ms before a half message is first checked
	TransactionCheckInterval int64 // transactionCheckInterval: 60000 ms between two checks
	TransactionCheckMax      int   // transactionCheckMax: 15 checks, then TRANS_CHECK_MAX_TIME_TOPIC
	RejectTransactionMessage bool  // rejectTransactionMessage: false; true refuses half messages (NO_PERMISSION)

	AutoCreateTopicEnable           bool   // true
	DefaultTopicQueueNums           int    // 8
	AutoCreateSubscriptionGroup     bool   // true
	TraceTopicEnable                bool   // false
	MsgTraceTopicName               string // RMQ_SYS_TRACE_TOPIC
	StoreReplyMessageEnable         bool   // true: replies are stored in <cluster>_REPLY_TOPIC as well as pushed
	BrokerPermission                int    // 6
	LongPollingEnable               bool   // true
	ShortPollingTimeMills           int64  // 1000
	RegisterNameServerPeriod        int64  // 30000
	RegisterBrokerTimeoutMills      int64  // 6000
	FlushConsumerOffsetInterval     int64  // 5000
	ServerChannelMaxIdleTimeSeconds int    // 120
	// The remoting bounds (Netty's write-buffer water marks, RocketMQ's
	// writeBufferHighWaterMark / writeBufferLowWaterMark, and ours): see
	// README "Memory bounds".
	WriteBufferHighWaterMark      int   // 65536 bytes of queued answers per connection
	WriteBufferLowWaterMark       int   // 32768
	WriteBufferHighWaterCount     int   // 1024 queued answers per connection (ours)
	WriteBufferLowWaterCount      int   // 512 (ours)
	WriteBufferDrainTimeoutMillis int64 // 120000: a connection that does not drain below the low marks is closed (ours)
	RemotingFrameBudget           int   // 268435456 bytes of partially received frames, all connections (ours)
	RemotingConnFrameBudget       int   // 4194304 per connection (ours)

	// RemotingFrameMaxLength bounds every incoming frame, length field
	// included (ours; Java's system property com.rocketmq.remoting.frameMaxLength).
	RemotingFrameMaxLength int // 16777216

	MetricsPromExporterPort int // metricsPromExporterPort: 5557, 0 disables
	// The metrics endpoint serves HTTPS with this certificate and key when
	// both are set (ours); reloaded with the remoting ones on SIGHUP.
	MetricsTLSCertPath string // metricsTlsCertPath: ""
	MetricsTLSKeyPath  string // metricsTlsKeyPath: ""

	// TLS is the tls.* keys (RocketMQ's TlsSystemConfig) and useTLS: TLS
	// on the remoting port and the embedded name server's, and on the
	// broker's connections to its name servers.
	TLS tlshelper.Config
	// MetricsPromExporterBearerToken, when set, is required as
	// "Authorization: Bearer <token>" on every scrape (ours).
	MetricsPromExporterBearerToken string // metricsPromExporterBearerToken: ""

	// Plain ACL (RocketMQ 4.9's aclEnable and PlainPermissionManager's
	// files; README "Security").
	AclEnable bool // aclEnable: false
	// RocketmqHome is where conf/plain_acl.yml and conf/acl/ are looked
	// for: RocketMQ's rocketmqHome ($ROCKETMQ_HOME); Sluice falls back to
	// storePathRootDir when it is empty.
	RocketmqHome string // rocketmqHome: $ROCKETMQ_HOME
	// AclPlainFile is -Drocketmq.acl.plain.file: the default ACL file,
	// relative to RocketmqHome unless absolute (ours as a key).
	AclPlainFile string // aclPlainFile: conf/plain_acl.yml
	// AclFileWatchIntervalMillis is how often the ACL files are checked
	// for changes (ours; RocketMQ's FileWatchService polls every 500 ms).
	AclFileWatchIntervalMillis int64 // aclFileWatchIntervalMillis: 500
	// BrokerAccessKey and BrokerSecretKey are the broker's own account,
	// signing its registrations with name servers (ours: RocketMQ's name
	// server checks nothing). Required with aclEnable and the embedded
	// name server; the account must be admin.
	BrokerAccessKey string // brokerAccessKey: ""
	BrokerSecretKey string // brokerSecretKey: ""

	// WriterWindowSize bounds the sends handed to the writer and not yet in
	// one of its batches (ours): the rest of a backlog waits in the send
	// queue, where the fast-failure sweep can answer it.
	WriterWindowSize int // writerWindowSize: 256

	// Store is the message store's configuration (MessageStoreConfig keys).
	Store commitlog.Config

	// Timer messages (RocketMQ 5's MessageStoreConfig timer keys; served
	// by actors/timer, not the store).
	TimerWheelEnable       bool  // timerWheelEnable: true; false refuses timer messages as RocketMQ does
	TimerMaxDelaySec       int64 // timerMaxDelaySec: 259200 (3 days); further ahead is refused
	TimerPrecisionMs       int64 // timerPrecisionMs: 1000; one of 100, 200, 500, 1000 (rounded down)
	TimerRollWindowSlot    int   // timerRollWindowSlot: 172800 slots in the wheel; beyond, messages roll
	TimerFlushIntervalMs   int64 // timerFlushIntervalMs: 1000 between two checkpoints
	MappedFileSizeTimerLog int64 // mappedFileSizeTimerLog: 104857600 bytes per timer-log file

	// Fault injection, for tests and demonstrations only (ours).
	FaultInjectionEnable        bool  // faultInjectionEnable: false
	FaultAppendStallMillis      int64 // faultAppendStallMillis: 0
	FaultTransientPoolExhausted bool  // faultTransientPoolExhausted: false
	FaultProcessorDelayMillis   int64 // faultProcessorDelayMillis: 0

	// Replication roles (RocketMQ 4.9's MessageStoreConfig#brokerRole and
	// accessMessageInMemoryMaxRatio, BrokerConfig#slaveReadEnable; README
	// "Replication").
	BrokerRole                    string // brokerRole: ASYNC_MASTER; SYNC_MASTER or SLAVE
	SlaveReadEnable               bool   // slaveReadEnable: false
	AccessMessageInMemoryMaxRatio int    // accessMessageInMemoryMaxRatio: 40 (% of physical memory)
	// SlaveSyncIntervalMillis is SlaveSynchronize's period (ours: RocketMQ
	// fixes it at 10 s, after a first run 3 s after start).
	SlaveSyncIntervalMillis int64 // slaveSyncIntervalMillis: 10000
	// TotalPhysicalMemorySize replaces the machine's RAM in the
	// accessMessageInMemoryMaxRatio computation (StoreUtil.
	// TOTAL_PHYSICAL_MEMORY_SIZE); 0 reads the machine's. Not a key: tests
	// set it to make "no longer in memory" reachable.
	TotalPhysicalMemorySize int64

	// Replication (RocketMQ 4.x master/slave HA; commitlog/ha).
	// HAListenPort is the master's HA port; 0 picks a free one, as does
	// listenPort 0 (tests).
	HAListenPort    int    // haListenPort: listenPort + 1
	HAMasterAddress string // haMasterAddress: "" (a slave then learns it from the name server)
	// HASendHeartbeatInterval: a master sends an empty transfer, a slave
	// its offset, when it has sent nothing for this long.
	HASendHeartbeatInterval int64 // haSendHeartbeatInterval: 5000 ms
	HAHousekeepingInterval  int64 // haHousekeepingInterval: 20000 ms; a link silent this long is dropped
	HATransferBatchSize     int   // haTransferBatchSize: 32768 bytes per transfer
	HASlaveFallbehindMax    int64 // haSlaveFallbehindMax: 268435456; a SYNC_MASTER answers SLAVE_NOT_AVAILABLE past it
	// Pop consumption (RocketMQ 5's BrokerConfig pop keys; actors/pop).
	ReviveQueueNum          int   // reviveQueueNum: 8 (the reviveQid spread of checkpoints)
	ReviveInterval          int64 // reviveInterval: 1000 ms between two revive passes
	PopFromRetryProbability int   // popFromRetryProbability: 20 (% of pops reading the pop retry topic first)
	PopPollingSize          int   // popPollingSize: 1024 held pops per topic; past it POLLING_FULL
}

// Broker roles (RocketMQ's BrokerRole).
const (
	BrokerRoleAsyncMaster = "ASYNC_MASTER"
	BrokerRoleSyncMaster  = "SYNC_MASTER"
	BrokerRoleSlave       = "SLAVE"
)

// IsSlave reports brokerRole=SLAVE.
func (c *Config) IsSlave() bool { return c.BrokerRole == BrokerRoleSlave }

// DefaultConfig returns RocketMQ's defaults, with Sluice's loopback binding.
func DefaultConfig() Config {
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "broker-a"
	}
	return Config{
		BrokerClusterName:                      "DefaultCluster",
		BrokerName:                             name,
		BrokerIP1:                              "127.0.0.1",
		BindAddress:                            "127.0.0.1",
		ListenPort:                             10911,
		NamesrvListenPort:                      9876,
		SendThreadPoolQueueCapacity:            10000,
		PullThreadPoolQueueCapacity:            100000,
		HeartbeatThreadPoolQueueCapacity:       50000,
		ClientManagerThreadPoolQueueCapacity:   1000000,
		ConsumerManagerThreadPoolQueueCapacity: 1000000,
		EndTransactionPoolQueueCapacity:        100000,
		AdminBrokerThreadPoolQueueCapacity:     10000,
		BrokerFastFailureEnable:                true,
		BrokerFastFailurePeriodMillis:          10,
		WaitTimeMillsInSendQueue:               200,
		WaitTimeMillsInPullQueue:               5000,
		WaitTimeMillsInHeartbeatQueue:          31000,
		WaitTimeMillsInTransactionQueue:        3000,
		TransactionTimeOut:                     6000,
		TransactionCheckInterval:               60000,
		TransactionCheckMax:                    15,
		WaitTimeMillsInAdminBrokerQueue:        5000,
		AutoCreateTopicEnable:                  true,
		GRPCServerPort:                         8081,
		DefaultTopicQueueNums:                  8,
		AutoCreateSubscriptionGroup:            true,
		MsgTraceTopicName:                      "RMQ_SYS_TRACE_TOPIC",
		StoreReplyMessageEnable:                true,
		BrokerPermission:                       6,
		LongPollingEnable:                      true,
		ShortPollingTimeMills:                  1000,
		RegisterNameServerPeriod:               30000,
		RegisterBrokerTimeoutMills:             6000,
		FlushConsumerOffsetInterval:            5000,
		ServerChannelMaxIdleTimeSeconds:        120,
		WriteBufferHighWaterMark:               64 << 10,
		WriteBufferLowWaterMark:                32 << 10,
		WriteBufferHighWaterCount:              1024,
		WriteBufferLowWaterCount:               512,
		WriteBufferDrainTimeoutMillis:          120_000,
		RemotingFrameBudget:                    256 << 20,
		RemotingConnFrameBudget:                4 << 20,
		RemotingFrameMaxLength:                 remoting.DefaultMaxFrameSize,
		MetricsPromExporterPort:                5557,
		RocketmqHome:                           os.Getenv("ROCKETMQ_HOME"),
		AclPlainFile:                           "conf/plain_acl.yml",
		AclFileWatchIntervalMillis:             500,
		WriterWindowSize:                       256,
		Store:                                  commitlog.DefaultConfig(),
		TimerWheelEnable:                       true,
		TimerMaxDelaySec:                       3 * 24 * 3600,
		TimerPrecisionMs:                       1000,
		TimerRollWindowSlot:                    2 * 24 * 3600,
		TimerFlushIntervalMs:                   1000,
		MappedFileSizeTimerLog:                 100 << 20,
		BrokerRole:                             BrokerRoleAsyncMaster,
		AccessMessageInMemoryMaxRatio:          40,
		SlaveSyncIntervalMillis:                10_000,
		HAListenPort:                           10912,
		HASendHeartbeatInterval:                5000,
		HAHousekeepingInterval:                 20000,
		HATransferBatchSize:                    32 << 10,
		HASlaveFallbehindMax:                   256 << 20,
		ReviveQueueNum:                         8,
		ReviveInterval:                         1000,
		PopFromRetryProbability:                20,
		PopPollingSize:                         1024,
	}
}

func millis(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
