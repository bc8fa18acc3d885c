package term

import (
	"bytes"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/client"
)

func bareModel(now *time.Time) model {
	return model{f: NewFormatter(&bytes.Buffer{}, false), typing: map[string]typist{}, current: "lobby",
		now: func() time.Time { return *now }}
}

func TestStatusLine(t *testing.T) {
	typing := func(from, room, to string, active bool) client.Event {
		return client.Event{Value: &api.TypingEvent{From: from, Room: room, To: to, Active: active}}
	}
	tests := []struct {
		name string
		evs  []client.Event
		want string
	}{
		{"nobody", nil, ""},
		{"one", []client.Event{typing("bob", "lobby", "", true)}, "bob is typing…"},
		{"two, sorted ignoring case", []client.Event{typing("dave", "lobby", "", true), typing("Bob", "lobby", "", true)}, "Bob and dave are typing…"},
		{"three", []client.Event{typing("a", "lobby", "", true), typing("b", "lobby", "", true), typing("c", "lobby", "", true)}, "a, b and c are typing…"},
		{"many", []client.Event{typing("a", "lobby", "", true), typing("b", "lobby", "", true), typing("c", "lobby", "", true),
			typing("d", "lobby", "", true)}, "a, b and 2 others are typing…"},
		{"another room does not show", []client.Event{typing("bob", "dev", "", true)}, ""},
		{"a pm to me shows", []client.Event{typing("bob", "", "alice", true)}, "bob is typing…"},
		{"stopped", []client.Event{typing("bob", "lobby", "", true), typing("bob", "lobby", "", false)}, ""},
		{"their message ends it", []client.Event{typing("bob", "lobby", "", true),
			{Value: &api.ChatEvent{Room: "lobby", From: "bob", Text: "hi"}}}, ""},
		{"reconnecting shows", []client.Event{{Value: &client.StateChange{State: client.StateReconnecting, Attempt: 2}}},
			"reconnecting (attempt 2)…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(0, 0)
			m := bareModel(&now)
			for _, ev := range tc.evs {
				m.event(ev)
			}
			if got := m.statusLine(); got != tc.want {
				t.Fatalf("status %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTypingIndicatorExpires(t *testing.T) {
	now := time.Unix(0, 0)
	m := bareModel(&now)
	m.event(client.Event{Value: &api.TypingEvent{From: "bob", Room: "lobby", Active: true}})
	now = now.Add(TypingExpiry - time.Second)
	next, _ := m.Update(tickMsg(now))
	if got := next.(model).statusLine(); got != "bob is typing…" {
		t.Fatalf("before expiry: %q", got)
	}
	now = now.Add(2 * time.Second)
	next, _ = next.(model).Update(tickMsg(now))
	if got := next.(model).statusLine(); got != "" {
		t.Fatalf("after expiry: %q, want it gone", got)
	}
}

func TestPrintsKeepOrder(t *testing.T) {
	now := time.Unix(0, 0)
	m := bareModel(&now)
	var cmds int
	step := func(mm model, cmd tea.Cmd) model {
		if cmd != nil {
			cmds++
		}
		return mm
	}
	nm, cmd := m.print("one")
	m = step(nm.(model), cmd)
	nm, cmd = m.print("two") // while "one" is in flight: waits
	m = step(nm.(model), cmd)
	if cmds != 1 || len(m.pending) != 1 || m.pending[0] != "two" {
		t.Fatalf("second print did not wait for the first: cmds=%d pending=%q", cmds, m.pending)
	}
	nm, cmd = m.Update(flushedMsg{})
	m = step(nm.(model), cmd)
	if cmds != 2 || len(m.pending) != 0 || !m.flushing {
		t.Fatalf("after the first was printed: cmds=%d pending=%q flushing=%v", cmds, m.pending, m.flushing)
	}
}
