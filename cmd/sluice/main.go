// Command sluice runs the broker, or a standalone name server.
//
//	sluice [-c broker.conf] [-n namesrvAddr] [-p] [-log-level info] [-pprof 127.0.0.1:6060]
//	sluice namesrv [-listen 127.0.0.1:9876] [-tls-config tls.properties] [-acl [-rocketmq-home dir] [-acl-file conf/plain_acl.yml]] [-log-level info]
//
// With no flags it starts the broker on embedded defaults: remoting on
// 127.0.0.1:10911, advertised as 127.0.0.1, with an embedded name server on
// 127.0.0.1:9876. Clusters of several brokers share one standalone name
// server instead: start it with `sluice namesrv` and give each broker
// namesrvAddr (or -n).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/acl"
	"github.com/sluice-mq/sluice/cmd/sluice/brokerconf"
	"github.com/sluice-mq/sluice/cmd/sluice/internal/gcheadroom"
	"github.com/sluice-mq/sluice/remoting/tlshelper"
	"github.com/sluice-mq/sluice/supervisor"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "namesrv" {
		return runNamesrv(args[1:], stderr)
	}
	fs := flag.NewFlagSet("sluice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	confPath := fs.String("c", "", "broker.conf properties file (RocketMQ key names)")
	namesrv := fs.String("n", "", "name server address list, host:port;host:port (overrides namesrvAddr)")
	printConf := fs.Bool("p", false, "print the effective configuration and exit")
	levelName := fs.String("log-level", "info", "log level: debug, info, warn, error")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060); off when empty")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level, err := zerolog.ParseLevel(*levelName)
	if err != nil {
		fmt.Fprintf(stderr, "sluice: -log-level %q: %v\n", *levelName, err)
		return 2
	}
	log := newLogger(stderr, level)
	if *pprofAddr != "" {
		stopPprof, err := servePprof(*pprofAddr, log)
		if err != nil {
			fmt.Fprintf(stderr, "sluice: -pprof: %v\n", err)
			return 2
		}
		defer stopPprof()
	}

	cfg := brokerconf.Default()
	if *confPath != "" {
		warnings, err := cfg.LoadFile(*confPath)
		for _, w := range warnings {
			log.Warn().Str("file", *confPath).Int("line", w.Line).Str("key", w.Key).Msg("unknown broker.conf key ignored")
		}
		if err != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", err)
			return 1
		}
	}
	tlsFile, tlsWarnings, err := cfg.LoadTLSFile()
	for _, w := range tlsWarnings {
		log.Warn().Str("file", tlsFile).Int("line", w.Line).Str("key", w.Key).Msg("not a TLS key; ignored")
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	if tlsFile != "" {
		log.Info().Str("file", tlsFile).Msg("TLS config file read")
	}
	if *namesrv != "" {
		if err := cfg.Set("namesrvAddr", *namesrv); err != nil {
			fmt.Fprintf(stderr, "sluice: -n: %v\n", err)
			return 2
		}
	}
	if *printConf {
		if err := cfg.Print(stdout); err != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", err)
			return 1
		}
		return 0
	}

	if stop := startGCHeadroom(cfg.GCHeadroomMB, log); stop != nil {
		defer stop()
	}

	// Signals are caught before the broker starts: one that arrives while
	// it starts (its "broker started" line already out) is a shutdown
	// request, not a kill.
	sig := notifyShutdown()
	defer signal.Stop(sig)
	// The key table as started, a copy: GET_BROKER_CONFIG overlays the
	// values changed at run time.
	started := cfg
	b, err := supervisor.Start(cfg.Broker, supervisor.Options{Log: log, ConfigProperties: started.Properties})
	if err != nil {
		log.Error().Err(err).Msg("broker failed to start")
		return 1
	}
	return waitAndShutdown(log, sig, b.ReloadTLS, b.Shutdown)
}

// startGCHeadroom applies gcHeadroomMB unless it is 0 or the environment
// sets GOGC (the operator's explicit choice wins). It returns the function
// that restores Go's default, or nil.
func startGCHeadroom(mb int, log zerolog.Logger) (stop func()) {
	if mb <= 0 {
		return nil
	}
	if v, set := lookupGOGC(); set {
		log.Info().Str("GOGC", v).Int("gcHeadroomMB", mb).Msg("GOGC is set in the environment; gcHeadroomMB not applied")
		return nil
	}
	log.Info().Int("gcHeadroomMB", mb).Msg("garbage collector: heap goal at least gcHeadroomMB above the live heap (GOGC=100 above that)")
	return gcheadroom.Start(uint64(mb) << 20)
}

func lookupGOGC() (string, bool) { return os.LookupEnv("GOGC") }

// notifyShutdown delivers SIGINT and SIGTERM (shut down) and SIGHUP
// (reload the TLS certificates) to the returned channel.
func notifyShutdown() chan os.Signal {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	return sig
}

// waitAndShutdown reloads on every SIGHUP (a failed reload is logged and
// keeps the previous certificates) until SIGINT or SIGTERM arrives on sig,
// then shuts down with a 30-second budget.
func waitAndShutdown(log zerolog.Logger, sig <-chan os.Signal, reload func() error, shutdown func(context.Context) error) int {
	s := <-sig
	for s == syscall.SIGHUP {
		log.Info().Msg("SIGHUP: reloading TLS certificates")
		_ = reload() // logs its own outcome
		s = <-sig
	}
	log.Info().Stringer("signal", s).Msg("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		log.Error().Err(err).Msg("shutdown")
		return 1
	}
	return 0
}

// runNamesrv runs a standalone name server.
func runNamesrv(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("sluice namesrv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9876", "address to listen on (host:port; port 0 picks one)")
	levelName := fs.String("log-level", "info", "log level: debug, info, warn, error")
	tlsConfig := fs.String("tls-config", "", "tls.properties file (RocketMQ's tls.* keys, tls.server.mode included; default: /etc/rocketmq/tls.properties if it exists)")
	aclOn := fs.Bool("acl", false, "authenticate brokers and admins: REGISTER_BROKER and route changes need an admin account of the ACL file")
	home := fs.String("rocketmq-home", os.Getenv("ROCKETMQ_HOME"), "where conf/plain_acl.yml and conf/acl/ are (default $ROCKETMQ_HOME)")
	aclFile := fs.String("acl-file", acl.DefaultPlainFile, "the ACL file, relative to -rocketmq-home unless absolute")
	watch := fs.Duration("acl-watch-interval", acl.DefaultWatchInterval, "how often the ACL files are checked for changes")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var opts supervisor.NameServerOptions
	if *aclOn {
		if *home == "" && !filepath.IsAbs(*aclFile) {
			fmt.Fprintln(stderr, "sluice namesrv: -acl needs -rocketmq-home (or $ROCKETMQ_HOME) or an absolute -acl-file")
			return 2
		}
		opts.ACL = &acl.Config{Home: *home, PlainFile: *aclFile, WatchInterval: *watch}
	}
	level, err := zerolog.ParseLevel(*levelName)
	if err != nil {
		fmt.Fprintf(stderr, "sluice namesrv: -log-level %q: %v\n", *levelName, err)
		return 2
	}
	log := newLogger(stderr, level)
	path := *tlsConfig
	if path == "" {
		path = tlshelper.DefaultConfigFile
	}
	tlsFile, tlsWarnings, err := brokerconf.LoadTLSProperties(path, &opts.TLS, *tlsConfig != "")
	for _, w := range tlsWarnings {
		log.Warn().Str("file", tlsFile).Int("line", w.Line).Str("key", w.Key).Msg("not a TLS key; ignored")
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice namesrv: %v\n", err)
		return 1
	}
	if tlsFile != "" {
		log.Info().Str("file", tlsFile).Msg("TLS config file read")
	}
	sig := notifyShutdown()
	defer signal.Stop(sig)
	ns, err := supervisor.StartNameServerWithOptions(*listen, log, opts)
	if err != nil {
		log.Error().Err(err).Msg("name server failed to start")
		return 1
	}
	return waitAndShutdown(log, sig, ns.ReloadTLS, ns.Shutdown)
}

// newLogger writes console lines to a terminal and JSON lines otherwise.
func newLogger(w io.Writer, level zerolog.Level) zerolog.Logger {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			w = zerolog.ConsoleWriter{Out: f, TimeFormat: time.TimeOnly}
		}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}
