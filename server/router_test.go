package server

import (
	"testing"
	"time"
)

// joined dials and joins name to lobby, consuming welcome, presence and join.
func (ts *testServer) joined(t *testing.T, name string) *client {
	t.Helper()
	c := ts.dial(t)
	c.send(`{"type":"join","name":"` + name + `"}`)
	c.expect(map[string]any{"type": "welcome", "name": name})
	c.expect(map[string]any{"type": "presence", "room": "lobby"})
	c.expect(map[string]any{"type": "join", "from": name})
	return c
}

// TestRouterErrors walks the state errors of PROTOCOL.md §3a, each with its
// ref echoed.
func TestRouterErrors(t *testing.T) {
	ts := startServer(t, nil)
	fresh := ts.dial(t)
	alice := ts.joined(t, "Alice")
	cases := []struct {
		name string
		c    *client
		send string
		want map[string]any
	}{
		{"chat before join", fresh, `{"type":"chat","text":"hi","ref":"1"}`,
			map[string]any{"type": "error", "code": "not_joined", "ref": "1"}},
		{"leave before join", fresh, `{"type":"leave","ref":"2"}`,
			map[string]any{"type": "error", "code": "not_joined", "ref": "2"}},
		{"name taken, any case", fresh, `{"type":"join","name":"ALICE","ref":"3"}`,
			map[string]any{"type": "error", "code": "name_taken", "ref": "3"}},
		{"chat in a room not joined", alice, `{"type":"chat","room":"dev","text":"hi","ref":"4"}`,
			map[string]any{"type": "error", "code": "not_member", "ref": "4"}},
		{"who of a room not joined", alice, `{"type":"who","room":"dev","ref":"5"}`,
			map[string]any{"type": "error", "code": "not_member", "ref": "5"}},
		{"typing in a room not joined", alice, `{"type":"typing","room":"dev","active":true,"ref":"6"}`,
			map[string]any{"type": "error", "code": "not_member", "ref": "6"}},
		{"leave a room not joined", alice, `{"type":"leave","room":"dev","ref":"7"}`,
			map[string]any{"type": "error", "code": "not_member", "ref": "7"}},
		{"pm to nobody", alice, `{"type":"pm","to":"carol","text":"hi","ref":"8"}`,
			map[string]any{"type": "error", "code": "unknown_user", "ref": "8"}},
		{"typing to nobody", alice, `{"type":"typing","to":"carol","active":true,"ref":"9"}`,
			map[string]any{"type": "error", "code": "unknown_user", "ref": "9"}},
		{"pm to self, any case", alice, `{"type":"pm","to":"alice","text":"hi","ref":"10"}`,
			map[string]any{"type": "error", "code": "invalid_message", "ref": "10",
				"details": []map[string]string{{"field": "to", "problem": "is your own name; you cannot send this to yourself"}}}},
		{"typing to self", alice, `{"type":"typing","to":"ALICE","active":true,"ref":"11"}`,
			map[string]any{"type": "error", "code": "invalid_message", "ref": "11"}},
		{"later join with another name", alice, `{"type":"join","name":"bob","room":"dev","ref":"12"}`,
			map[string]any{"type": "error", "code": "invalid_message", "ref": "12"}},
		{"invalid json", alice, `{"type":`, map[string]any{"type": "error", "code": "invalid_json"}},
		{"unknown type", alice, `{"type":"shout","ref":"13"}`, map[string]any{"type": "error", "code": "unknown_type", "ref": "13"}},
	}
	for _, c := range cases {
		c.c.send(c.send)
		c.c.expect(c.want)
	}
	// The refused name was not claimed: fresh can still join as someone else,
	// and its join timeout was not reset by the errors.
	fresh.send(`{"type":"join","name":"bob"}`)
	fresh.expect(map[string]any{"type": "welcome", "name": "bob"})
	// The refused later join changed nothing: alice is not in dev.
	alice.expect(map[string]any{"type": "join", "from": "bob"})
	alice.send(`{"type":"who","room":"dev"}`)
	alice.expect(map[string]any{"type": "error", "code": "not_member"})
}

// TestRoomsAndPresence: multi-room sessions, who, rejoin without a new join
// event, leave with a room (confirmed to the leaver), names freed on leave.
func TestRoomsAndPresence(t *testing.T) {
	ts := startServer(t, nil)
	alice := ts.joined(t, "alice")
	bob := ts.joined(t, "Bob")
	alice.expect(map[string]any{"type": "join", "from": "Bob"})

	bob.send(`{"type":"join","room":"dev","ref":"d"}`)
	bob.expect(map[string]any{"type": "presence", "room": "dev", "users": []string{"Bob"}, "ref": "d"})
	bob.expect(map[string]any{"type": "join", "room": "dev", "from": "Bob", "ref": "d"})
	alice.send(`{"type":"join","name":"ALICE","room":"dev"}`) // the same name in another case is fine
	// and the spelling given at the first join is the one shown
	alice.expect(map[string]any{"type": "presence", "room": "dev", "users": []string{"alice", "Bob"}})
	alice.expect(map[string]any{"type": "join", "room": "dev", "from": "alice"})
	bob.expect(map[string]any{"type": "join", "room": "dev", "from": "alice"})

	// Rejoining a room: presence again, no join event for anyone.
	bob.send(`{"type":"join","room":"dev","ref":"again"}`)
	bob.expect(map[string]any{"type": "presence", "room": "dev", "users": []string{"alice", "Bob"}, "ref": "again"})
	bob.send(`{"type":"who","room":"lobby","ref":"w"}`)
	bob.expect(map[string]any{"type": "presence", "room": "lobby", "users": []string{"alice", "Bob"}, "ref": "w"})

	// A chat to dev reaches dev's members only.
	alice.send(`{"type":"chat","room":"dev","text":"in dev"}`)
	alice.expect(map[string]any{"type": "chat", "room": "dev", "text": "in dev"})
	bob.expect(map[string]any{"type": "chat", "room": "dev", "text": "in dev"})

	bob.send(`{"type":"leave","room":"dev","ref":"bye-dev"}`)
	bob.expect(map[string]any{"type": "leave", "room": "dev", "from": "Bob", "reason": "left", "ref": "bye-dev"})
	alice.expect(map[string]any{"type": "leave", "room": "dev", "from": "Bob", "reason": "left"})

	// Bob ends the session: alice sees him leave lobby, and once bob has
	// his 1000 bye the name is free (the leave events go out first, so a
	// room never sees the name's next holder join before this one leaves).
	bob.send(`{"type":"leave"}`)
	alice.expect(map[string]any{"type": "leave", "room": "lobby", "from": "Bob", "reason": "left"})
	if code, reason := bob.closed(); code != 1000 || reason != "bye" {
		t.Fatalf("bob's session closed with %d %q, want 1000 bye", code, reason)
	}
	ts.joined(t, "bob")
	alice.expect(map[string]any{"type": "join", "room": "lobby", "from": "bob"})
}

// TestPrivateMessages: the recipient gets the pm, the sender a confirmation
// with the same id and its ref; names resolve ignoring case.
func TestPrivateMessages(t *testing.T) {
	ts := startServer(t, nil)
	alice := ts.joined(t, "alice")
	bob := ts.joined(t, "Bob")
	alice.expect(map[string]any{"type": "join", "from": "Bob"})
	alice.send(`{"type":"pm","to":"bob","text":"psst","ref":"p1"}`)
	mine := alice.expect(map[string]any{"type": "pm", "from": "alice", "to": "Bob", "text": "psst", "ref": "p1"})
	theirs := bob.expect(map[string]any{"type": "pm", "from": "alice", "to": "Bob", "text": "psst", "id": mine["id"]})
	if _, has := theirs["ref"]; has {
		t.Errorf("recipient saw the sender's ref: %v", theirs)
	}
}

// TestHistoryReplay: a joiner gets the last messages as replay between its
// presence and its join; since gets what was missed.
func TestHistoryReplay(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ReplayCount = 2 })
	alice := ts.joined(t, "alice")
	var ids []string
	for _, text := range []string{"one", "two", "three"} {
		alice.send(`{"type":"chat","text":"` + text + `"}`)
		ids = append(ids, alice.expect(map[string]any{"type": "chat", "text": text})["id"].(string))
	}
	bob := ts.dial(t)
	bob.send(`{"type":"join","name":"bob"}`)
	bob.expect(map[string]any{"type": "welcome"})
	bob.expect(map[string]any{"type": "presence"})
	bob.expect(map[string]any{"type": "chat", "text": "two", "replay": true, "id": ids[1]})
	bob.expect(map[string]any{"type": "chat", "text": "three", "replay": true, "id": ids[2]})
	bob.expect(map[string]any{"type": "join", "from": "bob"})

	carol := ts.dial(t)
	carol.send(`{"type":"join","name":"carol","since":"` + ids[0] + `"}`)
	carol.expect(map[string]any{"type": "welcome"})
	carol.expect(map[string]any{"type": "presence"})
	carol.expect(map[string]any{"type": "chat", "text": "two", "replay": true})
	carol.expect(map[string]any{"type": "chat", "text": "three", "replay": true})
	carol.expect(map[string]any{"type": "join", "from": "carol"})
	// Rejoin with since: the replay again, no join event.
	carol.send(`{"type":"join","since":"` + ids[1] + `"}`)
	carol.expect(map[string]any{"type": "presence"})
	carol.expect(map[string]any{"type": "chat", "text": "three", "replay": true})
	carol.send(`{"type":"who"}`)
	carol.expect(map[string]any{"type": "presence"})
}

// TestTypingRelay drives typing with a fake clock: relay to the others (not
// the sender, without ref), expiry sends active:false, a chat ends it.
func TestTypingRelay(t *testing.T) {
	clock := NewFakeClock()
	ts := startServer(t, func(c *Config) { c.Clock = clock })
	alice := ts.joined(t, "alice")
	bob := ts.joined(t, "bob")
	alice.expect(map[string]any{"type": "join", "from": "bob"})

	alice.send(`{"type":"typing","active":true,"ref":"t"}`)
	ev := bob.expect(map[string]any{"type": "typing", "from": "alice", "room": "lobby", "active": true})
	if _, has := ev["ref"]; has {
		t.Errorf("relayed typing carries a ref: %v", ev)
	}
	// The expiry fires on the fake clock; bob is told it stopped.
	waitTimers(t, clock, 1)
	clock.Advance(6 * time.Second)
	bob.expect(map[string]any{"type": "typing", "from": "alice", "active": false})

	clock.Advance(2 * time.Second) // past the relay throttle
	alice.send(`{"type":"typing","to":"bob","active":true}`)
	bob.expect(map[string]any{"type": "typing", "from": "alice", "to": "bob", "active": true})
	alice.send(`{"type":"pm","to":"bob","text":"done typing"}`)
	bob.expect(map[string]any{"type": "typing", "from": "alice", "to": "bob", "active": false})
	bob.expect(map[string]any{"type": "pm", "text": "done typing"})
	alice.expect(map[string]any{"type": "pm", "text": "done typing"})

	alice.send(`{"type":"typing","active":true}`)
	bob.expect(map[string]any{"type": "typing", "room": "lobby", "active": true})
	alice.send(`{"type":"leave"}`) // disconnecting ends it too, before the leave
	bob.expect(map[string]any{"type": "typing", "room": "lobby", "active": false})
	bob.expect(map[string]any{"type": "leave", "from": "alice"})
}

// waitTimers waits until the server has armed at least n fake timers beyond
// the broker's sweep (the typing message is handled asynchronously).
func waitTimers(t *testing.T, c *FakeClock, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Pending() < n+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d timers pending, want %d", c.Pending(), n+1)
		}
		time.Sleep(time.Millisecond)
	}
}
