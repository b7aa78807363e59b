package remoting

import "strconv"

// RequestCode is the code of a request frame, named as RocketMQ's
// RequestCode.java names it.
type RequestCode int16

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
