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
	CodeGetBrokerClusterAclConfig = 54
	codeRegisterTopicInNamesrv    = 217
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
		remoting.UpdateAndCreateTopic, remoting.UpdateBrokerConfig, remoting.DeleteTopicInBroker,
		remoting.UpdateAndCreateSubscriptionGroup, remoting.DeleteSubscriptionGroup,
		// … the ACL's own codes (any account could rewrite the ACL in 4.9) …
		remoting.UpdateAndCreateACLConfig, remoting.DeleteACLConfig, remoting.GetBrokerClusterACLInfo,
		remoting.UpdateGlobalWhiteAddrsConfig, CodeGetBrokerClusterAclConfig,
		// … codes that destroy data or change a broker for everyone …
		remoting.TriggerDeleteFiles, remoting.WipeWritePermOfBroker, remoting.AddWritePermOfBroker,
		remoting.ResetConsumerOffsetInBroker, remoting.InvokeBrokerToResetOffset, remoting.CleanExpiredConsumeQueue,
		remoting.CleanUnusedTopic, remoting.DeleteExpiredCommitLog, remoting.CloneGroupOffset, remoting.ResumeCheckHalfMessage,
		// … name-server writes, should they reach a broker …
		remoting.RegisterBroker, remoting.UnregisterBroker, remoting.DeleteTopicInNamesrv,
		remoting.PutKVConfig, remoting.DeleteKVConfig, remoting.UpdateNamesrvConfig, codeRegisterTopicInNamesrv,
		// … and Sluice's own: the actor tree and fault injection.
		remoting.GetActorTree, remoting.SetFault:
		return classAdmin
	case remoting.QueryBrokerOffset, remoting.QueryConsumerOffset, remoting.GetAllTopicConfig,
		remoting.GetTopicConfigList, remoting.GetTopicNameList, remoting.GetBrokerConfig, remoting.GetBrokerRuntimeInfo,
		remoting.SearchOffsetByTimestamp, remoting.GetMaxOffset, remoting.GetMinOffset,
		remoting.GetEarliestMsgStoretime, remoting.ViewMessageByID, remoting.EndTransaction,
		remoting.CheckTransactionState, remoting.NotifyConsumerIDsChanged, remoting.LockBatchMQ,
		remoting.UnlockBatchMQ, remoting.GetAllConsumerOffset, remoting.GetAllDelayOffset, remoting.CheckClientConfig,
		remoting.GetKVConfig, remoting.GetRouteInfoByTopic, remoting.GetBrokerClusterInfo,
		remoting.GetAllSubscriptionGroupConfig, remoting.GetTopicStatsInfo, remoting.GetConsumerConnectionList,
		remoting.GetProducerConnectionList, remoting.GetAllTopicListFromNameServer, remoting.GetConsumeStats,
		remoting.SuspendConsumer, remoting.ResumeConsumer, remoting.ResetConsumerOffsetInConsumer,
		remoting.AdjustConsumerThreadPool, remoting.WhoConsumeTheMessage, remoting.GetKVListByNamespace,
		remoting.ResetConsumerClientOffset, remoting.GetConsumerStatusFromClient, remoting.InvokeBrokerToGetConsumerStatus,
		remoting.GetTopicsByCluster, remoting.QueryTopicConsumeByWho, remoting.RegisterFilterServer,
		remoting.RegisterMessageFilterClass, remoting.QueryConsumeTimeSpan, remoting.GetSystemTopicListFromNS,
		remoting.GetSystemTopicListFromBroker, remoting.GetConsumerRunningInfo, remoting.QueryCorrectionOffset,
		remoting.ConsumeMessageDirectly, remoting.GetUnitTopicList, remoting.GetHasUnitSubTopicList,
		remoting.GetHasUnitSubUnunitTopicList, remoting.ViewBrokerStatsData, remoting.GetBrokerConsumeStats,
		remoting.GetNamesrvConfig, remoting.QueryConsumeQueue, remoting.QueryDataVersion,
		remoting.PushReplyMessageToClient, remoting.GetAllProducerInfo:
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
		remoting.GetKVConfig, remoting.GetKVListByNamespace, remoting.GetTopicsByCluster, remoting.GetSystemTopicListFromNS,
		remoting.GetUnitTopicList, remoting.GetHasUnitSubTopicList, remoting.GetHasUnitSubUnunitTopicList,
		remoting.QueryDataVersion:
		return classOpen
	case remoting.RegisterBroker, remoting.UnregisterBroker, remoting.DeleteTopicInNamesrv,
		remoting.PutKVConfig, remoting.DeleteKVConfig, remoting.UpdateNamesrvConfig, remoting.GetNamesrvConfig,
		remoting.WipeWritePermOfBroker, remoting.AddWritePermOfBroker, codeRegisterTopicInNamesrv,
		remoting.GetActorTree, remoting.SetFault:
		return classAdmin
	}
	return classUnknown
}
