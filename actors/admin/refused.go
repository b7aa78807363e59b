package admin

import (
	"strconv"

	"github.com/rs/zerolog"
	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

// Refused are the admin codes of RocketMQ 4.9's AdminBrokerProcessor whose
// semantics Sluice does not have, each with the reason its answer gives.
// They are answered REQUEST_CODE_NOT_SUPPORTED by name rather than with
// Java's bare " request type N not supported", so that an operator's tool
// says what is missing.
var refused = map[remoting.RequestCode]string{
	remoting.TriggerDeleteFiles:       "retention deletes expired files on its own schedule (deleteWhen, fileReservedTime)",
	remoting.CheckClientConfig:        "SQL92 and class filters are not supported; subscribe by tag",
	remoting.RegisterFilterServer:     "filter servers are not supported",
	remoting.QueryCorrectionOffset:    "filter servers are not supported",
	remoting.CleanExpiredConsumeQueue: "consume queues are deleted with their commit-log files by retention",
	remoting.CleanUnusedTopic:         "consume queues are deleted with their topic (DELETE_TOPIC_IN_BROKER)",
	remoting.DeleteExpiredCommitLog:   "retention deletes expired files on its own schedule (deleteWhen, fileReservedTime)",
	remoting.ResumeCheckHalfMessage:   "half messages are checked on transactionCheckInterval only",
	remoting.QueryConsumeQueue:        "consume-queue dumps are not implemented; use consumerProgress or the tree",
	remoting.GetAllProducerInfo:       "RocketMQ 5's producer table is not implemented; use producerConnection per group",
}

// OperatorCodes are the codes served or refused here that the admin
// processor routes beyond the offset and topic ones.
func OperatorCodes() []remoting.RequestCode {
	codes := []remoting.RequestCode{
		remoting.GetBrokerConfig, remoting.UpdateBrokerConfig, remoting.ViewBrokerStatsData,
		remoting.GetTopicStatsInfo, remoting.GetConsumerConnectionList, remoting.GetProducerConnectionList,
		remoting.GetConsumeStats, remoting.GetBrokerConsumeStats, remoting.QueryTopicConsumeByWho,
		remoting.GetAllConsumerOffset, remoting.GetAllDelayOffset, remoting.UpdateAndCreateSubscriptionGroup,
		remoting.DeleteSubscriptionGroup, remoting.CloneGroupOffset, remoting.InvokeBrokerToResetOffset,
		remoting.GetConsumerRunningInfo, remoting.ConsumeMessageDirectly, remoting.GetSystemTopicListFromBroker,
		remoting.QueryConsumeTimeSpan, remoting.InvokeBrokerToGetConsumerStatus,
	}
	for c := range refused {
		codes = append(codes, c)
	}
	return codes
}

// RefusedHandlers answers each refused code by name, with a log line.
func (p *Handlers) RefusedHandlers() map[remoting.RequestCode]actors.HandlerFunc {
	m := make(map[remoting.RequestCode]actors.HandlerFunc, len(refused))
	for c, why := range refused {
		m[c] = Refuse(p.Log, c, " is not supported by Sluice: "+why, "refused: "+why)
	}
	return m
}

// Refuse answers code REQUEST_CODE_NOT_SUPPORTED with a remark naming it
// ("NAME (N)" then why) and logs logMsg with the caller's address: how
// Sluice refuses a code whose feature it lacks or has off.
func Refuse(log zerolog.Logger, code remoting.RequestCode, why, logMsg string) actors.HandlerFunc {
	remark := code.String() + " (" + strconv.Itoa(int(code)) + ")" + why
	return func(r *actors.Request) {
		log.Warn().Stringer("code", code).Str("from", r.RemoteAddr()).Msg(logMsg)
		r.ReplyCode(remoting.RequestCodeNotSupported, remark)
	}
}
