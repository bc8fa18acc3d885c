package server_test

// PROTOCOL.md §3a's check order, one row per rule, and the rate limit that comes
// before all of them, and flooding.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/chatd/chatd/server"
)

func TestE2EErrorCheckOrder(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) { c.RatePerSec, c.RateBurst = 1000, 1000 })
	a, _ := h.joinAs(t, "alice", "lobby")
	h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")

	long := strings.Repeat("x", 4001)
	tests := []struct {
		name   string
		msg    string
		code   string
		ref    string   // "" = must carry none; "?" = not checked
		fields []string // exact details[].field set; nil = not checked
	}{
		// invalid_json: not a JSON object.
		{name: "malformed", msg: `{"type":"chat",`, code: "invalid_json"},
		{name: "not json at all", msg: `hello`, code: "invalid_json"},
		{name: "array", msg: `[{"type":"who"}]`, code: "invalid_json"},
		{name: "string", msg: `"who"`, code: "invalid_json"},
		{name: "number", msg: `42`, code: "invalid_json"},
		{name: "null", msg: `null`, code: "invalid_json"},
		{name: "trailing garbage", msg: `{"type":"who"} x`, code: "invalid_json"},
		{name: "two objects", msg: `{"type":"who"}{"type":"who"}`, code: "invalid_json"},
		{name: "duplicate key", msg: `{"type":"who","type":"chat"}`, code: "invalid_json", ref: "?"},
		{name: "duplicate ref", msg: `{"type":"who","ref":"a","ref":"b"}`, code: "invalid_json", ref: "?"},
		{name: "duplicate key in depth", msg: `{"type":"chat","text":"hi","x":{"a":1,"a":2},"ref":"d"}`, code: "invalid_json", ref: "?"},
		// invalid_message: missing or non-string type.
		{name: "missing type", msg: `{"text":"hi","ref":"r1"}`, code: "invalid_message", ref: "r1"},
		{name: "numeric type", msg: `{"type":7,"ref":"r2"}`, code: "invalid_message", ref: "r2"},
		{name: "null type", msg: `{"type":null,"ref":"r3"}`, code: "invalid_message", ref: "r3"},
		// unknown_type, before any field rule.
		{name: "unknown type", msg: `{"type":"shout","ref":"r4"}`, code: "unknown_type", ref: "r4"},
		{name: "unknown type with bad fields", msg: `{"type":"shout","room":"NOT VALID","ref":"r5"}`, code: "unknown_type", ref: "r5"},
		{name: "type is case-sensitive", msg: `{"type":"Chat","text":"hi","ref":"r6"}`, code: "unknown_type", ref: "r6"},
		// field rules, one details entry per bad field.
		{name: "chat without text", msg: `{"type":"chat","ref":"f1"}`, code: "invalid_message", ref: "f1", fields: []string{"text"}},
		{name: "chat empty text", msg: `{"type":"chat","text":"","ref":"f2"}`, code: "invalid_message", ref: "f2", fields: []string{"text"}},
		{name: "chat only white space", msg: `{"type":"chat","text":" \t\n\r","ref":"f3"}`, code: "invalid_message", ref: "f3", fields: []string{"text"}},
		{name: "chat only unicode white space", msg: `{"type":"chat","text":"\u00a0\u2003\u3000\u0085","ref":"f4"}`, code: "invalid_message", ref: "f4", fields: []string{"text"}},
		{name: "chat text too long", msg: `{"type":"chat","text":"` + long + `","ref":"f5"}`, code: "invalid_message", ref: "f5", fields: []string{"text"}},
		{name: "chat text not a string", msg: `{"type":"chat","text":5,"ref":"f6"}`, code: "invalid_message", ref: "f6", fields: []string{"text"}},
		{name: "chat upper-case room", msg: `{"type":"chat","text":"hi","room":"Lobby","ref":"f7"}`, code: "invalid_message", ref: "f7", fields: []string{"room"}},
		{name: "chat room too long", msg: `{"type":"chat","text":"hi","room":"` + strings.Repeat("r", 65) + `","ref":"f8"}`, code: "invalid_message", ref: "f8", fields: []string{"room"}},
		{name: "two bad fields", msg: `{"type":"chat","text":"","room":"-x","ref":"f9"}`, code: "invalid_message", ref: "f9", fields: []string{"room", "text"}},
		{name: "from is rejected", msg: `{"type":"chat","text":"hi","from":"bob","ref":"f10"}`, code: "invalid_message", ref: "f10", fields: []string{"from"}},
		{name: "ts is rejected", msg: `{"type":"chat","text":"hi","ts":"2026-11-24T18:04:05.123Z","ref":"f11"}`, code: "invalid_message", ref: "f11", fields: []string{"ts"}},
		{name: "id is rejected", msg: `{"type":"chat","text":"hi","id":"01JDQX9R5V8Q2M3N4P5R6S7T8V","ref":"f12"}`, code: "invalid_message", ref: "f12", fields: []string{"id"}},
		{name: "typo field", msg: `{"type":"chat","txt":"hi","ref":"f13"}`, code: "invalid_message", ref: "f13", fields: []string{"text", "txt"}},
		{name: "pm bad name", msg: `{"type":"pm","to":"bob smith","text":"x","ref":"f14"}`, code: "invalid_message", ref: "f14", fields: []string{"to"}},
		{name: "pm name too long", msg: `{"type":"pm","to":"` + strings.Repeat("b", 33) + `","text":"x","ref":"f15"}`, code: "invalid_message", ref: "f15", fields: []string{"to"}},
		{name: "typing active not boolean", msg: `{"type":"typing","active":"yes","ref":"f16"}`, code: "invalid_message", ref: "f16", fields: []string{"active"}},
		{name: "typing without active", msg: `{"type":"typing","room":"lobby","ref":"f17"}`, code: "invalid_message", ref: "f17", fields: []string{"active"}},
		{name: "typing room and to", msg: `{"type":"typing","active":true,"room":"lobby","to":"bob","ref":"f18"}`, code: "invalid_message", ref: "f18"},
		{name: "typing with text", msg: `{"type":"typing","active":true,"text":"x","ref":"f19"}`, code: "invalid_message", ref: "f19", fields: []string{"text"}},
		{name: "join since not a ULID", msg: `{"type":"join","room":"dev","since":"yesterday","ref":"f20"}`, code: "invalid_message", ref: "f20", fields: []string{"since"}},
		{name: "join bad room", msg: `{"type":"join","room":"dev room","ref":"f21"}`, code: "invalid_message", ref: "f21", fields: []string{"room"}},
		{name: "who bad room", msg: `{"type":"who","room":"#dev","ref":"f22"}`, code: "invalid_message", ref: "f22", fields: []string{"room"}},
		{name: "leave bad room", msg: `{"type":"leave","room":"_dev","ref":"f23"}`, code: "invalid_message", ref: "f23", fields: []string{"room"}},
		{name: "ref too long", msg: `{"type":"who","ref":"` + strings.Repeat("r", 65) + `"}`, code: "invalid_message", ref: "?", fields: []string{"ref"}},
		{name: "ref empty", msg: `{"type":"who","ref":""}`, code: "invalid_message", ref: "?", fields: []string{"ref"}},
		{name: "ref not a string", msg: `{"type":"who","ref":5}`, code: "invalid_message", ref: "?", fields: []string{"ref"}},
		// state, after the field rules.
		{name: "pm unknown user", msg: `{"type":"pm","to":"nobody","text":"x","ref":"s1"}`, code: "unknown_user", ref: "s1"},
		{name: "chat not member", msg: `{"type":"chat","room":"dev","text":"x","ref":"s2"}`, code: "not_member", ref: "s2"},
		{name: "typing to unknown user", msg: `{"type":"typing","active":true,"to":"nobody","ref":"s3"}`, code: "unknown_user", ref: "s3"},
		{name: "first join again is name check", msg: `{"type":"join","name":"bob","ref":"s4"}`, code: "invalid_message", ref: "s4", fields: []string{"name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.sendText(tc.msg)
			e := a.nextType("error")
			ref := tc.ref
			if ref == "?" {
				ref = e.s("ref")
			}
			checkError(t, e, tc.code, ref, tc.fields)
			if tc.fields != nil && tc.code == "invalid_message" && !e.has("details") {
				t.Fatalf("field-rule error without details: %s", e)
			}
		})
	}
	// Still open and served; and a text of exactly 4000 code points is fine.
	t.Run("4000 code points", func(t *testing.T) {
		a.chat("lobby", strings.Repeat("é", 4000))
	})
}

// TestE2ERateLimit: over the limit, every message, valid or not, gets rate_limited
// alone (with its ref when readable) and is dropped.
func TestE2ERateLimit(t *testing.T) {
	t.Parallel()
	// A rate this low never refills during the test, so the count is exact.
	h := start(t, func(c *server.Config) { c.RatePerSec, c.RateBurst, c.FloodLimit = 0.001, 4, 1000 })
	b, _ := h.joinAs(t, "bob", "lobby")
	a, _ := h.joinAs(t, "alice", "lobby") // 1 of 4
	b.expectEvent("join", "lobby", "alice")
	a.who("lobby")                         // 2
	a.sendText("garbage")                  // 3: invalid messages count too
	a.expectError("invalid_json", "", nil) //
	a.chat("lobby", "last one allowed")    // 4
	b.expectChat("lobby", "alice", "last one allowed")

	over := []struct{ msg, ref string }{
		{msg: `{"type":"chat","text":"dropped","ref":"o1"}`, ref: "o1"},
		{msg: `{"type":"nope","ref":"o2"}`, ref: "o2"},                     // not unknown_type
		{msg: `garbage`, ref: ""},                                          // not invalid_json
		{msg: `{"type":"chat","ref":"o3"}`, ref: "o3"},                     // not invalid_message
		{msg: `{"type":"pm","to":"zed","text":"x","ref":"o4"}`, ref: "o4"}, // not unknown_user
		{msg: `{"type":"leave","ref":"o5"}`, ref: "o5"},                    // dropped: no bye
	}
	for _, o := range over {
		a.sendText(o.msg)
	}
	for _, o := range over {
		a.expectError("rate_limited", o.ref, nil)
	}
	// Dropped: bob never gets "dropped"; alice is still connected and in the room.
	b.chat("lobby", "marker")
	a.expectChat("lobby", "bob", "marker") // nothing else between the errors and this
}

// TestE2EFlood: more than FloodLimit refusals within FloodWindow close with 1008
// rate_limited; the others keep being served.
func TestE2EFlood(t *testing.T) {
	t.Parallel()
	const floodLimit = 5
	h := start(t, func(c *server.Config) {
		c.RatePerSec, c.RateBurst, c.FloodLimit = 0.001, 2, floodLimit
	})
	b, _ := h.joinAs(t, "bob", "lobby")
	a, _ := h.joinAs(t, "alice", "lobby") // 1 of 2
	b.expectEvent("join", "lobby", "alice")
	a.chat("lobby", "ok") // 2 of 2
	b.expectChat("lobby", "alice", "ok")
	for i := range 3 * floodLimit {
		msg := fmt.Sprintf(`{"type":"chat","text":"flood","ref":"f%d"}`, i)
		a.wmu.Lock()
		_ = a.ws.WriteMessage(websocket.TextMessage, []byte(msg)) // may hit the closed socket at the end
		a.wmu.Unlock()
	}
	refused := 0
	ce := a.closeErr(func(e env) bool {
		if e.typ() != "error" || e.s("code") != "rate_limited" || e.s("ref") != fmt.Sprintf("f%d", refused) {
			t.Errorf("before the flood close: %s", e)
		}
		refused++
		return true
	})
	if ce.Code != 1008 || ce.Text != "rate_limited" {
		t.Fatalf("close %d %q, want 1008 rate_limited", ce.Code, ce.Text)
	}
	// The errors still queued when the flood close comes may be dropped with the
	// connection (§3: delivered, or the connection is closed), so only the upper
	// bound is exact.
	if refused > floodLimit+1 {
		t.Fatalf("%d rate_limited errors before the close, want at most %d", refused, floodLimit+1)
	}
	t.Logf("%d of the refusals arrived before the 1008 close", refused)
	if l := b.expectEvent("leave", "lobby", "alice"); l.s("reason") != "disconnected" {
		t.Fatalf("leave reason %q, want disconnected", l.s("reason"))
	}
	b.chat("lobby", "still here")
}
