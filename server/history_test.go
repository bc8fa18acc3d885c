package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatd/chatd/api"
)

func TestHistory(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	id := func(i int) string { return fmt.Sprintf("01J%023d", i) } // sorts like ULIDs
	fill := func(size, n int) *history {
		h := newHistory(size)
		for i := 1; i <= n; i++ {
			h.add(api.ChatEvent{ID: id(i), TS: t0.Add(time.Duration(i) * time.Minute), Text: fmt.Sprint(i), Ref: "r"})
		}
		return h
	}
	cases := []struct {
		name        string
		h           *history
		mark        string // a join or leave id remembered after filling
		since       string
		limit       int
		cutoff      time.Time
		first, last int // expected texts; 0,0 = none
	}{
		{"last 3 of 10", fill(500, 10), "", "", 3, t0, 8, 10},
		{"fewer than the limit", fill(500, 2), "", "", 50, t0, 1, 2},
		{"ring keeps the newest size", fill(5, 12), "", "", 50, t0, 8, 12},
		{"since an id", fill(500, 10), "", id(6), 50, t0, 7, 10},
		{"since ignores the limit", fill(500, 100), "", id(10), 3, t0, 11, 100},
		{"since the newest", fill(500, 10), "", id(10), 50, t0, 0, 0},
		{"since older than kept", fill(5, 12), "", id(2), 50, t0, 8, 12},
		{"since a later join id", fill(500, 10), id(11), id(11), 50, t0, 0, 0},
		{"since a join id between messages", fill(500, 10), id(5) + "5", id(5) + "5", 50, t0, 6, 10},
		{"since unknown, newer than everything", fill(500, 10), "", id(99), 50, t0, 1, 10},
		{"since unknown, between kept messages", fill(500, 10), "", id(5) + "5", 50, t0, 1, 10},
		{"expired events are not replayed", fill(500, 10), "", "", 50, t0.Add(4*time.Minute + time.Second), 5, 10},
		{"empty", fill(500, 0), "", "", 50, t0, 0, 0},
		{"size 0 keeps nothing", fill(0, 10), "", "", 50, t0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.mark != "" {
				c.h.mark(c.mark)
			}
			got := c.h.replay(c.since, c.limit, c.cutoff)
			want := 0
			if c.first > 0 {
				want = c.last - c.first + 1
			}
			if len(got) != want {
				t.Fatalf("replayed %d events, want %d (%d…%d)", len(got), want, c.first, c.last)
			}
			for i, e := range got {
				if e.Text != fmt.Sprint(c.first+i) || !e.Replay || e.Ref != "" {
					t.Fatalf("event %d = %+v, want text %d, replay, no ref", i, e, c.first+i)
				}
			}
		})
	}
}

func TestHistoryPrune(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	h := newHistory(4)
	for i := 1; i <= 6; i++ { // wraps the ring: keeps 3..6
		h.add(api.ChatEvent{ID: fmt.Sprint(i), TS: t0.Add(time.Duration(i) * time.Minute), Text: fmt.Sprint(i)})
	}
	h.prune(t0.Add(4*time.Minute + time.Second)) // drops 3 and 4
	if h.len() != 2 || h.at(0).Text != "5" || h.at(1).Text != "6" {
		t.Fatalf("after prune: %d events, first %q", h.len(), h.at(0).Text)
	}
	for i := 7; i <= 10; i++ { // grows again, then wraps
		h.add(api.ChatEvent{ID: fmt.Sprint(i), TS: t0.Add(time.Duration(i) * time.Minute), Text: fmt.Sprint(i)})
	}
	got := h.replay("", 50, t0)
	if len(got) != 4 || got[0].Text != "7" || got[3].Text != "10" {
		t.Fatalf("after regrowth: %v", got)
	}
	h.prune(t0.Add(time.Hour))
	if h.len() != 0 {
		t.Fatalf("prune of everything left %d", h.len())
	}
}
