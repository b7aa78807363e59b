package metadata

import (
	"errors"
	"time"

	"github.com/rs/zerolog"
)

// Config is what the metadata managers need from broker.conf. The zero
// value of a bool means "off", so start from DefaultConfig to get
// RocketMQ's defaults.
type Config struct {
	// Dir is <storePathRootDir>/config, where topics.json,
	// subscriptionGroup.json and consumerOffset.json live. Empty keeps
	// everything in memory (tests).
	Dir string
	// BrokerClusterName (brokerClusterName) and BrokerName (brokerName)
	// name two of the system topics.
	BrokerClusterName string
	BrokerName        string
	// AutoCreateTopicEnable (autoCreateTopicEnable, default true): TBW102
	// exists and lets sends create topics.
	AutoCreateTopicEnable bool
	// DefaultTopicQueueNums (defaultTopicQueueNums, default 8): TBW102's
	// queue count; 0 means 8.
	DefaultTopicQueueNums int
	// AutoCreateSubscriptionGroup (autoCreateSubscriptionGroup, default
	// true): unknown consumer groups are created on first use.
	AutoCreateSubscriptionGroup bool
	// TraceTopicEnable (traceTopicEnable, default false) creates the
	// message-trace topic MsgTraceTopicName (msgTraceTopicName, default
	// RMQ_SYS_TRACE_TOPIC) at start, with one queue, as RocketMQ does: the
	// clients send trace data only when that topic has a route.
	TraceTopicEnable  bool
	MsgTraceTopicName string
	Log               zerolog.Logger
	// Now is the clock for data versions and client liveness; nil means
	// time.Now.
	Now func() time.Time
}

// DefaultConfig is Config with RocketMQ 4.x's defaults.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:                         dir,
		BrokerClusterName:           "DefaultCluster",
		BrokerName:                  "broker-a",
		AutoCreateTopicEnable:       true,
		DefaultTopicQueueNums:       8,
		AutoCreateSubscriptionGroup: true,
	}
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) defaultTopicQueueNums() int {
	if c.DefaultTopicQueueNums <= 0 {
		return 8
	}
	return c.DefaultTopicQueueNums
}

// DataVersion is RocketMQ's DataVersion: bumped on every change of a table
// so that the name server (and slaves) can tell whether a registration
// carries anything new; the name server rebuilds a broker's routes only
// when it changes. The fields are in fastjson's (alphabetical) order, so
// that what we write reads like what Java writes.
type DataVersion struct {
	Counter int64 `json:"counter"`
	// StateVersion is RocketMQ 5's; 4.x never writes it.
	StateVersion int64 `json:"stateVersion,omitempty"`
	Timestamp    int64 `json:"timestamp"`
}

// Next is the version after v, as DataVersion#nextVersion makes it.
func (v DataVersion) Next(now time.Time) DataVersion {
	v.Counter++
	v.Timestamp = now.UnixMilli()
	return v
}

// ErrTopicNotExist is wrapped by CreateTopicInSendMessageMethod's refusal;
// the error text is RocketMQ's TOPIC_NOT_EXIST remark.
var ErrTopicNotExist = errors.New("topic not exist")

// remarkError carries a RocketMQ response remark as its text and a sentinel
// for errors.Is.
type remarkError struct {
	remark string
	kind   error
}

func (e *remarkError) Error() string { return e.remark }
func (e *remarkError) Unwrap() error { return e.kind }
