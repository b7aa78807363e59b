package slave

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/remoting"
)

// DefaultInterval and FirstDelay are BrokerController#handleSlaveSynchronize's
// schedule: the first sync 3 s after start, then every 10 s.
const (
	DefaultInterval = 10 * time.Second
	FirstDelay      = 3 * time.Second
	defaultTimeout  = 3 * time.Second // BrokerOuterAPI's getAll* calls
)

// Config describes the slave to its synchronizer.
type Config struct {
	Meta *metadata.Managers
	// DelayOffsetPath is the schedule service's delayOffset.json: the
	// master's copy is written there, read when this broker is restarted
	// as a master.
	DelayOffsetPath string
	// Self is this broker's own address: a master address equal to it is
	// ignored, as SlaveSynchronize does.
	Self string
	// Interval between two syncs; 0 means DefaultInterval.
	Interval time.Duration
	// Timeout bounds each call to the master, connecting included; 0
	// means 3 s.
	Timeout     time.Duration
	TLS         *tls.Config
	Credentials *remoting.Credentials
	Log         zerolog.Logger
}

// Synchronize is SlaveSynchronize. SetMasterAddr may be called from any
// goroutine; the syncs run on the synchronizer's own.
type Synchronize struct {
	cfg        Config
	masterAddr atomic.Pointer[string]

	// Owned by whoever runs SyncAll (the loop, or a test before Start).
	mu     sync.Mutex
	client *remoting.Client
	addr   string // the client's address
	failed bool   // the last sync failed and was logged

	synced atomic.Int64 // completed syncs, for the runtime info and tests
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// New prepares a synchronizer; nothing is sent before Start and a master
// address.
func New(cfg Config) *Synchronize {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	return &Synchronize{cfg: cfg, quit: make(chan struct{}), done: make(chan struct{})}
}

// SetMasterAddr is SlaveSynchronize#setMasterAddr: the master's remoting
// address from the last REGISTER_BROKER answer, "" when the name server
// knows no master (the master is away: the slave keeps what it has and
// takes consumer-offset commits itself until the master is back).
func (s *Synchronize) SetMasterAddr(addr string) {
	prev := s.masterAddr.Swap(&addr)
	if prev == nil || *prev != addr {
		if addr == "" {
			s.cfg.Log.Warn().Msg("slave: the name server knows no master for this group; metadata sync paused")
		} else {
			s.cfg.Log.Info().Str("masterAddr", addr).Msg("slave: syncing metadata from master")
		}
	}
}

// MasterAddr is the address last set ("" for none).
func (s *Synchronize) MasterAddr() string {
	if p := s.masterAddr.Load(); p != nil {
		return *p
	}
	return ""
}

// Synced is how many syncs have completed.
func (s *Synchronize) Synced() int64 { return s.synced.Load() }

// Start runs SyncAll after FirstDelay (or Interval, if shorter), then every
// Interval, until Stop.
func (s *Synchronize) Start() {
	go s.run()
}

// Stop ends the loop and closes the connection to the master.
func (s *Synchronize) Stop() {
	s.once.Do(func() { close(s.quit) })
	select {
	case <-s.done:
	case <-time.After(s.cfg.Timeout + time.Second):
		// A sync in flight is bounded by Timeout; this only guards a Stop
		// before Start.
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
}

func (s *Synchronize) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.quit
		cancel()
	}()
	t := time.NewTimer(min(FirstDelay, s.cfg.Interval))
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		s.syncLogged(ctx)
		t.Reset(s.cfg.Interval)
	}
}

func (s *Synchronize) syncLogged(ctx context.Context) {
	err := s.SyncAll(ctx)
	if ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil && !s.failed:
		s.failed = true
		s.cfg.Log.Warn().Err(err).Str("masterAddr", s.MasterAddr()).Msg("slave: metadata sync from master failed; retrying every interval, logging again on recovery")
	case err != nil:
		s.cfg.Log.Debug().Err(err).Msg("slave: metadata sync failed again")
	case s.failed:
		s.failed = false
		s.cfg.Log.Info().Str("masterAddr", s.MasterAddr()).Msg("slave: metadata sync from master recovered")
	}
}

// SyncAll is SlaveSynchronize#syncAll: topics, consumer offsets, delay
// offsets and subscription groups, each on its own (one failing does not
// stop the others). With no master address, or our own, it does nothing.
func (s *Synchronize) SyncAll(ctx context.Context) error {
	master := s.MasterAddr()
	if master == "" || master == s.cfg.Self {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.cfg.Meta
	var errs []error
	if body, err := s.get(ctx, master, remoting.GetAllTopicConfig); err != nil {
		errs = append(errs, err)
	} else if changed, err := m.Topics.ReplaceFromMaster(body); err != nil {
		errs = append(errs, err)
	} else if changed {
		s.cfg.Log.Info().Str("masterAddr", master).Msg("Update slave topic config from master")
	}
	if body, err := s.get(ctx, master, remoting.GetAllConsumerOffset); err != nil {
		errs = append(errs, err)
	} else if n, err := m.Offsets.PutAllFromMaster(body); err != nil {
		errs = append(errs, err)
	} else {
		if err := m.Offsets.Persist(); err != nil {
			errs = append(errs, fmt.Errorf("persist consumer offsets: %w", err))
		}
		s.cfg.Log.Debug().Str("masterAddr", master).Int("pairs", n).Msg("Update slave consumer offset from master")
	}
	if body, err := s.get(ctx, master, remoting.GetAllDelayOffset); errors.Is(err, errNoDelayOffset) {
		// The master has delivered no delayed message yet.
	} else if err != nil {
		errs = append(errs, err)
	} else if s.cfg.DelayOffsetPath != "" {
		if err := metadata.WriteFileAtomic(s.cfg.DelayOffsetPath, body); err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", s.cfg.DelayOffsetPath, err))
		}
	}
	if body, err := s.get(ctx, master, remoting.GetAllSubscriptionGroupConfig); err != nil {
		errs = append(errs, err)
	} else if changed, err := m.SubscriptionGroups.ReplaceFromMaster(body); err != nil {
		errs = append(errs, err)
	} else if changed {
		s.cfg.Log.Info().Str("masterAddr", master).Msg("Update slave Subscription Group from master")
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.synced.Add(1)
	return nil
}

// errNoDelayOffset is a master's answer to GET_ALL_DELAY_OFFSET before its
// schedule service wrote anything: nothing to copy, not a failure.
var errNoDelayOffset = errors.New("no delay offset")

// get calls the master; a failed call drops the connection, so the next
// one starts afresh (and follows a changed master address).
func (s *Synchronize) get(ctx context.Context, master string, code remoting.RequestCode) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if s.client != nil && s.addr != master {
		s.client.Close()
		s.client = nil
	}
	if s.client != nil {
		select {
		case <-s.client.Done():
			s.client.Close()
			s.client = nil
		default:
		}
	}
	if s.client == nil {
		c, err := remoting.Dial(ctx, master, remoting.ClientOptions{DialTimeout: s.cfg.Timeout, TLS: s.cfg.TLS, Credentials: s.cfg.Credentials})
		if err != nil {
			return nil, fmt.Errorf("connect to master %s: %w", master, err)
		}
		s.client, s.addr = c, master
	}
	resp, err := s.client.Invoke(ctx, remoting.NewRequest(code, nil, nil), s.cfg.Timeout)
	if err != nil {
		s.client.Close()
		s.client = nil
		return nil, fmt.Errorf("%s from master %s: %w", code, master, err)
	}
	if code == remoting.GetAllDelayOffset && resp.ResponseCode() == remoting.SystemError &&
		strings.Contains(strings.ToLower(resp.Remark), "no delay offset") {
		return nil, errNoDelayOffset
	}
	if resp.ResponseCode() != remoting.Success {
		return nil, fmt.Errorf("%s from master %s: %s %s", code, master, resp.ResponseCode(), resp.Remark)
	}
	return resp.Body, nil
}
