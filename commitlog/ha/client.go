package ha

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// SlaveLog is the slave's store as the HA client uses it.
type SlaveLog interface {
	// MaxWroteOffset is where the next appended byte goes.
	MaxWroteOffset() int64
	// AppendRaw appends master bytes at exactly that offset.
	AppendRaw(at int64, data []byte) error
}

// Client is the slave side (RocketMQ's HAClient): it connects to the
// master's HA port, reports its max offset and appends what the master
// streams.
type Client struct {
	cfg Config
	log SlaveLog
	zl  zerolog.Logger

	master atomic.Pointer[string]
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}

	connected    atomic.Bool
	lastReport   atomic.Int64 // offset last reported
	lastReportMs atomic.Int64
	received     atomic.Int64 // log bytes appended
	reconnects   atomic.Int64
	mismatches   atomic.Int64

	mu   sync.Mutex
	conn net.Conn

	lastReceived int64 // run's goroutine only
}

// NewClient returns a client; Start runs it.
func NewClient(cfg Config, log SlaveLog, zl zerolog.Logger) *Client {
	cfg.fill()
	c := &Client{cfg: cfg, log: log, zl: zl.With().Str("component", "ha-client").Logger(),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	empty := ""
	c.master.Store(&empty)
	c.lastReport.Store(-1)
	return c
}

// SetMasterAddress sets the master's HA address (RocketMQ's
// HAClient#updateMasterAddress): from haMasterAddress at start, or as the
// name server's REGISTER_BROKER answer tells it. An established link to
// another address is dropped and the new one connected.
func (c *Client) SetMasterAddress(addr string) {
	old := c.master.Load()
	if *old == addr {
		return
	}
	c.master.Store(&addr)
	c.zl.Info().Str("old", *old).Str("new", addr).Msg("update master address")
	c.dropLink()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// MasterAddress is the address the client follows ("" : none yet).
func (c *Client) MasterAddress() string { return *c.master.Load() }

// Start runs the client until Close.
func (c *Client) Start() { go c.run() }

// Close drops the link and stops the client.
func (c *Client) Close() {
	close(c.stop)
	c.dropLink()
	<-c.done
}

func (c *Client) dropLink() {
	c.mu.Lock()
	if c.conn != nil {
		_ = c.conn.Close()
	}
	c.mu.Unlock()
}

// ClientStats is the slave's link.
type ClientStats struct {
	MasterAddr     string
	Connected      bool
	MaxOffset      int64 // the local log's end
	LastReport     int64 // offset last reported (-1: none)
	LastReportMs   int64
	BytesReceived  int64
	Reconnects     int64
	OffsetMismatch int64 // links dropped on an offset mismatch
}

// Stats describes the client; any goroutine.
func (c *Client) Stats() ClientStats {
	return ClientStats{
		MasterAddr: c.MasterAddress(), Connected: c.connected.Load(), MaxOffset: c.log.MaxWroteOffset(),
		LastReport: c.lastReport.Load(), LastReportMs: c.lastReportMs.Load(), BytesReceived: c.received.Load(),
		Reconnects: c.reconnects.Load(), OffsetMismatch: c.mismatches.Load(),
	}
}

func (c *Client) run() {
	defer close(c.done)
	dec := NewDecoder(ReadBufferSize)
	failing := false // logged once per outage, not at every retry
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		addr := c.MasterAddress()
		if addr != "" {
			err := c.follow(addr, dec)
			switch {
			case err == nil:
			case c.received.Load() != c.lastReceived || !failing:
				c.zl.Warn().Err(err).Str("master", addr).Msg("HA link to the master dropped; connecting again (logged again once it has worked)")
				failing = true
			default:
				c.zl.Debug().Err(err).Str("master", addr).Msg("HA link to the master still down")
			}
			c.lastReceived = c.received.Load()
			c.reconnects.Add(1)
		}
		t := time.NewTimer(c.cfg.RetryInterval)
		select {
		case <-c.stop:
			t.Stop()
			return
		case <-c.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// follow runs one link until it fails.
func (c *Client) follow(addr string, dec *Decoder) error {
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return fmt.Errorf("connect %s: %w", addr, err)
	}
	c.mu.Lock()
	select {
	case <-c.stop:
		c.mu.Unlock()
		_ = conn.Close()
		return nil
	default:
	}
	c.conn = conn
	c.mu.Unlock()
	c.connected.Store(true)
	defer func() {
		c.connected.Store(false)
		c.mu.Lock()
		c.conn = nil
		c.mu.Unlock()
		_ = conn.Close()
	}()
	*dec = Decoder{buf: dec.buf}
	c.zl.Info().Str("master", addr).Int64("maxOffset", c.log.MaxWroteOffset()).Msg("HAClient connected to the master")

	// The reporter owns the socket's write side: a report on connecting
	// (RocketMQ waits a heartbeat interval first), every heartbeat
	// interval, and after each append.
	appended := make(chan struct{}, 1)
	repErr := make(chan error, 1)
	quit := make(chan struct{})
	defer close(quit)
	go func() { repErr <- c.report(conn, appended, quit) }()

	for {
		// Housekeeping: the master heartbeats every HeartbeatInterval; a
		// link silent for HousekeepingInterval is dead.
		_ = conn.SetReadDeadline(time.Now().Add(c.cfg.HousekeepingInterval))
		if _, err := dec.Fill(conn); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("housekeeping: nothing from the master for %v", c.cfg.HousekeepingInterval)
			}
			select {
			case e := <-repErr:
				if e != nil {
					return e
				}
			default:
			}
			return err
		}
		progressed, err := c.dispatch(dec)
		if err != nil {
			c.mismatches.Add(1)
			return err
		}
		if progressed {
			select {
			case appended <- struct{}{}:
			default:
			}
		}
	}
}

// dispatch appends every whole transfer in dec (RocketMQ's
// dispatchReadRequest); an offset that is not the local log's end drops
// the link. A new slave's empty log takes the master's first offset.
func (c *Client) dispatch(dec *Decoder) (progressed bool, err error) {
	for {
		off, _, ok, err := dec.Header()
		if err != nil {
			return progressed, err
		}
		if !ok {
			return progressed, nil
		}
		if local := c.log.MaxWroteOffset(); local != 0 && local != off {
			return progressed, fmt.Errorf("master pushed offset %d, not equal to the max phy offset %d in slave", off, local)
		}
		off, body, ok, err := dec.Next()
		if err != nil || !ok {
			return progressed, err
		}
		if len(body) == 0 {
			continue
		}
		if err := c.log.AppendRaw(off, body); err != nil {
			return progressed, fmt.Errorf("append %d bytes at %d: %w", len(body), off, err)
		}
		c.received.Add(int64(len(body)))
		progressed = true
	}
}

func (c *Client) report(conn net.Conn, appended <-chan struct{}, quit <-chan struct{}) error {
	var b [ReportSize]byte
	t := time.NewTicker(c.cfg.HeartbeatInterval)
	defer t.Stop()
	send := func() error {
		off := c.log.MaxWroteOffset()
		PutReport(b[:], off)
		_ = conn.SetWriteDeadline(time.Now().Add(c.cfg.HousekeepingInterval))
		if _, err := conn.Write(b[:]); err != nil {
			_ = conn.Close()
			return fmt.Errorf("report offset %d: %w", off, err)
		}
		c.lastReport.Store(off)
		c.lastReportMs.Store(time.Now().UnixMilli())
		return nil
	}
	if err := send(); err != nil {
		return err
	}
	for {
		select {
		case <-quit:
			return nil
		case <-t.C:
		case <-appended:
			if c.lastReport.Load() == c.log.MaxWroteOffset() {
				continue
			}
		}
		if err := send(); err != nil {
			return err
		}
	}
}
