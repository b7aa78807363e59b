package brokerconf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/supervisor"
)

// Config is everything broker.conf sets.
type Config struct {
	Broker supervisor.Config
	// GCHeadroomMB (gcHeadroomMB, Sluice's own key): the broker process
	// keeps its garbage collector's heap goal at least this many MiB above
	// the live heap (cmd/sluice/internal/gcheadroom); 0 leaves Go's GOGC
	// default. A property of the process, not of the broker, so it lives
	// here rather than in supervisor.Config.
	GCHeadroomMB int
}

// DefaultGCHeadroomMB is gcHeadroomMB's default.
const DefaultGCHeadroomMB = 32

// Default returns RocketMQ's defaults (with Sluice's loopback binding).
func Default() Config {
	return Config{Broker: supervisor.DefaultConfig(), GCHeadroomMB: DefaultGCHeadroomMB}
}

// Warning is a key Load did not know; RocketMQ would ignore it silently.
type Warning struct {
	Key  string
	Line int
}

func (w Warning) String() string {
	return fmt.Sprintf("line %d: unknown key %q ignored", w.Line, w.Key)
}

// Load applies the properties in r onto c. A malformed value is an error
// naming the key and the value; unknown keys come back as warnings.
func (c *Config) Load(r io.Reader) ([]Warning, error) {
	props, err := ParseProperties(r)
	if err != nil {
		return nil, err
	}
	table := c.fields()
	var warnings []Warning
	var errs []error
	for _, p := range props {
		check, known := unhonoured(p.Key)
		if known {
			if err := check(p.Value); err != nil {
				errs = append(errs, fmt.Errorf("line %d: %s = %q: refusing to start: %w", p.Line, p.Key, p.Value, err))
				continue
			}
		}
		f, ok := table[p.Key]
		if !ok && known {
			continue // asks for nothing Sluice lacks
		}
		if !ok {
			warnings = append(warnings, Warning{Key: p.Key, Line: p.Line})
			continue
		}
		if err := f.set(p.Value); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %s = %q: %w", p.Line, p.Key, p.Value, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return warnings, err
	}
	haDefaults(&c.Broker, props)
	return warnings, c.validate()
}

// LoadFile reads a broker.conf file.
func (c *Config) LoadFile(path string) ([]Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open broker config: %w", err)
	}
	defer f.Close()
	w, err := c.Load(f)
	if err != nil {
		return w, fmt.Errorf("broker config %s: %w", path, err)
	}
	return w, nil
}

// Set applies one key, as -n does for namesrvAddr.
func (c *Config) Set(key, value string) error {
	f, ok := c.fields()[key]
	if !ok {
		return fmt.Errorf("unknown key %q", key)
	}
	if err := f.set(value); err != nil {
		return fmt.Errorf("%s = %q: %w", key, value, err)
	}
	return nil
}

// isSecret names the keys Print masks.
func isSecret(key string) bool {
	return key == "brokerSecretKey" || key == "metricsPromExporterBearerToken"
}

// Print writes the effective configuration as a properties file, keys
// sorted, as mqbroker -p does.
func (c *Config) Print(w io.Writer) error {
	table := c.fields()
	var b strings.Builder
	for _, k := range table.keys() {
		b.WriteString(k)
		b.WriteByte('=')
		v := table[k].get()
		if isSecret(k) && v != "" {
			// -p output ends up in tickets and chat; a secret must not.
			v = "******"
		}
		b.WriteString(v)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Properties lists every key with its value, keys sorted (for
// GET_BROKER_CONFIG; supervisor.Options.ConfigProperties).
func (c *Config) Properties() (keys, values []string) {
	table := c.fields()
	keys = table.keys()
	values = make([]string, len(keys))
	for i, k := range keys {
		values[i] = table[k].get()
	}
	return keys, values
}

func (c *Config) validate() error {
	b := &c.Broker
	var errs []error
	positive := func(key string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s = %d: must be positive", key, v))
		}
	}
	positive("sendThreadPoolQueueCapacity", int64(b.SendThreadPoolQueueCapacity))
	positive("pullThreadPoolQueueCapacity", int64(b.PullThreadPoolQueueCapacity))
	positive("heartbeatThreadPoolQueueCapacity", int64(b.HeartbeatThreadPoolQueueCapacity))
	positive("clientManagerThreadPoolQueueCapacity", int64(b.ClientManagerThreadPoolQueueCapacity))
	positive("consumerManagerThreadPoolQueueCapacity", int64(b.ConsumerManagerThreadPoolQueueCapacity))
	positive("endTransactionPoolQueueCapacity", int64(b.EndTransactionPoolQueueCapacity))
	positive("transactionCheckInterval", b.TransactionCheckInterval)
	positive("transactionCheckMax", int64(b.TransactionCheckMax))
	if b.TransactionTimeOut < 0 {
		errs = append(errs, fmt.Errorf("transactionTimeOut = %d: must not be negative", b.TransactionTimeOut))
	}
	positive("adminBrokerThreadPoolQueueCapacity", int64(b.AdminBrokerThreadPoolQueueCapacity))
	positive("brokerFastFailurePeriodMillis", b.BrokerFastFailurePeriodMillis)
	positive("remotingFrameMaxLength", int64(b.RemotingFrameMaxLength))
	positive("writeBufferHighWaterMark", int64(b.WriteBufferHighWaterMark))
	positive("writeBufferHighWaterCount", int64(b.WriteBufferHighWaterCount))
	positive("writeBufferDrainTimeoutMillis", b.WriteBufferDrainTimeoutMillis)
	positive("remotingFrameBudget", int64(b.RemotingFrameBudget))
	positive("remotingConnFrameBudget", int64(b.RemotingConnFrameBudget))
	if c.GCHeadroomMB < 0 {
		errs = append(errs, fmt.Errorf("gcHeadroomMB = %d: must not be negative (0 turns it off)", c.GCHeadroomMB))
	}
	if b.WriteBufferLowWaterMark < 0 || b.WriteBufferLowWaterMark > b.WriteBufferHighWaterMark {
		errs = append(errs, fmt.Errorf("writeBufferLowWaterMark = %d: must be between 0 and writeBufferHighWaterMark (%d)", b.WriteBufferLowWaterMark, b.WriteBufferHighWaterMark))
	}
	if b.WriteBufferLowWaterCount < 0 || b.WriteBufferLowWaterCount > b.WriteBufferHighWaterCount {
		errs = append(errs, fmt.Errorf("writeBufferLowWaterCount = %d: must be between 0 and writeBufferHighWaterCount (%d)", b.WriteBufferLowWaterCount, b.WriteBufferHighWaterCount))
	}
	positive("writerWindowSize", int64(b.WriterWindowSize))
	positive("aclFileWatchIntervalMillis", b.AclFileWatchIntervalMillis)
	if (b.BrokerAccessKey == "") != (b.BrokerSecretKey == "") {
		errs = append(errs, fmt.Errorf("brokerAccessKey and brokerSecretKey: set both or neither"))
	}
	// Port 0 lets the OS pick one (tests, several brokers on one host); the
	// bound address is logged at start.
	if b.TraceTopicEnable {
		if err := metadata.ValidateTopic(b.MsgTraceTopicName); err != nil {
			errs = append(errs, fmt.Errorf("msgTraceTopicName = %q: %w", b.MsgTraceTopicName, err))
		}
	}
	errs = append(errs, validateRole(b)...)
	if b.ListenPort < 0 || b.ListenPort > 65535 {
		errs = append(errs, fmt.Errorf("listenPort = %d: not a port", b.ListenPort))
	}
	if b.NamesrvListenPort < 0 || b.NamesrvListenPort > 65535 {
		errs = append(errs, fmt.Errorf("namesrvListenPort = %d: not a port", b.NamesrvListenPort))
	}
	errs = append(errs, validateHA(b)...)
	if b.GRPCServerPort < 0 || b.GRPCServerPort > 65535 {
		errs = append(errs, fmt.Errorf("grpcServerPort = %d: not a port", b.GRPCServerPort))
	}
	return errors.Join(errs...)
}

// fields binds every key to its place in c.
func (c *Config) fields() fields {
	f := fields{}
	b := &c.Broker
	f.str("brokerClusterName", &b.BrokerClusterName)
	f.str("brokerName", &b.BrokerName)
	f.int64("brokerId", &b.BrokerID)
	f.str("namesrvAddr", &b.NamesrvAddr)
	f.str("brokerIP1", &b.BrokerIP1)
	f.str("brokerIP2", &b.BrokerIP2)
	f.str("bindAddress", &b.BindAddress)
	f.int("listenPort", &b.ListenPort)
	f.int("namesrvListenPort", &b.NamesrvListenPort)
	f.int("grpcServerPort", &b.GRPCServerPort)
	f.int("sendThreadPoolQueueCapacity", &b.SendThreadPoolQueueCapacity)
	f.int("pullThreadPoolQueueCapacity", &b.PullThreadPoolQueueCapacity)
	f.int("heartbeatThreadPoolQueueCapacity", &b.HeartbeatThreadPoolQueueCapacity)
	f.int("clientManagerThreadPoolQueueCapacity", &b.ClientManagerThreadPoolQueueCapacity)
	f.int("consumerManagerThreadPoolQueueCapacity", &b.ConsumerManagerThreadPoolQueueCapacity)
	f.int("endTransactionPoolQueueCapacity", &b.EndTransactionPoolQueueCapacity)
	f.int("adminBrokerThreadPoolQueueCapacity", &b.AdminBrokerThreadPoolQueueCapacity)
	f.bool("brokerFastFailureEnable", &b.BrokerFastFailureEnable)
	f.int64("brokerFastFailurePeriodMillis", &b.BrokerFastFailurePeriodMillis)
	f.int64("waitTimeMillsInSendQueue", &b.WaitTimeMillsInSendQueue)
	f.int64("waitTimeMillsInPullQueue", &b.WaitTimeMillsInPullQueue)
	f.int64("waitTimeMillsInHeartbeatQueue", &b.WaitTimeMillsInHeartbeatQueue)
	f.int64("waitTimeMillsInTransactionQueue", &b.WaitTimeMillsInTransactionQueue)
	f.int64("transactionTimeOut", &b.TransactionTimeOut)
	f.int64("transactionCheckInterval", &b.TransactionCheckInterval)
	f.int("transactionCheckMax", &b.TransactionCheckMax)
	f.bool("rejectTransactionMessage", &b.RejectTransactionMessage)
	f.int64("waitTimeMillsInAdminBrokerQueue", &b.WaitTimeMillsInAdminBrokerQueue)
	f.bool("sendQueueAdmissionControl", &b.SendQueueAdmissionControl)
	f.bool("sendQueueBackpressure", &b.SendQueueBackpressure)
	f.bool("autoCreateTopicEnable", &b.AutoCreateTopicEnable)
	f.int("defaultTopicQueueNums", &b.DefaultTopicQueueNums)
	f.bool("autoCreateSubscriptionGroup", &b.AutoCreateSubscriptionGroup)
	f.bool("traceTopicEnable", &b.TraceTopicEnable)
	f.str("msgTraceTopicName", &b.MsgTraceTopicName)
	f.bool("storeReplyMessageEnable", &b.StoreReplyMessageEnable)
	f.int("brokerPermission", &b.BrokerPermission)
	f.bool("longPollingEnable", &b.LongPollingEnable)
	f.int64("shortPollingTimeMills", &b.ShortPollingTimeMills)
	f.int64("registerNameServerPeriod", &b.RegisterNameServerPeriod)
	f.int64("registerBrokerTimeoutMills", &b.RegisterBrokerTimeoutMills)
	f.int64("flushConsumerOffsetInterval", &b.FlushConsumerOffsetInterval)
	f.int("serverChannelMaxIdleTimeSeconds", &b.ServerChannelMaxIdleTimeSeconds)
	f.int("remotingFrameMaxLength", &b.RemotingFrameMaxLength)
	f.int("writeBufferHighWaterMark", &b.WriteBufferHighWaterMark)
	f.int("writeBufferLowWaterMark", &b.WriteBufferLowWaterMark)
	f.int("writeBufferHighWaterCount", &b.WriteBufferHighWaterCount)
	f.int("writeBufferLowWaterCount", &b.WriteBufferLowWaterCount)
	f.int64("writeBufferDrainTimeoutMillis", &b.WriteBufferDrainTimeoutMillis)
	f.int("remotingFrameBudget", &b.RemotingFrameBudget)
	f.int("remotingConnFrameBudget", &b.RemotingConnFrameBudget)
	f.int("metricsPromExporterPort", &b.MetricsPromExporterPort)
	f.str("metricsTlsCertPath", &b.MetricsTLSCertPath)
	f.str("metricsTlsKeyPath", &b.MetricsTLSKeyPath)
	tlsFields(f, &b.TLS)
	f.str("metricsPromExporterBearerToken", &b.MetricsPromExporterBearerToken)
	f.bool("aclEnable", &b.AclEnable)
	f.str("rocketmqHome", &b.RocketmqHome)
	f.str("aclPlainFile", &b.AclPlainFile)
	f.int64("aclFileWatchIntervalMillis", &b.AclFileWatchIntervalMillis)
	f.str("brokerAccessKey", &b.BrokerAccessKey)
	f.str("brokerSecretKey", &b.BrokerSecretKey)
	f.int("writerWindowSize", &b.WriterWindowSize)
	f.bool("faultInjectionEnable", &b.FaultInjectionEnable)
	f.int64("faultAppendStallMillis", &b.FaultAppendStallMillis)
	f.bool("faultTransientPoolExhausted", &b.FaultTransientPoolExhausted)
	f.int64("faultProcessorDelayMillis", &b.FaultProcessorDelayMillis)
	f.bool("timerWheelEnable", &b.TimerWheelEnable)
	f.int64("timerMaxDelaySec", &b.TimerMaxDelaySec)
	f.int64("timerPrecisionMs", &b.TimerPrecisionMs)
	f.int("timerRollWindowSlot", &b.TimerRollWindowSlot)
	f.int64("timerFlushIntervalMs", &b.TimerFlushIntervalMs)
	f.int64("mappedFileSizeTimerLog", &b.MappedFileSizeTimerLog)
	f.str("brokerRole", &b.BrokerRole)
	f.bool("slaveReadEnable", &b.SlaveReadEnable)
	f.int("accessMessageInMemoryMaxRatio", &b.AccessMessageInMemoryMaxRatio)
	f.int64("slaveSyncIntervalMillis", &b.SlaveSyncIntervalMillis)
	f.int("reviveQueueNum", &b.ReviveQueueNum)
	f.int64("reviveInterval", &b.ReviveInterval)
	f.int("popFromRetryProbability", &b.PopFromRetryProbability)
	f.int("popPollingSize", &b.PopPollingSize)
	c.storeFields(f, &b.Store)
	haFields(f, b)
	f.int("gcHeadroomMB", &c.GCHeadroomMB)
	return f
}

// validateRole is BrokerStartup's and BrokerController's checks of the
// role: a SLAVE has brokerId > 0, a master brokerId 0 (RocketMQ sets a
// master's id to 0 and refuses a slave with id <= 0).
func validateRole(b *supervisor.Config) []error {
	var errs []error
	switch b.BrokerRole {
	case supervisor.BrokerRoleAsyncMaster, supervisor.BrokerRoleSyncMaster:
		if b.BrokerID != 0 {
			errs = append(errs, fmt.Errorf("brokerId = %d with brokerRole = %s: a master has brokerId 0; a broker with brokerId > 0 is a SLAVE", b.BrokerID, b.BrokerRole))
		}
	case supervisor.BrokerRoleSlave:
		if b.BrokerID <= 0 {
			errs = append(errs, fmt.Errorf("brokerId = %d with brokerRole = SLAVE: a slave's brokerId must be > 0 (1 for the first slave)", b.BrokerID))
		}
	default:
		errs = append(errs, fmt.Errorf("brokerRole = %q: want ASYNC_MASTER, SYNC_MASTER or SLAVE", b.BrokerRole))
	}
	if b.AccessMessageInMemoryMaxRatio < 0 || b.AccessMessageInMemoryMaxRatio > 100 {
		errs = append(errs, fmt.Errorf("accessMessageInMemoryMaxRatio = %d: a percentage, 0 to 100", b.AccessMessageInMemoryMaxRatio))
	}
	if b.SlaveSyncIntervalMillis <= 0 {
		errs = append(errs, fmt.Errorf("slaveSyncIntervalMillis = %d: must be positive", b.SlaveSyncIntervalMillis))
	}
	return errs
}
