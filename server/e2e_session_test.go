package server_test

// PROTOCOL.md §2, §3 and §3a for sessions: the join sequence, names, rooms, who,
// leave and its reasons, private messages, ids and order.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatd/chatd/server"
)

func TestE2EJoinSequence(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) {
		c.Name, c.Version = "chatd-e2e", "1.2.3"
		c.MaxMessageBytes, c.MaxTextChars, c.RatePerSec, c.RateBurst = 32768, 3000, 7, 11
	})
	a, ja := h.joinAs(t, "alice", "lobby")

	w := ja.welcome
	if srv := w.m["server"].(map[string]any); srv["name"] != "chatd-e2e" || srv["version"] != "1.2.3" {
		t.Errorf("welcome server %v, want the configured name and version", srv)
	}
	lim := w.m["limits"].(map[string]any)
	for k, want := range map[string]float64{"max_message_bytes": 32768, "max_text_chars": 3000, "rate_per_sec": 7, "rate_burst": 11} {
		if lim[k] != want {
			t.Errorf("welcome limits.%s = %v, want the configured %v", k, lim[k], want)
		}
	}
	if got := ja.presence.strs("users"); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("first presence users %v, want [alice]", got)
	}
	if len(ja.replay) != 0 {
		t.Errorf("replay in a new room: %v", ja.replay)
	}

	b, jb := h.joinAs(t, "bob", "lobby")
	if got := jb.presence.strs("users"); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("bob's presence users %v, want [alice bob] (the joiner included)", got)
	}
	if jb.welcome.s("session") == ja.welcome.s("session") {
		t.Errorf("two sessions share the session id %s", ja.welcome.s("session"))
	}
	if jb.join.s("id") <= ja.join.s("id") {
		t.Errorf("bob's join id %s not after alice's %s", jb.join.s("id"), ja.join.s("id"))
	}
	// alice gets the same join event, without bob's ref.
	aj := a.expectEvent("join", "lobby", "bob")
	if aj.s("id") != jb.join.s("id") || aj.s("ts") != jb.join.s("ts") {
		t.Errorf("alice's copy of bob's join %s differs from bob's %s", aj, jb.join)
	}

	// A later join: no welcome, presence, then the join event to every member.
	jd := b.join(map[string]any{"room": "dev"}, false)
	if got := jd.presence.strs("users"); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("dev presence %v, want [bob]", got)
	}
	// No ref given: none comes back.
	b.send(map[string]any{"type": "who", "room": "dev"})
	checkRef(t, b.nextType("presence"), "")
	a.send(map[string]any{"type": "join", "room": "dev"})
	p := a.nextType("presence")
	checkRef(t, p, "")
	je := a.nextType("join")
	checkRef(t, je, "")
	b.expectEvent("join", "dev", "alice")
}

func TestE2EDefaultRoomIsLobby(t *testing.T) {
	t.Parallel()
	h := start(t)
	a := h.dial(t, dialOpts{})
	a.name = "alice"
	j := a.join(map[string]any{"name": "alice"}, true) // no room
	if j.presence.s("room") != "lobby" || j.join.s("room") != "lobby" {
		t.Fatalf("join without room did not enter lobby: %s %s", j.presence, j.join)
	}
	a.send(map[string]any{"type": "chat", "text": "hi", "ref": "c"})
	if e := a.nextType("chat"); e.s("room") != "lobby" {
		t.Fatalf("chat without room went to %q", e.s("room"))
	}
	a.send(map[string]any{"type": "who", "ref": "w"})
	if e := a.nextType("presence"); e.s("room") != "lobby" {
		t.Fatalf("who without room answered for %q", e.s("room"))
	}
}

func TestE2ENames(t *testing.T) {
	t.Parallel()
	h := start(t)
	a, _ := h.joinAs(t, "AlIce", "lobby")

	t.Run("taken regardless of case", func(t *testing.T) {
		for _, n := range []string{"AlIce", "alice", "ALICE"} {
			c := h.dial(t, dialOpts{})
			c.send(map[string]any{"type": "join", "name": n, "ref": "n"})
			c.expectError("name_taken", "n", nil)
			// Still open, still not joined.
			c.send(map[string]any{"type": "who", "ref": "w"})
			c.expectError("not_joined", "w", nil)
		}
	})
	t.Run("spelling kept", func(t *testing.T) {
		b, jb := h.joinAs(t, "bob", "lobby")
		if got := jb.presence.strs("users"); !slices.Equal(got, []string{"AlIce", "bob"}) {
			t.Fatalf("presence %v, want the spelling given at join", got)
		}
		a.expectEvent("join", "lobby", "bob")
		a.chat("lobby", "hey")
		b.expectChat("lobby", "AlIce", "hey")
		// Addressed in any case, shown as spelled.
		b.send(map[string]any{"type": "pm", "to": "alice", "text": "yo"})
		if e := b.nextType("pm"); e.s("to") != "AlIce" || e.s("from") != "bob" {
			t.Fatalf("pm copy %s, want to=AlIce from=bob", e)
		}
		if e := a.nextType("pm"); e.s("to") != "AlIce" {
			t.Fatalf("pm %s, want to=AlIce", e)
		}
	})
	t.Run("freed on leave", func(t *testing.T) {
		a.send(map[string]any{"type": "leave"})
		a.closeErr(func(e env) bool { return e.typ() == "leave" })
		c, jc := h.joinFreed(t, "ALICE", "lobby")
		if !slices.Contains(jc.presence.strs("users"), "ALICE") {
			t.Fatalf("presence %v lacks the new spelling", jc.presence.strs("users"))
		}
		c.who("lobby")
	})
	t.Run("freed on disconnect", func(t *testing.T) {
		w, _ := h.joinAs(t, "watcher", "dev")
		d, _ := h.joinAs(t, "dave", "dev")
		w.expectEvent("join", "dev", "dave")
		d.shut()
		if l := w.expectEvent("leave", "dev", "dave"); l.s("reason") != "disconnected" {
			t.Fatalf("leave reason %q", l.s("reason"))
		}
		h.joinFreed(t, "Dave", "dev")
	})
}

// joinFreed joins as name, a name whose session has just ended. The server frees
// a name right after announcing the leave, so a join racing that gets
// name_taken; it is retried, boundedly: a name that stays taken fails the test.
func (h *harness) joinFreed(t *testing.T, name, room string) (*client, joined) {
	t.Helper()
	return h.joinFreedWith(t, map[string]any{"name": name, "room": room})
}

// joinFreedWith is joinFreed with more join fields (since).
func (h *harness) joinFreedWith(t *testing.T, fields map[string]any) (*client, joined) {
	t.Helper()
	name := fields["name"].(string)
	for try := 1; try <= 100; try++ {
		c := h.dial(t, dialOpts{})
		c.name = name
		ref := "freed"
		msg := map[string]any{"type": "join", "ref": ref}
		for k, v := range fields {
			msg[k] = v
		}
		c.send(msg)
		e := c.next()
		if e.typ() == "error" {
			checkError(t, e, "name_taken", ref, nil)
			c.shut()
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if try > 1 {
			t.Logf("%s was free on the %d. try", name, try)
		}
		if e.typ() != "welcome" || e.s("name") != name {
			t.Fatalf("want welcome for %s, got %s", name, e)
		}
		j := joined{welcome: e, presence: c.nextType("presence")}
		checkRef(t, j.presence, ref)
		for j.join.m == nil {
			switch e := c.next(); {
			case e.typ() == "chat" && e.b("replay"):
				j.replay = append(j.replay, e)
			case e.typ() == "join" && e.s("from") == name:
				checkRef(t, e, ref)
				j.join = e
			default:
				t.Fatalf("%s: between presence and join event: unexpected %s", name, e)
			}
		}
		return c, j
	}
	t.Fatalf("%s still taken 1 s after its session ended", name)
	return nil, joined{}
}

func TestE2EPresenceSortedByLowerCase(t *testing.T) {
	t.Parallel()
	h := start(t)
	var last *client
	for _, n := range []string{"bob", "Carl", "adam", "Alice", "_x"} {
		if n == "_x" { // not a valid name: must begin with a letter or digit
			c := h.dial(t, dialOpts{})
			c.send(map[string]any{"type": "join", "name": n, "ref": "x"})
			c.expectError("invalid_message", "x", []string{"name"})
			continue
		}
		last, _ = h.joinAs(t, n, "lobby")
	}
	want := []string{"adam", "Alice", "bob", "Carl"} // bytewise order would put Alice and Carl first
	if got := last.who("lobby").strs("users"); !slices.Equal(got, want) {
		t.Fatalf("who users %v, want %v", got, want)
	}
}

func TestE2EMultiRoom(t *testing.T) {
	t.Parallel()
	h := start(t)
	a, _ := h.joinAs(t, "alice", "lobby")
	a.join(map[string]any{"room": "dev"}, false)
	b, _ := h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")
	c, _ := h.joinAs(t, "carol", "dev")
	a.expectEvent("join", "dev", "carol")

	c1 := a.chat("dev", "dev only")
	c.expectChat("dev", "alice", "dev only")
	c2 := a.chat("lobby", "lobby only")
	// bob is not in dev: his next envelope is the lobby chat.
	b.expectChat("lobby", "alice", "lobby only")
	if c2.s("id") <= c1.s("id") {
		t.Errorf("ids not increasing in acceptance order across rooms: %s then %s", c1.s("id"), c2.s("id"))
	}
	if got := a.who("dev").strs("users"); !slices.Equal(got, []string{"alice", "carol"}) {
		t.Errorf("who dev %v", got)
	}
	if got := a.who("lobby").strs("users"); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("who lobby %v", got)
	}
	b.send(map[string]any{"type": "chat", "room": "dev", "text": "let me in", "ref": "nm"})
	b.expectError("not_member", "nm", nil)
}

func TestE2ERejoinRoomAlreadyIn(t *testing.T) {
	t.Parallel()
	h := start(t)
	a, _ := h.joinAs(t, "alice", "lobby")
	b, _ := h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")
	c1 := a.chat("lobby", "one")
	b.expectChat("lobby", "alice", "one")

	// Without since: presence again, no replay, no join event.
	a.send(map[string]any{"type": "join", "room": "lobby", "ref": "again"})
	p := a.nextType("presence")
	checkRef(t, p, "again")
	if got := p.strs("users"); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("presence %v", got)
	}
	a.chat("lobby", "marker 1") // next for alice: her own chat, nothing before it
	b.expectChat("lobby", "alice", "marker 1")

	// With since: presence, then the replay after since, still no join event.
	a.chat("lobby", "two")
	b.expectChat("lobby", "alice", "two")
	a.send(map[string]any{"type": "join", "name": "ALICE", "room": "lobby", "since": c1.s("id"), "ref": "since"})
	checkRef(t, a.nextType("presence"), "since")
	var texts []string
	for _, want := range []string{"marker 1", "two"} {
		e := a.nextType("chat")
		if !e.b("replay") {
			t.Fatalf("want replay of %q, got %s", want, e)
		}
		texts = append(texts, e.s("text"))
	}
	if !slices.Equal(texts, []string{"marker 1", "two"}) {
		t.Fatalf("replay %v", texts)
	}
	a.chat("lobby", "marker 2")
	b.expectChat("lobby", "alice", "marker 2")
}

func TestE2ELaterJoinName(t *testing.T) {
	t.Parallel()
	h := start(t)
	a, _ := h.joinAs(t, "alice", "lobby")

	a.send(map[string]any{"type": "join", "name": "bob", "room": "dev", "ref": "x"})
	a.expectError("invalid_message", "x", []string{"name"})
	// Changed nothing: alice is not in dev, and bob is still a free name.
	a.send(map[string]any{"type": "who", "room": "dev", "ref": "w"})
	a.expectError("not_member", "w", nil)
	h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")

	// The same name in another case is the session's name; the first spelling stays.
	j := a.join(map[string]any{"name": "ALICE", "room": "dev"}, false)
	if j.join.s("from") != "alice" {
		t.Fatalf("join from %q, want the first spelling", j.join.s("from"))
	}
	a.join(map[string]any{"room": "ops"}, false) // name may be left out later
}

func TestE2EWho(t *testing.T) {
	t.Parallel()
	h := start(t)
	a, _ := h.joinAs(t, "alice", "lobby")
	h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")
	tests := []struct {
		name  string
		msg   map[string]any
		users []string
		code  string
		field []string
	}{
		{name: "member", msg: map[string]any{"room": "lobby"}, users: []string{"alice", "bob"}},
		{name: "default room", msg: map[string]any{}, users: []string{"alice", "bob"}},
		{name: "not a member", msg: map[string]any{"room": "dev"}, code: "not_member"},
		{name: "invalid room", msg: map[string]any{"room": "Dev Room"}, code: "invalid_message", field: []string{"room"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := fmt.Sprintf("w%d", i)
			msg := map[string]any{"type": "who", "ref": ref}
			for k, v := range tc.msg {
				msg[k] = v
			}
			a.send(msg)
			if tc.code != "" {
				a.expectError(tc.code, ref, tc.field)
				return
			}
			p := a.nextType("presence")
			checkRef(t, p, ref)
			if got := p.strs("users"); !slices.Equal(got, tc.users) {
				t.Fatalf("users %v, want %v", got, tc.users)
			}
		})
	}
}

func TestE2ELeaveRoom(t *testing.T) {
	t.Parallel()
	h := start(t)
	a, _ := h.joinAs(t, "alice", "lobby")
	a.join(map[string]any{"room": "dev"}, false)
	b, _ := h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")
	b.join(map[string]any{"room": "dev"}, false)
	a.expectEvent("join", "dev", "bob")

	a.send(map[string]any{"type": "leave", "room": "dev", "ref": "bye-dev"})
	mine := a.nextType("leave") // the leaver's confirmation
	if mine.s("room") != "dev" || mine.s("from") != "alice" || mine.s("reason") != "left" {
		t.Fatalf("confirmation %s", mine)
	}
	checkRef(t, mine, "bye-dev")
	theirs := b.expectEvent("leave", "dev", "alice")
	if theirs.s("id") != mine.s("id") || theirs.s("reason") != "left" {
		t.Fatalf("bob's copy %s differs from alice's %s", theirs, mine)
	}
	if got := b.who("dev").strs("users"); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("who dev after leave %v", got)
	}
	for _, typ := range []string{"chat", "who", "leave"} {
		msg := map[string]any{"type": typ, "room": "dev", "ref": typ}
		if typ == "chat" {
			msg["text"] = "x"
		}
		a.send(msg)
		a.expectError("not_member", typ, nil)
	}
	a.send(map[string]any{"type": "typing", "room": "dev", "active": true, "ref": "t"})
	a.expectError("not_member", "t", nil)

	// Leaving the last room by name keeps the session: a join needs no name and
	// gets no welcome.
	a.send(map[string]any{"type": "leave", "room": "lobby", "ref": "l2"})
	checkRef(t, a.nextType("leave"), "l2")
	b.expectEvent("leave", "lobby", "alice")
	a.join(map[string]any{"room": "lobby"}, false)
	b.expectEvent("join", "lobby", "alice")
}

func TestE2ELeaveAll(t *testing.T) {
	t.Parallel()
	h := start(t)
	a, _ := h.joinAs(t, "alice", "lobby")
	a.join(map[string]any{"room": "dev"}, false)
	b, _ := h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")
	b.join(map[string]any{"room": "dev"}, false)
	a.expectEvent("join", "dev", "bob")

	a.send(map[string]any{"type": "leave", "ref": "all"})
	ce := a.closeErr(func(e env) bool {
		if e.typ() != "leave" || e.s("reason") != "left" {
			t.Errorf("before close: %s", e)
		}
		return true
	})
	if ce.Code != 1000 || ce.Text != "bye" {
		t.Fatalf("close %d %q, want 1000 \"bye\"", ce.Code, ce.Text)
	}
	rooms := map[string]bool{}
	for range 2 {
		e := b.nextType("leave")
		if e.s("from") != "alice" || e.s("reason") != "left" {
			t.Fatalf("want alice's leave (left), got %s", e)
		}
		checkRef(t, e, "")
		rooms[e.s("room")] = true
	}
	if !rooms["lobby"] || !rooms["dev"] {
		t.Fatalf("leave events for %v, want lobby and dev", rooms)
	}
	h.joinFreed(t, "Alice", "lobby") // name freed
	b.expectEvent("join", "lobby", "Alice")
}

func TestE2ENotJoined(t *testing.T) {
	t.Parallel()
	h := start(t)
	h.joinAs(t, "bob", "lobby")
	c := h.dial(t, dialOpts{})
	c.name = "alice"
	tests := []struct {
		msg  string
		code string
		ref  string
	}{
		{msg: `{"type":"chat","text":"hi","ref":"1"}`, code: "not_joined", ref: "1"},
		{msg: `{"type":"chat","ref":"2"}`, code: "not_joined", ref: "2"}, // before field rules
		{msg: `{"type":"pm","to":"bob","text":"hi","ref":"3"}`, code: "not_joined", ref: "3"},
		{msg: `{"type":"typing","active":true,"ref":"4"}`, code: "not_joined", ref: "4"},
		{msg: `{"type":"who","ref":"5"}`, code: "not_joined", ref: "5"},
		{msg: `{"type":"leave","ref":"6"}`, code: "not_joined", ref: "6"},
		{msg: `{"type":"leave","room":"lobby","ref":"7"}`, code: "not_joined", ref: "7"},
		{msg: `{"type":"dance","ref":"8"}`, code: "unknown_type", ref: "8"}, // before not_joined
		{msg: `{"ref":"9"}`, code: "invalid_message", ref: "9"},
		{msg: `{"type":"join"`, code: "invalid_json"},
	}
	for _, tc := range tests {
		c.sendText(tc.msg)
		c.expectError(tc.code, tc.ref, nil)
	}
	c.join(map[string]any{"name": "alice"}, true)
}

func TestE2EPrivateMessages(t *testing.T) {
	t.Parallel()
	h := start(t)
	a, _ := h.joinAs(t, "alice", "lobby")
	b, _ := h.joinAs(t, "Bob", "dev") // no shared room needed
	c, _ := h.joinAs(t, "carol", "lobby")
	a.expectEvent("join", "lobby", "carol")

	a.send(map[string]any{"type": "pm", "to": "BOB", "text": "hi", "ref": "p1"})
	mine := a.nextType("pm")
	checkRef(t, mine, "p1")
	theirs := b.nextType("pm")
	checkRef(t, theirs, "")
	for _, e := range []env{mine, theirs} {
		if e.s("from") != "alice" || e.s("to") != "Bob" || e.s("text") != "hi" {
			t.Fatalf("pm %s, want from alice to Bob text hi", e)
		}
	}
	if mine.s("id") != theirs.s("id") || mine.s("ts") != theirs.s("ts") {
		t.Fatalf("confirmation %s and delivery %s differ in id/ts", mine, theirs)
	}
	// carol saw nothing: her next envelope is the marker.
	a.chat("lobby", "marker")
	c.expectChat("lobby", "alice", "marker")

	tests := []struct {
		msg   map[string]any
		code  string
		field []string
	}{
		{msg: map[string]any{"to": "zed", "text": "hi"}, code: "unknown_user"},
		{msg: map[string]any{"to": "alice", "text": "me"}, code: "invalid_message", field: []string{"to"}},
		{msg: map[string]any{"to": "ALICE", "text": "me"}, code: "invalid_message", field: []string{"to"}},
		{msg: map[string]any{"to": "bob", "text": " \t"}, code: "invalid_message", field: []string{"text"}},
		{msg: map[string]any{"text": "to nobody"}, code: "invalid_message", field: []string{"to"}},
		{msg: map[string]any{"to": "bob", "text": "x", "room": "lobby"}, code: "invalid_message", field: []string{"room"}},
	}
	for i, tc := range tests {
		ref := fmt.Sprintf("e%d", i)
		msg := map[string]any{"type": "pm", "ref": ref}
		for k, v := range tc.msg {
			msg[k] = v
		}
		a.send(msg)
		a.expectError(tc.code, ref, tc.field)
	}
}

// TestE2EPrivateOrder has both parties write at once: each must see the whole
// conversation in the same id order, with its own messages in the order it sent them.
func TestE2EPrivateOrder(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) { c.RatePerSec, c.RateBurst = 1000, 1000 })
	a, _ := h.joinAs(t, "alice", "lobby")
	b, _ := h.joinAs(t, "bob", "dev")
	const n = 40
	var wg sync.WaitGroup
	for _, p := range []struct{ from, to *client }{{a, b}, {b, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				msg, _ := json.Marshal(map[string]any{"type": "pm", "to": p.to.name, "text": fmt.Sprintf("%s %d", p.from.name, i)})
				p.from.wmu.Lock()
				err := p.from.ws.WriteMessage(websocket.TextMessage, msg)
				p.from.wmu.Unlock()
				if err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seqs := map[string][]string{}
	for _, c := range []*client{a, b} {
		next := map[string]int{}
		for range 2 * n {
			e := c.nextType("pm")
			seqs[c.name] = append(seqs[c.name], e.s("id"))
			var who string
			var i int
			fmt.Sscanf(e.s("text"), "%s %d", &who, &i)
			if i != next[who] {
				t.Fatalf("%s: %s's message %d arrived where %d was due", c.name, who, i, next[who])
			}
			next[who]++
		}
	}
	if !slices.Equal(seqs["alice"], seqs["bob"]) {
		t.Fatalf("the two parties saw the conversation in different orders")
	}
}

// TestE2ERoomOrder has three members chat at once: every member sees the same
// sequence, gap-free, and each sender's messages in its own order.
func TestE2ERoomOrder(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) { c.RatePerSec, c.RateBurst = 1000, 1000 })
	var cs []*client
	for _, n := range []string{"ann", "ben", "cat"} {
		c, _ := h.joinAs(t, n, "lobby")
		for _, prev := range cs {
			prev.expectEvent("join", "lobby", n)
		}
		cs = append(cs, c)
	}
	const n = 30
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				msg, _ := json.Marshal(map[string]any{"type": "chat", "text": fmt.Sprintf("%s %d", c.name, i)})
				c.wmu.Lock()
				err := c.ws.WriteMessage(websocket.TextMessage, msg)
				c.wmu.Unlock()
				if err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var first []string
	for _, c := range cs {
		next := map[string]int{}
		var ids []string
		for range len(cs) * n {
			e := c.nextType("chat")
			ids = append(ids, e.s("id"))
			var who string
			var i int
			fmt.Sscanf(e.s("text"), "%s %d", &who, &i)
			if i != next[who] || who != e.s("from") {
				t.Fatalf("%s: got %q from %s where %s %d was due", c.name, e.s("text"), e.s("from"), who, next[who])
			}
			next[who]++
		}
		if first == nil {
			first = ids
		} else if !slices.Equal(first, ids) {
			t.Fatalf("%s saw the room in a different order than %s", c.name, cs[0].name)
		}
	}
}

// TestE2EChatRefEcho: the sender's copy carries its ref, nobody else's does.
func TestE2EChatRefEcho(t *testing.T) {
	t.Parallel()
	h := start(t)
	a, _ := h.joinAs(t, "alice", "lobby")
	b, _ := h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")
	a.send(map[string]any{"type": "chat", "text": "with ref", "ref": strings.Repeat("r", 64)})
	checkRef(t, a.nextType("chat"), strings.Repeat("r", 64))
	checkRef(t, b.nextType("chat"), "")
	a.send(map[string]any{"type": "chat", "text": "without ref"})
	checkRef(t, a.nextType("chat"), "")
	checkRef(t, b.nextType("chat"), "")
}

func TestE2ELeaveReasons(t *testing.T) {
	t.Parallel()
	h := start(t)
	tests := []struct {
		name   string
		act    func(t *testing.T, c *client)
		reason string
	}{
		{name: "leave message", reason: "left", act: func(t *testing.T, c *client) {
			c.send(map[string]any{"type": "leave"})
			c.closeErr(func(e env) bool { return e.typ() == "leave" })
		}},
		{name: "clean client close", reason: "left", act: func(t *testing.T, c *client) {
			c.closeClean(1000)
			ce := c.closeErr(nil)
			if ce.Code != 1000 || ce.Text != "bye" {
				t.Errorf("answer to the client's close: %d %q, want 1000 \"bye\"", ce.Code, ce.Text)
			}
		}},
		{name: "client close going away", reason: "left", act: func(t *testing.T, c *client) {
			c.closeClean(1001)
			c.closeErr(nil)
		}},
		{name: "abrupt TCP close", reason: "disconnected", act: func(t *testing.T, c *client) {
			c.shut()
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name, room := fmt.Sprintf("r%d", i), fmt.Sprintf("r%02d", i)
			obs, _ := h.joinAs(t, "obs"+name, room)
			c, _ := h.joinAs(t, name, room)
			obs.expectEvent("join", room, name)
			tc.act(t, c)
			if l := obs.expectEvent("leave", room, name); l.s("reason") != tc.reason {
				t.Fatalf("leave reason %q, want %q", l.s("reason"), tc.reason)
			}
		})
	}
}

// TestE2ENameAndRoomRules walks §2's name and room grammar at its edges.
func TestE2ENameAndRoomRules(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) { c.RatePerSec, c.RateBurst = 1000, 1000 })
	tests := []struct {
		name, room string
		bad        string // the details field, "" = valid
	}{
		{name: "a", room: "lobby"},
		{name: "9lives", room: "9"},
		{name: "A.b-c_9", room: "a_b-c"},
		{name: strings.Repeat("n", 32), room: strings.Repeat("r", 64)},
		{name: strings.Repeat("n", 33), room: "lobby", bad: "name"},
		{name: "-dash", room: "lobby", bad: "name"},
		{name: ".dot", room: "lobby", bad: "name"},
		{name: "_under", room: "lobby", bad: "name"},
		{name: "two words", room: "lobby", bad: "name"},
		{name: "émile", room: "lobby", bad: "name"},
		{name: "", room: "lobby", bad: "name"},
		{name: "roomy1", room: strings.Repeat("r", 65), bad: "room"},
		{name: "roomy2", room: "Upper", bad: "room"},
		{name: "roomy3", room: "-x", bad: "room"},
		{name: "roomy4", room: "a.b", bad: "room"},
		{name: "roomy5", room: "", bad: "room"},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%d %.12s %.12s", i, tc.name, tc.room), func(t *testing.T) {
			c := h.dial(t, dialOpts{})
			c.name = tc.name
			if tc.bad == "" {
				c.join(map[string]any{"name": tc.name, "room": tc.room}, true)
				return
			}
			c.send(map[string]any{"type": "join", "name": tc.name, "room": tc.room, "ref": "j"})
			c.expectError("invalid_message", "j", []string{tc.bad})
		})
	}
}

// TestE2EJoinToken: `token` is a known join field; a server without
// authentication configured accepts it and ignores it.
func TestE2EJoinToken(t *testing.T) {
	t.Parallel()
	h := start(t)
	c := h.dial(t, dialOpts{})
	c.name = "tok"
	c.join(map[string]any{"name": "tok", "token": "secret"}, true)
	c.send(map[string]any{"type": "chat", "text": "hi", "token": "secret", "ref": "x"})
	c.expectError("invalid_message", "x", []string{"token"}) // only join knows it
}
