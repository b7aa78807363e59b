package send_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/handlertest"
	"github.com/sluice-mq/sluice/actors/send"
	"github.com/sluice-mq/sluice/remoting"
)

// sendAllocBudget pins the steady-state allocations of one SEND_MESSAGE_V2
// through the send handler, the writer and the answer: the request and the
// answer (its header is typed fields in the answer's own allocation, see
// remoting.NewAnswer; it used to be a map, the queue offset's string and the
// message id's, four more). The decoded request frame is remoting's and not
// counted. A change that adds an allocation per message on this path fails
// here: lower the budget when you remove one.
const sendAllocBudget = 2

func TestSendSteadyStateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	env := handlertest.New(t)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	w := actors.NewWriter(env.Store, 32)
	pid, err := w.Spawn(sys.Root, sys.Root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sys.Root.StopFuture(pid).Wait()
		sys.Shutdown()
		w.Stop()
	})
	stop := make(chan struct{})
	p := &send.Handlers{ID: env.ID, Store: env.Store, Writer: w, Meta: env.Meta, Stop: stop}
	h := p.ByCode()[remoting.SendMessageV2]
	cmd := remoting.NewRequest(remoting.SendMessageV2, map[string]string{
		"a": "PG", "b": "TBW102", "c": "TBW102", "d": "4", "e": "0", "f": "0", "g": "1700000000000", "h": "0",
		"i": "UNIQ_KEY\x017F0000010000000000000000\x02WAIT\x01true\x02TAGS\x01TagA\x02", "j": "0", "k": "false", "m": "false",
	}, make([]byte, 1024))
	got := make(chan *remoting.Command, 1)
	reply := func(resp *remoting.Command) { got <- resp }
	once := func() {
		r := &actors.Request{Cmd: cmd, Arrived: time.Now(), ReplyTo: reply}
		h(r)
		if resp := <-got; resp.ResponseCode() != remoting.Success {
			t.Fatalf("send: %s %q", resp.ResponseCode(), resp.Remark)
		}
	}
	for i := 0; i < 100; i++ { // warm the pools and the queue's table
		once()
	}
	if n := testing.AllocsPerRun(500, once); n > sendAllocBudget {
		t.Errorf("%.1f allocations per send, budget %d", n, sendAllocBudget)
	} else {
		t.Logf("%.1f allocations per send (budget %d)", n, sendAllocBudget)
	}
}
