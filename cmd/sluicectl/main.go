// Command sluicectl inspects and administers a Sluice broker over its
// ordinary remoting port, with RocketMQ's admin request codes and Sluice's
// own (SLUICE_GET_ACTOR_TREE, SLUICE_SET_FAULT).
//
//	sluicectl tree    [-b host:port] [--watch [--interval 1s] [--count N]] [--json]
//	sluicectl status  [-b host:port] [--json]
//	sluicectl topic   list|create|delete …
//	sluicectl group   progress <group> -t topic [-t topic …]
//	sluicectl cluster [-n namesrv]
//	sluicectl queryMsgById  <offsetMsgId> [-b host:port] [--json]
//	sluicectl queryMsgByKey <topic> <key> [--begin ms] [--end ms] [--max n] [-b host:port] [--json]
//	sluicectl fault   stall <ms> | pool-exhausted on|off | processor-delay <ms> [--processor name] | off
//
// and mqadmin's commands under mqadmin's names and flags: getBrokerConfig,
// updateBrokerConfig -k -v, consumerProgress -g [-t], resetOffsetByTime -g
// -t -s [-f], clusterList -n, topicStatus -t, topicList -n,
// consumerConnection -g, producerConnection -g.
//
// Exit status: 0 on success, 1 when the broker cannot be reached or
// refuses, 2 for a command line that cannot be understood.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/tlshelper"
)

// Defaults: RocketMQ's ports on loopback, where a Sluice started without a
// configuration listens.
const (
	defaultBroker  = "127.0.0.1:10911"
	defaultNamesrv = "127.0.0.1:9876"
	defaultTimeout = 5 * time.Second
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// env is what every command gets: where to write, and whether stdout is a
// terminal (colour, redraw in place).
type env struct {
	stdout, stderr io.Writer
	tty            bool
	// width is the terminal's width now (0: unknown); a watch truncates
	// its lines to it.
	width func() int
}

type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

var commands map[string]command

func init() {
	// Assigned here rather than in the declaration: help refers back to
	// the table.
	commands = map[string]command{
		"tree":    {"show the live actor tree (processors, writer, connections)", runTree},
		"status":  {"print the broker's runtime info (GET_BROKER_RUNTIME_INFO)", runStatus},
		"topic":   {"list, create or delete topics", runTopic},
		"group":   {"show a consumer group's offsets and lag per queue", runGroup},
		"cluster": {"list clusters and brokers registered with a name server", runCluster},
		"fault":   {"inject faults (broker started with faultInjectionEnable=true)", runFault},
		"help":    {"show this help", runHelp},

		// mqadmin's names.
		"getBrokerConfig":    {"print the broker's configuration (GET_BROKER_CONFIG)", runGetBrokerConfig},
		"updateBrokerConfig": {"change a key that can change at run time (UPDATE_BROKER_CONFIG)", runUpdateBrokerConfig},
		"consumerProgress":   {"a group's offsets, lag and TPS per queue (GET_CONSUME_STATS)", runConsumerProgress},
		"resetOffsetByTime":  {"move a group's offsets to a time and push them to its consumers", runResetOffsetByTime},
		"clusterList":        {"brokers with their TPS in/out, page-cache wait and disk use", runClusterList},
		"topicStatus":        {"a topic's min/max offsets per queue (GET_TOPIC_STATS_INFO)", runTopicStatus},
		"topicList":          {"every topic the name server routes", runTopicList},
		"consumerConnection": {"a consumer group's clients and subscriptions", runConsumerConnection},
		"producerConnection": {"a producer group's clients", runProducerConnection},
		"replication":        {"each broker group's master and slaves, their max offsets and how far each slave is behind", runReplication},
	}
	maps.Copy(commands, queryCommands) // query.go
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdout, stderr)
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, tty: isTerminal(stdout), width: func() int { return terminalWidth(stdout) }}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "-help" {
		name = "help"
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "sluicectl: unknown command %q (try: sluicectl help)\n", name)
		return 2
	}
	err := cmd.run(ctx, e, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(*usageError)):
		fmt.Fprintf(stderr, "sluicectl %s: %s\n", name, oneLine(err.Error()))
		return 2
	}
	fmt.Fprintf(stderr, "sluicectl: %s\n", oneLine(err.Error()))
	return 1
}

func runHelp(_ context.Context, e *env, _ []string) error {
	usage(e.stdout)
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sluicectl <command> [flags] [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-19s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Brokers default to %s, name servers to %s. Run 'sluicectl <command> -h' for its flags.\n",
		defaultBroker, defaultNamesrv)
}

// getenv is os.Getenv, replaceable in tests.
var getenv = os.Getenv

// usageError is a command line we cannot act on: exit status 2.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// newFlags returns a flag set whose parse errors are usage errors and whose
// -h output goes to stderr.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("sluicectl "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: sluicectl %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags wherever they appear among the positional
// arguments ("fault processor-delay 50 --processor send"), which the flag
// package alone does not: it stops at the first non-flag.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			// The flag package has printed the details and the usage.
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// brokerFlags are the flags every broker command has.
type brokerFlags struct {
	addr      string
	timeout   time.Duration
	tls       tlshelper.ClientFlags
	accessKey string
	secretKey string
}

// Credentials default to these environment variables, so that a secret
// need not appear on a command line (where ps shows it).
const (
	envAccessKey = "SLUICE_ACCESS_KEY"
	envSecretKey = "SLUICE_SECRET_KEY"
)

func (b *brokerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.addr, "b", defaultBroker, "broker address host:port")
	b.registerClient(fs)
}

// registerClient registers all but -b: what any connection needs.
func (b *brokerFlags) registerClient(fs *flag.FlagSet) {
	fs.DurationVar(&b.timeout, "timeout", defaultTimeout, "how long to wait for each answer")
	b.tls.Register(fs)
	fs.StringVar(&b.accessKey, "access-key", os.Getenv(envAccessKey), "ACL accessKey to sign requests with (default $"+envAccessKey+")")
	fs.StringVar(&b.secretKey, "secret-key", os.Getenv(envSecretKey), "ACL secretKey (default $"+envSecretKey+")")
}

// credentials are the plain-ACL keys to sign with, nil when none are given.
func (b *brokerFlags) credentials() *remoting.Credentials {
	if b.accessKey == "" && b.secretKey == "" {
		return nil
	}
	return &remoting.Credentials{AccessKey: b.accessKey, SecretKey: b.secretKey}
}

// oneLine keeps an error to the single line the contract promises even
// when a remark carries RocketMQ's "\nSee http://…" suffix.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// isTerminal reports whether w is a character device, so that colour and
// in-place redraw never end up in a file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
