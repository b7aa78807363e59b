package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
)

// result is one run of sluicectl.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs sluicectl in-process.
func cli(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runContext(context.Background(), args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds the real sluicectl once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "sluicectl-test")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "sluicectl")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// runBinary runs the built sluicectl with its stdout on a pipe.
func runBinary(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = append(os.Environ(), "NO_COLOR=")
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run sluicectl: %v", err)
	}
	return result{code, out.String(), errOut.String()}
}

// startBroker starts a broker and waits until it answers a tree request
// from this process.
//
// The request also matters to the race detector. Start sets fields the
// tree handler reads, and the handler's goroutine learns of them only
// through the socket: the detector counts a socket write in this process
// followed by the broker's read as synchronisation, but not a write made
// by the sluicectl binary. Without one request from here first, a binary's
// tree request is reported as racing with Start.
func startBroker(t *testing.T, opts supervisor.Options) *brokertest.Broker {
	t.Helper()
	b := brokertest.Start(t, brokertest.Config(t), opts)
	c, err := remoting.Dial(context.Background(), b.Addr(), remoting.ClientOptions{})
	if err != nil {
		t.Fatalf("dial broker: %v", err)
	}
	defer c.Close()
	if _, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.GetActorTree, nil, nil), 10*time.Second); err != nil {
		t.Fatalf("broker does not answer: %v", err)
	}
	return b
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// recorder is a stand-in handler that keeps the requests it saw and
// answers with reply.
type recorder struct {
	mu    sync.Mutex
	seen  []*remoting.Command
	reply func(req *remoting.Command) *remoting.Command
}

func (r *recorder) handle(req *actors.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Cmd)
	r.mu.Unlock()
	req.Reply(r.reply(req.Cmd))
}

func (r *recorder) requests() []*remoting.Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*remoting.Command(nil), r.seen...)
}

func answer(code remoting.ResponseCode, remark string, body string) func(*remoting.Command) *remoting.Command {
	return func(req *remoting.Command) *remoting.Command {
		resp := remoting.NewResponse(req, code, remark)
		if body != "" {
			resp.Body = []byte(body)
		}
		return resp
	}
}

func oneLineError(t *testing.T, r result, wantCode int, want string) {
	t.Helper()
	if r.code != wantCode {
		t.Fatalf("exit %d, want %d; stderr %q", r.code, wantCode, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr is not one line: %q", r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not mention %q", r.stderr, want)
	}
	if r.stdout != "" {
		t.Errorf("stdout not empty on error: %q", r.stdout)
	}
}

func TestUnreachableBrokerIsOneLineAndExit1(t *testing.T) {
	addr := closedAddr(t)
	r := runBinary(t, "tree", "-b", addr)
	oneLineError(t, r, 1, "broker "+addr+" not reachable")
	for _, args := range [][]string{{"status", "-b", addr}, {"topic", "list", "-b", addr}, {"fault", "off", "-b", addr},
		{"tree", "--watch", "--count", "2", "-b", addr}} {
		oneLineError(t, cli(t, args...), 1, "not reachable")
	}
	oneLineError(t, cli(t, "cluster", "-n", addr), 1, "name server "+addr+" not reachable")
}

func TestUnknownCommandExits2(t *testing.T) {
	r := runBinary(t, "frobnicate")
	oneLineError(t, r, 2, `unknown command "frobnicate"`)
	if r := cli(t); r.code != 2 || !strings.Contains(r.stderr, "usage:") {
		t.Errorf("no arguments: exit %d, stderr %q; want 2 and the usage", r.code, r.stderr)
	}
	if r := cli(t, "help"); r.code != 0 || !strings.Contains(r.stdout, "tree") {
		t.Errorf("help: exit %d, stdout %q", r.code, r.stdout)
	}
	for _, args := range [][]string{
		{"topic", "rename"}, {"topic", "create"}, {"group", "progress", "g"}, {"fault", "pool-exhausted", "maybe"},
		{"fault", "stall", "-5"}, {"tree", "--bogus"}, {"tree", "--color", "purple"},
	} {
		if r := cli(t, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
		}
	}
}

// A code the broker does not know is answered REQUEST_CODE_NOT_SUPPORTED;
// sluicectl says which request it was and exits 1.
func TestUnsupportedAdminCode(t *testing.T) {
	rec := &recorder{reply: answer(remoting.RequestCodeNotSupported, actors.NotSupportedRemark(int32(remoting.GetBrokerRuntimeInfo)), "")}
	b := startBroker(t, supervisor.Options{Handlers: map[remoting.RequestCode]actors.HandlerFunc{
		remoting.GetBrokerRuntimeInfo: rec.handle,
	}})
	r := cli(t, "status", "-b", b.Addr())
	oneLineError(t, r, 1, "does not support GET_BROKER_RUNTIME_INFO (request code 28)")
}

func TestParseArgsInterspersed(t *testing.T) {
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	fs := newFlags(e, "x", "x")
	p := fs.String("processor", "", "")
	n := fs.Int("n", 0, "")
	rest, err := parseArgs(fs, []string{"processor-delay", "50", "--processor", "send", "-n", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rest, " ") != "processor-delay 50" || *p != "send" || *n != 3 {
		t.Fatalf("rest %q processor %q n %d", rest, *p, *n)
	}
}
