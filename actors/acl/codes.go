package acl

import "github.com/sluice-mq/sluice/remoting"

// codeClass is what a request code needs under ACL.
type codeClass uint8

const (
	// classUnknown: a code the table does not know is refused, so that a
	// code added to Sluice later is not open by accident.
	classUnknown codeClass = iota
	// classSigned: any account with a valid signature (RocketMQ's default
	// branch of PlainAccessValidator#parse).
	classSigned
	// classResource: a valid signature and PUB/SUB on the topics and groups
	// the request names (the cases of PlainAccessValidator#parse).
	classResource
	// classAdmin: a valid signature of an account with admin: true.
	classAdmin
	// classOpen: no check at all (the name server's look-ups).
	classOpen
)

// Request codes RocketMQ 4.9 defines that remoting does not name (yet):
// the table classifies every RocketMQ code, so that a handler added for
// one later is covered the day it lands.
const (
	codeQueryBrokerOffset             = 13
	codeGetTopicConfigList            = 22
	codeGetTopicNameList              = 23
	codeUpdateBrokerConfig            = 25
	codeGetBrokerConfig               = 26
	codeTriggerDeleteFiles            = 27
	codeGetEarliestMsgStoretime       = 32
	codeGetAllConsumerOffset          = 43
	codeGetAllDelayOffset             = 45
	codeCheckClientConfig             = 46
	CodeUpdateAndCreateAclConfig      = 50
	CodeDeleteAclConfig               = 51
	CodeGetBrokerClusterAclInfo       = 52
	CodeUpdateGlobalWhiteAddrsConfig  = 53
	CodeGetBrokerClusterAclConfig     = 54
	codePutKVConfig                   = 100
	codeGetKVConfig                   = 101
	codeDeleteKVConfig                = 102
	codeUpdateAndCreateSubscription   = 200
	codeGetTopicStatsInfo             = 202
	codeGetConsumerConnectionList     = 203
	codeGetProducerConnectionList     = 204
	codeWipeWritePermOfBroker         = 205
	codeDeleteSubscriptionGroup       = 207
	codeGetConsumeStats               = 208
	codeSuspendConsumer               = 209
	codeResumeConsumer                = 210
	codeResetConsumerOffsetInConsumer = 211
	codeResetConsumerOffsetInBroker   = 212
	codeAdjustConsumerThreadPool      = 213
	codeWhoConsumeTheMessage          = 214
	codeRegisterTopicInNamesrv        = 217
	codeGetKVListByNamespace          = 219
	codeResetConsumerClientOffset     = 220
	codeGetConsumerStatusFromClient   = 221
	codeInvokeBrokerToResetOffset     = 222
	codeInvokeBrokerToGetConsumerStat = 223
	codeGetTopicsByCluster            = 224
	codeQueryTopicConsumeByWho        = 300
	codeRegisterFilterServer          = 301
	codeRegisterMessageFilterClass    = 302
	codeQueryConsumeTimeSpan          = 303
	codeGetSystemTopicListFromNS      = 304
	codeGetSystemTopicListFromBroker  = 305
	codeCleanExpiredConsumeQueue      = 306
	codeGetConsumerRunningInfo        = 307
	codeQueryCorrectionOffset         = 308
	codeConsumeMessageDirectly        = 309
	codeGetUnitTopicList              = 311
	codeGetHasUnitSubTopicList        = 312
	codeGetHasUnitSubUnunitTopicList  = 313
	codeCloneGroupOffset              = 314
	codeViewBrokerStatsData           = 315
	codeCleanUnusedTopic              = 316
	codeGetBrokerConsumeStats         = 317
	codeUpdateNamesrvConfig           = 318
	codeGetNamesrvConfig              = 319
	codeQueryConsumeQueue             = 321
	codeQueryDataVersion              = 322
	codeResumeCheckHalfMessage        = 323
	codeAddWritePermOfBroker          = 327
	codeGetAllProducerInfo            = 328
	codeDeleteExpiredCommitlog        = 329
)

// brokerClass classifies a code sent to a broker.
func brokerClass(code remoting.RequestCode) codeClass {
	switch code {
	case remoting.SendMessage, remoting.SendMessageV2, remoting.SendBatchMessage,
		remoting.SendReplyMessage, remoting.SendReplyMessageV2,
		remoting.ConsumerSendMsgBack, remoting.PullMessage, remoting.QueryMessage,
		remoting.HeartBeat, remoting.UnregisterClient, remoting.GetConsumerListByGroup,
		remoting.UpdateConsumerOffset:
		return classResource
	case
		// Permission.ADMIN_CODE of RocketMQ 4.9 …
		remoting.UpdateAndCreateTopic, codeUpdateBrokerConfig, remoting.DeleteTopicInBroker,
		codeUpdateAndCreateSubscription, codeDeleteSubscriptionGroup,
		// … the ACL's own codes (any account could rewrite the ACL in 4.9) …
		CodeUpdateAndCreateAclConfig, CodeDeleteAclConfig, CodeGetBrokerClusterAclInfo,
		CodeUpdateGlobalWhiteAddrsConfig, CodeGetBrokerClusterAclConfig,
		// … codes that destroy data or change a broker for everyone …
		codeTriggerDeleteFiles, codeWipeWritePermOfBroker, codeAddWritePermOfBroker,
		codeResetConsumerOffsetInBroker, codeInvokeBrokerToResetOffset, codeCleanExpiredConsumeQueue,
		codeCleanUnusedTopic, codeDeleteExpiredCommitlog, codeCloneGroupOffset, codeResumeCheckHalfMessage,
		// … name-server writes, should they reach a broker …
		remoting.RegisterBroker, remoting.UnregisterBroker, remoting.DeleteTopicInNamesrv,
		codePutKVConfig, codeDeleteKVConfig, codeUpdateNamesrvConfig, codeRegisterTopicInNamesrv,
		// … and Sluice's own: the actor tree and fault injection.
		remoting.GetActorTree, remoting.SetFault:
		return classAdmin
	case codeQueryBrokerOffset, remoting.QueryConsumerOffset, remoting.GetAllTopicConfig,
		codeGetTopicConfigList, codeGetTopicNameList, codeGetBrokerConfig, remoting.GetBrokerRuntimeInfo,
		remoting.SearchOffsetByTimestamp, remoting.GetMaxOffset, remoting.GetMinOffset,
		codeGetEarliestMsgStoretime, remoting.ViewMessageByID, remoting.EndTransaction,
		remoting.CheckTransactionState, remoting.NotifyConsumerIDsChanged, remoting.LockBatchMQ,
		remoting.UnlockBatchMQ, codeGetAllConsumerOffset, codeGetAllDelayOffset, codeCheckClientConfig,
		codeGetKVConfig, remoting.GetRouteInfoByTopic, remoting.GetBrokerClusterInfo,
		remoting.GetAllSubscriptionGroupConfig, codeGetTopicStatsInfo, codeGetConsumerConnectionList,
		codeGetProducerConnectionList, remoting.GetAllTopicListFromNameServer, codeGetConsumeStats,
		codeSuspendConsumer, codeResumeConsumer, codeResetConsumerOffsetInConsumer,
		codeAdjustConsumerThreadPool, codeWhoConsumeTheMessage, codeGetKVListByNamespace,
		codeResetConsumerClientOffset, codeGetConsumerStatusFromClient, codeInvokeBrokerToGetConsumerStat,
		codeGetTopicsByCluster, codeQueryTopicConsumeByWho, codeRegisterFilterServer,
		codeRegisterMessageFilterClass, codeQueryConsumeTimeSpan, codeGetSystemTopicListFromNS,
		codeGetSystemTopicListFromBroker, codeGetConsumerRunningInfo, codeQueryCorrectionOffset,
		codeConsumeMessageDirectly, codeGetUnitTopicList, codeGetHasUnitSubTopicList,
		codeGetHasUnitSubUnunitTopicList, codeViewBrokerStatsData, codeGetBrokerConsumeStats,
		codeGetNamesrvConfig, codeQueryConsumeQueue, codeQueryDataVersion,
		remoting.PushReplyMessageToClient, codeGetAllProducerInfo:
		return classSigned
	}
	return classUnknown
}

// namesrvClass classifies a code sent to a name server (ours: RocketMQ's
// name server checks nothing). Look-ups stay open, as every client
// expects; anything that changes the routes needs an admin's signature.
func namesrvClass(code remoting.RequestCode) codeClass {
	switch code {
	case remoting.GetRouteInfoByTopic, remoting.GetBrokerClusterInfo, remoting.GetAllTopicListFromNameServer,
		codeGetKVConfig, codeGetKVListByNamespace, codeGetTopicsByCluster, codeGetSystemTopicListFromNS,
		codeGetUnitTopicList, codeGetHasUnitSubTopicList, codeGetHasUnitSubUnunitTopicList,
		codeQueryDataVersion:
		return classOpen
	case remoting.RegisterBroker, remoting.UnregisterBroker, remoting.DeleteTopicInNamesrv,
		codePutKVConfig, codeDeleteKVConfig, codeUpdateNamesrvConfig, codeGetNamesrvConfig,
		codeWipeWritePermOfBroker, codeAddWritePermOfBroker, codeRegisterTopicInNamesrv,
		remoting.GetActorTree, remoting.SetFault:
		return classAdmin
	}
	return classUnknown
}
