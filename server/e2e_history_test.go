package server_test

// PROTOCOL.md §3 replay and §3a "History": last N, since, since unknown or too old,
// since not a ULID, retention.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/chatd/chatd/server"
)

func replayTexts(t *testing.T, replay []env) []string {
	t.Helper()
	var out []string
	for _, e := range replay {
		if !e.b("replay") || e.s("room") != "lobby" || e.s("from") != "alice" {
			t.Fatalf("replayed %s", e)
		}
		out = append(out, e.s("text"))
	}
	return out
}

func texts(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("m%d", i))
	}
	return out
}

func TestE2EHistory(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) {
		c.ReplayCount, c.HistorySize = 5, 8
		c.RatePerSec, c.RateBurst = 1000, 1000
	})
	a, _ := h.joinAs(t, "alice", "lobby")
	var ids []string
	for i := range 10 {
		ids = append(ids, a.chat("lobby", fmt.Sprintf("m%d", i)).s("id"))
	}
	// pms and other rooms are not lobby's history.
	a.join(map[string]any{"room": "dev"}, false)
	a.chat("dev", "elsewhere")
	// alice goes: the rooms are empty, their history stays (HistoryTTL), and each
	// case below is alone in the room.
	a.send(map[string]any{"type": "leave"})
	a.closeErr(func(e env) bool { return e.typ() == "leave" })

	// An unknown id that sorts between the kept ones: still "everything kept".
	mid, err := ulid.ParseStrict(ids[5])
	if err != nil {
		t.Fatal(err)
	}
	unknown := ulid.MustNew(mid.Time(), ulid.DefaultEntropy()).String()
	for slices.Contains(ids, unknown) {
		unknown = ulid.MustNew(mid.Time(), ulid.DefaultEntropy()).String()
	}

	tests := []struct {
		name  string
		since string
		want  []string
	}{
		{name: "last ReplayCount without since", want: texts(5, 9)},
		{name: "since a kept id: everything after it, beyond ReplayCount", since: ids[2], want: texts(3, 9)},
		{name: "since the newest: nothing", since: ids[9], want: nil},
		{name: "since older than kept: everything kept", since: ids[0], want: texts(2, 9)},
		{name: "since unknown: everything kept", since: unknown, want: texts(2, 9)},
		{name: "since far in the past: everything kept", since: "00000000000000000000000000", want: texts(2, 9)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial(t, dialOpts{})
			c.name = fmt.Sprintf("reader%d", i)
			fields := map[string]any{"name": c.name}
			if tc.since != "" {
				fields["since"] = tc.since
			}
			j := c.join(fields, true)
			if got := replayTexts(t, j.replay); !slices.Equal(got, tc.want) {
				t.Fatalf("replay %v, want %v", got, tc.want)
			}
			for k, e := range j.replay {
				if want := ids[slices.Index(texts(0, 9), e.s("text"))]; e.s("id") != want {
					t.Fatalf("replay %d has id %s, the original had %s", k, e.s("id"), want)
				}
			}
			if len(j.replay) > 0 && j.join.s("id") <= j.replay[len(j.replay)-1].s("id") {
				t.Fatalf("join event %s not after the replay", j.join.s("id"))
			}
			c.send(map[string]any{"type": "leave"})
			c.expectClose(1000, "bye")
		})
	}

	t.Run("since not a ULID", func(t *testing.T) {
		for _, bad := range []string{"yesterday", "01JDQX9R5V8Q2M3N4P5R6S7T8", "01JDQX9R5V8Q2M3N4P5R6S7T8U!", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"} {
			c := h.dial(t, dialOpts{})
			c.send(map[string]any{"type": "join", "name": "bad", "since": bad, "ref": "s"})
			c.expectError("invalid_message", "s", []string{"since"})
			c.send(map[string]any{"type": "who", "ref": "w"})
			c.expectError("not_joined", "w", nil) // the failed join changed nothing
		}
	})
	t.Run("kept per room", func(t *testing.T) {
		c := h.dial(t, dialOpts{})
		c.name = "devreader"
		j := c.join(map[string]any{"name": c.name, "room": "dev"}, true)
		if len(j.replay) != 1 || j.replay[0].s("text") != "elsewhere" {
			t.Fatalf("dev replay %v", j.replay)
		}
	})
}

// TestE2EHistoryRetention: an empty room's history goes once HistoryTTL has passed
// (a periodic sweep on the server's clock), and stays while it has not.
func TestE2EHistoryRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		advance time.Duration
		kept    bool
	}{
		{name: "within TTL", advance: 30 * time.Minute, kept: true},
		{name: "after TTL", advance: 3 * time.Hour, kept: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			h := start(t, func(c *server.Config) {
				c.Clock = clk
				c.HistoryTTL = time.Hour
				c.JoinTimeout, c.PingInterval, c.IdleTimeout = 24*time.Hour, 24*time.Hour, 48*time.Hour
			})
			a, _ := h.joinAs(t, "alice", "tmp")
			a.chat("tmp", "remember me")
			a.send(map[string]any{"type": "leave"})
			a.closeErr(func(e env) bool { return e.typ() == "leave" })
			clk.Advance(tc.advance)
			_, j := h.joinAs(t, "bob", "tmp")
			if got := len(j.replay) == 1; got != tc.kept {
				t.Fatalf("after %v: replay %v, want kept=%v", tc.advance, j.replay, tc.kept)
			}
		})
	}
}

// TestE2EReconnectSince: a client that reconnects and joins with since set to the
// last id it saw receives exactly what it missed (§3 "No silent loss").
func TestE2EReconnectSince(t *testing.T) {
	t.Parallel()
	h := start(t)
	a, _ := h.joinAs(t, "alice", "lobby")
	b, _ := h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")
	last := b.expectChat("lobby", "alice", a.chat("lobby", "seen").s("text")).s("id")
	b.shut() // network loss
	a.expectEvent("leave", "lobby", "bob")
	var missed []string
	for i := range 3 {
		missed = append(missed, a.chat("lobby", fmt.Sprintf("missed %d", i)).s("id"))
	}
	_, j := h.joinFreedWith(t, map[string]any{"name": "bob", "room": "lobby", "since": last})
	var got []string
	for _, e := range j.replay {
		got = append(got, e.s("id"))
	}
	if !slices.Equal(got, missed) {
		t.Fatalf("replay after reconnect %v, want exactly the missed %v", got, missed)
	}
}

// TestE2EHistoryDefaults: with the default configuration a join replays the last
// 50 messages, and at least the last 500 are kept for a since.
func TestE2EHistoryDefaults(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) { c.RatePerSec, c.RateBurst = 1e5, 1e5 })
	a, _ := h.joinAs(t, "alice", "lobby")
	const n = 510
	for i := range n {
		a.send(map[string]any{"type": "chat", "text": fmt.Sprintf("m%d", i)})
	}
	for range n {
		a.nextType("chat")
	}
	_, j := h.joinAs(t, "bob", "lobby")
	if got := replayTexts(t, j.replay); !slices.Equal(got, texts(n-50, n-1)) {
		t.Fatalf("default replay: %d messages from %v, want the last 50", len(got), got[:min(1, len(got))])
	}
	c := h.dial(t, dialOpts{})
	c.name = "carol"
	j = c.join(map[string]any{"name": "carol", "since": "00000000000000000000000000"}, true)
	got := replayTexts(t, j.replay)
	if len(got) < 500 || got[len(got)-1] != fmt.Sprintf("m%d", n-1) || !slices.Equal(got[len(got)-500:], texts(n-500, n-1)) {
		t.Fatalf("replay of everything kept: %d messages, want at least the last 500 in order", len(got))
	}
}
