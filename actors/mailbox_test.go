package actors

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/remoting"
)

// invoker stands in for protoactor's actor context: it runs user messages
// as the processor would.
type invoker struct{ user func(any) }

func (i invoker) InvokeSystemMessage(any)  {}
func (i invoker) InvokeUserMessage(m any)  { i.user(m) }
func (i invoker) EscalateFailure(any, any) {}
func (goDispatcher) Schedule(fn func())    { go fn() }
func (goDispatcher) Throughput() int       { return 300 }

type goDispatcher struct{}

// The sweep and the processor race over the same queue; every request must
// be answered exactly once, and neither may even try to answer a request
// the other removed. Run under -race in CI.
func TestSweepAndProcessorAnswerEachRequestOnce(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 50_000
	}
	mb := NewMailbox(n)
	var processed, swept, double atomic.Int64
	done := make(chan struct{})
	mb.RegisterHandlers(invoker{user: func(m any) {
		if m.(*Request).Reply(nil) {
			processed.Add(1)
		} else {
			double.Add(1)
		}
	}}, goDispatcher{})

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the connections
		defer wg.Done()
		now := time.Now()
		for i := 0; i < n; i++ {
			// Alternate ages so the sweep's predicate says yes and no.
			arrived := now
			if i%3 == 0 {
				arrived = now.Add(-time.Hour)
			}
			for !mb.TryPost(&Request{Arrived: arrived}) {
			}
		}
	}()
	go func() { // the supervisor's sweep
		defer wg.Done()
		cutoff := time.Now().Add(-time.Minute)
		for {
			select {
			case <-done:
				return
			default:
			}
			r, _ := mb.TakeHeadIf(func(r *Request) bool { return r.Arrived.Before(cutoff) })
			if r == nil {
				continue
			}
			if r.Reply(nil) {
				swept.Add(1)
			} else {
				double.Add(1)
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Minute)
	for processed.Load()+swept.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(done)
	wg.Wait()
	if got := processed.Load() + swept.Load(); got != int64(n) || double.Load() != 0 {
		t.Fatalf("answered %d of %d (processor %d, sweep %d), second answers attempted %d",
			got, n, processed.Load(), swept.Load(), double.Load())
	}
	if swept.Load() == 0 || processed.Load() == 0 {
		t.Fatalf("no race happened: processor %d, sweep %d", processed.Load(), swept.Load())
	}
	t.Logf("processor answered %d, sweep answered %d", processed.Load(), swept.Load())
}

func TestMailboxRefusesWhenFullAndKeepsArrivalOrder(t *testing.T) {
	mb := NewMailbox(3)
	var got []int32
	block := make(chan struct{})
	var mu sync.Mutex
	mb.RegisterHandlers(invoker{user: func(m any) {
		<-block
		mu.Lock()
		if r, ok := m.(*Request); ok {
			got = append(got, r.Cmd.Opaque)
		}
		mu.Unlock()
	}}, goDispatcher{})
	reqs := make([]*Request, 6)
	var acceptedOps []int32
	for i := range reqs {
		reqs[i] = &Request{Cmd: newCmd(int32(i))}
		if mb.TryPost(reqs[i]) {
			acceptedOps = append(acceptedOps, int32(i))
		}
	}
	// One may already be in the handler, so 3 or 4 fit. Which ones fit depends on
	// when the handler takes the first: a refused post can be followed by an
	// accepted one once the head has moved into the handler.
	accepted := len(acceptedOps)
	if accepted < 3 || accepted > 4 {
		t.Fatalf("accepted %d with capacity 3", accepted)
	}
	// System-level and non-request messages are never refused.
	if !mb.TryPost(&actor.PoisonPill{}) {
		t.Fatal("PoisonPill refused by a full mailbox")
	}
	close(block)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == accepted || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, acceptedOps) {
		t.Fatalf("handled %v, accepted in order %v", got, acceptedOps)
	}
}

func newCmd(opaque int32) *remoting.Command { return &remoting.Command{Opaque: opaque} }
