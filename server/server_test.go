package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/wire"
)

// testServer is a Server behind httptest, stopped when the test ends.
type testServer struct {
	*Server
	url string
	tls *tls.Config // the client side's, when the server speaks TLS
}

func startServer(t testing.TB, mutate func(*Config)) *testServer {
	t.Helper()
	return startServerWith(t, mutate, httptest.NewServer)
}

// startServerTLS is startServer over TLS (a test certificate the clients
// of dial trust).
func startServerTLS(t testing.TB, mutate func(*Config)) *testServer {
	t.Helper()
	return startServerWith(t, mutate, httptest.NewTLSServer)
}

func startServerWith(t testing.TB, mutate func(*Config), serve func(http.Handler) *httptest.Server) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.CloseTimeout = time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := serve(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	})
	ts := &testServer{Server: srv, url: hs.URL}
	if hs.TLS != nil {
		ts.tls = hs.Client().Transport.(*http.Transport).TLSClientConfig
	}
	return ts
}

// client is a test peer speaking chat.v1 through wire. A background reader
// keeps reading (so pings are answered) and hands messages to next; a
// client made with dialPaused reads nothing until resume.
type client struct {
	t     testing.TB
	conn  *wire.Conn
	msgs  chan []byte
	err   chan error // the error that ended reading
	start chan struct{}
}

func (ts *testServer) dial(t testing.TB) *client {
	c := ts.dialPaused(t)
	c.resume()
	return c
}

func (ts *testServer) dialPaused(t testing.TB) *client {
	return ts.dialWith(t, &wire.DialOptions{Subprotocols: []string{Subprotocol}})
}

// dialWith dials with opts and does not start reading (see resume).
func (ts *testServer) dialWith(t testing.TB, opts *wire.DialOptions) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ts.tls != nil {
		opts.TLSConfig = ts.tls
	}
	conn, _, err := wire.Dial(ctx, "ws"+strings.TrimPrefix(ts.url, "http")+"/ws", opts)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: conn, msgs: make(chan []byte, 4096), err: make(chan error, 1), start: make(chan struct{})}
	done, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-c.start:
		case <-stop:
			return
		}
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				c.err <- err
				return
			}
			c.msgs <- b
		}
	}()
	t.Cleanup(func() {
		close(stop)
		conn.CloseNow()
		<-done
	})
	return c
}

// resume starts the background reader.
func (c *client) resume() { close(c.start) }

func (c *client) send(js string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(wire.TextMessage, []byte(js)); err != nil {
		c.t.Fatalf("send %s: %v", js, err)
	}
}

// nextRaw returns the next message, or the error that ended the connection.
func (c *client) nextRaw() ([]byte, error) {
	select {
	case b := <-c.msgs:
		return b, nil
	default:
	}
	select {
	case b := <-c.msgs:
		return b, nil
	case err := <-c.err:
		c.err <- err // keep it for later calls
		return nil, err
	case <-time.After(10 * time.Second):
		return nil, errors.New("nothing received for 10 s")
	}
}

// next reads one envelope.
func (c *client) next() map[string]any {
	c.t.Helper()
	b, err := c.nextRaw()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("server sent non-JSON %q: %v", b, err)
	}
	return m
}

// expect reads one envelope and checks the given fields.
func (c *client) expect(want map[string]any) map[string]any {
	c.t.Helper()
	got := c.next()
	for k, v := range want {
		if !jsonEqual(got[k], v) {
			c.t.Fatalf("got %v, want %s=%v", got, k, v)
		}
	}
	return got
}

// closed skips messages until the server's close and returns its code and
// reason.
func (c *client) closed() (wire.StatusCode, string) {
	c.t.Helper()
	for {
		_, err := c.nextRaw()
		if err == nil {
			continue
		}
		code, reason := wireClose(err)
		if code == 0 {
			c.t.Fatalf("read ended without a close frame: %v", err)
		}
		return code, reason
	}
}

// wireClose returns the close code and reason in err, if any.
func wireClose(err error) (wire.StatusCode, string) {
	var ce *wire.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason
	}
	return 0, ""
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestJoinAndChat(t *testing.T) {
	ts := startServer(t, nil)
	alice := ts.dial(t)
	alice.send(`{"type":"join","name":"Alice","ref":"1"}`)
	alice.expect(map[string]any{"type": "welcome", "name": "Alice"})
	alice.expect(map[string]any{"type": "presence", "room": "lobby", "users": []string{"Alice"}, "ref": "1"})
	j := alice.expect(map[string]any{"type": "join", "room": "lobby", "from": "Alice", "ref": "1"})

	bob := ts.dial(t)
	bob.send(`{"type":"join","name":"bob"}`)
	bob.expect(map[string]any{"type": "welcome"})
	bob.expect(map[string]any{"type": "presence", "users": []string{"Alice", "bob"}})
	bj := bob.expect(map[string]any{"type": "join", "from": "bob"})
	if _, has := bj["ref"]; has {
		t.Errorf("join without ref echoed one: %v", bj)
	}
	alice.expect(map[string]any{"type": "join", "from": "bob", "id": bj["id"]})
	if bj["id"].(string) <= j["id"].(string) {
		t.Errorf("ids not increasing: %v then %v", j["id"], bj["id"])
	}

	bob.send(`{"type":"chat","text":"hi all","ref":"b1"}`)
	mine := bob.expect(map[string]any{"type": "chat", "from": "bob", "text": "hi all", "ref": "b1"})
	theirs := alice.expect(map[string]any{"type": "chat", "from": "bob", "text": "hi all", "id": mine["id"]})
	if _, has := theirs["ref"]; has {
		t.Errorf("other member saw the sender's ref: %v", theirs)
	}

	bob.send(`{"type":"leave"}`)
	if code, reason := bob.closed(); code != 1000 || reason != "bye" {
		t.Errorf("leave closed with %d %q, want 1000 bye", code, reason)
	}
	alice.expect(map[string]any{"type": "leave", "from": "bob", "reason": "left"})
}

func TestHTTPRoutes(t *testing.T) {
	ts := startServer(t, nil)
	cases := []struct {
		path, wantType, wantBody string
		wantStatus               int
	}{
		{"/", "text/html; charset=utf-8", "<html", 200},
		{"/healthz", "application/json", `"status":"ok"`, 200},
		{"/metrics", "text/plain", "chatd_connections", 200},
		{"/schema/client.json", "application/json", "$schema", 200},
		{"/nope", "text/plain; charset=utf-8", "404", 404},
	}
	for _, c := range cases {
		resp, err := http.Get(ts.url + c.path)
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		buf := make([]byte, 32<<10)
		n, _ := resp.Body.Read(buf)
		sb.Write(buf[:n])
		resp.Body.Close()
		if resp.StatusCode != c.wantStatus || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.wantType) ||
			!strings.Contains(sb.String(), c.wantBody) {
			t.Errorf("GET %s: %d %q %.80q; want %d %q containing %q", c.path, resp.StatusCode,
				resp.Header.Get("Content-Type"), sb.String(), c.wantStatus, c.wantType, c.wantBody)
		}
	}
}

// TestCompressedBroadcast: one prepared frame serves a member that
// negotiated permessage-deflate and one that did not; both read the same text.
func TestCompressedBroadcast(t *testing.T) {
	ts := startServer(t, nil)
	zipped := ts.dialWith(t, &wire.DialOptions{Compression: &wire.CompressionOptions{}})
	zipped.resume()
	if !zipped.conn.CompressionEnabled() {
		t.Fatal("permessage-deflate was offered but not negotiated")
	}
	zipped.send(`{"type":"join","name":"zipped"}`)
	zipped.expect(map[string]any{"type": "welcome"})
	zipped.expect(map[string]any{"type": "presence"})
	zipped.expect(map[string]any{"type": "join"})
	plain := ts.joined(t, "plain")
	if plain.conn.CompressionEnabled() {
		t.Fatal("compression negotiated without an offer")
	}
	zipped.expect(map[string]any{"type": "join", "from": "plain"})
	text := strings.Repeat("squeeze me ", 100) // well above the compression threshold
	plain.send(`{"type":"chat","text":"` + text + `"}`)
	plain.expect(map[string]any{"type": "chat", "text": text})
	zipped.expect(map[string]any{"type": "chat", "text": text})
}

// TestUpgradeHandlerReturns: the /ws handler returns once the session has
// started (so net/http's per-connection buffers and request can go), while
// the session keeps serving and Shutdown still waits for it to end.
func TestUpgradeHandlerReturns(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CloseTimeout = time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{}, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r)
		if r.URL.Path == "/ws" {
			returned <- struct{}{}
		}
	}))
	defer hs.Close()
	ts := &testServer{Server: srv, url: hs.URL}

	c := ts.dial(t)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the /ws handler is still running after the upgrade")
	}
	// The session outlives its handler.
	c.send(`{"type":"join","name":"alice","ref":"1"}`)
	c.expect(map[string]any{"type": "welcome", "name": "alice"})
	c.send(`{"type":"chat","text":"still here","ref":"2"}`)
	var chat map[string]any
	for chat == nil {
		if m := c.next(); m["type"] == "chat" {
			chat = m
		}
	}
	if chat["text"] != "still here" {
		t.Errorf("chat %v", chat)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Shutdown returned: the session has ended, so the client has its close.
	if code, reason := c.closed(); code != 1001 || reason != "shutdown" {
		t.Errorf("closed with %d %q, want 1001 shutdown", code, reason)
	}
	srv.mu.RLock()
	n := len(srv.sessions)
	srv.mu.RUnlock()
	if n != 0 {
		t.Errorf("%d sessions still registered after Shutdown", n)
	}
}
