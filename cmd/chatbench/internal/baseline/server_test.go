package baseline

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func startServer(t *testing.T) string {
	t.Helper()
	s := New()
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		s.Close()
		ts.Close()
	})
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

type peer struct {
	t *testing.T
	c *websocket.Conn
}

func dial(t *testing.T, url string) *peer {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"chat.v1"}}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if c.Subprotocol() != "chat.v1" {
		t.Errorf("subprotocol %q", c.Subprotocol())
	}
	return &peer{t: t, c: c}
}

func (p *peer) send(s string) {
	p.t.Helper()
	if err := p.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) next() outbound {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(time.Minute)) // liveness only, never a speed check
	_, b, err := p.c.ReadMessage()
	if err != nil {
		p.t.Fatal(err)
	}
	var o outbound
	if err := json.Unmarshal(b, &o); err != nil {
		p.t.Fatalf("%s: %v", b, err)
	}
	return o
}

// join sends a join and reads up to the joiner's own join event.
func (p *peer) join(name, room string) {
	p.t.Helper()
	p.send(`{"type":"join","name":"` + name + `","room":"` + room + `"}`)
	if got := p.next(); got != (outbound{Type: "join", Room: room, From: name}) {
		p.t.Fatalf("join reply %+v", got)
	}
}

func TestChatFansOutToTheRoomOnly(t *testing.T) {
	url := startServer(t)
	a, b, c := dial(t, url), dial(t, url), dial(t, url)
	a.join("alice", "r1")
	b.join("bob", "r1")
	if got := a.next(); got != (outbound{Type: "join", Room: "r1", From: "bob"}) {
		t.Fatalf("alice saw %+v", got)
	}
	c.join("carol", "r2")
	a.send(`{"type":"chat","room":"r1","text":"hello"}`)
	want := outbound{Type: "chat", Room: "r1", From: "alice", Text: "hello"}
	for _, p := range []*peer{a, b} {
		if got := p.next(); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	}
	// carol is in r2: her next frame is her own chat, not alice's.
	c.send(`{"type":"chat","room":"r2","text":"mine"}`)
	if got := c.next(); got.From != "carol" || got.Text != "mine" {
		t.Errorf("carol got %+v", got)
	}
}

func TestDefaultRoomIsLobby(t *testing.T) {
	url := startServer(t)
	a := dial(t, url)
	a.send(`{"type":"join","name":"alice"}`)
	if got := a.next(); got.Room != "lobby" {
		t.Fatalf("join %+v", got)
	}
	a.send(`{"type":"chat","text":"x"}`)
	if got := a.next(); got.Room != "lobby" || got.Text != "x" {
		t.Errorf("chat %+v", got)
	}
}

func TestPrivateMessage(t *testing.T) {
	url := startServer(t)
	a, b := dial(t, url), dial(t, url)
	a.join("alice", "x")
	b.join("Bob", "y")
	a.send(`{"type":"pm","to":"bob","text":"psst"}`)
	want := outbound{Type: "pm", From: "alice", To: "bob", Text: "psst"}
	for _, p := range []*peer{b, a} {
		if got := p.next(); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	}
}

func TestLeave(t *testing.T) {
	url := startServer(t)
	a, b := dial(t, url), dial(t, url)
	a.join("alice", "r")
	b.join("bob", "r")
	a.next() // bob's join
	b.send(`{"type":"leave","room":"r"}`)
	b.send(`{"type":"join","room":"s"}`)
	if got := b.next(); got != (outbound{Type: "join", Room: "s", From: "bob"}) {
		t.Fatalf("rejoin %+v", got)
	}
	a.send(`{"type":"chat","room":"r","text":"still here?"}`)
	a.next()
	b.send(`{"type":"chat","room":"s","text":"moved"}`)
	if got := b.next(); got.Text != "moved" {
		t.Errorf("bob received %+v after leaving r", got)
	}
	// A leave without a room ends the session with 1000 "bye".
	a.send(`{"type":"leave"}`)
	a.c.SetReadDeadline(time.Now().Add(time.Minute))
	_, _, err := a.c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) || !strings.Contains(err.Error(), "bye") {
		t.Errorf("after leave: %v", err)
	}
}

func TestChatBeforeJoinIsIgnored(t *testing.T) {
	url := startServer(t)
	a := dial(t, url)
	a.send(`{"type":"chat","text":"too early"}`)
	a.send(`not json`)
	a.join("alice", "lobby")
	a.send(`{"type":"chat","text":"now"}`)
	if got := a.next(); got.Text != "now" {
		t.Errorf("got %+v", got)
	}
}

func TestSlowConsumerIsDropped(t *testing.T) {
	url := startServer(t)
	fast, slow := dial(t, url), dial(t, url)
	slow.join("slow", "r")
	fast.join("fast", "r")
	// slow never reads again; once its 256 slots and the socket buffers
	// (a few MB on loopback) are full the hub drops it, as the example does,
	// and fast goes on being served.
	text := strings.Repeat("x", 60000)
	for i := 0; i < 400; i++ {
		fast.send(`{"type":"chat","room":"r","text":"` + text + `"}`)
		if got := fast.next(); got.From != "fast" {
			t.Fatalf("fast got %+v", got)
		}
	}
	// What slow finds when it finally reads: the frames queued before it was
	// dropped, then the end of the connection (the hub's Close frame, or a
	// bare close if the write pump's 10 s write deadline passed first) — not
	// all 400 chats.
	var err error
	chats := 0
	for err == nil {
		slow.c.SetReadDeadline(time.Now().Add(time.Minute)) // liveness only
		var b []byte
		_, b, err = slow.c.ReadMessage()
		if strings.Contains(string(b), `"type":"chat"`) {
			chats++
		}
	}
	if !websocket.IsCloseError(err, websocket.CloseNoStatusReceived, websocket.CloseAbnormalClosure) || chats >= 400 {
		t.Errorf("slow consumer read %d chats, then %v; want fewer than 400 and the hub's close", chats, err)
	}
}
