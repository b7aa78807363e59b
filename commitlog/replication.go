package commitlog

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// BrokerRole is broker.conf brokerRole, as far as the store cares.
type BrokerRole int

const (
	// AsyncMaster acknowledges a Put once stored (and flushed, under
	// SyncFlush); slaves follow when they can.
	AsyncMaster BrokerRole = iota
	// SyncMaster acknowledges a Put only once a slave has acknowledged its
	// bytes (RocketMQ's GroupTransferService), or answers
	// PutFlushSlaveTimeout / PutSlaveNotAvailable.
	SyncMaster
	// Slave takes no Put: its log is the master's, appended by AppendRaw.
	Slave
)

func (r BrokerRole) String() string {
	switch r {
	case AsyncMaster:
		return "ASYNC_MASTER"
	case SyncMaster:
		return "SYNC_MASTER"
	case Slave:
		return "SLAVE"
	}
	return fmt.Sprintf("BrokerRole(%d)", int(r))
}

// ParseBrokerRole reads ASYNC_MASTER, SYNC_MASTER or SLAVE (case-insensitive);
// "" is ASYNC_MASTER, RocketMQ's default.
func ParseBrokerRole(s string) (BrokerRole, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "ASYNC_MASTER":
		return AsyncMaster, nil
	case "SYNC_MASTER":
		return SyncMaster, nil
	case "SLAVE":
		return Slave, nil
	}
	return 0, fmt.Errorf("commitlog: unknown brokerRole %q (want ASYNC_MASTER, SYNC_MASTER or SLAVE)", s)
}

// replication is SyncMaster's GroupTransferService: appended batches wait
// (after their flush, under SyncFlush) until a slave has acknowledged an
// offset past their end. The HA service reports acknowledgements with
// SlaveAcked and the number of connected slaves with SetSlaveConnections;
// the FIFO and its deadline watcher are the flush wait's (waitFIFO), with
// PutFlushSlaveTimeout for a batch no slave acknowledged within
// SyncFlushTimeout of its append.
type replication struct {
	s *Store
	waitFIFO
	timeout time.Duration

	// acked is RocketMQ's push2SlaveMaxOffset: the highest offset any
	// slave has acknowledged; it never goes down.
	acked  atomic.Int64
	slaves atomic.Int64

	// timedOut and unavailable count the batches answered so.
	timeouts    atomic.Int64
	unavailable atomic.Int64

	wake chan struct{}
	stop chan struct{}
	done chan struct{} // both goroutines have returned
}

func newReplication(s *Store) *replication {
	r := &replication{
		s:       s,
		timeout: time.Duration(s.cfg.SyncFlushTimeout) * time.Millisecond,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	r.waitFIFO.init(PutFlushSlaveTimeout, r.answer)
	r.waitFIFO.done = func(g *GroupCommitRequest) bool { return g.replStatus != PutOK }
	return r
}

// answer combines the two stages' statuses: the slave's failure wins, as
// in RocketMQ's asyncPutMessage.
func (r *replication) answer(g *GroupCommitRequest, st PutStatus) {
	if g.replStatus != PutOK {
		st = g.replStatus
	}
	switch st {
	case PutOK:
		st = g.flushStatus
	case PutFlushSlaveTimeout:
		r.timeouts.Add(1)
	case PutSlaveNotAvailable:
		r.unavailable.Add(1)
	}
	g.Wakeup(st)
}

// slaveOK is RocketMQ's HAService#isSlaveOK: a slave is connected and no
// further behind than HASlaveFallbehindMax.
func (r *replication) slaveOK(end int64) bool {
	return r.slaves.Load() > 0 && end-r.acked.Load() < r.s.cfg.HASlaveFallbehindMax
}

// submit queues g, which wants a slave at nextOffset, straight into the
// replication stage (no SyncFlush).
func (r *replication) submit(g *GroupCommitRequest, nextOffset int64, now time.Time) {
	g.nextOffset = nextOffset
	g.deadline = now.Add(r.timeout).UnixNano()
	g.flushStatus = PutOK
	r.push(g)
	signal(r.wake)
}

// push (the flush stage's hand-over) also wakes the service, so that a
// batch acknowledged before its flush finished is answered at once.
func (r *replication) push(g *GroupCommitRequest) {
	r.waitFIFO.push(g)
	signal(r.wake)
}

func (r *replication) run() {
	for {
		select {
		case <-r.wake:
			r.wakeReached(r.acked.Load())
		case <-r.stop:
			r.wakeAll(r.acked.Load())
			return
		}
	}
}

func (r *replication) start() {
	fin := make(chan struct{}, 2)
	go func() { r.run(); fin <- struct{}{} }()
	go func() { r.waitFIFO.watch(r.stop); fin <- struct{}{} }()
	go func() { <-fin; <-fin; close(r.done) }()
}

// close answers every batch still waiting; called by Close once the flush
// stage (which feeds this one) has stopped.
func (r *replication) close() {
	close(r.stop)
	<-r.done
}

// SlaveAcked records that a slave has the log up to offset (its 8-byte
// report); batches it covers are answered. Any goroutine.
func (s *Store) SlaveAcked(offset int64) {
	r := s.repl
	if r == nil {
		return
	}
	for {
		cur := r.acked.Load()
		if offset <= cur {
			return
		}
		if r.acked.CompareAndSwap(cur, offset) {
			signal(r.wake)
			return
		}
	}
}

// SetSlaveConnections tells the store how many slaves are connected (the
// HA service's connection count, for isSlaveOK).
func (s *Store) SetSlaveConnections(n int) {
	if s.repl != nil {
		s.repl.slaves.Store(int64(n))
	}
}

// ReplicationStatus is what a SyncMaster's slave wait looks like now.
type ReplicationStatus struct {
	Enabled bool  // SyncMaster
	Acked   int64 // the highest offset a slave acknowledged (push2SlaveMaxOffset)
	Slaves  int64 // connected slaves
	// Waiting is how many appended batches wait for a slave;
	// OldestWaitMillis how long the oldest has (0: none).
	Waiting          int
	OldestWaitMillis int64
	Timeouts         int64 // batches answered PutFlushSlaveTimeout
	Unavailable      int64 // batches answered PutSlaveNotAvailable
}

// Replication reports the slave wait; any goroutine.
func (s *Store) Replication() ReplicationStatus {
	r := s.repl
	if r == nil {
		return ReplicationStatus{}
	}
	st := ReplicationStatus{
		Enabled: true, Acked: r.acked.Load(), Slaves: r.slaves.Load(),
		Waiting: r.queued(), Timeouts: r.timeouts.Load(), Unavailable: r.unavailable.Load(),
	}
	if d, ok := r.headDeadline(); ok {
		started := d - int64(r.timeout)
		st.OldestWaitMillis = max(0, (time.Now().UnixNano()-started)/1e6)
	}
	return st
}

// Role is the store's BrokerRole.
func (s *Store) Role() BrokerRole { return s.cfg.BrokerRole }
