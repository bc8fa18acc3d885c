package server_test

// This file holds the black-box harness every e2e_*_test.go file shares: a real
// server.Server behind a real net/http server on 127.0.0.1, gorilla/websocket clients
// (a WebSocket implementation nobody in this project wrote), a raw TCP client for the
// frame-level cases, an envelope checker that applies PROTOCOL.md §2's field tables to
// every envelope any test receives, and a fake server.Clock.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"

	"github.com/chatd/chatd/server"
)

// goleak.VerifyTestMain for this test binary is main_test.go's TestMain (package
// server); a second TestMain here would not compile.

// guard bounds every blocking step so that a broken server fails a test instead of
// hanging the suite. It is never the thing a test asserts on.
const guard = 20 * time.Second

const subprotocol = "chat.v1"

// ---------------------------------------------------------------------------
// Server harness

type harness struct {
	t        testing.TB
	cfg      server.Config
	srv      *server.Server
	hs       *http.Server
	addr     string
	scheme   string      // "ws" or "wss"
	clientTL *tls.Config // trusts the generated certificate (TLS harnesses only)
	served   chan struct{}

	mu       sync.Mutex
	shutdown bool
}

// start runs a server built from DefaultConfig plus mods on 127.0.0.1:0. Everything
// it starts is stopped by t.Cleanup.
func start(t testing.TB, mods ...func(*server.Config)) *harness {
	t.Helper()
	return startTLS(t, nil, mods...)
}

// startTLS is start with the listener wrapped in TLS when cert is not nil, the way
// cmd/chatd serves wss:// and https:// on the same listener.
func startTLS(t testing.TB, cert *testCert, mods ...func(*server.Config)) *harness {
	t.Helper()
	cfg := server.DefaultConfig()
	for _, m := range mods {
		m(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	h := &harness{t: t, cfg: cfg, srv: srv, addr: ln.Addr().String(), scheme: "ws", served: make(chan struct{})}
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert.cert}})
		h.scheme = "wss"
		h.clientTL = &tls.Config{RootCAs: cert.pool}
	}
	h.hs = &http.Server{Handler: srv, ReadHeaderTimeout: guard, ErrorLog: log.New(io.Discard, "", 0)}
	go func() {
		defer close(h.served)
		_ = h.hs.Serve(ln)
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) wsURL() string { return h.scheme + "://" + h.addr + "/ws" }

func (h *harness) httpURL(path string) string {
	if h.scheme == "wss" {
		return "https://" + h.addr + path
	}
	return "http://" + h.addr + path
}

func (h *harness) origin() string {
	if h.scheme == "wss" {
		return "https://" + h.addr
	}
	return "http://" + h.addr
}

// shutdownServer calls Server.Shutdown once; the cleanup then skips it.
func (h *harness) shutdownServer(ctx context.Context) error {
	h.mu.Lock()
	h.shutdown = true
	h.mu.Unlock()
	return h.srv.Shutdown(ctx)
}

func (h *harness) stop() {
	h.mu.Lock()
	done := h.shutdown
	h.shutdown = true
	h.mu.Unlock()
	if !done {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		if err := h.srv.Shutdown(ctx); err != nil {
			h.t.Errorf("Shutdown: %v", err)
		}
		cancel()
	}
	_ = h.hs.Close()
	<-h.served
}

func (h *harness) httpClient() *http.Client {
	tr := &http.Transport{TLSClientConfig: h.clientTL, DisableKeepAlives: true}
	return &http.Client{Transport: tr, Timeout: guard}
}

// get fetches path and returns the response with its body read.
func (h *harness) get(t testing.TB, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := h.httpClient().Get(h.httpURL(path))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp, body
}

// ---------------------------------------------------------------------------
// TLS

type testCert struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// newTestCert makes a self-signed certificate for 127.0.0.1 that lives only in memory.
func newTestCert(t testing.TB) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "chatd e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &testCert{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool: pool}
}

// ---------------------------------------------------------------------------
// Envelopes and the §2 field tables

// env is one envelope as received: its decoded fields and the raw text for messages.
type env struct {
	m   map[string]any
	raw string
}

func (e env) typ() string        { return e.s("type") }
func (e env) has(k string) bool  { _, ok := e.m[k]; return ok }
func (e env) String() string     { return e.raw }
func (e env) b(k string) bool    { v, _ := e.m[k].(bool); return v }
func (e env) s(k string) string  { v, _ := e.m[k].(string); return v }
func (e env) n(k string) float64 { v, _ := e.m[k].(float64); return v }

func (e env) strs(k string) []string {
	arr, _ := e.m[k].([]any)
	out := make([]string, 0, len(arr))
	for _, v := range arr {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// detailFields lists details[].field of an error envelope, sorted.
func (e env) detailFields() []string {
	arr, _ := e.m["details"].([]any)
	var out []string
	for _, d := range arr {
		m, _ := d.(map[string]any)
		f, _ := m["field"].(string)
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

type fieldSet struct{ required, optional []string }

// envelopeFields is PROTOCOL.md §2 "Server → client" plus `type`: every field an
// envelope must carry and every field it may carry. The checker refuses anything else
// so that a stray field (a `ref` leaking to another recipient, an `id` on an error)
// shows up at once.
var envelopeFields = map[string]fieldSet{
	"welcome":  {required: []string{"type", "name", "session", "server", "limits", "ts"}},
	"presence": {required: []string{"type", "room", "users", "ts"}, optional: []string{"ref"}},
	"chat":     {required: []string{"type", "id", "ts", "room", "from", "text"}, optional: []string{"ref", "replay"}},
	"pm":       {required: []string{"type", "id", "ts", "from", "to", "text"}, optional: []string{"ref"}},
	"typing":   {required: []string{"type", "ts", "from", "active"}, optional: []string{"room", "to"}},
	"join":     {required: []string{"type", "id", "ts", "room", "from"}, optional: []string{"ref"}},
	"leave":    {required: []string{"type", "id", "ts", "room", "from", "reason"}, optional: []string{"ref"}},
	"error":    {required: []string{"type", "code", "message", "ts"}, optional: []string{"ref", "details"}},
}

var errorCodes = []string{"invalid_json", "invalid_message", "unknown_type", "not_joined", "name_taken",
	"unknown_user", "not_member", "rate_limited", "unauthorized", "internal"}

// tsPattern is §2's `ts`: RFC 3339, UTC, exactly millisecond precision.
var tsPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

func checkULID(s string) error {
	if len(s) != 26 || strings.ToUpper(s) != s {
		return fmt.Errorf("%q is not a 26-character upper-case ULID", s)
	}
	if _, err := ulid.ParseStrict(s); err != nil {
		return fmt.Errorf("%q is not a ULID: %v", s, err)
	}
	return nil
}

func checkTS(s string) error {
	if !tsPattern.MatchString(s) {
		return fmt.Errorf("ts %q is not YYYY-MM-DDTHH:MM:SS.mmmZ", s)
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		return fmt.Errorf("ts %q: %v", s, err)
	}
	return nil
}

// lowerSorted reports whether names are sorted by their lower-case form (§3a).
func lowerSorted(names []string) bool {
	return slices.IsSortedFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
}

// parseEnvelope decodes one text message and checks it against §2: a JSON object
// with a known type, exactly the allowed fields, with well-formed ts, id, etc.
func parseEnvelope(b []byte) (env, error) {
	e := env{raw: string(b)}
	if !utf8.Valid(b) {
		return e, fmt.Errorf("envelope is not UTF-8: %q", b)
	}
	if err := json.Unmarshal(b, &e.m); err != nil || e.m == nil {
		return e, fmt.Errorf("envelope is not a JSON object: %s (%v)", b, err)
	}
	typ, ok := e.m["type"].(string)
	if !ok {
		return e, fmt.Errorf("envelope without string type: %s", b)
	}
	fs, ok := envelopeFields[typ]
	if !ok {
		return e, fmt.Errorf("unexpected envelope type %q: %s", typ, b)
	}
	for _, k := range fs.required {
		if !e.has(k) {
			return e, fmt.Errorf("%s lacks required field %q: %s", typ, k, b)
		}
	}
	for k := range e.m {
		if !slices.Contains(fs.required, k) && !slices.Contains(fs.optional, k) {
			return e, fmt.Errorf("%s carries field %q that §2 does not list for it: %s", typ, k, b)
		}
	}
	if err := checkTS(e.s("ts")); err != nil {
		return e, fmt.Errorf("%s: %v: %s", typ, err, b)
	}
	if slices.Contains(fs.required, "id") {
		if err := checkULID(e.s("id")); err != nil {
			return e, fmt.Errorf("%s id: %v: %s", typ, err, b)
		}
	}
	if e.has("ref") {
		if r := e.s("ref"); r == "" || utf8.RuneCountInString(r) > 64 {
			return e, fmt.Errorf("%s has a bad ref: %s", typ, b)
		}
	}
	for _, k := range []string{"room", "from", "to", "name", "text"} {
		if e.has(k) && e.s(k) == "" {
			return e, fmt.Errorf("%s field %q is not a non-empty string: %s", typ, k, b)
		}
	}
	switch typ {
	case "welcome":
		if err := checkULID(e.s("session")); err != nil {
			return e, fmt.Errorf("welcome session: %v: %s", err, b)
		}
		srv, _ := e.m["server"].(map[string]any)
		if n, _ := srv["name"].(string); n == "" {
			return e, fmt.Errorf("welcome server.name missing: %s", b)
		}
		if v, _ := srv["version"].(string); v == "" {
			return e, fmt.Errorf("welcome server.version missing: %s", b)
		}
		lim, _ := e.m["limits"].(map[string]any)
		for _, k := range []string{"max_message_bytes", "max_text_chars", "rate_per_sec", "rate_burst"} {
			if _, ok := lim[k].(float64); !ok {
				return e, fmt.Errorf("welcome limits.%s missing or not a number: %s", k, b)
			}
		}
	case "presence":
		users, ok := e.m["users"].([]any)
		if !ok {
			return e, fmt.Errorf("presence users is not a list: %s", b)
		}
		for _, u := range users {
			if s, ok := u.(string); !ok || s == "" {
				return e, fmt.Errorf("presence users holds a non-name: %s", b)
			}
		}
		if !lowerSorted(e.strs("users")) {
			return e, fmt.Errorf("presence users not sorted by lower-case form: %s", b)
		}
	case "chat":
		if v, ok := e.m["replay"]; ok {
			if _, isBool := v.(bool); !isBool {
				return e, fmt.Errorf("chat replay is not a boolean: %s", b)
			}
		}
	case "typing":
		if _, ok := e.m["active"].(bool); !ok {
			return e, fmt.Errorf("typing active is not a boolean: %s", b)
		}
		if e.has("room") == e.has("to") {
			return e, fmt.Errorf("typing must carry exactly one of room and to: %s", b)
		}
	case "leave":
		if r := e.s("reason"); r != "left" && r != "disconnected" && r != "timeout" {
			return e, fmt.Errorf("leave reason %q is not left/disconnected/timeout: %s", r, b)
		}
	case "error":
		if !slices.Contains(errorCodes, e.s("code")) {
			return e, fmt.Errorf("error code %q is not one of §2's: %s", e.s("code"), b)
		}
		if e.s("message") == "" {
			return e, fmt.Errorf("error without a message for people: %s", b)
		}
		if e.has("details") {
			arr, ok := e.m["details"].([]any)
			if !ok || len(arr) == 0 {
				return e, fmt.Errorf("error details is not a non-empty list: %s", b)
			}
			for _, d := range arr {
				m, _ := d.(map[string]any)
				f, _ := m["field"].(string)
				p, _ := m["problem"].(string)
				if f == "" || p == "" {
					return e, fmt.Errorf("error details entry without field/problem: %s", b)
				}
			}
		}
	}
	return e, nil
}

// orderTracker checks §3's order promise on what one client receives: within a room
// (join, leave, chat) and within a private conversation (pm), live ids strictly
// increase and never repeat; a replay is increasing within itself and older than
// whatever live event of that room follows it.
type orderTracker struct {
	me         string // lower-case own name, for the pm conversation key
	live       map[string]string
	lastReplay map[string]string
}

func newOrderTracker() *orderTracker {
	return &orderTracker{live: map[string]string{}, lastReplay: map[string]string{}}
}

func (o *orderTracker) observe(e env) error {
	var key string
	switch e.typ() {
	case "presence":
		delete(o.lastReplay, e.s("room"))
		return nil
	case "join", "leave", "chat":
		key = "room " + e.s("room")
	case "pm":
		pair := []string{strings.ToLower(e.s("from")), strings.ToLower(e.s("to"))}
		slices.Sort(pair)
		key = "pm " + strings.Join(pair, "|")
	default:
		return nil
	}
	id := e.s("id")
	if e.typ() == "chat" && e.b("replay") {
		if last := o.lastReplay[e.s("room")]; last != "" && id <= last {
			return fmt.Errorf("replayed %s after %s: replay not in id order", id, last)
		}
		o.lastReplay[e.s("room")] = id
		return nil
	}
	if last := o.live[key]; last != "" && id <= last {
		return fmt.Errorf("%s: id %s after %s: not strictly increasing (%s)", key, id, last, e.raw)
	}
	if r := o.lastReplay[e.s("room")]; e.typ() != "pm" && r != "" && id <= r {
		return fmt.Errorf("%s: live id %s not after replayed %s", key, id, r)
	}
	o.live[key] = id
	return nil
}

// ---------------------------------------------------------------------------
// gorilla/websocket client

type dialOpts struct {
	protocols []string // nil: offer chat.v1; use []string{} to offer none
	header    http.Header
	compress  bool
	noReader  bool // do not start the background reader (the test reads, or nobody does)
}

// dialWS opens a gorilla connection and returns the handshake outcome unchanged.
func (h *harness) dialWS(o dialOpts) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{
		HandshakeTimeout:  guard,
		TLSClientConfig:   h.clientTL,
		EnableCompression: o.compress,
		Subprotocols:      o.protocols,
	}
	if o.protocols == nil {
		d.Subprotocols = []string{subprotocol}
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	return d.DialContext(ctx, h.wsURL(), o.header)
}

// item is what the background reader hands over: an envelope or the read error that
// ended the connection.
type item struct {
	e   env
	err error
}

// client is one chat.v1 session over gorilla/websocket. A background goroutine reads
// (so pings are answered, as a real client would) and checks every envelope against
// §2 and the order promise; the test consumes envelopes in order with next().
type client struct {
	t       testing.TB
	name    string
	tr      transport
	ws      *websocket.Conn // gorilla clients only
	resp    *http.Response
	items   chan item
	done    chan struct{}
	wmu     sync.Mutex
	refN    int
	started bool
}

func (h *harness) dial(t testing.TB, o dialOpts) *client {
	t.Helper()
	ws, resp, err := h.dialWS(o)
	if err != nil {
		t.Fatalf("dial %s: %v (response %v)", h.wsURL(), err, statusOf(resp))
	}
	c := newClient(t, gorillaTransport{ws})
	c.ws, c.resp = ws, resp
	if !o.noReader {
		c.startReader()
	}
	return c
}

func newClient(t testing.TB, tr transport) *client {
	c := &client{t: t, tr: tr, items: make(chan item, 8192), done: make(chan struct{})}
	t.Cleanup(c.shut)
	return c
}

// transport is what a client needs from a WebSocket implementation. Read errors
// that end in a Close frame are *websocket.CloseError whatever the implementation.
type transport interface {
	read() (text bool, msg []byte, err error)
	write(msg []byte) error   // one text message
	closeWith(code int) error // start a clean close handshake
	kill() error              // close TCP without a handshake
}

type gorillaTransport struct{ ws *websocket.Conn }

func (g gorillaTransport) read() (bool, []byte, error) {
	typ, b, err := g.ws.ReadMessage()
	return typ == websocket.TextMessage, b, err
}

func (g gorillaTransport) write(msg []byte) error {
	_ = g.ws.SetWriteDeadline(time.Now().Add(guard))
	return g.ws.WriteMessage(websocket.TextMessage, msg)
}

func (g gorillaTransport) closeWith(code int) error {
	return g.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(guard))
}

func (g gorillaTransport) kill() error { return g.ws.NetConn().Close() }

// startReader starts the background reader of a client dialled with noReader.
func (c *client) startReader() {
	c.started = true
	go c.readLoop()
}

func statusOf(resp *http.Response) string {
	if resp == nil {
		return "none"
	}
	return resp.Status
}

func (c *client) readLoop() {
	defer close(c.done)
	order := newOrderTracker()
	for {
		text, b, err := c.tr.read()
		if err != nil {
			c.items <- item{err: err}
			return
		}
		if !text {
			c.items <- item{err: fmt.Errorf("server sent a binary message: %q", b)}
			continue
		}
		e, err := parseEnvelope(b)
		if err == nil {
			err = order.observe(e)
		}
		c.items <- item{e: e, err: err}
	}
}

// shut closes the TCP connection and waits for the reader.
func (c *client) shut() {
	_ = c.tr.kill()
	if c.started {
		<-c.done
	}
}

// next returns the next envelope; any protocol breach or the end of the connection
// fails the test.
func (c *client) next() env {
	c.t.Helper()
	select {
	case it := <-c.items:
		if it.err != nil {
			c.t.Fatalf("%s: %v", c.name, it.err)
		}
		return it.e
	case <-time.After(guard):
		c.t.Fatalf("%s: no envelope within %v", c.name, guard)
	}
	return env{}
}

// nextType returns the next envelope and requires its type.
func (c *client) nextType(typ string) env {
	c.t.Helper()
	e := c.next()
	if e.typ() != typ {
		c.t.Fatalf("%s: want a %s envelope, got %s", c.name, typ, e)
	}
	return e
}

// closeErr waits for the end of the connection, failing on any envelope that
// skip does not accept (skip may be nil), and returns the close the server sent.
func (c *client) closeErr(skip func(env) bool) *websocket.CloseError {
	c.t.Helper()
	for {
		select {
		case it := <-c.items:
			if it.err == nil {
				if skip != nil && skip(it.e) {
					continue
				}
				c.t.Fatalf("%s: want the connection to close, got %s", c.name, it.e)
			}
			var ce *websocket.CloseError
			if errors.As(it.err, &ce) {
				return ce
			}
			c.t.Fatalf("%s: connection ended without a Close frame: %v", c.name, it.err)
		case <-time.After(guard):
			c.t.Fatalf("%s: connection not closed within %v", c.name, guard)
		}
	}
}

// expectClose requires that the server closes with code and reason next.
func (c *client) expectClose(code int, reason string) {
	c.t.Helper()
	ce := c.closeErr(nil)
	if ce.Code != code || ce.Text != reason {
		c.t.Fatalf("%s: close %d %q, want %d %q", c.name, ce.Code, ce.Text, code, reason)
	}
}

func (c *client) sendText(s string) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.tr.write([]byte(s)); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

// send encodes m as one JSON object (keys in the order given by the map encoder).
func (c *client) send(m map[string]any) {
	c.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendText(string(b))
}

// ref returns a fresh ref for this client.
func (c *client) ref() string {
	c.refN++
	return fmt.Sprintf("%s-%d", c.name, c.refN)
}

// closeClean starts a clean close handshake with the given code.
func (c *client) closeClean(code int) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.tr.closeWith(code); err != nil {
		c.t.Fatalf("%s: write close: %v", c.name, err)
	}
}

// expectError requires an error envelope with code and exactly this ref ("" = none).
// fields, when not nil, are the exact details[].field set (sorted).
func (c *client) expectError(code, ref string, fields []string) env {
	c.t.Helper()
	e := c.nextType("error")
	checkError(c.t, e, code, ref, fields)
	return e
}

func checkError(t testing.TB, e env, code, ref string, fields []string) {
	t.Helper()
	if e.s("code") != code {
		t.Fatalf("error code %q, want %q: %s", e.s("code"), code, e)
	}
	checkRef(t, e, ref)
	if fields != nil {
		want := slices.Clone(fields)
		slices.Sort(want)
		if got := e.detailFields(); !slices.Equal(got, want) {
			t.Fatalf("error details fields %v, want %v: %s", got, want, e)
		}
	}
}

// checkRef requires ref to be exactly want; "" means the field must be absent.
func checkRef(t testing.TB, e env, want string) {
	t.Helper()
	if want == "" {
		if e.has("ref") {
			t.Fatalf("%s must not carry a ref: %s", e.typ(), e)
		}
		return
	}
	if e.s("ref") != want {
		t.Fatalf("%s ref %q, want %q: %s", e.typ(), e.s("ref"), want, e)
	}
}

// joined is what the joiner receives for one join, in §3's order.
type joined struct {
	welcome  env // zero after a later join
	presence env
	replay   []env
	join     env // zero when re-joining a room already in
}

// joinAs dials and performs the first join; see join.
func (h *harness) joinAs(t testing.TB, name, room string) (*client, joined) {
	t.Helper()
	c := h.dial(t, dialOpts{})
	c.name = name
	j := c.join(map[string]any{"name": name, "room": room}, true)
	return c, j
}

// join sends a join (fields plus a fresh ref) and reads §3's sequence: welcome (first
// join only), presence for the room with the ref, the replay, then the join event with
// the ref. It checks each of them and returns them.
func (c *client) join(fields map[string]any, first bool) joined {
	c.t.Helper()
	msg := map[string]any{"type": "join", "ref": c.ref()}
	for k, v := range fields {
		msg[k] = v
	}
	room, _ := msg["room"].(string)
	if room == "" {
		room = "lobby"
	}
	c.send(msg)
	var j joined
	if first {
		j.welcome = c.nextType("welcome")
		if j.welcome.s("name") != c.name {
			c.t.Fatalf("welcome name %q, want the spelling given, %q", j.welcome.s("name"), c.name)
		}
	}
	j.presence = c.nextType("presence")
	if j.presence.s("room") != room {
		c.t.Fatalf("presence for room %q, want %q: %s", j.presence.s("room"), room, j.presence)
	}
	checkRef(c.t, j.presence, msg["ref"].(string))
	if !slices.ContainsFunc(j.presence.strs("users"), func(u string) bool { return strings.EqualFold(u, c.name) }) {
		c.t.Fatalf("presence for %s does not include the joiner: %s", room, j.presence)
	}
	for {
		e := c.next()
		switch {
		case e.typ() == "chat" && e.b("replay") && e.s("room") == room:
			if e.has("ref") {
				c.t.Fatalf("replayed chat carries a ref: %s", e)
			}
			j.replay = append(j.replay, e)
			continue
		case e.typ() == "join":
			if e.s("room") != room || e.s("from") != c.name {
				c.t.Fatalf("want the join event of %s in %s, got %s", c.name, room, e)
			}
			checkRef(c.t, e, msg["ref"].(string))
			j.join = e
			return j
		default:
			c.t.Fatalf("%s: between presence and join event of %s: unexpected %s", c.name, room, e)
		}
	}
}

// expectEvent requires the next envelope to be typ in room from the given sender,
// without a ref (it is someone else's event).
func (c *client) expectEvent(typ, room, from string) env {
	c.t.Helper()
	e := c.nextType(typ)
	if e.s("room") != room || e.s("from") != from {
		c.t.Fatalf("%s: want %s in %s from %s, got %s", c.name, typ, room, from, e)
	}
	checkRef(c.t, e, "")
	return e
}

// chat sends a chat with a fresh ref and returns the sender's own copy.
func (c *client) chat(room, text string) env {
	c.t.Helper()
	ref := c.ref()
	c.send(map[string]any{"type": "chat", "room": room, "text": text, "ref": ref})
	e := c.nextType("chat")
	if e.s("room") != room || e.s("text") != text || e.s("from") == "" || e.b("replay") {
		c.t.Fatalf("%s: own chat copy wrong: %s", c.name, e)
	}
	checkRef(c.t, e, ref)
	return e
}

// expectChat requires the next envelope to be a live chat from from in room with text.
func (c *client) expectChat(room, from, text string) env {
	c.t.Helper()
	e := c.expectEvent("chat", room, from)
	if e.s("text") != text || e.b("replay") {
		c.t.Fatalf("%s: want live chat %q, got %s", c.name, text, e)
	}
	return e
}

// who asks for a room's members and returns the presence answer (with its ref).
func (c *client) who(room string) env {
	c.t.Helper()
	ref := c.ref()
	c.send(map[string]any{"type": "who", "room": room, "ref": ref})
	e := c.nextType("presence")
	checkRef(c.t, e, ref)
	if e.s("room") != room {
		c.t.Fatalf("who %s answered for %s", room, e.s("room"))
	}
	return e
}

// ---------------------------------------------------------------------------
// Raw TCP client for handshake- and frame-level cases

type rawClient struct {
	t       testing.TB
	conn    net.Conn
	br      *bufio.Reader
	resp    *http.Response
	body    string
	deflate bool // permessage-deflate negotiated
}

// rawHandshake sends an upgrade request for path with the standard headers plus
// extra (a value of "" removes a standard header) and reads the response.
func (h *harness) rawHandshake(t testing.TB, path string, extra http.Header) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", h.addr, guard)
	if err != nil {
		t.Fatalf("tcp dial: %v", err)
	}
	if h.scheme == "wss" {
		tc := tls.Client(conn, &tls.Config{RootCAs: h.clientTL.RootCAs, ServerName: "127.0.0.1"})
		conn = tc
	}
	t.Cleanup(func() { _ = conn.Close() })
	keyBytes := make([]byte, 16)
	_, _ = rand.Read(keyBytes)
	key := base64.StdEncoding.EncodeToString(keyBytes)
	hdr := http.Header{} // canonical keys, so that extra can replace or remove them
	hdr.Set("Host", h.addr)
	hdr.Set("Upgrade", "websocket")
	hdr.Set("Connection", "Upgrade")
	hdr.Set("Sec-WebSocket-Key", key)
	hdr.Set("Sec-WebSocket-Version", "13")
	for k, v := range extra {
		if len(v) == 1 && v[0] == "" {
			hdr.Del(k)
			continue
		}
		hdr[http.CanonicalHeaderKey(k)] = v
	}
	method := "GET"
	if m := hdr.Get("X-Method"); m != "" { // a test's way to send another method
		method = m
		hdr.Del("X-Method")
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s HTTP/1.1\r\n", method, path)
	for k, vs := range hdr {
		for _, v := range vs {
			fmt.Fprintf(&sb, "%s: %s\r\n", k, v)
		}
	}
	sb.WriteString("\r\n")
	_ = conn.SetDeadline(time.Now().Add(guard))
	if _, err := io.WriteString(conn, sb.String()); err != nil {
		t.Fatalf("write handshake: %v", err)
	}
	r := &rawClient{t: t, conn: conn, br: bufio.NewReader(conn)}
	resp, err := http.ReadResponse(r.br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("read handshake response: %v", err)
	}
	r.resp = resp
	if resp.StatusCode == http.StatusSwitchingProtocols {
		sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
			t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, want)
		}
	} else {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		r.body = string(b)
		resp.Body.Close()
	}
	_ = conn.SetDeadline(time.Time{})
	return r
}

// rawDial performs a successful chat.v1 handshake.
func (h *harness) rawDial(t testing.TB, extra http.Header) *rawClient {
	t.Helper()
	if extra == nil {
		extra = http.Header{}
	}
	offers := false
	for k := range extra {
		offers = offers || strings.EqualFold(k, "Sec-WebSocket-Protocol")
	}
	if !offers {
		extra.Set("Sec-WebSocket-Protocol", subprotocol)
	}
	r := h.rawHandshake(t, "/ws", extra)
	if r.resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s %q", r.resp.Status, r.body)
	}
	r.deflate = strings.Contains(r.resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	return r
}

const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
	rsv1     = 0x40
	rsv2     = 0x20
	rsv3     = 0x10
)

// frame is one RFC 6455 frame as the raw client writes or reads it.
type frame struct {
	fin      bool
	rsv      byte
	op       byte
	payload  []byte
	unmasked bool  // client frames are masked unless this is set
	length   int64 // declared payload length; 0 means len(payload)
}

// encode builds the bytes of f. With length > len(payload) the frame is cut short:
// the header promises more than follows.
func (f frame) encode() []byte {
	b0 := f.op | f.rsv
	if f.fin {
		b0 |= 0x80
	}
	n := f.length
	if n == 0 {
		n = int64(len(f.payload))
	}
	var mask byte = 0x80
	if f.unmasked {
		mask = 0
	}
	out := []byte{b0}
	switch {
	case n < 126:
		out = append(out, mask|byte(n))
	case n <= 0xFFFF:
		out = append(out, mask|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if f.unmasked {
		return append(out, f.payload...)
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	out = append(out, key[:]...)
	for i, c := range f.payload {
		out = append(out, c^key[i%4])
	}
	return out
}

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func (r *rawClient) write(b []byte) {
	r.t.Helper()
	_ = r.conn.SetWriteDeadline(time.Now().Add(guard))
	if _, err := r.conn.Write(b); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

func (r *rawClient) writeFrames(fs ...frame) {
	r.t.Helper()
	var b []byte
	for _, f := range fs {
		b = append(b, f.encode()...)
	}
	r.write(b)
}

func (r *rawClient) sendText(s string) {
	r.t.Helper()
	r.writeFrames(frame{fin: true, op: opText, payload: []byte(s)})
}

// readFrame reads one server frame; server frames must not be masked.
func (r *rawClient) readFrame(deadline time.Time) (frame, error) {
	_ = r.conn.SetReadDeadline(deadline)
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, rsv: h[0] & 0x70, op: h[0] & 0x0F, unmasked: true}
	if h[1]&0x80 != 0 {
		return f, errors.New("server sent a masked frame")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<24 {
		return f, fmt.Errorf("server frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r.br, f.payload); err != nil {
		return f, err
	}
	return f, nil
}

// next returns the next text envelope, answering pings on the way; it reassembles
// fragments and inflates compressed messages when permessage-deflate was negotiated.
func (r *rawClient) next() env {
	r.t.Helper()
	var msg []byte
	compressed, inMessage := false, false
	for {
		f, err := r.readFrame(time.Now().Add(guard))
		if err != nil {
			r.t.Fatalf("raw read: %v", err)
		}
		switch f.op {
		case opPing:
			r.writeFrames(frame{fin: true, op: opPong, payload: f.payload})
			continue
		case opClose:
			r.t.Fatalf("raw: unexpected close %v", parseClose(f.payload))
		case opText:
			if inMessage {
				r.t.Fatalf("raw: server started a text message inside another")
			}
			inMessage, compressed, msg = true, f.rsv&rsv1 != 0, nil
			if f.rsv&^rsv1 != 0 || (compressed && !r.deflate) {
				r.t.Fatalf("raw: server frame with reserved bits %#x", f.rsv)
			}
		case opCont:
			if !inMessage || f.rsv != 0 {
				r.t.Fatalf("raw: bad continuation from the server (rsv %#x)", f.rsv)
			}
		default:
			r.t.Fatalf("raw: unexpected opcode %#x", f.op)
		}
		msg = append(msg, f.payload...)
		if !f.fin {
			continue
		}
		if compressed {
			zr := flate.NewReader(io.MultiReader(bytes.NewReader(msg), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
			var out bytes.Buffer
			if _, err := out.ReadFrom(zr); err != nil {
				r.t.Fatalf("raw: inflate: %v", err)
			}
			msg = out.Bytes()
		}
		e, err := parseEnvelope(msg)
		if err != nil {
			r.t.Fatal(err)
		}
		return e
	}
}

type closeInfo struct {
	code   int
	reason string
}

func (c closeInfo) String() string { return fmt.Sprintf("%d %q", c.code, c.reason) }

func parseClose(p []byte) closeInfo {
	if len(p) < 2 {
		return closeInfo{code: 1005}
	}
	return closeInfo{code: int(binary.BigEndian.Uint16(p)), reason: string(p[2:])}
}

// readClose reads until the server's Close frame (answering pings, collecting text),
// optionally answers it, and then requires the server to close TCP.
func (r *rawClient) readClose(reply bool) (closeInfo, []env) {
	r.t.Helper()
	var texts []env
	deadline := time.Now().Add(guard)
	for {
		f, err := r.readFrame(deadline)
		if err != nil {
			r.t.Fatalf("raw: want a Close frame, got %v", err)
		}
		switch f.op {
		case opPing:
			continue // answering could race the server's close; not needed here
		case opText:
			if e, err := parseEnvelope(f.payload); err == nil {
				texts = append(texts, e)
			}
			continue
		case opClose:
			ci := parseClose(f.payload)
			if reply {
				_, _ = r.conn.Write(frame{fin: true, op: opClose, payload: f.payload[:min(len(f.payload), 2)]}.encode())
			}
			r.expectEOF()
			return ci, texts
		default:
			r.t.Fatalf("raw: unexpected opcode %#x while waiting for close", f.op)
		}
	}
}

// expectEOF requires the server to close the TCP connection (EOF or reset) with
// nothing but pings before it.
func (r *rawClient) expectEOF() {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(guard))
	buf := make([]byte, 4096)
	for {
		_, err := r.br.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatalf("raw: server did not close TCP within %v", guard)
		}
		return // io.EOF or connection reset: closed
	}
}

// join performs the first join over the raw connection and consumes §3's sequence.
func (r *rawClient) join(name, room string) {
	r.t.Helper()
	r.sendText(fmt.Sprintf(`{"type":"join","name":%q,"room":%q}`, name, room))
	for _, want := range []string{"welcome", "presence"} {
		if e := r.next(); e.typ() != want {
			r.t.Fatalf("raw join: want %s, got %s", want, e)
		}
	}
	for {
		e := r.next()
		if e.typ() == "join" {
			return
		}
		if e.typ() != "chat" {
			r.t.Fatalf("raw join: unexpected %s", e)
		}
	}
}

// ---------------------------------------------------------------------------
// Fake clock

// fakeClock is a server.Clock that moves only when the test advances it. Timers fire
// synchronously inside Advance, in deadline order, with Now() set to their deadline.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	when time.Time
	f    func()
	done bool
}

var fakeEpoch = time.Date(2026, 11, 24, 18, 4, 5, 123_000_000, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{now: fakeEpoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) server.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, when: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	t.c.timers = slices.DeleteFunc(t.c.timers, func(x *fakeTimer) bool { return x == t })
	return true
}

// Advance moves the clock by d, firing every timer due on the way (including timers
// armed by the callbacks themselves).
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		var due *fakeTimer
		for _, t := range c.timers {
			if !t.when.After(target) && (due == nil || t.when.Before(due.when)) {
				due = t
			}
		}
		if due == nil {
			break
		}
		due.done = true
		c.timers = slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x == due })
		if due.when.After(c.now) {
			c.now = due.when
		}
		c.mu.Unlock()
		due.f()
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
}

// fakeTS is the §2 `ts` text of the fake clock's current time.
func (c *fakeClock) ts() string { return c.Now().UTC().Format("2006-01-02T15:04:05.000Z") }
