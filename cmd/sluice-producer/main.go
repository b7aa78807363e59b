// Command sluice-producer is Sluice's load tester, modelled on RocketMQ's
// benchmark producer: a number of senders send messages of a fixed size as
// fast as the broker answers, and every second one line reports the send
// rate, the response times and the failures by kind — each of RocketMQ's
// five busy answers on its own, timeouts, and the rest.
//
//	sluice-producer [-n 127.0.0.1:9876] [-t BenchmarkTest] [-s 128] [-w 64] [-k]
//	                [-d 30s | -c 100000] [--async N] [--connections N] [--retries 2] [--json] [--group name]
//
// It speaks the protocol itself, on Sluice's remoting client, with the
// exact SEND_MESSAGE header rocketmq-client-go sends, so the broker sees
// what it sees from real producers. Unlike the Go client, it retries a
// busy answer (SYSTEM_BUSY, or PC_SYNCHRONIZED as SYSTEM_ERROR) on another
// broker, as RocketMQ's Java client does since apache/rocketmq#5845, and
// counts those retries.
//
// Exit status: 0 after a run, 1 if no route could be had or not a single
// message was sent, 2 for a command line that cannot be understood.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/tlshelper"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is the command line.
type config struct {
	namesrv  []string
	topic    string
	group    string
	bodySize int
	senders  int
	keys     bool
	// delayLevel, when positive, sends every message with DELAY=n (RocketMQ
	// benchmark Producer's -e delayLevel).
	delayLevel int
	duration   time.Duration
	count      int64
	// window is how many sends each sender keeps in flight: 1 for
	// synchronous sends, --async N otherwise.
	window int
	// connections is how many connections each broker gets; senders take
	// them round-robin.
	connections int
	retries     int
	json        bool
	timeout     time.Duration
	// interval is the reporting period; routeRefresh how often the route
	// is asked for again (the Go client's 30 s).
	interval     time.Duration
	routeRefresh time.Duration
	// tls is the TLS of every connection (name servers and brokers); nil
	// for plain ones.
	tls *tls.Config
	// credentials sign every send when the broker has aclEnable=true.
	credentials *remoting.Credentials
}

func parseConfig(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("sluice-producer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var namesrv string
	var async int
	var tf tlshelper.ClientFlags
	tf.Register(fs)
	c := &config{}
	fs.StringVar(&namesrv, "n", "127.0.0.1:9876", "name server address list, host:port;host:port")
	fs.StringVar(&c.topic, "t", "BenchmarkTest", "topic")
	fs.IntVar(&c.bodySize, "s", 128, "message body size in bytes")
	fs.IntVar(&c.senders, "w", 64, "concurrent senders")
	fs.BoolVar(&c.keys, "k", false, "give every message a KEYS property")
	fs.IntVar(&c.delayLevel, "delay-level", 0, "send every message delayed by this delay level (property DELAY; 0: not delayed)")
	fs.DurationVar(&c.duration, "d", 0, "run for this long (default: until -c messages, or until interrupted)")
	fs.Int64Var(&c.count, "c", 0, "send this many messages in all (default: no limit)")
	fs.IntVar(&async, "async", 0, "send asynchronously with this many sends in flight per sender (0: synchronous)")
	fs.IntVar(&c.connections, "connections", 1, "connections per broker, senders spread over them round-robin (1: all senders share one, as the Go and Java clients do)")
	fs.IntVar(&c.retries, "retries", 2, "retries of a send answered busy, each on another broker when there is one")
	fs.BoolVar(&c.json, "json", false, "print one JSON document at the end on stdout (the per-second lines go to stderr)")
	fs.StringVar(&c.group, "group", "benchmark_producer", "producer group")
	fs.DurationVar(&c.timeout, "timeout", 3*time.Second, "timeout of one send attempt")
	fs.DurationVar(&c.interval, "interval", time.Second, "reporting period")
	fs.DurationVar(&c.routeRefresh, "route-refresh", 30*time.Second, "how often to ask the name server for the route again")
	var accessKey, secretKey string
	fs.StringVar(&accessKey, "access-key", os.Getenv("SLUICE_ACCESS_KEY"), "ACL accessKey to sign sends with (default $SLUICE_ACCESS_KEY)")
	fs.StringVar(&secretKey, "secret-key", os.Getenv("SLUICE_SECRET_KEY"), "ACL secretKey (default $SLUICE_SECRET_KEY)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, a := range strings.Split(namesrv, ";") {
		if a = strings.TrimSpace(a); a != "" {
			c.namesrv = append(c.namesrv, a)
		}
	}
	c.window = max(1, async)
	var err error
	if c.tls, err = tf.Config(); err != nil {
		return nil, err
	}
	switch {
	case len(c.namesrv) == 0:
		return nil, errors.New("-n names no name server")
	case c.topic == "":
		return nil, errors.New("-t must not be empty")
	case c.bodySize < 1:
		return nil, errors.New("-s must be at least 1")
	case c.senders < 1:
		return nil, errors.New("-w must be at least 1")
	case c.connections < 1:
		return nil, errors.New("--connections must be at least 1")
	case c.count < 0 || c.duration < 0 || async < 0 || c.retries < 0 || c.delayLevel < 0:
		return nil, errors.New("-c, -d, --async, --retries and --delay-level must not be negative")
	case c.timeout <= 0 || c.interval <= 0 || c.routeRefresh <= 0:
		return nil, errors.New("--timeout, --interval and --route-refresh must be positive")
	case (accessKey == "") != (secretKey == ""):
		return nil, errors.New("--access-key and --secret-key go together")
	}
	if accessKey != "" {
		c.credentials = &remoting.Credentials{AccessKey: accessKey, SecretKey: secretKey}
	}
	return c, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdout, stderr)
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice-producer: %v\n", err)
		return 2
	}
	// Per-second lines go where the reader is; with --json stdout carries
	// the one document only.
	lines := stdout
	if cfg.json {
		lines = stderr
	}
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	p, err := newProducer(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "sluice-producer: %s\n", oneLine(err.Error()))
		return 1
	}
	defer p.close()
	sum := p.run(ctx, lines)
	if cfg.json {
		if err := writeJSON(stdout, sum); err != nil {
			fmt.Fprintf(stderr, "sluice-producer: %v\n", err)
			return 1
		}
	} else {
		fmt.Fprint(lines, sum.text())
	}
	if sum.Sent == 0 && sum.Attempted > 0 {
		fmt.Fprintf(stderr, "sluice-producer: no message was sent\n")
		return 1
	}
	return 0
}

// oneLine keeps an error on one line; RocketMQ remarks may end with a
// "\nSee http://…" suffix.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
