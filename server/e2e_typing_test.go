package server_test

// PROTOCOL.md §3 "Typing" and §3a's typing rules, driven by a fake server.Clock so
// the 6 s expiry and the 2 s throttle take no wall time.

import (
	"testing"
	"time"

	"github.com/chatd/chatd/server"
)

// typingRig: alice types; bob shares lobby and dev with her; carol only lobby. dev
// carries the markers that prove "nothing arrived before this".
type typingRig struct {
	t       *testing.T
	clk     *fakeClock
	h       *harness
	a, b, c *client
	markers int
}

func newTypingRig(t *testing.T) *typingRig {
	t.Helper()
	clk := newFakeClock()
	h := start(t, func(c *server.Config) {
		c.Clock = clk
		c.JoinTimeout, c.PingInterval, c.IdleTimeout = time.Hour, time.Hour, 2*time.Hour
		c.RatePerSec, c.RateBurst = 1000, 1000
		c.TypingExpiry, c.TypingThrottle = 6*time.Second, 2*time.Second
	})
	r := &typingRig{t: t, clk: clk, h: h}
	r.a, _ = h.joinAs(t, "alice", "lobby")
	r.a.join(map[string]any{"room": "dev"}, false)
	r.b, _ = h.joinAs(t, "bob", "lobby")
	r.a.expectEvent("join", "lobby", "bob")
	r.b.join(map[string]any{"room": "dev"}, false)
	r.a.expectEvent("join", "dev", "bob")
	r.c, _ = h.joinAs(t, "carol", "lobby")
	r.a.expectEvent("join", "lobby", "carol")
	r.b.expectEvent("join", "lobby", "carol")
	return r
}

// typing sends a typing message from alice and waits until the server has handled
// it (a who round trip on her connection), so its timers are armed.
func (r *typingRig) typing(fields map[string]any) {
	r.t.Helper()
	msg := map[string]any{"type": "typing"}
	for k, v := range fields {
		msg[k] = v
	}
	r.a.send(msg)
	r.a.who("lobby") // also proves alice herself got no typing event
}

// marker proves bob received nothing from alice since the last step: alice chats in
// dev and bob's next envelope must be exactly that chat.
func (r *typingRig) marker() {
	r.t.Helper()
	r.markers++
	text := "marker " + string(rune('a'+r.markers%26))
	r.a.chat("dev", text)
	r.b.expectChat("dev", "alice", text)
}

// markerAllowing is marker, letting through envelopes that allow accepts before it.
func (r *typingRig) markerAllowing(allow func(env) bool) {
	r.t.Helper()
	r.markers++
	text := "marker " + string(rune('a'+r.markers%26))
	r.a.chat("dev", text)
	for {
		e := r.b.next()
		if e.typ() == "chat" && e.s("room") == "dev" && e.s("text") == text {
			return
		}
		if !allow(e) {
			r.t.Fatalf("bob: before marker %q: unexpected %s", text, e)
		}
	}
}

// expectTyping requires c's next envelope to be alice's typing with the given state
// for target (key "room" or "to"), never with a ref.
func expectTyping(t *testing.T, c *client, active bool, key, target string) env {
	t.Helper()
	e := c.nextType("typing")
	if e.s("from") != "alice" || e.b("active") != active || e.s(key) != target {
		t.Fatalf("%s: want typing from alice active=%v %s=%s, got %s", c.name, active, key, target, e)
	}
	checkRef(t, e, "")
	return e
}

// expectSet reads len(want) envelopes from c and requires them to be exactly want,
// in any order; each want entry is matched by type plus the given fields.
func expectSet(t *testing.T, c *client, want []map[string]any) {
	t.Helper()
	left := append([]map[string]any(nil), want...)
	for range want {
		e := c.next()
		found := -1
		for i, w := range left {
			ok := true
			for k, v := range w {
				ok = ok && e.m[k] == v
			}
			if ok {
				found = i
				break
			}
		}
		if found < 0 {
			t.Fatalf("%s: unexpected %s; still waiting for %v", c.name, e, left)
		}
		left = append(left[:found], left[found+1:]...)
	}
}

func TestE2ETyping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, r *typingRig)
	}{
		{name: "relayed to the room's others, without ref", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": true, "ref": "t1"})
			e := expectTyping(t, r.b, true, "room", "lobby")
			if e.s("ts") != r.clk.ts() {
				t.Errorf("typing ts %s, want the server clock's %s", e.s("ts"), r.clk.ts())
			}
			expectTyping(t, r.c, true, "room", "lobby")
			r.marker()
		}},
		{name: "relayed to the one recipient", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": true, "to": "BOB"})
			expectTyping(t, r.b, true, "to", "bob") // the spelling given at join
			r.a.chat("lobby", "visible to carol")
			r.c.expectChat("lobby", "alice", "visible to carol") // carol got no typing
			r.b.expectChat("lobby", "alice", "visible to carol")
		}},
		{name: "expires after 6 s with active false from the server", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": true})
			expectTyping(t, r.b, true, "room", "lobby")
			expectTyping(t, r.c, true, "room", "lobby")
			r.clk.Advance(5900 * time.Millisecond)
			r.marker() // not yet
			r.clk.Advance(200 * time.Millisecond)
			e := expectTyping(t, r.b, false, "room", "lobby")
			if want := fakeEpoch.Add(6 * time.Second).Format("2006-01-02T15:04:05.000Z"); e.s("ts") != want {
				t.Errorf("expiry ts %s, want %s (6 s after the last refresh, on the server clock)", e.s("ts"), want)
			}
			expectTyping(t, r.c, false, "room", "lobby")
			r.clk.Advance(time.Minute)
			r.marker() // once only
		}},
		{name: "refresh inside the throttle window is not relayed but extends the expiry", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": true})
			expectTyping(t, r.b, true, "room", "lobby")
			r.clk.Advance(time.Second)
			r.typing(map[string]any{"active": true}) // t0+1s: throttled
			r.marker()
			r.clk.Advance(5500 * time.Millisecond) // t0+6.5s: past the first expiry, not the extended one
			r.marker()
			r.clk.Advance(time.Second) // t0+7.5s
			expectTyping(t, r.b, false, "room", "lobby")
			r.typing(map[string]any{"active": true}) // a new indicator, last relay 7.5 s ago
			expectTyping(t, r.b, true, "room", "lobby")
		}},
		{name: "refreshing every 3 s keeps it alive", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": true})
			expectTyping(t, r.b, true, "room", "lobby")
			for range 4 {
				r.clk.Advance(3 * time.Second)
				r.typing(map[string]any{"active": true})
				// A refresh may be relayed again (at most once per 2 s), never a false.
				r.markerAllowing(func(e env) bool { return e.typ() == "typing" && e.b("active") && e.s("room") == "lobby" })
			}
			r.clk.Advance(6 * time.Second) // refreshes stop: it expires
			expectTyping(t, r.b, false, "room", "lobby")
		}},
		{name: "explicit false is relayed and ends the indicator", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": true})
			expectTyping(t, r.b, true, "room", "lobby")
			r.typing(map[string]any{"active": false})
			expectTyping(t, r.b, false, "room", "lobby")
			r.clk.Advance(10 * time.Second)
			r.marker() // no second false from the expiry
		}},
		{name: "false without an active indicator is not relayed", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": false})
			r.typing(map[string]any{"active": false, "to": "bob"})
			r.marker()
		}},
		{name: "room and user targets are independent", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": true})
			r.typing(map[string]any{"active": true, "to": "bob"})
			expectSet(t, r.b, []map[string]any{
				{"type": "typing", "active": true, "room": "lobby"},
				{"type": "typing", "active": true, "to": "bob"},
			})
			r.marker()
		}},
		{name: "chat to the room ends it", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": true})
			expectTyping(t, r.b, true, "room", "lobby")
			r.a.chat("lobby", "done typing")
			expectSet(t, r.b, []map[string]any{
				{"type": "typing", "active": false, "room": "lobby", "from": "alice"},
				{"type": "chat", "text": "done typing"},
			})
			r.clk.Advance(10 * time.Second)
			r.marker()
		}},
		{name: "pm to the user ends only that indicator", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": true, "to": "bob"})
			r.typing(map[string]any{"active": true})
			expectSet(t, r.b, []map[string]any{
				{"type": "typing", "active": true, "room": "lobby"},
				{"type": "typing", "active": true, "to": "bob"},
			})
			r.a.send(map[string]any{"type": "pm", "to": "bob", "text": "sent"})
			r.a.nextType("pm")
			expectSet(t, r.b, []map[string]any{
				{"type": "typing", "active": false, "to": "bob", "from": "alice"},
				{"type": "pm", "text": "sent"},
			})
			r.marker()
			r.clk.Advance(6 * time.Second) // the room indicator still expires by itself
			expectTyping(t, r.b, false, "room", "lobby")
		}},
		{name: "leaving the room ends it", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": true})
			expectTyping(t, r.b, true, "room", "lobby")
			expectTyping(t, r.c, true, "room", "lobby")
			r.a.send(map[string]any{"type": "leave", "room": "lobby", "ref": "l"})
			r.a.nextType("leave")
			for _, c := range []*client{r.b, r.c} {
				expectSet(t, c, []map[string]any{
					{"type": "typing", "active": false, "room": "lobby", "from": "alice"},
					{"type": "leave", "room": "lobby", "from": "alice", "reason": "left"},
				})
			}
			r.clk.Advance(10 * time.Second)
			r.marker()
		}},
		{name: "disconnecting ends every indicator", run: func(t *testing.T, r *typingRig) {
			r.typing(map[string]any{"active": true})
			r.typing(map[string]any{"active": true, "to": "bob"})
			r.typing(map[string]any{"active": true, "room": "dev"})
			expectSet(t, r.b, []map[string]any{
				{"type": "typing", "active": true, "room": "lobby"},
				{"type": "typing", "active": true, "to": "bob"},
				{"type": "typing", "active": true, "room": "dev"},
			})
			r.a.shut()
			expectSet(t, r.b, []map[string]any{
				{"type": "typing", "active": false, "room": "lobby", "from": "alice"},
				{"type": "typing", "active": false, "room": "dev", "from": "alice"},
				{"type": "typing", "active": false, "to": "bob", "from": "alice"},
				{"type": "leave", "room": "lobby", "from": "alice", "reason": "disconnected"},
				{"type": "leave", "room": "dev", "from": "alice", "reason": "disconnected"},
			})
			r.clk.Advance(10 * time.Second)
			r.b.chat("lobby", "nothing after") // no late expiry for a gone sender
		}},
		{name: "errors", run: func(t *testing.T, r *typingRig) {
			for _, tc := range []struct {
				msg    map[string]any
				code   string
				fields []string
			}{
				{msg: map[string]any{"active": true, "to": "alice"}, code: "invalid_message", fields: []string{"to"}},
				{msg: map[string]any{"active": true, "to": "Alice"}, code: "invalid_message", fields: []string{"to"}},
				{msg: map[string]any{"active": true, "to": "zed"}, code: "unknown_user"},
				{msg: map[string]any{"active": true, "room": "ops"}, code: "not_member"},
				{msg: map[string]any{"active": true, "room": "lobby", "to": "bob"}, code: "invalid_message"},
			} {
				msg := map[string]any{"type": "typing", "ref": "e"}
				for k, v := range tc.msg {
					msg[k] = v
				}
				r.a.send(msg)
				r.a.expectError(tc.code, "e", tc.fields)
			}
			r.marker()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newTypingRig(t))
		})
	}
}
