// Package httpapi serves virtumancer-sync's HTTP endpoints: health and
// readiness probes, Prometheus metrics and a small JSON API over the sync
// engine's state. It owns no state of its own.
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/virtumancer/terraform-provider-virtumancer/internal/observe"
	"github.com/virtumancer/terraform-provider-virtumancer/internal/syncer"
)

// Source is what the endpoints read; *syncer.Engine implements it.
type Source interface {
	Hosts() []syncer.HostStatus
	// Ready says whether /readyz answers ready, and if not, why.
	Ready() (ready bool, reason string)
	// Drift is the body of GET /api/v1/drift: the same observe.Report that
	// `virtumancer-sync drift --json` prints.
	Drift(ctx context.Context) (observe.Report, error)
}

// HostsResponse is the body of GET /api/v1/hosts.
type HostsResponse struct {
	Hosts []syncer.HostStatus `json:"hosts"`
}

// NewHandler routes the endpoints. With a token, /metrics and /api/ need
// "Authorization: Bearer <token>"; /healthz and /readyz stay open for
// probes and say nothing about hosts or VMs.
func NewHandler(src Source, g prometheus.Gatherer, token string, log hclog.Logger) http.Handler {
	h := &handler{src: src, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	mux.HandleFunc("GET /readyz", h.readyz)
	protect := func(next http.Handler) http.Handler { return requireToken(token, next) }
	mux.Handle("GET /metrics", protect(promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: promLogger{log}})))
	mux.Handle("GET /api/v1/hosts", protect(http.HandlerFunc(h.hosts)))
	mux.Handle("GET /api/v1/drift", protect(http.HandlerFunc(h.drift)))
	mux.HandleFunc("/", notFound)
	return mux
}

var endpoints = []string{"/api/v1/hosts", "/api/v1/drift", "/metrics", "/healthz", "/readyz"}

// notFound answers what no route matched: a known path with another
// method (every endpoint is read-only), or an unknown path.
func notFound(w http.ResponseWriter, r *http.Request) {
	if slices.Contains(endpoints, r.URL.Path) {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: fmt.Sprintf("%s %s: endpoints are read-only; use GET", r.Method, r.URL.Path)})
		return
	}
	writeJSON(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("no endpoint %s %s; see %s", r.Method, r.URL.Path, strings.Join(endpoints, ", "))})
}

type handler struct {
	src Source
	log hclog.Logger
}

type errorBody struct {
	Error string `json:"error"`
}

func (h *handler) readyz(w http.ResponseWriter, _ *http.Request) {
	if ready, reason := h.src.Ready(); !ready {
		writeText(w, http.StatusServiceUnavailable, "not ready: "+reason)
		return
	}
	writeText(w, http.StatusOK, "ready")
}

func (h *handler) hosts(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, HostsResponse{Hosts: h.src.Hosts()})
}

func (h *handler) drift(w http.ResponseWriter, r *http.Request) {
	rep, err := h.src.Drift(r.Context())
	if err != nil {
		h.log.Error("drift request failed", "error", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// requireToken checks the bearer token in constant time; an empty token
// leaves next open (only allowed on loopback, see CheckListen).
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="virtumancer-sync"`)
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}

// promLogger adapts hclog to promhttp's error log.
type promLogger struct{ log hclog.Logger }

func (p promLogger) Println(v ...any) {
	p.log.Error("metrics scrape failed", "error", fmt.Sprint(v...))
}

// CheckListen validates a --listen address and refuses one reachable from
// other machines unless a token protects it: the API names hosts and VMs.
func CheckListen(addr, token string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid listen address %q: %w; want host:port, e.g. 127.0.0.1:9464", addr, err)
	}
	// Numeric only: a service name would need a lookup to mean anything.
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid listen address %q: bad port %q, want 0-65535", addr, port)
	}
	if token == "" && !IsLoopback(host) {
		where := host
		if where == "" {
			where = "every interface"
		}
		return fmt.Errorf("refusing to listen on %s (%q) without a bearer token: set --token or VIRTUMANCER_SYNC_TOKEN, or listen on 127.0.0.1", where, addr)
	}
	return nil
}

// IsLoopback reports whether host (from host:port) only accepts local
// connections. Names other than localhost are not resolved: a name can
// point anywhere, so it counts as non-loopback.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

// Server is the HTTP listener's lifecycle: Open binds and serves in the
// background, Close shuts down gracefully.
type Server struct {
	Addr    string
	Handler http.Handler
	Logger  hclog.Logger

	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Open binds Addr and starts serving.
func (s *Server) Open() error {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("httpapi: listen on %s: %w", s.Addr, err)
	}
	s.ln = ln
	if s.Logger == nil {
		s.Logger = hclog.NewNullLogger()
	}
	s.srv = &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          s.Logger.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(ln) }()
	return nil
}

// ListenAddr is the bound address (useful with port 0).
func (s *Server) ListenAddr() string { return s.ln.Addr().String() }

// Close stops accepting and waits for requests in flight until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	if err != nil {
		return fmt.Errorf("httpapi: close: %w", err)
	}
	return nil
}
