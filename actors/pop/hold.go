package pop

import (
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

type holdResult int

const (
	holdOK holdResult = iota
	holdFull
	holdStopped
)

// hold parks a pop that found nothing (PopLongPollingService#polling)
// until a message arrives in its topic or its pop retry topic, or its
// pollTime ends; then it is run once more.
func (s *Service) hold(r *actors.Request, h *remoting.PopMessageRequestHeader) holdResult {
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	select {
	case <-s.closeStop:
		return holdStopped
	default:
	}
	if len(s.held[h.Topic]) >= s.cfg.PopPollingSize {
		return holdFull
	}
	hp := &heldPop{req: r, deadline: time.Now().Add(time.Duration(h.PollTime) * time.Millisecond)}
	s.held[h.Topic] = append(s.held[h.Topic], hp)
	return holdOK
}

// NotifyMessageArriving wakes the pops held on topic (or on the topic a
// pop retry topic belongs to). It runs on the store's dispatcher and only
// moves requests into their processor's queue.
func (s *Service) NotifyMessageArriving(topic string, _ int32, _, _ int64) {
	s.holdMu.Lock()
	if len(s.held) == 0 {
		s.holdMu.Unlock()
		return
	}
	hs := s.held[topic]
	delete(s.held, topic)
	if len(hs) == 0 {
		// %RETRY%<group>_<topic>: wake the topic's pops (any group; a
		// woken pop of another group reads nothing and waits no more).
		for t, ws := range s.held {
			if len(topic) > len(t) && topic[len(topic)-len(t)-1] == '_' && topic[len(topic)-len(t):] == t {
				hs = append(hs, ws...)
				delete(s.held, t)
			}
		}
	}
	s.holdMu.Unlock()
	s.resume(hs)
}

func (s *Service) expireHolds(now time.Time) {
	var out []*heldPop
	s.holdMu.Lock()
	for t, hs := range s.held {
		keep := hs[:0]
		for _, hp := range hs {
			if !now.Before(hp.deadline) || hp.req.ClientGone() {
				out = append(out, hp)
			} else {
				keep = append(keep, hp)
			}
		}
		for i := len(keep); i < len(hs); i++ {
			hs[i] = nil
		}
		if len(keep) == 0 {
			delete(s.held, t)
		} else {
			s.held[t] = keep
		}
	}
	s.holdMu.Unlock()
	s.resume(out)
}

func (s *Service) takeAllHolds() []*heldPop {
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	var out []*heldPop
	for t, hs := range s.held {
		out = append(out, hs...)
		delete(s.held, t)
	}
	return out
}

// resume re-runs each pop once, in its processor's queue when there is one.
func (s *Service) resume(hs []*heldPop) {
	now := time.Now()
	for _, hp := range hs {
		r := hp.req
		if r.ClientGone() {
			r.Reply(nil)
			continue
		}
		r.Resumed = true
		r.Arrived = now
		if s.Requeue != nil {
			s.Requeue(r)
		} else {
			s.popMessage(r)
		}
	}
}
