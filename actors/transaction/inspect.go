package transaction

import (
	"time"

	"github.com/sluice-mq/sluice/actors/tree"
)

// Inspect describes the service for the tree, on the node of the actor
// that runs its check.
func (s *Service) Inspect(n *tree.Node) {
	n.Kind = tree.KindService
	halfMax := s.store.MaxOffsetInQueue(HalfTopic, 0)
	st := &s.stats
	info := &tree.TransactionInfo{
		HalfPending:         s.table.pending(halfMax),
		HalfOffset:          s.halfBase.Load(),
		HalfMaxOffset:       halfMax,
		OpOffset:            s.opBase.Load(),
		OpMaxOffset:         s.store.MaxOffsetInQueue(OpTopic, 0),
		InFlight:            len(s.slots),
		Committed:           st.committed.Load(),
		RolledBack:          st.rolledBack.Load(),
		Duplicates:          st.duplicates.Load(),
		Refused:             st.conflicts.Load() + st.refused.Load() + st.notFound.Load(),
		StoreFailures:       st.commitFailures.Load() + st.opFailures.Load(),
		ChecksSent:          st.checksSent.Load(),
		ChecksUnsent:        st.checksUnsent.Load(),
		Discarded:           st.discarded.Load(),
		CheckRounds:         st.rounds.Load(),
		CheckIntervalMillis: s.cfg.TransactionCheckInterval.Milliseconds(),
		TimeoutMillis:       s.cfg.TransactionTimeOut.Milliseconds(),
		CheckMax:            s.cfg.TransactionCheckMax,
	}
	if ms := s.lastRound.Load(); ms > 0 {
		info.LastCheck = time.UnixMilli(ms)
	}
	n.Transaction = info
}

// CheckInterval is transactionCheckInterval, for the actor that runs Check.
func (s *Service) CheckInterval() time.Duration { return s.cfg.TransactionCheckInterval }
