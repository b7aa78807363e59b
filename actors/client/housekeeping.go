package client

import (
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
)

// housekeepingInterval is ClientHousekeepingService's scan period; the
// silence limit itself (120 s) is the metadata managers'.
const housekeepingInterval = 10 * time.Second

// Housekeeping is RocketMQ's ClientHousekeepingService: every 10 s it
// drops the producers and consumers whose client has been silent for 120 s
// and closes their connections.
type Housekeeping struct {
	Meta *metadata.Managers
	Log  zerolog.Logger

	once sync.Once
	stop chan struct{}
	done chan struct{}
}

// Start runs the scan until Stop.
func (h *Housekeeping) Start() {
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(h.done)
		t := time.NewTicker(housekeepingInterval)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case now := <-t.C:
				h.Scan(now)
			}
		}
	}()
}

// Scan drops the clients silent at now and closes their connections.
func (h *Housekeeping) Scan(now time.Time) {
	for _, ch := range h.Meta.ScanNotActive(now) {
		h.Log.Info().Str("channel", ch.ID()).Msg("client silent for 120 s removed; closing its connection")
		if c, ok := ch.(*actors.Connection); ok {
			c.Close(errors.New("client silent for 120 s"))
		}
	}
}

// Stop ends the scan and waits for it; it is safe to call once Start has
// run, more than once.
func (h *Housekeeping) Stop() {
	if h.stop == nil {
		return
	}
	h.once.Do(func() { close(h.stop) })
	<-h.done
}
