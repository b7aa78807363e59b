// Package metadata is the broker's metadata: everything a RocketMQ 4.x
// broker keeps besides messages, as plain thread-safe Go types named after
// their Java counterparts.
//
// # What it owns
//
//	TopicConfigManager        topic table, data version, system topics, auto-creation           topics.json
//	SubscriptionGroupManager  consumer group configs, built-in groups, auto-creation            subscriptionGroup.json
//	ConsumerOffsetManager     committed offsets, <topic>@<group> → queueId → offset             consumerOffset.json
//	ConsumerManager           live consumer clients and their subscriptions (HEART_BEAT)        memory
//	ProducerManager           live producer clients                                             memory
//	RebalanceLockManager      orderly consumers' queue locks, 60 s life                         memory
//	Managers                  the six together, plus HeartBeat / ChannelClosed / ScanNotActive
//
// plus the wire bodies these answer with or decode (HeartbeatData,
// consumerIdList, LOCK_BATCH_MQ), the topic model the name server's
// REGISTER_BROKER body carries (TopicConfig, DataVersion, the permission
// bits) and topic validation.
// Section numbers refer to the shared RocketMQ wire reference.
//
// The JSON files live in <storePathRootDir>/config/ (Config.Dir) and are
// written by WriteFileAtomic: <file>.tmp written and fsynced, the old file
// copied to <file>.bak, the tmp renamed over the file, the directory
// fsynced, so a crash leaves the old or the new file, never a torn one.
// LoadJSON reads the file and falls back to <file>.bak, and accepts the
// unquoted integer keys of files written by a Java broker's fastjson.
// topics.json and subscriptionGroup.json are written on every change;
// consumerOffset.json when Persist is called (StartPersister, every
// flushConsumerOffsetInterval, and at shutdown), as in RocketMQ.
//
// # What it must not touch
//
// No actors, no network, no store: it imports no protoactor; from
// commitlog only the pure TagsHashCode, so that a subscription's tag codes
// are computed exactly as the stored ones; and from remoting only the
// fastjson-dialect decoder, to read files a Java broker wrote. What it
// needs from them comes in as values or
// functions: a client connection is a Channel (an id plus a Notify
// callback the connection layer implements), the store's queue state
// arrives through QueueProbe, and OnChange hooks tell the broker when to
// register with the name servers. Response codes are the caller's; errors
// here carry RocketMQ's remark text where the caller answers with one.
// There is no package-level mutable state: two brokers in one process
// (tests) have separate tables.
package metadata
