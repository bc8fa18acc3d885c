// Package server is the chat.v1 server: an http.Handler that upgrades /ws to
// WebSocket (package wire), decodes client envelopes (package api), routes
// them to handlers, and fans events out through a Broker, whose in-memory
// implementation serves a single process.
//
// A connection has a goroutine only while it has work: a read loop that
// decodes and handles messages in order (session.go, router.go) runs while
// bytes are arriving and parks on the process's epoll loop (readiness.go)
// when they stop, and a writer drains the connection's bounded outbound
// queue with one write per batch (queue.go) and sends the pings, exiting
// once the queue is empty. (A TLS connection keeps its read loop blocked in
// the read instead.) A room event is encoded and framed once and the same
// frame is queued to every member (deliver.go).
//
// Where PROTOCOL.md leaves room for choice:
//   - A join's since may be the id of any event of the room the client saw
//     last (chat, join or leave): the chat messages after it are replayed. A
//     since that names no event the room still knows is unknown and replays
//     everything kept (history.go).
//   - The leave events of a session that ends are published as soon as its
//     read loop ends, before the close handshake with it completes.
//   - active: true is relayed at most once per TypingThrottle per target, even
//     after an active: false; a refresh inside the window while shown only
//     extends the expiry, and one while not shown is ignored (typing.go).
//   - A client's own close of any code counts as leaving ("left"); only
//     violations the server detects count as "disconnected".
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/schema"
	"github.com/chatd/chatd/server/web"
	"github.com/chatd/chatd/wire"
)

// Subprotocol is the WebSocket subprotocol the server speaks.
const Subprotocol = "chat.v1"

// contentSecurityPolicy lets the browser client talk to this server only.
const contentSecurityPolicy = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Server is the chat server. Create it with New, mount it as an http.Handler,
// and call Shutdown to end it.
type Server struct {
	cfg       Config
	clock     Clock
	log       *slog.Logger
	broker    Broker
	ownBroker bool
	unsub     func()
	ids       *api.IDSource
	m         *metrics
	mux       *http.ServeMux
	started   time.Time
	allowAll  bool
	allowed   map[string]bool
	highWater atomic.Int64
	bufs      sync.Pool  // *[]byte encode buffers
	coalesce  *coalescer // nil: every write at once

	mu       sync.RWMutex
	sessions map[string]*session   // by session id
	byName   map[string]*session   // by NameKey, once joined
	rooms    map[string]*localRoom // rooms with members on this server
	draining bool                  // Shutdown has begun
	stopping atomic.Bool           // draining, readable without the lock: read loops stop handling
	conns    sync.WaitGroup        // running sessions
}

// New validates cfg and returns a Server ready to serve.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		broker:   cfg.Broker,
		allowed:  make(map[string]bool),
		sessions: make(map[string]*session),
		byName:   make(map[string]*session),
		rooms:    make(map[string]*localRoom),
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, o := range cfg.AllowedOrigins {
		if o == "*" {
			s.allowAll = true
			continue
		}
		canon, _ := parseOrigin(o) // validated above
		s.allowed[canon] = true
	}
	m, err := newMetrics(cfg.Metrics, s.roomCount, func() float64 { return float64(s.highWater.Load()) })
	if err != nil {
		return nil, fmt.Errorf("server: registering metrics: %w", err)
	}
	s.m = m
	if s.broker == nil {
		s.broker = NewMemoryBroker(MemoryBrokerOptions{
			HistorySize: cfg.HistorySize, HistoryTTL: cfg.HistoryTTL, Clock: s.clock,
		})
		s.ownBroker = true
	}
	s.ids = api.NewIDSource(s.clock)
	s.started = s.clock.Now()
	s.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	if cfg.WriteCoalesce > 0 {
		s.coalesce = newCoalescer(cfg.WriteCoalesce, func(sess *session) { sess.q.roundStart() })
	}
	s.unsub = s.broker.Subscribe(s.deliver, s.brokerLost)

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /ws", s.serveWS)
	s.mux.HandleFunc("GET /healthz", s.serveHealth)
	s.mux.Handle("GET /metrics", s.m.handler)
	s.mux.Handle("GET /schema/", http.StripPrefix("/schema/", http.FileServerFS(schema.FS)))
	s.mux.HandleFunc("GET /{$}", s.serveIndex)
	s.mux.Handle("GET /", s.staticFiles())
	return s, nil
}

// ServeHTTP routes /ws, /, /schema/, /healthz and /metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// serveWS upgrades the request and starts the session.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if s.isDraining() {
		http.Error(w, "the server is shutting down; reconnect in a moment", http.StatusServiceUnavailable)
		return
	}
	opts := &wire.AcceptOptions{
		Subprotocol: selectSubprotocol,
		CheckOrigin: s.checkOrigin,
		ReadLimit:   s.cfg.MaxMessageBytes,
		FailReason:  closeReasonFor,
		CloseAnswer: answerClientClose,
	}
	if s.cfg.Compression {
		opts.Compression = &wire.CompressionOptions{}
	}
	conn, err := wire.Accept(w, r, opts)
	if err != nil {
		// Accept has answered with the HTTP error (400, 403, 426 …).
		s.log.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	// Set before the session is registered: from then on a Shutdown may
	// start its close handshake, even before run does.
	conn.SetCloseTimeout(s.cfg.CloseTimeout)
	sess := newSession(s, conn, r.RemoteAddr)
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		_ = conn.Close(wire.StatusGoingAway, "shutdown")
		return
	}
	s.sessions[sess.id] = sess
	s.conns.Add(1)
	s.mu.Unlock()
	s.m.connections.Inc()
	// The session runs in a goroutine of its own and the handler returns:
	// net/http's connection goroutine (its stack grown by request parsing),
	// its bufio reader and writer and the request are then garbage, which is
	// about half of what an idle connection would otherwise hold. Accept has
	// copied the bytes the reader held past the request, so nothing of
	// net/http's stays referenced. s.conns, not net/http, tracks the session
	// (net/http forgets hijacked connections anyway) until session.end.
	go sess.run()
}

// selectSubprotocol picks chat.v1 when offered, serves clients that offer
// nothing, and refuses clients that want only something else.
func selectSubprotocol(_ *http.Request, offered []string) (string, error) {
	if len(offered) == 0 {
		return "", nil
	}
	if slices.Contains(offered, Subprotocol) {
		return Subprotocol, nil
	}
	return "", fmt.Errorf("this server speaks the WebSocket subprotocol %q only: offer %q in Sec-WebSocket-Protocol, or offer none",
		Subprotocol, Subprotocol)
}

// checkOrigin refuses cross-site WebSocket hijacking: a browser's Origin must
// be the server's own (same host, http with plain connections, https with
// TLS) or in the allow-list. Clients that send no Origin are not browsers.
func (s *Server) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" || s.allowAll {
		return nil
	}
	u, err := url.Parse(origin)
	if err == nil && u.Host != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		if strings.EqualFold(u.Scheme, scheme) && strings.EqualFold(u.Host, r.Host) {
			return nil
		}
		if s.allowed[strings.ToLower(u.Scheme+"://"+u.Host)] {
			return nil
		}
	}
	return fmt.Errorf("origin %q may not open WebSockets here: use the page this server serves, or add the origin to --allowed-origins", origin)
}

func (s *Server) isDraining() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.draining
}

// serveHealth reports liveness for load balancers and operators.
func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	s.mu.RLock()
	n, draining := len(s.sessions), s.draining
	s.mu.RUnlock()
	status, code := "ok", http.StatusOK
	if draining {
		status, code = "shutting_down", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Status        string  `json:"status"`
		Name          string  `json:"name"`
		Version       string  `json:"version"`
		Uptime        string  `json:"uptime"`
		UptimeSeconds float64 `json:"uptime_seconds"`
		Connections   int     `json:"connections"`
	}{status, s.cfg.Name, s.cfg.Version, s.clock.Now().Sub(s.started).Round(time.Second).String(),
		s.clock.Now().Sub(s.started).Seconds(), n})
}

// serveIndex serves the browser client's page.
func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w)
	b, err := fs.ReadFile(web.FS, "index.html")
	if err != nil {
		http.Error(w, "index.html missing from the embedded client", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b)
}

// staticFiles serves the rest of the browser client (scripts, styles).
func (s *Server) staticFiles() http.Handler {
	files := http.FileServerFS(web.FS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		files.ServeHTTP(w, r)
	})
}

func setPageHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

// roomCount is the rooms gauge.
func (s *Server) roomCount() float64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return float64(len(s.rooms))
}

// session returns the local session with id, or nil.
func (s *Server) session(id string) *session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sessions[id]
}

// sessionByName returns the local joined session holding name, or nil.
func (s *Server) sessionByName(name string) *session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byName[api.NameKey(name)]
}

// brokerLost closes every client with 1001 so that they reconnect to a node
// that still has a working broker.
func (s *Server) brokerLost(err error) {
	s.log.Error("broker lost; closing every connection", "err", err)
	s.mu.RLock()
	all := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.RUnlock()
	for _, sess := range all {
		sess.close(closeCause{code: wire.StatusGoingAway, reason: "shutdown", leave: leaveDisconnected, flush: true, send: true})
	}
}

// ctx returns a context for broker calls: bounded by WriteTimeout for a
// broker that does I/O. The in-memory broker never waits on anything and
// ignores its context, so it gets one without a timer: a context with a
// timeout per chat message (a runtime timer added and removed, and
// allocations) cost 35 µs of a quiet round trip on a cold CPU.
func (s *Server) ctx() (context.Context, context.CancelFunc) {
	if _, inMemory := s.broker.(*MemoryBroker); inMemory {
		return context.Background(), noCancel
	}
	return context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
}

// noCancel is the CancelFunc of a context that needs none.
func noCancel() {}
