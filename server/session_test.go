package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/wire"
)

// rawConn is a hand-driven WebSocket client for the cases a well-behaved
// client library cannot produce: stalling mid-frame, never answering pings,
// odd handshakes.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

// rawHandshake sends an upgrade request with extra header lines and returns
// the response status, headers and (for refusals) body.
func rawHandshake(t *testing.T, url string, extra ...string) (*rawConn, *http.Response, string) {
	t.Helper()
	host := strings.TrimPrefix(url, "http://")
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET /ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, h := range extra {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := ""
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
	}
	return &rawConn{t: t, nc: nc, br: br}, resp, body
}

// writeFrame sends one masked frame (with a zero mask key, which leaves the
// payload as is), or only its first cut bytes when cut > 0.
func (c *rawConn) writeFrame(op byte, payload string, cut int) {
	c.t.Helper()
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	default:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	}
	b = append(b, 0, 0, 0, 0)
	b = append(b, payload...)
	if cut > 0 {
		b = b[:cut]
	}
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// frame reads one server frame.
func (c *rawConn) frame() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var x [2]byte
		if _, err = io.ReadFull(c.br, x[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		if _, err = io.ReadFull(c.br, x[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint64(x[:]))
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(c.br, payload)
	return h[0] & 0x0f, payload, err
}

// closeFrame reads (without answering pings) until the server's close frame.
func (c *rawConn) closeFrame(within time.Duration) (wire.StatusCode, string) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(within))
	for {
		op, p, err := c.frame()
		if err != nil {
			c.t.Fatalf("no close frame: %v", err)
		}
		if op == 0x8 {
			if len(p) < 2 {
				return 1005, ""
			}
			return wire.StatusCode(binary.BigEndian.Uint16(p)), string(p[2:])
		}
	}
}

func TestHandshakeRules(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.AllowedOrigins = []string{"https://chat.example.com"} })
	host := strings.TrimPrefix(ts.url, "http://")
	cases := []struct {
		name       string
		headers    []string
		wantStatus int
		wantProto  string
		wantBody   string
	}{
		{"chat.v1 offered is selected", []string{"Sec-WebSocket-Protocol: foo, chat.v1"}, 101, "chat.v1", ""},
		{"nothing offered is served anyway", nil, 101, "", ""},
		{"only others offered", []string{"Sec-WebSocket-Protocol: foo, bar"}, 400, "", "chat.v1"},
		{"same origin", []string{"Origin: http://" + host}, 101, "", ""},
		{"same host but https origin on plain http", []string{"Origin: https://" + host}, 403, "", "allowed-origins"},
		{"allow-listed origin", []string{"Origin: https://chat.example.com"}, 101, "", ""},
		{"foreign origin", []string{"Origin: https://evil.example"}, 403, "", "evil.example"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, resp, body := rawHandshake(t, ts.url, c.headers...)
			if resp.StatusCode != c.wantStatus || resp.Header.Get("Sec-WebSocket-Protocol") != c.wantProto ||
				!strings.Contains(body, c.wantBody) {
				t.Errorf("got %d protocol %q body %q; want %d %q containing %q", resp.StatusCode,
					resp.Header.Get("Sec-WebSocket-Protocol"), body, c.wantStatus, c.wantProto, c.wantBody)
			}
		})
	}
}

// TestJoinTimeoutIsNotExtended keeps sending messages that are not a
// successful join; the join timeout must close the connection anyway.
func TestJoinTimeoutIsNotExtended(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.JoinTimeout = 300 * time.Millisecond })
	cl := ts.dial(t)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			msgs := []string{`{"type":"who"}`, `not json`, `{"type":"join","name":"-bad-"}`}
			if cl.conn.WriteMessage(wire.TextMessage, []byte(msgs[i%len(msgs)])) != nil {
				return
			}
		}
	}()
	if code, reason := cl.closed(); code != 1008 || reason != "join_timeout" {
		t.Errorf("closed with %d %q, want 1008 join_timeout", code, reason)
	}
}

// TestIdleTimeout covers a client that goes silent and one that stalls in
// the middle of a frame: both are idle, and both are closed with 1001.
func TestIdleTimeout(t *testing.T) {
	cases := []struct {
		name  string
		stall func(c *rawConn)
	}{
		{"silent", func(*rawConn) {}},
		{"stalled inside a frame", func(c *rawConn) { c.writeFrame(0x1, `{"type":"chat","text":"never finished"}`, 10) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := startServer(t, func(c *Config) {
				// Loose enough that the watcher, which answers every ping,
				// never looks idle on a loaded CI machine under -race.
				c.IdleTimeout = time.Second
				c.PingInterval = 200 * time.Millisecond
			})
			watcher := ts.dial(t)
			watcher.send(`{"type":"join","name":"watcher"}`)
			watcher.expect(map[string]any{"type": "welcome"})
			watcher.expect(map[string]any{"type": "presence"})
			watcher.expect(map[string]any{"type": "join"})

			rc, resp, _ := rawHandshake(t, ts.url)
			if resp.StatusCode != 101 {
				t.Fatalf("handshake: %d", resp.StatusCode)
			}
			rc.writeFrame(0x1, `{"type":"join","name":"sleepy"}`, 0)
			c.stall(rc)
			// rc never answers the pings it is sent.
			if code, reason := rc.closeFrame(10 * time.Second); code != 1001 || reason != "idle_timeout" {
				t.Errorf("closed with %d %q, want 1001 idle_timeout", code, reason)
			}
			watcher.expect(map[string]any{"type": "join", "from": "sleepy"})
			watcher.expect(map[string]any{"type": "leave", "from": "sleepy", "reason": "timeout"})
		})
	}
}

// TestFlood sends past the rate limit: each refused message gets
// rate_limited with its ref and is dropped, and more than FloodLimit
// refusals within the window close the connection.
func TestFlood(t *testing.T) {
	clock := NewFakeClock() // the limiter's time stands still: no token refills
	ts := startServer(t, func(c *Config) {
		c.Clock = clock
		c.RatePerSec, c.RateBurst = 1, 3
		c.FloodLimit = 5
	})
	cl := ts.dial(t)
	cl.send(`{"type":"join","name":"flooder"}`) // token 1
	cl.expect(map[string]any{"type": "welcome"})
	cl.expect(map[string]any{"type": "presence"})
	cl.expect(map[string]any{"type": "join"})
	cl.send(`{"type":"chat","text":"one","ref":"a"}`) // token 2
	cl.send(`{"type":"chat","text":"two","ref":"b"}`) // token 3
	cl.expect(map[string]any{"type": "chat", "text": "one"})
	cl.expect(map[string]any{"type": "chat", "text": "two"})
	for i := range 5 {
		ref := fmt.Sprint("r", i)
		cl.send(`{"type":"chat","text":"dropped","ref":"` + ref + `"}`)
		cl.expect(map[string]any{"type": "error", "code": "rate_limited", "ref": ref})
	}
	cl.send(`not even json`) // refusal 6 > FloodLimit
	if code, reason := cl.closed(); code != 1008 || reason != "rate_limited" {
		t.Errorf("closed with %d %q, want 1008 rate_limited", code, reason)
	}
}

func TestBinaryIsRefused(t *testing.T) {
	ts := startServer(t, nil)
	cl := ts.dial(t)
	if err := cl.conn.WriteMessage(wire.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if code, reason := cl.closed(); code != 1003 || reason != "binary_unsupported" {
		t.Errorf("closed with %d %q, want 1003 binary_unsupported", code, reason)
	}
}

// TestSlowConsumer: a member that stops reading is closed with 1008
// slow_consumer once its queue would overflow; the sender is never held up,
// and the slow member got every message up to the close, in order.
func TestSlowConsumer(t *testing.T) {
	const queue = 64 << 10
	ts := startServer(t, func(c *Config) {
		c.QueueBytes = queue
		c.MaxMessageBytes = 8 << 10
		c.RatePerSec, c.RateBurst = 1e6, 1e6
	})
	fast, slow := ts.dial(t), ts.dialPaused(t)
	fast.send(`{"type":"join","name":"fast"}`)
	fast.expect(map[string]any{"type": "welcome"})
	fast.expect(map[string]any{"type": "presence"})
	fast.expect(map[string]any{"type": "join"})
	slow.send(`{"type":"join","name":"slow"}`)
	fast.expect(map[string]any{"type": "join", "from": "slow"})

	// slow has read nothing since it connected. Socket buffers absorb a few MB before
	// the server's queue starts to fill, so send well beyond that.
	text := strings.Repeat("x", 3000)
	sent := 0
	for ts.m.slowConsumersValue() == 0 {
		if sent == 20000 {
			t.Fatal("20000 messages sent and the slow member was not closed")
		}
		fast.send(fmt.Sprintf(`{"type":"chat","text":"%05d%s"}`, sent, text))
		sent++
		// fast's own copies keep coming: the slow member does not stall it.
		fast.expect(map[string]any{"type": "chat", "from": "fast"})
	}
	if hw := ts.highWater.Load(); hw > queue {
		t.Errorf("queue high-water mark %d above the %d bound", hw, queue)
	}
	// Now slow reads: every chat up to the close, in order, then 1008.
	slow.resume()
	got := 0
	for {
		b, err := slow.nextRaw()
		if err != nil {
			if code, reason := wireClose(err); code != 1008 || reason != "slow_consumer" {
				t.Fatalf("slow member's read ended with %v, want close 1008 slow_consumer", err)
			}
			break
		}
		if !strings.Contains(string(b), `"type":"chat"`) {
			continue // its welcome, presence, join and fast's join
		}
		if want := fmt.Sprintf(`"text":"%05d`, got); !strings.Contains(string(b), want) {
			t.Fatalf("message %d: %.60s…, want %s", got, b, want)
		}
		got++
	}
	if got == 0 || got >= sent {
		t.Errorf("slow member read %d of %d messages before its close", got, sent)
	}
	fast.expect(map[string]any{"type": "leave", "from": "slow", "reason": "disconnected"})
}

// panickyBroker is a Broker whose Chat has a bug.
type panickyBroker struct{ *MemoryBroker }

func (panickyBroker) Chat(context.Context, string, string, string, string, string) error {
	panic("bug in Chat")
}

// TestInternalFaultClosesOneConnection: a panic while handling a message
// closes that connection with 1011 internal; the server keeps serving.
func TestInternalFaultClosesOneConnection(t *testing.T) {
	broker := panickyBroker{NewMemoryBroker(MemoryBrokerOptions{})}
	t.Cleanup(func() { broker.Close() }) // after the server's Shutdown
	ts := startServer(t, func(c *Config) {
		c.Broker = broker
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	bob := ts.joined(t, "bob")
	alice := ts.joined(t, "alice")
	bob.expect(map[string]any{"type": "join", "from": "alice"})
	alice.send(`{"type":"chat","text":"boom"}`)
	if code, reason := alice.closed(); code != 1011 || reason != "internal" {
		t.Errorf("closed with %d %q, want 1011 internal", code, reason)
	}
	bob.expect(map[string]any{"type": "leave", "from": "alice", "reason": "disconnected"})
	bob.send(`{"type":"who","ref":"w"}`)
	bob.expect(map[string]any{"type": "presence", "users": []string{"bob"}, "ref": "w"})
}

// sessionGoroutines counts the goroutines running a session's read loop, and
// the others running any of a session's code (its writer, however named).
func sessionGoroutines() (readers, others int) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		switch {
		case strings.Contains(g, "server.(*session).readLoop"):
			readers++
		case strings.Contains(g, "server.(*session)."):
			others++
		}
	}
	return readers, others
}

// settledGoroutines waits for writers (which exit right after their last
// write) and read loops (which park once everything that arrived is
// handled) to finish, and returns sessionGoroutines then.
func settledGoroutines(wantReaders int) (readers, others int) {
	for range 500 {
		if readers, others = sessionGoroutines(); readers == wantReaders && others == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return readers, others
}

// idleReaders is how many goroutines an idle plain-TCP session keeps: none
// where the socket is watched by the poller, its read loop elsewhere.
func idleReaders(sessions int) int {
	if runtime.GOOS == "linux" {
		return 0
	}
	return sessions
}

// TestIdleSessionHasNoGoroutine: once its messages are handled and written,
// an idle session keeps no goroutine (on Linux: its socket is watched by the
// poller); the read loop comes back for the next message and the writer for
// the next write, and pings go out and their pongs are read with nothing
// resident.
func TestIdleSessionHasNoGoroutine(t *testing.T) {
	clock := NewFakeClock()
	ts := startServer(t, func(c *Config) { c.Clock = clock; c.PingInterval = time.Second })
	const n = 5
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = ts.dial(t)
		clients[i].send(fmt.Sprintf(`{"type":"join","name":"user%d"}`, i))
		clients[i].expect(map[string]any{"type": "welcome"})
	}
	clients[0].send(`{"type":"chat","text":"hello"}`)
	for _, c := range clients {
		for m := c.next(); m["type"] != "chat"; m = c.next() {
		}
	}
	if r, w := settledGoroutines(idleReaders(n)); r != idleReaders(n) || w != 0 {
		t.Fatalf("%d idle sessions: %d read loops and %d other session goroutines, want %d and 0", n, r, w, idleReaders(n))
	}

	// Every session still reads: each one's next message is handled.
	for i, c := range clients {
		c.send(fmt.Sprintf(`{"type":"chat","text":"again %d"}`, i))
	}
	for _, c := range clients {
		for got := 0; got < n; {
			if m := c.next(); m["type"] == "chat" && strings.HasPrefix(m["text"].(string), "again") {
				got++
			}
		}
	}

	// A ping comes due on every session: each gets it, and its pong is read
	// and handled with nothing left running.
	raw, _, _ := rawHandshake(t, ts.url)
	raw.writeFrame(0x1, `{"type":"join","name":"raw"}`, 0)
	for {
		op, _, err := raw.frame()
		if err != nil {
			t.Fatal(err)
		}
		if op == 0x1 {
			break
		}
	}
	clock.Advance(time.Second)
	for {
		op, _, err := raw.frame()
		if err != nil {
			t.Fatalf("waiting for a ping: %v", err)
		}
		if op == 0x9 {
			break
		}
	}
	raw.writeFrame(0xA, "", 0)
	if r, w := settledGoroutines(idleReaders(n + 1)); r != idleReaders(n+1) || w != 0 {
		t.Fatalf("after a ping: %d read loops and %d other session goroutines, want %d and 0", r, w, idleReaders(n+1))
	}
	raw.writeFrame(0x1, `{"type":"who","ref":"w"}`, 0)
	for {
		op, p, err := raw.frame()
		if err != nil {
			t.Fatalf("waiting for the presence answer: %v", err)
		}
		if op == 0x1 && strings.Contains(string(p), `"presence"`) {
			break
		}
	}
}

// TestIdleTLSSessionKeepsItsReader: wire cannot see into TLS records (a
// readable socket may hold half a record, and tls.Conn may hold a decrypted
// one), so a TLS session is not parked on the poller: its read loop stays.
func TestIdleTLSSessionKeepsItsReader(t *testing.T) {
	ts := startServerTLS(t, nil)
	a := ts.dial(t)
	a.send(`{"type":"join","name":"alice"}`)
	a.expect(map[string]any{"type": "welcome"})
	if r, w := settledGoroutines(1); r != 1 || w != 0 {
		t.Fatalf("an idle TLS session: %d read loops and %d other session goroutines, want 1 and 0", r, w)
	}
	a.send(`{"type":"chat","text":"still here"}`)
	for m := a.next(); m["type"] != "chat" || m["text"] != "still here"; m = a.next() {
	}
}

// chunkReader hands out its data n bytes per Read, then err.
type chunkReader struct {
	data []byte
	n    int
	err  error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	k := min(r.n, len(p), len(r.data))
	copy(p, r.data[:k])
	r.data = r.data[k:]
	return k, nil
}

// TestReadAll: the read loop's readAll appends a whole message to the
// borrowed buffer, growing it as needed, and passes errors on.
func TestReadAll(t *testing.T) {
	errCut := errors.New("cut")
	cases := []struct {
		name    string
		size    int
		chunk   int
		initCap int
		probe   bool
		err     error
		wantErr error
	}{
		{"empty message", 0, 1, 512, true, io.EOF, nil},
		{"fits the buffer", 130, 1000, 512, true, io.EOF, nil},
		{"exactly the buffer", 512, 100, 512, true, io.EOF, nil},
		{"exactly the buffer, not probed", 512, 100, 512, false, io.EOF, nil},
		{"one byte over", 513, 7, 512, true, io.EOF, nil},
		{"much larger, from no buffer", 70_000, 4096, 0, true, io.EOF, nil},
		{"error mid-message", 300, 50, 512, true, errCut, errCut},
		{"error when full", 512, 512, 512, true, errCut, errCut},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := []byte(strings.Repeat("abcdefg", c.size/7+1)[:c.size])
			buf := make([]byte, 0, c.initCap)
			got, err := readAll(&chunkReader{data: data, n: c.chunk, err: c.err}, buf, c.probe)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			if string(got) != string(data) {
				t.Fatalf("read %d bytes, want the %d sent", len(got), len(data))
			}
			if c.probe && c.initCap >= c.size && c.size > 0 && &got[0] != &buf[:1][0] {
				t.Errorf("a message that fits the borrowed buffer was read into a new one")
			}
		})
	}
}

// TestNameFreeBeforeCloseHandshake: a client that leaves is told 1000 bye,
// and its name is free from then on, even while its close handshake is still
// open (this client never answers the Close), so reconnecting at once works.
func TestNameFreeBeforeCloseHandshake(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.CloseTimeout = time.Minute })
	rc, resp, _ := rawHandshake(t, ts.url)
	if resp.StatusCode != 101 {
		t.Fatalf("handshake: %d", resp.StatusCode)
	}
	rc.writeFrame(0x1, `{"type":"join","name":"alice"}`, 0)
	rc.writeFrame(0x1, `{"type":"leave"}`, 0)
	if code, reason := rc.closeFrame(10 * time.Second); code != 1000 || reason != "bye" {
		t.Fatalf("closed with %d %q, want 1000 bye", code, reason)
	}
	again := ts.dial(t)
	again.send(`{"type":"join","name":"Alice"}`)
	again.expect(map[string]any{"type": "welcome", "name": "Alice"})
}
