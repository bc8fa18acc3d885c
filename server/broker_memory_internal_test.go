package server

import (
	"context"
	"testing"
	"time"
)

// TestMemoryBrokerSweep checks retention: history expires after the TTL, and
// an empty room is removed by the sweep once the TTL has passed since it
// emptied, without anyone touching it.
func TestMemoryBrokerSweep(t *testing.T) {
	ctx := context.Background()
	clock := NewFakeClock()
	b := NewMemoryBroker(MemoryBrokerOptions{HistorySize: 10, HistoryTTL: time.Hour, SweepInterval: time.Minute, Clock: clock})
	defer b.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.ClaimName(ctx, "alice", "s1"))
	must(b.Join(ctx, JoinRequest{Room: "keep", Name: "alice", Session: "s1"}))
	must(b.Join(ctx, JoinRequest{Room: "gone", Name: "alice", Session: "s1"}))
	must(b.Chat(ctx, "keep", "alice", "s1", "old", ""))
	must(b.Chat(ctx, "gone", "alice", "s1", "bye", ""))
	clock.Advance(30 * time.Minute)
	must(b.Chat(ctx, "keep", "alice", "s1", "new", ""))
	must(b.Leave(ctx, "gone", "alice", "s1", "left", ""))

	steps := []struct {
		advance   time.Duration
		wantRooms int
		wantKeep  []string // texts in room "keep"
	}{
		{0, 2, []string{"old", "new"}},
		{31 * time.Minute, 2, []string{"new"}}, // "old" expired; "gone" empty for 31 min only
		{30 * time.Minute, 1, []string{}},      // "gone" empty for 61 min: swept; "new" expired
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		if n := b.Rooms(); n != st.wantRooms {
			t.Errorf("step %d: %d rooms, want %d", i, n, st.wantRooms)
		}
		h, err := b.History(ctx, "keep", "", 50)
		must(err)
		var texts []string
		for _, e := range h {
			texts = append(texts, e.Text)
		}
		if len(texts) != len(st.wantKeep) || (len(texts) > 0 && texts[0] != st.wantKeep[0]) {
			t.Errorf("step %d: history %v, want %v", i, texts, st.wantKeep)
		}
	}
	// A swept room can be joined again, empty.
	must(b.Join(ctx, JoinRequest{Room: "gone", Name: "alice", Session: "s1"}))
	if h, _ := b.History(ctx, "gone", "", 50); len(h) != 0 {
		t.Errorf("swept room kept history: %v", h)
	}
}
