package pull

import (
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
)

// Only held pulls whose filter takes an arrived message's tag wake; the
// others keep waiting (RocketMQ's NotifyMessageArrivingListener).
func TestArrivalWakesOnlyMatchingPulls(t *testing.T) {
	s := NewHoldService()
	tagA, tagB := commitlog.TagsHashCode("a"), commitlog.TagsHashCode("b")
	hold := func(offset int64, filter func(int64) bool) *pull {
		pl := &pull{req: &actors.Request{Cmd: remoting.NewRequest(remoting.PullMessage, nil, nil)}, filter: filter}
		pl.h.Topic, pl.h.QueueID, pl.h.QueueOffset = "T", 0, offset
		if !s.Hold(pl, time.Now().Add(time.Hour)) {
			t.Fatal("hold refused")
		}
		return pl
	}
	onlyA := hold(5, func(c int64) bool { return c == tagA })
	everything := hold(5, nil)
	caughtUp := hold(7, nil)

	s.NotifyMessageArriving("T", 0, 6, tagB)
	woken := s.takeArrived()
	if len(woken) != 1 || woken[0].pl != everything {
		t.Fatalf("a b message woke %d pulls, want only the unfiltered one", len(woken))
	}
	s.NotifyMessageArriving("T", 0, 7, tagA)
	woken = s.takeArrived()
	if len(woken) != 1 || woken[0].pl != onlyA {
		t.Fatalf("an a message at offset 6 woke %d pulls, want the one filtering on a", len(woken))
	}
	if s.Held() != 1 {
		t.Fatalf("%d pulls held, want the one already past the new messages", s.Held())
	}
	// Past arrivalCodes distinct tags in one pass, every pull past its
	// offset wakes and re-reads.
	for i := range arrivalCodes + 1 {
		s.NotifyMessageArriving("T", 0, 8, int64(1000+i))
	}
	if woken = s.takeArrived(); len(woken) != 1 || woken[0].pl != caughtUp {
		t.Fatalf("many tags woke %d pulls", len(woken))
	}
}
