package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/remoting"
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

// The real binary starts, answers over the remoting protocol and shuts down
// cleanly on SIGTERM.
func TestBinaryServesAndShutsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sluice")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "broker.conf")
	if err := os.WriteFile(conf, []byte("listenPort=0\nnamesrvListenPort=0\nmetricsPromExporterPort=0\nstorePathRootDir="+dir+"/store\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stderr)
	var addr string
	var logged []string
	for addr == "" && lines.Scan() {
		logged = append(logged, lines.Text())
		var rec struct {
			Message, Addr string
		}
		if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Message == "broker started" {
			addr = rec.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no start line:\n%s", strings.Join(logged, "\n"))
	}
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
