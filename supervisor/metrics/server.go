package metrics

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/tree"
)

// Path is where the exposition is served.
const Path = "/metrics"

// scrapeTimeout bounds one scrape. A snapshot walks the actor registry and
// takes well under a millisecond; a scrape that takes seconds is a stuck
// broker, and Prometheus is better told so than left hanging.
const scrapeTimeout = 10 * time.Second

// Server serves the Prometheus exposition of one broker.
type Server struct {
	ln   net.Listener
	http *http.Server
	log  zerolog.Logger
	done chan struct{}
}

// NewRegistry returns a registry holding the broker's collectors: the tree
// read through snapshot and, when runtimeInfo is not nil, the numeric
// runtime-info values. Each scrape calls both functions once.
func NewRegistry(snapshot func() *tree.Snapshot, runtimeInfo func() map[string]string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&treeCollector{snapshot: snapshot})
	if runtimeInfo != nil {
		reg.MustRegister(&runtimeCollector{info: runtimeInfo})
	}
	return reg
}

// Serve listens on addr (host:port; port 0 picks one, see Addr) and serves
// the metrics at /metrics until Close. The caller decides whether to serve
// at all: metricsPromExporterPort=0 means "disabled" to the broker, while
// here port 0 means "any port", which is what tests want.
func Serve(addr string, snapshot func() *tree.Snapshot, runtimeInfo func() map[string]string, log zerolog.Logger) (*Server, error) {
	return ServeWith(addr, ServeOptions{}, snapshot, runtimeInfo, log)
}

// ServeOptions secure the endpoint; the zero value is plain HTTP, open to
// whoever reaches the address.
type ServeOptions struct {
	// TLS, when not nil, serves HTTPS only (metricsTlsCertPath /
	// metricsTlsKeyPath). The handshake is bounded by the header timeout,
	// as any slow request is.
	TLS *tls.Config
	// BearerToken, when not empty, is required as "Authorization: Bearer
	// <token>" on every request, or it is answered 401
	// (metricsPromExporterBearerToken). The comparison is constant-time.
	BearerToken string
}

// ServeWith is Serve with options.
func ServeWith(addr string, opts ServeOptions, snapshot func() *tree.Snapshot, runtimeInfo func() map[string]string, log zerolog.Logger) (*Server, error) {
	tlsConf, token := opts.TLS, opts.BearerToken
	if snapshot == nil {
		return nil, errors.New("metrics: no snapshot function")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	reg := NewRegistry(snapshot, runtimeInfo)
	mux := http.NewServeMux()
	mux.Handle(Path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: errorLog{log},
		// A collector error (say, a runtime key whose name clashes) should
		// cost that series, not the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       scrapeTimeout,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Sluice broker metrics: %s\n", Path)
	})
	var handler http.Handler = mux
	if token != "" {
		handler = bearer(token, mux)
	}
	s := &Server{
		ln: ln,
		http: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 5 * time.Second,
			WriteTimeout:      scrapeTimeout + 5*time.Second,
		},
		log:  log,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Str("addr", ln.Addr().String()).Msg("metrics server stopped")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Str("path", Path).Bool("tls", tlsConf != nil).Msg("prometheus exporter listening")
	return s, nil
}

// bearer admits requests that carry the token.
func bearer(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Addr is the address the server listens on, with the port it got.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, letting a scrape in progress finish for a
// moment, and waits for the serving goroutine.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.http.Close()
	}
	<-s.done
	if err != nil {
		return fmt.Errorf("metrics: close: %w", err)
	}
	return nil
}

// errorLog adapts zerolog to promhttp's Logger.
type errorLog struct{ log zerolog.Logger }

func (l errorLog) Println(v ...any) {
	l.log.Error().Msg(fmt.Sprint(v...))
}
