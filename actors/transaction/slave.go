package transaction

import (
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

// SlaveRefusal is a slave's END_TRANSACTION, as EndTransactionProcessor
// answers it before reading anything: SLAVE_NOT_AVAILABLE with no remark,
// and "Message store is slave mode, so end transaction is forbidden." in
// the log. The decision belongs to the master, which stores the half
// message and checks it.
func SlaveRefusal(log zerolog.Logger) actors.HandlerFunc {
	return func(r *actors.Request) {
		log.Warn().Str("client", r.RemoteAddr()).Msg("Message store is slave mode, so end transaction is forbidden.")
		r.ReplyCode(remoting.SlaveNotAvailable, "")
	}
}
