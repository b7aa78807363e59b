package pull

import (
	"sync"
	"time"

	"github.com/sluice-mq/sluice/actors"
)

// HoldService is RocketMQ's PullRequestHoldService: pulls that found
// nothing wait here, keyed by topic and queue, until a message arrives
// for their queue or their suspend time ends, and then go back into the
// pull processor's queue to be run once more (executeRequestWhenWakeup),
// so that a woken pull is counted, swept by the fast-failure sweep and
// visible in the tree like any other. One goroutine serves every held
// pull, so a thousand idle consumers cost a thousand map entries, not a
// thousand goroutines.
type HoldService struct {
	pp *Handlers
	// Requeue puts a woken pull back into the pull processor's queue and
	// answers it busy if the queue is full. Without one (handler tests) the
	// pull is read and answered on the service's goroutine.
	Requeue func(*actors.Request)

	mu      sync.Mutex
	held    map[holdKey][]*heldPull
	arrived map[holdKey]*arrival // queues with new messages since the last pass
	running bool
	stopped bool

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

type holdKey struct {
	topic   string
	queueID int32
}

// arrival is what came into one queue since the service's last pass: the
// new max offset and the tag codes, so that only pulls whose filter takes
// one of them wake (RocketMQ's NotifyMessageArrivingListener passes the
// tag code). Past arrivalCodes distinct codes every pull past its offset
// wakes, and re-reads: bounded memory, a little extra work.
type arrival struct {
	maxOffset int64
	codes     [arrivalCodes]int64
	n         int
	any       bool
}

const arrivalCodes = 8

func (a *arrival) add(maxOffset, tagsCode int64) {
	a.maxOffset = max(a.maxOffset, maxOffset)
	if a.any {
		return
	}
	for _, c := range a.codes[:a.n] {
		if c == tagsCode {
			return
		}
	}
	if a.n == len(a.codes) {
		a.any = true
		return
	}
	a.codes[a.n] = tagsCode
	a.n++
}

// wakes reports whether a pull with filter, waiting at offset, has
// something new to read.
func (a *arrival) wakes(offset int64, filter func(int64) bool) bool {
	if a.maxOffset <= offset {
		return false
	}
	if a.any || filter == nil {
		return true
	}
	for _, c := range a.codes[:a.n] {
		if filter(c) {
			return true
		}
	}
	return false
}

type heldPull struct {
	pl       *pull
	deadline time.Time
}

// holdCheckInterval is how often expired holds are answered. RocketMQ
// checks every 5 s, so its holds last 20–25 s; a finer check keeps a hold
// close to the suspend time the client asked for.
const holdCheckInterval = 100 * time.Millisecond

// NewHoldService returns a stopped service; Start runs it.
func NewHoldService() *HoldService {
	return &HoldService{
		held:    make(map[holdKey][]*heldPull),
		arrived: make(map[holdKey]*arrival),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// Start runs the service for pp.
func (s *HoldService) Start(pp *Handlers) {
	s.mu.Lock()
	s.pp, s.running = pp, true
	s.mu.Unlock()
	go s.run()
}

// Hold parks pl until deadline; false means the service has stopped and
// the caller answers now.
func (s *HoldService) Hold(pl *pull, deadline time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	k := holdKey{pl.h.Topic, pl.h.QueueID}
	s.held[k] = append(s.held[k], &heldPull{pl: pl, deadline: deadline})
	return true
}

// Held is the number of parked pulls.
func (s *HoldService) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, hs := range s.held {
		n += len(hs)
	}
	return n
}

// NotifyMessageArriving is called by the store's dispatcher after new
// consume-queue entries; it only records the queue and wakes the service,
// so the dispatcher never waits on a read.
func (s *HoldService) NotifyMessageArriving(topic string, queueID int32, maxOffset, tagsCode int64) {
	s.mu.Lock()
	k := holdKey{topic, queueID}
	if _, waiting := s.held[k]; waiting {
		a := s.arrived[k]
		if a == nil {
			a = &arrival{}
			s.arrived[k] = a
		}
		a.add(maxOffset, tagsCode)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stop answers every held pull (a fresh read) and stops the service.
func (s *HoldService) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	running := s.running
	s.mu.Unlock()
	close(s.stop)
	if running {
		<-s.done
	}
}

func (s *HoldService) run() {
	defer close(s.done)
	tick := time.NewTicker(holdCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			// At shutdown the processors are stopping: answer here.
			s.readAndAnswer(s.takeAll())
			return
		case <-s.wake:
			s.answer(s.takeArrived())
		case now := <-tick.C:
			s.answer(s.takeExpired(now))
		}
	}
}

// takeArrived removes the pulls whose queue now holds messages past their
// offset.
func (s *HoldService) takeArrived() []*heldPull {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*heldPull
	for k, a := range s.arrived {
		delete(s.arrived, k)
		keep := s.held[k][:0]
		for _, hp := range s.held[k] {
			if a.wakes(hp.pl.h.QueueOffset, hp.pl.filter) {
				out = append(out, hp)
			} else {
				keep = append(keep, hp)
			}
		}
		s.setHeld(k, keep)
	}
	return out
}

func (s *HoldService) takeExpired(now time.Time) []*heldPull {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*heldPull
	for k, hs := range s.held {
		keep := hs[:0]
		for _, hp := range hs {
			if !now.Before(hp.deadline) || hp.pl.req.ClientGone() {
				out = append(out, hp)
			} else {
				keep = append(keep, hp)
			}
		}
		s.setHeld(k, keep)
	}
	return out
}

func (s *HoldService) takeAll() []*heldPull {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*heldPull
	for k, hs := range s.held {
		out = append(out, hs...)
		delete(s.held, k)
	}
	return out
}

func (s *HoldService) setHeld(k holdKey, hs []*heldPull) {
	if len(hs) == 0 {
		delete(s.held, k)
		return
	}
	// Clear the tail so dropped pulls can be collected.
	full := hs[:cap(hs)]
	for i := len(hs); i < len(full); i++ {
		full[i] = nil
	}
	s.held[k] = hs
}

// answer sends each woken pull back to the pull processor, marked so that
// it is run once more and never parked again.
func (s *HoldService) answer(hs []*heldPull) {
	if s.Requeue == nil {
		s.readAndAnswer(hs)
		return
	}
	now := time.Now()
	for _, hp := range hs {
		r := hp.pl.req
		if r.ClientGone() {
			r.Reply(nil) // nobody to answer; only marks it done
			continue
		}
		r.Resumed = true
		// Its wait in the queue starts now: the sweep's limit is for time
		// spent queued, not time spent held as the consumer asked.
		r.Arrived = now
		s.Requeue(r)
	}
}

// readAndAnswer re-reads each pull once and replies.
func (s *HoldService) readAndAnswer(hs []*heldPull) {
	for _, hp := range hs {
		resp, _ := s.pp.read(hp.pl)
		hp.pl.req.Reply(resp)
	}
}
