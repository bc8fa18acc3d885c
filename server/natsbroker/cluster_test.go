package natsbroker

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/chatd/chatd/server"
)

// waitTimeout bounds every wait for something that must happen. It is a
// bound, not a measurement: things normally happen in milliseconds.
const waitTimeout = 15 * time.Second

// node is one chatd server of a test cluster: its own NATS connection,
// broker, server.Server and loopback listener.
type node struct {
	b   *Broker
	srv *server.Server
	url string // ws://…/ws
}

// startNode starts a chatd node on natsURL, stopped when the test ends.
func startNode(t testing.TB, natsURL string, opts Options, mutate ...func(*server.Config)) *node {
	t.Helper()
	b, _ := newBroker(t, natsURL, opts)
	cfg := server.DefaultConfig()
	cfg.Broker = b
	cfg.CloseTimeout = time.Second
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return &node{b: b, srv: srv, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"}
}

// env is one server→client envelope, every field any type uses.
type env struct {
	Type    string   `json:"type"`
	ID      string   `json:"id"`
	Room    string   `json:"room"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	Text    string   `json:"text"`
	Ref     string   `json:"ref"`
	Reason  string   `json:"reason"`
	Code    string   `json:"code"`
	Users   []string `json:"users"`
	Active  bool     `json:"active"`
	Replay  bool     `json:"replay"`
	Session string   `json:"session"`
}

// wsClient is a chat.v1 peer. A reader goroutine hands envelopes to msgs
// and ends with the close code.
type wsClient struct {
	t      testing.TB
	name   string
	conn   *websocket.Conn
	msgs   chan env
	closed chan int // the close code the server sent (or 1006)
}

func dial(t testing.TB, url, name string) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"chat.v1"}, HandshakeTimeout: waitTimeout}
	conn, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	resp.Body.Close()
	c := &wsClient{t: t, name: name, conn: conn, msgs: make(chan env, 10000), closed: make(chan int, 1)}
	go func() {
		for {
			var e env
			if err := conn.ReadJSON(&e); err != nil {
				code := websocket.CloseAbnormalClosure
				if ce, ok := err.(*websocket.CloseError); ok {
					code = ce.Code
				}
				c.closed <- code
				close(c.msgs)
				return
			}
			c.msgs <- e
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		for range c.msgs { // wait for the reader
		}
	})
	return c
}

// send writes one client message.
func (c *wsClient) send(m map[string]any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(m); err != nil {
		c.t.Fatalf("%s: send %v: %v", c.name, m, err)
	}
}

// expect returns the next envelope matching ok, skipping the others, or
// fails the test.
func (c *wsClient) expect(what string, ok func(env) bool) env {
	c.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case e, open := <-c.msgs:
			if !open {
				c.t.Fatalf("%s: connection closed while waiting for %s", c.name, what)
			}
			if ok(e) {
				return e
			}
		case <-timer.C:
			c.t.Fatalf("%s: no %s within %v", c.name, what, waitTimeout)
		}
	}
}

// join connects name to url and joins rooms, waiting for each join event.
func join(t testing.TB, url, name string, rooms ...string) *wsClient {
	t.Helper()
	c := dial(t, url, name)
	for i, room := range rooms {
		c.send(map[string]any{"type": "join", "name": name, "room": room, "ref": fmt.Sprint("j", i)})
		c.expect("join of "+room, func(e env) bool {
			if e.Type == "error" {
				t.Fatalf("%s: join %s: %+v", name, room, e)
			}
			return e.Type == "join" && e.From == name && e.Room == room
		})
	}
	return c
}

func isType(typ string) func(env) bool { return func(e env) bool { return e.Type == typ } }

// TestClusterAcrossNodes checks names, presence, chat, private messages,
// typing and leaving between clients on different nodes.
func TestClusterAcrossNodes(t *testing.T) {
	ns := startNATS(t)
	n1, n2 := startNode(t, ns.ClientURL(), fastOptions()), startNode(t, ns.ClientURL(), fastOptions())
	alice := join(t, n1.url, "Alice", "lobby")
	bob := join(t, n2.url, "bob", "lobby")

	// Names are unique across nodes, ignoring case.
	imp := dial(t, n1.url, "BOB")
	imp.send(map[string]any{"type": "join", "name": "BOB", "ref": "x"})
	if e := imp.expect("an answer", func(e env) bool { return e.Type == "error" || e.Type == "welcome" }); e.Code != "name_taken" {
		t.Errorf("BOB on another node got %+v, want name_taken", e)
	}

	// Rooms span nodes: presence and join events.
	alice.expect("bob's join", func(e env) bool { return e.Type == "join" && e.From == "bob" })
	alice.send(map[string]any{"type": "who", "room": "lobby", "ref": "w"})
	if p := alice.expect("presence", isType("presence")); strings.Join(p.Users, ",") != "Alice,bob" {
		t.Errorf("who on node 1 = %v, want both nodes' members", p.Users)
	}

	steps := []struct {
		name   string
		from   *wsClient
		msg    map[string]any
		to     *wsClient
		match  func(env) bool
		echoed func(env) bool // the sender's own copy, if any
	}{
		{"chat", alice, map[string]any{"type": "chat", "text": "hello", "ref": "c1"}, bob,
			func(e env) bool { return e.Type == "chat" && e.Text == "hello" && e.From == "Alice" && e.Ref == "" },
			func(e env) bool { return e.Type == "chat" && e.Text == "hello" && e.Ref == "c1" }},
		{"pm", bob, map[string]any{"type": "pm", "to": "ALICE", "text": "psst", "ref": "p1"}, alice,
			func(e env) bool { return e.Type == "pm" && e.Text == "psst" && e.From == "bob" && e.To == "Alice" },
			func(e env) bool { return e.Type == "pm" && e.Text == "psst" && e.Ref == "p1" }},
		{"room typing", alice, map[string]any{"type": "typing", "room": "lobby", "active": true}, bob,
			func(e env) bool { return e.Type == "typing" && e.From == "Alice" && e.Room == "lobby" && e.Active }, nil},
		{"pm typing", bob, map[string]any{"type": "typing", "to": "alice", "active": true}, alice,
			func(e env) bool { return e.Type == "typing" && e.From == "bob" && e.To == "Alice" && e.Active }, nil},
		{"pm typing ends", bob, map[string]any{"type": "typing", "to": "alice", "active": false}, alice,
			func(e env) bool { return e.Type == "typing" && e.From == "bob" && e.To == "Alice" && !e.Active }, nil},
		{"leave", bob, map[string]any{"type": "leave", "room": "lobby", "ref": "l1"}, alice,
			func(e env) bool { return e.Type == "leave" && e.From == "bob" && e.Reason == "left" },
			func(e env) bool { return e.Type == "leave" && e.Ref == "l1" }},
	}
	for _, st := range steps {
		st.from.send(st.msg)
		st.to.expect(st.name, st.match)
		if st.echoed != nil {
			st.from.expect(st.name+" (own copy)", st.echoed)
		}
	}

	// Leaving the session frees the name for the other node.
	bob.send(map[string]any{"type": "leave"})
	if code := <-bob.closed; code != websocket.CloseNormalClosure {
		t.Errorf("bob closed with %d, want 1000", code)
	}
	join(t, n1.url, "BOB", "lobby")
}

// TestClusterTypingExpiry: an indicator its sender stops refreshing is
// ended by the sender's node, and the end reaches the other node too.
func TestClusterTypingExpiry(t *testing.T) {
	ns := startNATS(t)
	short := func(c *server.Config) { c.TypingExpiry, c.TypingThrottle = 300*time.Millisecond, 100*time.Millisecond }
	n1, n2 := startNode(t, ns.ClientURL(), fastOptions(), short), startNode(t, ns.ClientURL(), fastOptions(), short)
	alice := join(t, n1.url, "alice", "lobby")
	bob := join(t, n2.url, "bob", "lobby")
	alice.send(map[string]any{"type": "typing", "room": "lobby", "active": true})
	alice.send(map[string]any{"type": "typing", "to": "bob", "active": true})
	for _, want := range []struct {
		room, to string
		active   bool
	}{{"lobby", "", true}, {"", "bob", true}} {
		bob.expect("typing", func(e env) bool { return e.Type == "typing" && e.Room == want.room && e.To == want.to && e.Active })
	}
	// Nothing more from alice: her node expires both indicators.
	ended := map[string]bool{}
	for len(ended) < 2 {
		e := bob.expect("the expiry", func(e env) bool { return e.Type == "typing" && !e.Active && e.From == "alice" })
		ended[e.Room+e.To] = true
	}
}

// TestClusterOrder has a sender on each of three nodes write to one room at
// once; every node's observer must see the same order, ids strictly
// increasing, each sender's messages in its own order.
func TestClusterOrder(t *testing.T) {
	ns := startNATS(t)
	nodes := []*node{startNode(t, ns.ClientURL(), fastOptions()), startNode(t, ns.ClientURL(), fastOptions()), startNode(t, ns.ClientURL(), fastOptions())}
	const each = 30
	var observers, senders []*wsClient
	for i, n := range nodes {
		observers = append(observers, join(t, n.url, fmt.Sprint("obs", i), "order"))
	}
	for i, n := range nodes {
		senders = append(senders, join(t, n.url, fmt.Sprint("snd", i), "order"))
	}
	done := make(chan struct{})
	for i, s := range senders {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range each {
				if err := s.conn.WriteJSON(map[string]any{"type": "chat", "room": "order", "text": fmt.Sprintf("%d-%d", i, j)}); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}()
	}
	for range senders {
		<-done
	}
	var first []string
	for o, obs := range observers {
		var ids []string
		next := make([]int, len(senders))
		for range len(senders) * each {
			e := obs.expect("a chat", func(e env) bool { return e.Type == "chat" && e.Room == "order" && !e.Replay })
			var s, j int
			fmt.Sscanf(e.Text, "%d-%d", &s, &j)
			if j != next[s] {
				t.Fatalf("observer %d: sender %d's message %d arrived when %d was due", o, s, j, next[s])
			}
			next[s]++
			if len(ids) > 0 && e.ID <= ids[len(ids)-1] {
				t.Fatalf("observer %d: id %s after %s", o, e.ID, ids[len(ids)-1])
			}
			ids = append(ids, e.ID)
		}
		if o == 0 {
			first = ids
			continue
		}
		if strings.Join(ids, ",") != strings.Join(first, ",") {
			t.Fatalf("observer %d saw another order than observer 0", o)
		}
	}
}

// TestClusterResumeOnAnotherNode: a client that reconnects to another node
// with since gets exactly what it missed, from JetStream.
func TestClusterResumeOnAnotherNode(t *testing.T) {
	ns := startNATS(t)
	n1, n2 := startNode(t, ns.ClientURL(), fastOptions()), startNode(t, ns.ClientURL(), fastOptions())
	talker := join(t, n1.url, "talker", "lobby")
	reader := join(t, n2.url, "reader", "lobby")
	for i := range 3 {
		talker.send(map[string]any{"type": "chat", "text": fmt.Sprint("m", i)})
	}
	var last string
	for i := range 3 {
		last = reader.expect("m"+fmt.Sprint(i), func(e env) bool { return e.Type == "chat" && e.Text == fmt.Sprint("m", i) }).ID
	}
	reader.send(map[string]any{"type": "leave"})
	<-reader.closed
	talker.expect("reader's leave", func(e env) bool { return e.Type == "leave" && e.From == "reader" })
	for i := 3; i < 8; i++ {
		talker.send(map[string]any{"type": "chat", "text": fmt.Sprint("m", i)})
		talker.expect("own m"+fmt.Sprint(i), func(e env) bool { return e.Type == "chat" && e.Text == fmt.Sprint("m", i) })
	}
	back := dial(t, n1.url, "reader")
	back.send(map[string]any{"type": "join", "name": "reader", "since": last})
	back.expect("presence", isType("presence"))
	for i := 3; i < 8; i++ {
		e := back.expect("a replayed chat", func(e env) bool { return e.Type == "chat" || e.Type == "join" })
		if e.Type != "chat" || !e.Replay || e.Text != fmt.Sprint("m", i) {
			t.Fatalf("replay %d = %+v, want m%d", i, e, i)
		}
	}
	if e := back.expect("own join", func(e env) bool { return e.Type == "join" || e.Type == "chat" }); e.Type != "join" {
		t.Errorf("after the replay: %+v, want the join", e)
	}
}

// TestClusterNodeDeath cuts a node's NATS connection without any cleanup:
// its clients are closed with 1001, and the two survivors publish leave
// (disconnected) in every room of its users, once each, and free its names.
func TestClusterNodeDeath(t *testing.T) {
	ns := startNATS(t)
	opts := fastOptions()
	n1, n2, n3 := startNode(t, ns.ClientURL(), opts), startNode(t, ns.ClientURL(), opts), startNode(t, ns.ClientURL(), opts)
	alice := join(t, n1.url, "alice", "lobby", "dev")
	bob := join(t, n2.url, "bob", "lobby", "dev")
	carol := join(t, n3.url, "carol", "lobby", "dev")
	n1.b.nc.Close() // the node is cut off: it cannot even say goodbye

	if code := <-alice.closed; code != websocket.CloseGoingAway {
		t.Errorf("alice's connection on the dead node closed with %d, want 1001", code)
	}
	for _, c := range []*wsClient{bob, carol} {
		left := map[string]bool{}
		for len(left) < 2 {
			e := c.expect("alice's leave", func(e env) bool { return e.Type == "leave" && e.From == "alice" })
			if e.Reason != "disconnected" {
				t.Errorf("leave reason %q, want disconnected", e.Reason)
			}
			left[e.Room] = true
		}
	}
	// Both survivors clean up; each leave must still be published once.
	// Give the slower survivor time for its cleanup passes, then send a
	// marker into each room: nothing but the marker may come before it.
	time.Sleep(2 * opts.NodeTTL)
	for _, room := range []string{"lobby", "dev"} {
		carol.send(map[string]any{"type": "chat", "room": room, "text": "marker"})
		e := bob.expect("the next event of "+room, func(e env) bool { return e.Room == room && e.Type != "typing" })
		if e.Type != "chat" || e.Text != "marker" {
			t.Errorf("%s: after alice's leave came %+v, want the marker (a second leave?)", room, e)
		}
	}
	bob.send(map[string]any{"type": "who", "room": "dev", "ref": "w"})
	if p := bob.expect("presence", isType("presence")); strings.Join(p.Users, ",") != "bob,carol" {
		t.Errorf("dev after alice's node died: %v", p.Users)
	}
	join(t, n2.url, "ALICE", "lobby") // the name is free again
}

// TestClusterNATSRestart stops the NATS server: the nodes close their
// clients with 1001; after it restarts (same port, same files) the
// clients come back, history is intact, and the cluster works again.
func TestClusterNATSRestart(t *testing.T) {
	dir := t.TempDir()
	ns, err := StartEmbedded("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := ns.Addr().String()
	url := ns.ClientURL()
	var ns2 *natsserver.Server
	t.Cleanup(func() {
		for _, s := range []*natsserver.Server{ns, ns2} {
			if s != nil {
				s.Shutdown()
				s.WaitForShutdown()
			}
		}
	})
	n1, n2 := startNode(t, url, fastOptions()), startNode(t, url, fastOptions())
	alice := join(t, n1.url, "alice", "lobby")
	bob := join(t, n2.url, "bob", "lobby")
	alice.send(map[string]any{"type": "chat", "text": "before"})
	first := bob.expect("before", func(e env) bool { return e.Type == "chat" && e.Text == "before" }).ID
	alice.send(map[string]any{"type": "chat", "text": "kept"})
	bob.expect("kept", func(e env) bool { return e.Type == "chat" && e.Text == "kept" })

	ns.Shutdown()
	ns.WaitForShutdown()
	for _, c := range []*wsClient{alice, bob} {
		if code := <-c.closed; code != websocket.CloseGoingAway {
			t.Errorf("%s closed with %d when NATS went away, want 1001", c.name, code)
		}
	}
	ns2, err = StartEmbedded(addr, dir)
	if err != nil {
		t.Fatal(err)
	}
	// The old memberships and names belonged to node ids that are now
	// dead; clients retry until the survivors have freed them.
	back := rejoin(t, n2.url, "alice", first)
	if e := back.expect("replay", func(e env) bool { return e.Type == "chat" }); e.Text != "kept" || !e.Replay {
		t.Errorf("replay after restart = %+v, want the message after since", e)
	}
	bob2 := rejoin(t, n1.url, "bob", "")
	bob2.expect("own join", func(e env) bool { return e.Type == "join" && e.From == "bob" })
	back.send(map[string]any{"type": "chat", "text": "after"})
	bob2.expect("after", func(e env) bool { return e.Type == "chat" && e.Text == "after" && !e.Replay })
	// The new sessions must survive the cleanup of the old node ids, which
	// runs within NodeTTL: look again after twice that.
	time.Sleep(2 * fastOptions().NodeTTL)
	bob2.send(map[string]any{"type": "who", "ref": "w"})
	if p := bob2.expect("presence", isType("presence")); strings.Join(p.Users, ",") != "alice,bob" {
		t.Errorf("lobby after the restart and the cleanup = %v, want alice,bob", p.Users)
	}
}

// rejoin joins lobby as name, retrying while the name is still held by a
// node id that is being cleaned up or the node has not reconnected yet.
func rejoin(t *testing.T, url, name, since string) *wsClient {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		c := dial(t, url, name)
		m := map[string]any{"type": "join", "name": name}
		if since != "" {
			m["since"] = since
		}
		c.send(m)
		e := c.expect("welcome or error", func(e env) bool { return e.Type == "welcome" || e.Type == "error" })
		if e.Type == "welcome" {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s could not join again: %+v", name, e)
		}
		_ = c.conn.Close()
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterSlowNode: a node whose delivery is stuck does not hold up the
// others, and catches up in order once it moves again.
func TestClusterSlowNode(t *testing.T) {
	ns := startNATS(t)
	n1, n2 := startNode(t, ns.ClientURL(), fastOptions()), startNode(t, ns.ClientURL(), fastOptions())
	slow, _ := newBroker(t, ns.ClientURL(), fastOptions())
	stuck := make(chan struct{})
	got := make(chan string, 1000)
	cancel := slow.Subscribe(func(ev *server.Event) {
		<-stuck
		if ev.Kind == server.EventChat {
			got <- ev.Text
		}
	}, func(error) {})
	defer cancel()
	alice := join(t, n1.url, "alice", "lobby")
	bob := join(t, n2.url, "bob", "lobby")
	const n = 30 // within the rate limit's burst
	for i := range n {
		alice.send(map[string]any{"type": "chat", "text": fmt.Sprint(i)})
	}
	for i := range n {
		bob.expect(fmt.Sprint("chat ", i), func(e env) bool { return e.Type == "chat" && e.Text == fmt.Sprint(i) })
	}
	close(stuck)
	for i := range n {
		select {
		case txt := <-got:
			if txt != fmt.Sprint(i) {
				t.Fatalf("the slow node got %q when %d was due", txt, i)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("the slow node never got message %d", i)
		}
	}
}
