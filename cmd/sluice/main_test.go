package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

func TestPrintConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-c", "../../testdata/broker.conf", "-n", "127.0.0.1:9999", "-p"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"listenPort=10921\n", "namesrvAddr=127.0.0.1:9999\n", "sendThreadPoolQueueCapacity=500\n", "brokerIP1=127.0.0.1\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-p output lacks %q", want)
		}
	}
}

func TestMalformedValueIsAStartupError(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "broker.conf")
	if err := os.WriteFile(conf, []byte("listenPort = eleven\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"-c", conf}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), `listenPort = "eleven"`) {
		t.Fatalf("error does not name key and value: %s", errOut.String())
	}
}

// A configuration that asks for what Sluice does not do (here a DLedger
// commit log) stops the start, naming the key: never a broker with a
// weaker guarantee than configured.
func TestUnhonouredKeyIsAStartupError(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "broker.conf")
	if err := os.WriteFile(conf, []byte("enableDLegerCommitLog = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"-c", conf}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), `enableDLegerCommitLog = "true": refusing to start`) {
		t.Fatalf("error does not name the key: %s", errOut.String())
	}
}

// The real binary starts, answers over the remoting protocol and shuts down
// cleanly on SIGTERM.
func TestBinaryServesAndShutsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t)
	conf := filepath.Join(dir, "broker.conf")
	if err := os.WriteFile(conf, []byte("listenPort=0\nnamesrvListenPort=0\ngrpcServerPort=0\nmetricsPromExporterPort=0\nstorePathRootDir="+dir+"/store\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, lines, addr := startProcess(t, "broker started", bin, "-c", conf)
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Invoke(context.Background(), remoting.NewRequest(4242, nil, nil), 5*time.Second)
	if err != nil || resp.ResponseCode() != remoting.RequestCodeNotSupported {
		t.Fatalf("invoke: %v %+v", err, resp)
	}
	c.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, strings.Join(rest, "\n"))
	}
	if !strings.Contains(strings.Join(rest, "\n"), "broker stopped") {
		t.Fatalf("no clean stop logged:\n%s", strings.Join(rest, "\n"))
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// TestMain removes the binary buildBinary made once the tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// buildBinary builds the sluice binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "sluice")
		// Built without -race even when the tests are (GOFLAGS cleared):
		// the binary is the subject, not the instrument, and the race
		// detector would slow it down and change the timing of the crash
		// tests' kills.
		build := exec.Command("go", "build", "-o", builtBin, ".")
		build.Env = append(os.Environ(), "GOFLAGS=")
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// startProcess starts bin and reads its JSON log until the line with
// message started, returning the address that line reports.
func startProcess(t *testing.T, started string, bin string, args ...string) (*exec.Cmd, *bufio.Scanner, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stderr)
	var logged []string
	for lines.Scan() {
		logged = append(logged, lines.Text())
		var rec struct {
			Message, Addr string
		}
		if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Message == started {
			return cmd, lines, rec.Addr
		}
	}
	t.Fatalf("no %q line:\n%s", started, strings.Join(logged, "\n"))
	return nil, nil, ""
}

// The standalone name server serves a broker started against it with -n.
func TestNamesrvSubcommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	_, _, nsAddr := startProcess(t, "name server started", bin, "namesrv", "-listen", "127.0.0.1:0")
	dir := t.TempDir()
	conf := filepath.Join(dir, "broker.conf")
	if err := os.WriteFile(conf, []byte("listenPort=0\ngrpcServerPort=0\nmetricsPromExporterPort=0\nbrokerName=broker-x\nstorePathRootDir="+dir+"/store\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(t, "broker started", bin, "-c", conf, "-n", nsAddr)
	c, err := remoting.Dial(context.Background(), nsAddr, remoting.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	poll.Until(t, "the broker's registration", func() bool {
		resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": "TBW102"}, nil), 5*time.Second)
		return err == nil && resp.ResponseCode() == remoting.Success && strings.Contains(string(resp.Body), "broker-x")
	})
}

// `sluice namesrv -acl` needs to know where the ACL file is.
func TestNamesrvACLNeedsAFile(t *testing.T) {
	t.Setenv("ROCKETMQ_HOME", "")
	var out, errOut bytes.Buffer
	if code := run([]string{"namesrv", "-acl", "-listen", "127.0.0.1:0"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-rocketmq-home") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
}
