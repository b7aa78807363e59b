package admin

import (
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

// RemarkSlaveModify is AdminBrokerProcessor#validateSlave's answer.
const RemarkSlaveModify = "Can't modify topic or subscription group from slave broker, please execute it from master broker."

// SlaveRefusals are a slave's answers to the codes that change topics or
// subscription groups: SYSTEM_ERROR with validateSlave's remark. A slave's
// tables are the master's, copied every sync; a change made here would be
// undone by the next one.
func SlaveRefusals(log zerolog.Logger) map[remoting.RequestCode]actors.HandlerFunc {
	refuse := func(r *actors.Request) {
		log.Warn().Stringer("code", r.Cmd.RequestCode()).Str("from", r.RemoteAddr()).Msg("refused on a slave: change topics and subscription groups on the master")
		r.ReplyCode(remoting.SystemError, RemarkSlaveModify)
	}
	return map[remoting.RequestCode]actors.HandlerFunc{
		remoting.UpdateAndCreateTopic:             refuse,
		remoting.DeleteTopicInBroker:              refuse,
		remoting.UpdateAndCreateSubscriptionGroup: refuse,
		remoting.DeleteSubscriptionGroup:          refuse,
	}
}
