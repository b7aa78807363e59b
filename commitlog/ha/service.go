package ha

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// MasterLog is the master's store as the HA service uses it.
type MasterLog interface {
	// ReadRaw copies log bytes from an offset, within one file, up to its
	// readable end; 0 when nothing is there yet.
	ReadRaw(from int64, dst []byte) (int, error)
	MaxPhyOffset() int64
	// SlaveAcked and SetSlaveConnections feed SyncMaster's wait.
	SlaveAcked(offset int64)
	SetSlaveConnections(n int)
}

// Config is the HA keys (MessageStoreConfig's).
type Config struct {
	FileSize             int64         // mappedFileSizeCommitLog
	HeartbeatInterval    time.Duration // haSendHeartbeatInterval: 5 s
	HousekeepingInterval time.Duration // haHousekeepingInterval: 20 s
	TransferBatchSize    int           // haTransferBatchSize: 32 KiB
	// RetryInterval is how long a slave waits before connecting again
	// (RocketMQ: 5 s).
	RetryInterval time.Duration
}

func (c *Config) fill() {
	if c.FileSize <= 0 {
		c.FileSize = 1 << 30 // mappedFileSizeCommitLog's default
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.HousekeepingInterval <= 0 {
		c.HousekeepingInterval = 20 * time.Second
	}
	if c.TransferBatchSize <= 0 {
		c.TransferBatchSize = 32 << 10
	}
	if c.TransferBatchSize > ReadBufferSize-HeaderSize {
		// A transfer must fit in the slave's read buffer.
		c.TransferBatchSize = ReadBufferSize - HeaderSize
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = 5 * time.Second
	}
}

// Service is the master side (RocketMQ's HAService with its
// AcceptSocketService): it accepts slaves on the HA port and runs one
// Connection per slave.
type Service struct {
	cfg Config
	log MasterLog
	zl  zerolog.Logger
	ln  net.Listener

	// OnConnect and OnClose, if set, are told of each connection (the
	// supervisor spawns an actor per slave with them). Set before Start.
	OnConnect func(*Connection)
	OnClose   func(*Connection)

	appended notifier

	mu     sync.Mutex
	conns  map[*Connection]struct{}
	closed bool
	wg     sync.WaitGroup
	nextID atomic.Int64
}

// Listen opens the HA port at addr (":0" picks one).
func Listen(addr string, cfg Config, log MasterLog, zl zerolog.Logger) (*Service, error) {
	cfg.fill()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: log, zl: zl.With().Str("component", "ha-service").Logger(), ln: ln, conns: map[*Connection]struct{}{}}, nil
}

// Addr is the HA port's address.
func (s *Service) Addr() net.Addr { return s.ln.Addr() }

// Start accepts slaves until Close.
func (s *Service) Start() {
	s.wg.Add(1)
	go s.accept()
}

// Appended wakes the connections waiting for new bytes (the writer calls
// it after each append; without it they look every 100 ms, as RocketMQ's
// WriteSocketService waits).
func (s *Service) Appended() { s.appended.notify() }

// MaxConnections bounds the HA links a master serves at once (ours;
// RocketMQ has no bound). A reconnecting slave's old link counts until the
// housekeeping drops it, hence the room above a group's few slaves.
const MaxConnections = 32

func (s *Service) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.zl.Warn().Err(err).Msg("HA accept failed")
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		if n := len(s.conns); n >= MaxConnections {
			// Each link holds a transfer buffer and two goroutines; a
			// group has a few slaves, so anything past the bound is a
			// misconfiguration or a hostile peer, not a slave to serve.
			s.mu.Unlock()
			s.zl.Warn().Str("peer", c.RemoteAddr().String()).Int("connections", n).Msg("HA connection refused: too many slave connections")
			_ = c.Close()
			continue
		}
		conn := newConnection(s, c)
		s.conns[conn] = struct{}{}
		n := len(s.conns)
		s.mu.Unlock()
		s.log.SetSlaveConnections(n)
		s.zl.Info().Str("slave", conn.addr).Msg("HAService receive new connection")
		if s.OnConnect != nil {
			s.OnConnect(conn)
		}
		s.wg.Add(1)
		go conn.run()
	}
}

func (s *Service) remove(c *Connection) {
	s.mu.Lock()
	delete(s.conns, c)
	n := len(s.conns)
	s.mu.Unlock()
	s.log.SetSlaveConnections(n)
	if s.OnClose != nil {
		s.OnClose(c)
	}
}

// Connections returns a snapshot of every connected slave's stats.
func (s *Service) Connections() []ConnectionStats {
	s.mu.Lock()
	out := make([]ConnectionStats, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c.Stats())
	}
	s.mu.Unlock()
	return out
}

// Close stops accepting, closes every connection and waits for them.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*Connection, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	err := s.ln.Close()
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	return err
}

// notifier is a broadcast: wait returns a channel closed by the next notify.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.mu.Unlock()
}

// Connection is one slave (RocketMQ's HAConnection): its read half takes
// the slave's offset reports, its write half streams the log.
type Connection struct {
	s    *Service
	c    net.Conn
	addr string
	id   int64

	// requested is the slave's first report (-1 until then), acked its last.
	requested atomic.Int64
	acked     atomic.Int64
	next      atomic.Int64 // the next offset to send (-1 until known)
	sent      atomic.Int64 // bytes of log sent
	lastRead  atomic.Int64 // unix ms
	since     time.Time
	reported  chan struct{}

	closeOnce sync.Once
	closedCh  chan struct{}
}

// ConnectionStats is one slave as the master sees it.
type ConnectionStats struct {
	ID           int64
	Addr         string
	AckedOffset  int64 // the slave's last report (-1: none yet)
	NextTransfer int64 // the next offset to send (-1: not known yet)
	LagBytes     int64 // the master's max offset minus the acked one
	BytesSent    int64
	LastReportMs int64 // unix ms of the last report
	ConnectedAt  time.Time
}

func newConnection(s *Service, c net.Conn) *Connection {
	conn := &Connection{s: s, c: c, addr: c.RemoteAddr().String(), id: s.nextID.Add(1), since: time.Now(), reported: make(chan struct{}, 1), closedCh: make(chan struct{})}
	conn.requested.Store(-1)
	conn.acked.Store(-1)
	conn.next.Store(-1)
	conn.lastRead.Store(time.Now().UnixMilli())
	return conn
}

// ID is the connection's number, unique in the service.
func (c *Connection) ID() int64 { return c.id }

// Addr is the slave's address.
func (c *Connection) Addr() string { return c.addr }

// Stats describes the connection; any goroutine.
func (c *Connection) Stats() ConnectionStats {
	acked := c.acked.Load()
	lag := int64(0)
	if acked >= 0 {
		lag = max(0, c.s.log.MaxPhyOffset()-acked)
	} else {
		lag = c.s.log.MaxPhyOffset()
	}
	return ConnectionStats{
		ID: c.id, Addr: c.addr, AckedOffset: acked, NextTransfer: c.next.Load(), LagBytes: lag,
		BytesSent: c.sent.Load(), LastReportMs: c.lastRead.Load(), ConnectedAt: c.since,
	}
}

func (c *Connection) close() {
	c.closeOnce.Do(func() { close(c.closedCh); _ = c.c.Close() })
}

func (c *Connection) run() {
	defer c.s.wg.Done()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.write()
	}()
	c.read()
	c.close()
	<-done
	c.s.remove(c)
	c.s.zl.Info().Str("slave", c.addr).Int64("acked", c.acked.Load()).Msg("HA connection closed")
}

// read is the ReadSocketService: reports, and housekeeping — a slave
// silent for HousekeepingInterval is dropped.
func (c *Connection) read() {
	var rr ReportReader
	for {
		_ = c.c.SetReadDeadline(time.Now().Add(c.s.cfg.HousekeepingInterval))
		off, ok, err := rr.Read(c.c)
		if ok {
			c.lastRead.Store(time.Now().UnixMilli())
			c.acked.Store(off)
			c.requested.CompareAndSwap(-1, off)
			c.s.log.SlaveAcked(off)
			select {
			case c.reported <- struct{}{}:
			default:
			}
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.s.zl.Warn().Str("slave", c.addr).Dur("silentFor", c.s.cfg.HousekeepingInterval).Msg("ha housekeeping, found this connection expired")
			} else if !errors.Is(err, net.ErrClosed) {
				c.s.zl.Info().Err(err).Str("slave", c.addr).Msg("HA connection read ended")
			}
			return
		}
	}
}

// write is the WriteSocketService.
func (c *Connection) write() {
	defer c.close()
	// Wait for the slave's first report.
	for c.requested.Load() < 0 {
		select {
		case <-c.reported:
		case <-c.closedCh:
			return
		}
	}
	next := c.requested.Load()
	if next == 0 {
		// A new slave starts from the start of the master's last file.
		m := c.s.log.MaxPhyOffset()
		next = max(0, m-m%c.s.cfg.FileSize)
	}
	c.next.Store(next)
	c.s.zl.Info().Str("slave", c.addr).Int64("slaveRequestOffset", c.requested.Load()).Int64("from", next).Msg("HA transfer begins")
	buf := make([]byte, HeaderSize+c.s.cfg.TransferBatchSize)
	lastWrite := time.Time{}
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	for {
		wake := c.s.appended.wait()
		n, err := c.s.log.ReadRaw(next, buf[HeaderSize:])
		if err != nil {
			c.s.zl.Error().Err(err).Str("slave", c.addr).Int64("offset", next).Msg("HA transfer cannot read the log; dropping the slave")
			return
		}
		if n > 0 || time.Since(lastWrite) > c.s.cfg.HeartbeatInterval {
			PutHeader(buf, next, n)
			_ = c.c.SetWriteDeadline(time.Now().Add(c.s.cfg.HousekeepingInterval))
			if _, err := c.c.Write(buf[:HeaderSize+n]); err != nil {
				if !errors.Is(err, net.ErrClosed) {
					c.s.zl.Warn().Err(err).Str("slave", c.addr).Msg("HA transfer write failed; dropping the slave")
				}
				return
			}
			lastWrite = time.Now()
			next += int64(n)
			c.next.Store(next)
			c.sent.Add(int64(n))
			if n > 0 {
				continue
			}
		}
		// Nothing new: wait for an append, at most 100 ms (RocketMQ's
		// WriteSocketService waits the same).
		idle.Reset(100 * time.Millisecond)
		select {
		case <-wake:
		case <-idle.C:
		case <-c.closedCh:
			return
		}
		if !idle.Stop() {
			select {
			case <-idle.C:
			default:
			}
		}
	}
}
