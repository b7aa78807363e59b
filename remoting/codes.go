package remoting

import "strconv"

// RequestCode is the code of a request frame, named as RocketMQ's
// RequestCode.java names it.
type RequestCode int32

// Request codes Sluice handles or sends. The numbers are RocketMQ's.
const (
	SendMessage                   RequestCode = 10
	PullMessage                   RequestCode = 11
	QueryMessage                  RequestCode = 12
	QueryConsumerOffset           RequestCode = 14
	UpdateConsumerOffset          RequestCode = 15
	UpdateAndCreateTopic          RequestCode = 17
	GetAllTopicConfig             RequestCode = 21
	GetBrokerRuntimeInfo          RequestCode = 28
	SearchOffsetByTimestamp       RequestCode = 29
	GetMaxOffset                  RequestCode = 30
	GetMinOffset                  RequestCode = 31
	GetEarliestMsgStoretime       RequestCode = 32
	ViewMessageByID               RequestCode = 33
	HeartBeat                     RequestCode = 34
	UnregisterClient              RequestCode = 35
	ConsumerSendMsgBack           RequestCode = 36
	EndTransaction                RequestCode = 37
	GetConsumerListByGroup        RequestCode = 38
	CheckTransactionState         RequestCode = 39
	NotifyConsumerIDsChanged      RequestCode = 40
	LockBatchMQ                   RequestCode = 41
	UnlockBatchMQ                 RequestCode = 42
	RegisterBroker                RequestCode = 103
	UnregisterBroker              RequestCode = 104
	GetRouteInfoByTopic           RequestCode = 105
	GetBrokerClusterInfo          RequestCode = 106
	GetAllSubscriptionGroupConfig RequestCode = 201
	GetAllTopicListFromNameServer RequestCode = 206
	DeleteTopicInBroker           RequestCode = 215
	DeleteTopicInNamesrv          RequestCode = 216
	SendMessageV2                 RequestCode = 310
	SendBatchMessage              RequestCode = 320
	SendReplyMessage              RequestCode = 324
	SendReplyMessageV2            RequestCode = 325
	PushReplyMessageToClient      RequestCode = 326

	// Sluice's own admin codes live above RocketMQ's range so that no
	// RocketMQ tool can send one by accident.
	GetActorTree RequestCode = 10001
	SetFault     RequestCode = 10002
)

var requestCodeNames = map[RequestCode]string{
	SendMessage: "SEND_MESSAGE", PullMessage: "PULL_MESSAGE", QueryMessage: "QUERY_MESSAGE",
	QueryConsumerOffset: "QUERY_CONSUMER_OFFSET", UpdateConsumerOffset: "UPDATE_CONSUMER_OFFSET",
	UpdateAndCreateTopic: "UPDATE_AND_CREATE_TOPIC", GetAllTopicConfig: "GET_ALL_TOPIC_CONFIG",
	GetBrokerRuntimeInfo: "GET_BROKER_RUNTIME_INFO", SearchOffsetByTimestamp: "SEARCH_OFFSET_BY_TIMESTAMP",
	GetMaxOffset: "GET_MAX_OFFSET", GetMinOffset: "GET_MIN_OFFSET", ViewMessageByID: "VIEW_MESSAGE_BY_ID",
	HeartBeat: "HEART_BEAT", UnregisterClient: "UNREGISTER_CLIENT", ConsumerSendMsgBack: "CONSUMER_SEND_MSG_BACK",
	EndTransaction: "END_TRANSACTION", GetConsumerListByGroup: "GET_CONSUMER_LIST_BY_GROUP",
	CheckTransactionState: "CHECK_TRANSACTION_STATE", NotifyConsumerIDsChanged: "NOTIFY_CONSUMER_IDS_CHANGED",
	LockBatchMQ: "LOCK_BATCH_MQ", UnlockBatchMQ: "UNLOCK_BATCH_MQ", RegisterBroker: "REGISTER_BROKER",
	UnregisterBroker: "UNREGISTER_BROKER", GetRouteInfoByTopic: "GET_ROUTEINFO_BY_TOPIC",
	GetBrokerClusterInfo: "GET_BROKER_CLUSTER_INFO", GetAllSubscriptionGroupConfig: "GET_ALL_SUBSCRIPTIONGROUP_CONFIG",
	GetAllTopicListFromNameServer: "GET_ALL_TOPIC_LIST_FROM_NAMESERVER", DeleteTopicInBroker: "DELETE_TOPIC_IN_BROKER",
	DeleteTopicInNamesrv: "DELETE_TOPIC_IN_NAMESRV", SendMessageV2: "SEND_MESSAGE_V2", SendBatchMessage: "SEND_BATCH_MESSAGE",
	SendReplyMessage: "SEND_REPLY_MESSAGE", SendReplyMessageV2: "SEND_REPLY_MESSAGE_V2", PushReplyMessageToClient: "PUSH_REPLY_MESSAGE_TO_CLIENT",
	GetActorTree: "SLUICE_GET_ACTOR_TREE", SetFault: "SLUICE_SET_FAULT",
	GetEarliestMsgStoretime: "GET_EARLIEST_MSG_STORETIME",
}

func (c RequestCode) String() string {
	if n, ok := requestCodeNames[c]; ok {
		return n
	}
	return "REQUEST_CODE_" + strconv.Itoa(int(c))
}

// ResponseCode is the code of a response frame (RemotingSysResponseCode and
// ResponseCode in RocketMQ).
type ResponseCode int16

// Response codes, numbered as RocketMQ numbers them.
const (
	Success                   ResponseCode = 0
	SystemError               ResponseCode = 1
	SystemBusy                ResponseCode = 2
	RequestCodeNotSupported   ResponseCode = 3
	TransactionFailed         ResponseCode = 4
	FlushDiskTimeout          ResponseCode = 10
	SlaveNotAvailable         ResponseCode = 11
	FlushSlaveTimeout         ResponseCode = 12
	MessageIllegal            ResponseCode = 13
	ServiceNotAvailable       ResponseCode = 14
	VersionNotSupported       ResponseCode = 15
	NoPermission              ResponseCode = 16
	TopicNotExist             ResponseCode = 17
	TopicExistAlready         ResponseCode = 18
	PullNotFound              ResponseCode = 19
	PullRetryImmediately      ResponseCode = 20
	PullOffsetMoved           ResponseCode = 21
	QueryNotFound             ResponseCode = 22
	SubscriptionParseFailed   ResponseCode = 23
	SubscriptionNotExist      ResponseCode = 24
	SubscriptionNotLatest     ResponseCode = 25
	SubscriptionGroupNotExist ResponseCode = 26
)

var responseCodeNames = map[ResponseCode]string{
	Success: "SUCCESS", SystemError: "SYSTEM_ERROR", SystemBusy: "SYSTEM_BUSY",
	RequestCodeNotSupported: "REQUEST_CODE_NOT_SUPPORTED", TransactionFailed: "TRANSACTION_FAILED",
	FlushDiskTimeout: "FLUSH_DISK_TIMEOUT", SlaveNotAvailable: "SLAVE_NOT_AVAILABLE",
	FlushSlaveTimeout: "FLUSH_SLAVE_TIMEOUT", MessageIllegal: "MESSAGE_ILLEGAL",
	ServiceNotAvailable: "SERVICE_NOT_AVAILABLE", VersionNotSupported: "VERSION_NOT_SUPPORTED",
	NoPermission: "NO_PERMISSION", TopicNotExist: "TOPIC_NOT_EXIST", TopicExistAlready: "TOPIC_EXIST_ALREADY",
	PullNotFound: "PULL_NOT_FOUND", PullRetryImmediately: "PULL_RETRY_IMMEDIATELY",
	PullOffsetMoved: "PULL_OFFSET_MOVED", QueryNotFound: "QUERY_NOT_FOUND",
	SubscriptionParseFailed: "SUBSCRIPTION_PARSE_FAILED", SubscriptionNotExist: "SUBSCRIPTION_NOT_EXIST",
	SubscriptionNotLatest: "SUBSCRIPTION_NOT_LATEST", SubscriptionGroupNotExist: "SUBSCRIPTION_GROUP_NOT_EXIST",
}

func (c ResponseCode) String() string {
	if n, ok := responseCodeNames[c]; ok {
		return n
	}
	return "RESPONSE_CODE_" + strconv.Itoa(int(c))
}

// LanguageCode identifies the sender's client library (LanguageCode.java).
type LanguageCode byte

// Language codes in RocketMQ's order; the binary header carries the byte,
// the JSON header the name.
const (
	LangJava LanguageCode = iota
	LangCPP
	LangDotnet
	LangPython
	LangDelphi
	LangErlang
	LangRuby
	LangOther
	LangHTTP
	LangGo
	LangPHP
	LangOMS
	LangRust
	LangNodeJS
)

var languageNames = [...]string{"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP", "OMS", "RUST", "NODE_JS"}

func (l LanguageCode) String() string {
	if int(l) < len(languageNames) {
		return languageNames[l]
	}
	return "OTHER"
}

// ParseLanguage maps a JSON language name to its code; unknown names are
// LangOther, as the Go client treats names it does not know.
func ParseLanguage(s string) LanguageCode {
	for i, n := range languageNames {
		if n == s {
			return LanguageCode(i)
		}
	}
	return LangOther
}

// The operators' admin codes (mqadmin, the Dashboard) and the name
// server's listings, as RocketMQ 4.9's RequestCode numbers them. Whether
// Sluice serves or refuses each is in actors/admin and actors/namesrv.
const (
	QueryBrokerOffset                RequestCode = 13
	GetTopicConfigList               RequestCode = 22
	GetTopicNameList                 RequestCode = 23
	UpdateBrokerConfig               RequestCode = 25
	GetBrokerConfig                  RequestCode = 26
	TriggerDeleteFiles               RequestCode = 27
	GetAllConsumerOffset             RequestCode = 43
	GetAllDelayOffset                RequestCode = 45
	CheckClientConfig                RequestCode = 46
	UpdateAndCreateACLConfig         RequestCode = 50
	DeleteACLConfig                  RequestCode = 51
	GetBrokerClusterACLInfo          RequestCode = 52
	UpdateGlobalWhiteAddrsConfig     RequestCode = 53
	PutKVConfig                      RequestCode = 100
	GetKVConfig                      RequestCode = 101
	DeleteKVConfig                   RequestCode = 102
	UpdateAndCreateSubscriptionGroup RequestCode = 200
	GetTopicStatsInfo                RequestCode = 202
	GetConsumerConnectionList        RequestCode = 203
	GetProducerConnectionList        RequestCode = 204
	WipeWritePermOfBroker            RequestCode = 205
	DeleteSubscriptionGroup          RequestCode = 207
	GetConsumeStats                  RequestCode = 208
	SuspendConsumer                  RequestCode = 209
	ResumeConsumer                   RequestCode = 210
	ResetConsumerOffsetInConsumer    RequestCode = 211
	ResetConsumerOffsetInBroker      RequestCode = 212
	AdjustConsumerThreadPool         RequestCode = 213
	WhoConsumeTheMessage             RequestCode = 214
	GetKVListByNamespace             RequestCode = 219
	ResetConsumerClientOffset        RequestCode = 220
	GetConsumerStatusFromClient      RequestCode = 221
	InvokeBrokerToResetOffset        RequestCode = 222
	InvokeBrokerToGetConsumerStatus  RequestCode = 223
	GetTopicsByCluster               RequestCode = 224
	QueryTopicConsumeByWho           RequestCode = 300
	RegisterFilterServer             RequestCode = 301
	RegisterMessageFilterClass       RequestCode = 302
	QueryConsumeTimeSpan             RequestCode = 303
	GetSystemTopicListFromNS         RequestCode = 304
	GetSystemTopicListFromBroker     RequestCode = 305
	CleanExpiredConsumeQueue         RequestCode = 306
	GetConsumerRunningInfo           RequestCode = 307
	QueryCorrectionOffset            RequestCode = 308
	ConsumeMessageDirectly           RequestCode = 309
	GetUnitTopicList                 RequestCode = 311
	GetHasUnitSubTopicList           RequestCode = 312
	GetHasUnitSubUnunitTopicList     RequestCode = 313
	CloneGroupOffset                 RequestCode = 314
	ViewBrokerStatsData              RequestCode = 315
	CleanUnusedTopic                 RequestCode = 316
	GetBrokerConsumeStats            RequestCode = 317
	UpdateNamesrvConfig              RequestCode = 318
	GetNamesrvConfig                 RequestCode = 319
	QueryConsumeQueue                RequestCode = 321
	QueryDataVersion                 RequestCode = 322
	ResumeCheckHalfMessage           RequestCode = 323
	AddWritePermOfBroker             RequestCode = 327
	GetAllProducerInfo               RequestCode = 328
	DeleteExpiredCommitLog           RequestCode = 329
)

// ConsumerNotOnline is RocketMQ's CONSUMER_NOT_ONLINE (206).
const ConsumerNotOnline ResponseCode = 206

// ConsumeMsgTimeout is RocketMQ's CONSUME_MSG_TIMEOUT (207): a client did
// not answer a request the broker passed on.
const ConsumeMsgTimeout ResponseCode = 207

func init() {
	for c, n := range map[RequestCode]string{
		QueryBrokerOffset: "QUERY_BROKER_OFFSET", GetTopicConfigList: "GET_TOPIC_CONFIG_LIST",
		GetTopicNameList: "GET_TOPIC_NAME_LIST", UpdateBrokerConfig: "UPDATE_BROKER_CONFIG",
		GetBrokerConfig: "GET_BROKER_CONFIG", TriggerDeleteFiles: "TRIGGER_DELETE_FILES",
		GetAllConsumerOffset: "GET_ALL_CONSUMER_OFFSET", GetAllDelayOffset: "GET_ALL_DELAY_OFFSET",
		CheckClientConfig: "CHECK_CLIENT_CONFIG", UpdateAndCreateACLConfig: "UPDATE_AND_CREATE_ACL_CONFIG",
		DeleteACLConfig: "DELETE_ACL_CONFIG", GetBrokerClusterACLInfo: "GET_BROKER_CLUSTER_ACL_INFO",
		UpdateGlobalWhiteAddrsConfig: "UPDATE_GLOBAL_WHITE_ADDRS_CONFIG", PutKVConfig: "PUT_KV_CONFIG",
		GetKVConfig: "GET_KV_CONFIG", DeleteKVConfig: "DELETE_KV_CONFIG",
		UpdateAndCreateSubscriptionGroup: "UPDATE_AND_CREATE_SUBSCRIPTIONGROUP", GetTopicStatsInfo: "GET_TOPIC_STATS_INFO",
		GetConsumerConnectionList: "GET_CONSUMER_CONNECTION_LIST", GetProducerConnectionList: "GET_PRODUCER_CONNECTION_LIST",
		WipeWritePermOfBroker: "WIPE_WRITE_PERM_OF_BROKER", DeleteSubscriptionGroup: "DELETE_SUBSCRIPTIONGROUP",
		GetConsumeStats: "GET_CONSUME_STATS", SuspendConsumer: "SUSPEND_CONSUMER", ResumeConsumer: "RESUME_CONSUMER",
		ResetConsumerOffsetInConsumer: "RESET_CONSUMER_OFFSET_IN_CONSUMER", ResetConsumerOffsetInBroker: "RESET_CONSUMER_OFFSET_IN_BROKER",
		AdjustConsumerThreadPool: "ADJUST_CONSUMER_THREAD_POOL", WhoConsumeTheMessage: "WHO_CONSUME_THE_MESSAGE",
		GetKVListByNamespace: "GET_KVLIST_BY_NAMESPACE", ResetConsumerClientOffset: "RESET_CONSUMER_CLIENT_OFFSET",
		GetConsumerStatusFromClient: "GET_CONSUMER_STATUS_FROM_CLIENT", InvokeBrokerToResetOffset: "INVOKE_BROKER_TO_RESET_OFFSET",
		InvokeBrokerToGetConsumerStatus: "INVOKE_BROKER_TO_GET_CONSUMER_STATUS", GetTopicsByCluster: "GET_TOPICS_BY_CLUSTER",
		QueryTopicConsumeByWho: "QUERY_TOPIC_CONSUME_BY_WHO", RegisterFilterServer: "REGISTER_FILTER_SERVER",
		RegisterMessageFilterClass: "REGISTER_MESSAGE_FILTER_CLASS", QueryConsumeTimeSpan: "QUERY_CONSUME_TIME_SPAN",
		GetSystemTopicListFromNS: "GET_SYSTEM_TOPIC_LIST_FROM_NS", GetSystemTopicListFromBroker: "GET_SYSTEM_TOPIC_LIST_FROM_BROKER",
		CleanExpiredConsumeQueue: "CLEAN_EXPIRED_CONSUMEQUEUE", GetConsumerRunningInfo: "GET_CONSUMER_RUNNING_INFO",
		QueryCorrectionOffset: "QUERY_CORRECTION_OFFSET", ConsumeMessageDirectly: "CONSUME_MESSAGE_DIRECTLY",
		GetUnitTopicList: "GET_UNIT_TOPIC_LIST", GetHasUnitSubTopicList: "GET_HAS_UNIT_SUB_TOPIC_LIST",
		GetHasUnitSubUnunitTopicList: "GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST", CloneGroupOffset: "CLONE_GROUP_OFFSET",
		ViewBrokerStatsData: "VIEW_BROKER_STATS_DATA", CleanUnusedTopic: "CLEAN_UNUSED_TOPIC",
		GetBrokerConsumeStats: "GET_BROKER_CONSUME_STATS", UpdateNamesrvConfig: "UPDATE_NAMESRV_CONFIG",
		GetNamesrvConfig: "GET_NAMESRV_CONFIG", QueryConsumeQueue: "QUERY_CONSUME_QUEUE", QueryDataVersion: "QUERY_DATA_VERSION",
		ResumeCheckHalfMessage: "RESUME_CHECK_HALF_MESSAGE", AddWritePermOfBroker: "ADD_WRITE_PERM_OF_BROKER",
		GetAllProducerInfo: "GET_ALL_PRODUCER_INFO", DeleteExpiredCommitLog: "DELETE_EXPIRED_COMMITLOG",
	} {
		if _, dup := requestCodeNames[c]; !dup {
			requestCodeNames[c] = n
		}
	}
	responseCodeNames[ConsumerNotOnline] = "CONSUMER_NOT_ONLINE"
	responseCodeNames[ConsumeMsgTimeout] = "CONSUME_MSG_TIMEOUT"
}
