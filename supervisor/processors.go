package supervisor

import (
	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/acl"
	"github.com/sluice-mq/sluice/actors/admin"
	"github.com/sluice-mq/sluice/actors/pop"
	"github.com/sluice-mq/sluice/remoting"
)

// Processor names, as the tree and metrics show them.
const (
	ProcSend           = "send"
	ProcPull           = "pull"
	ProcHeartbeat      = "heartbeat"
	ProcClientManage   = "clientManage"
	ProcConsumerManage = "consumerManage"
	ProcEndTransaction = "endTransaction"
	ProcAdmin          = "admin"
)

// standardProcessors lays out RocketMQ's executors (BrokerController#
// registerProcessor): which codes share a queue, its capacity and how long
// a request may wait in it. handlers maps each code to its implementation;
// a routed code without one answers REQUEST_CODE_NOT_SUPPORTED.
func standardProcessors(cfg *Config, handlers map[remoting.RequestCode]actors.HandlerFunc, sendReject func() (remoting.BusyKind, bool)) []*actors.Processor {
	mk := func(name, infoKey string, capacity int, waitMs int64, codes ...remoting.RequestCode) *actors.Processor {
		return &actors.Processor{
			Name:           name,
			RuntimeInfoKey: infoKey,
			Codes:          codes,
			Capacity:       capacity,
			MaxWaitInQueue: millis(waitMs),
			NewHandler:     muxFor(codes, handlers),
		}
	}
	send := mk(ProcSend, "sendThreadPool", cfg.SendThreadPoolQueueCapacity, cfg.WaitTimeMillsInSendQueue,
		remoting.SendMessage, remoting.SendMessageV2, remoting.SendBatchMessage, remoting.ConsumerSendMsgBack,
		remoting.SendReplyMessage, remoting.SendReplyMessageV2)
	send.PageCacheSweep = true
	send.AdmissionControl = cfg.SendQueueAdmissionControl
	send.Backpressure = cfg.SendQueueBackpressure
	send.RejectRequest = sendReject
	adminCodes := []remoting.RequestCode{
		remoting.UpdateAndCreateTopic, remoting.GetAllTopicConfig, remoting.GetBrokerRuntimeInfo,
		remoting.SearchOffsetByTimestamp, remoting.GetMaxOffset, remoting.GetMinOffset, remoting.ViewMessageByID,
		remoting.LockBatchMQ, remoting.UnlockBatchMQ, remoting.GetAllSubscriptionGroupConfig,
		remoting.DeleteTopicInBroker, remoting.QueryMessage, remoting.GetActorTree, remoting.SetFault,
		remoting.GetEarliestMsgStoretime,
	}
	// RocketMQ answers the ACL codes from AdminBrokerProcessor too (with
	// aclEnable=false they are refused there: see aclHandlers).
	adminCodes = append(adminCodes, admin.OperatorCodes()...)
	adminCodes = append(adminCodes, acl.Codes()...)
	return []*actors.Processor{
		send,
		mk(ProcPull, "pullThreadPool", cfg.PullThreadPoolQueueCapacity, cfg.WaitTimeMillsInPullQueue, append([]remoting.RequestCode{remoting.PullMessage}, pop.Codes()...)...),
		mk(ProcHeartbeat, "heartbeatThreadPool", cfg.HeartbeatThreadPoolQueueCapacity, cfg.WaitTimeMillsInHeartbeatQueue, remoting.HeartBeat),
		mk(ProcClientManage, "clientManagerThreadPool", cfg.ClientManagerThreadPoolQueueCapacity, 0, remoting.UnregisterClient),
		mk(ProcConsumerManage, "consumerManagerThreadPool", cfg.ConsumerManagerThreadPoolQueueCapacity, 0,
			remoting.GetConsumerListByGroup, remoting.QueryConsumerOffset, remoting.UpdateConsumerOffset),
		mk(ProcEndTransaction, admin.EndTransactionKey, cfg.EndTransactionPoolQueueCapacity, cfg.WaitTimeMillsInTransactionQueue, remoting.EndTransaction),
		mk(ProcAdmin, "adminBrokerThreadPool", cfg.AdminBrokerThreadPoolQueueCapacity, cfg.WaitTimeMillsInAdminBrokerQueue, adminCodes...),
	}
}

// muxFor builds a processor's handler: one function per request code.
func muxFor(codes []remoting.RequestCode, handlers map[remoting.RequestCode]actors.HandlerFunc) func() actors.Handler {
	table := make(map[remoting.RequestCode]actors.HandlerFunc, len(codes))
	for _, c := range codes {
		if h, ok := handlers[c]; ok {
			table[c] = h
		}
	}
	return func() actors.Handler { return actors.Mux(table) }
}
