package namesrv

import (
	"bytes"
	"errors"
	"hash/crc32"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

// fakeNamesrv records the requests it gets and answers them, SUCCESS or,
// while refuse is set, SYSTEM_ERROR. It stands in for a name server where
// the test needs to see frames or cut connections.
type fakeNamesrv struct {
	ln     net.Listener
	refuse atomic.Bool

	mu    sync.Mutex
	reqs  []*remoting.Command
	conns []*remoting.Conn
}

func startFakeNamesrv(t *testing.T) *fakeNamesrv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNamesrv{ln: ln}
	go f.accept()
	t.Cleanup(func() {
		ln.Close()
		f.dropConnections()
	})
	return f
}

func (f *fakeNamesrv) addr() string { return f.ln.Addr().String() }

func (f *fakeNamesrv) accept() {
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		c := remoting.NewConn(nc, remoting.ConnOptions{})
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		go c.ReadLoop(func(cmd *remoting.Command) {
			cp := *cmd
			cp.Body = bytes.Clone(cmd.Body)
			f.mu.Lock()
			f.reqs = append(f.reqs, &cp)
			f.mu.Unlock()
			code, remark := remoting.Success, ""
			if f.refuse.Load() {
				code, remark = remoting.SystemError, "refused by test"
			}
			_ = c.Send(remoting.NewResponse(cmd, code, remark))
		})
	}
}

func (f *fakeNamesrv) dropConnections() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close(errors.New("dropped by test"))
	}
	f.conns = nil
}

func (f *fakeNamesrv) requests(code remoting.RequestCode) []*remoting.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*remoting.Command
	for _, r := range f.reqs {
		if r.RequestCode() == code {
			out = append(out, r)
		}
	}
	return out
}

func TestRegistrarPeriodicRegistration(t *testing.T) {
	f := startFakeNamesrv(t)
	logs := &LogBuffer{}
	r := NewRegistrar(RegistrarConfig{
		NamesrvAddrs: []string{f.addr()},
		ClusterName:  "C",
		BrokerName:   "b",
		BrokerID:     0,
		BrokerAddr:   "127.0.0.1:10911",
		HAServerAddr: "127.0.0.1:10912",
		Timeout:      time.Second,
		Topics: func() ([]metadata.TopicConfig, metadata.DataVersion) {
			return []metadata.TopicConfig{metadata.NewTopicConfig("T")}, metadata.DataVersion{Counter: 9, Timestamp: 1700000000000}
		},
	}, zerolog.New(logs))
	r.period = 20 * time.Millisecond // RegistrarConfig.Period cannot go below 10 s
	r.Start()
	defer r.Close()

	poll.Until(t, "three registrations", func() bool { return len(f.requests(remoting.RegisterBroker)) >= 3 })
	req := f.requests(remoting.RegisterBroker)[0]
	want := map[string]string{
		"brokerName": "b", "brokerAddr": "127.0.0.1:10911", "clusterName": "C", "haServerAddr": "127.0.0.1:10912",
		"brokerId": "0", "compressed": "false",
		"bodyCrc32": strconv.FormatUint(uint64(crc32.ChecksumIEEE(req.Body)&0x7fffffff), 10),
	}
	for k, v := range want {
		if req.Ext(k) != v {
			t.Errorf("header %s = %q, want %q", k, req.Ext(k), v)
		}
	}
	body, err := DecodeRegisterBrokerBody(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	if w := body.TopicConfigSerializeWrapper; w.DataVersion.Counter != 9 || w.TopicConfigTable["T"].TopicName != "T" {
		t.Fatalf("body %s", req.Body)
	}

	// The name server refuses for a while, then the connection is cut:
	// one log line for the streak, one for the recovery, and the
	// registrar reconnects by itself.
	f.refuse.Store(true)
	n := len(f.requests(remoting.RegisterBroker))
	poll.Until(t, "refused registrations", func() bool { return len(f.requests(remoting.RegisterBroker)) >= n+3 })
	f.dropConnections()
	f.refuse.Store(false)
	poll.Until(t, "recovery", func() bool { return logs.Count("registered with name server") >= 2 })
	if c := logs.Count("register broker failed;"); c != 1 {
		t.Fatalf("%d failure lines for one streak, want 1", c)
	}

	r.Close()
	if u := f.requests(remoting.UnregisterBroker); len(u) != 1 || u[0].Ext("brokerId") != "0" || u[0].Ext("brokerName") != "b" ||
		u[0].Ext("clusterName") != "C" || u[0].Ext("brokerAddr") != "127.0.0.1:10911" {
		t.Fatalf("unregister requests %+v", u)
	}
	// Close waited for every registering goroutine, and each registration
	// is answered before the next request goes out, so nothing is left to
	// arrive: a Start or RegisterNow now must not start anything again.
	n = len(f.requests(remoting.RegisterBroker))
	r.Start()
	r.RegisterNow()
	r.Close()
	if m := len(f.requests(remoting.RegisterBroker)); m != n || r.state != stateClosed {
		t.Fatalf("%d registrations after Close (state %v)", m-n, r.state)
	}
}

func TestRegistrarCloseWithoutStart(t *testing.T) {
	f := startFakeNamesrv(t)
	r := NewRegistrar(RegistrarConfig{NamesrvAddrs: []string{f.addr()}}, zerolog.Nop())
	r.Close()
	r.Start()
	r.RegisterNow()
	// Start after Close spawns no goroutine (the state says so), so no
	// request can come later; Close then has nothing to wait for.
	r.Close()
	if n := len(f.requests(remoting.RegisterBroker)) + len(f.requests(remoting.UnregisterBroker)); n != 0 || r.state != stateClosed {
		t.Fatalf("%d requests from a registrar closed before Start (state %v)", n, r.state)
	}
}
