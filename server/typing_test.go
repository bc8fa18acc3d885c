package server

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestTypingTracker(t *testing.T) {
	type step struct {
		advance time.Duration // first move the clock
		op      string        // "on", "off", "end", "endAll", or "" (just advance)
		room    string
		to      string
		want    []string // relays caused by this step (and by timers it fired)
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"relays start, then stop", []step{
			{op: "on", room: "lobby", want: []string{"lobby/true"}},
			{advance: time.Second, op: "off", room: "lobby", want: []string{"lobby/false"}},
		}},
		{"stop without start is not relayed", []step{
			{op: "off", room: "lobby"},
		}},
		{"expires after 6 s without refresh", []step{
			{op: "on", room: "lobby", want: []string{"lobby/true"}},
			{advance: 5999 * time.Millisecond},
			{advance: time.Millisecond, want: []string{"lobby/false"}},
			{op: "off", room: "lobby"}, // already ended: nothing more
		}},
		{"refreshes inside 2 s are not relayed but extend the expiry", []step{
			{op: "on", room: "lobby", want: []string{"lobby/true"}},
			{advance: 1500 * time.Millisecond, op: "on", room: "lobby"},
			{advance: 5 * time.Second}, // 6.5 s after the first, 5 s after the refresh
			{advance: time.Second, want: []string{"lobby/false"}},
		}},
		{"a refresh after 2 s is relayed again", []step{
			{op: "on", room: "lobby", want: []string{"lobby/true"}},
			{advance: 2 * time.Second, op: "on", room: "lobby", want: []string{"lobby/true"}},
			{advance: time.Second, op: "on", room: "lobby"},
			{advance: 5999 * time.Millisecond},
			{advance: time.Millisecond, want: []string{"lobby/false"}},
		}},
		{"a start inside 2 s after a stop is not relayed", []step{
			{op: "on", room: "lobby", want: []string{"lobby/true"}},
			{advance: time.Second, op: "off", room: "lobby", want: []string{"lobby/false"}},
			{op: "on", room: "lobby"},
			{op: "off", room: "lobby"}, // receivers were never told it restarted
			{advance: 6 * time.Second},
		}},
		{"chat ends the indicator", []step{
			{op: "on", room: "lobby", want: []string{"lobby/true"}},
			{op: "on", to: "Bob", want: []string{"@Bob/true"}},
			{op: "end", room: "lobby", want: []string{"lobby/false"}},
			{op: "end", room: "lobby"},
			{op: "end", to: "bob", want: []string{"@Bob/false"}}, // names ignore case
			{advance: 10 * time.Second},
		}},
		{"targets are independent; disconnect ends all", []step{
			{op: "on", room: "a", want: []string{"a/true"}},
			{op: "on", room: "b", want: []string{"b/true"}},
			{op: "off", room: "a", want: []string{"a/false"}},
			{op: "endAll", want: []string{"b/false"}},
			{op: "on", room: "a"}, // closed: ignored
			{advance: 10 * time.Second},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := NewFakeClock()
			var got []string
			tr := newTypingTracker(clock, 6*time.Second, 2*time.Second, func(room, to string, active bool) error {
				target := room
				if to != "" {
					target = "@" + to
				}
				got = append(got, fmt.Sprintf("%s/%v", target, active))
				return nil
			})
			for i, st := range c.steps {
				got = nil
				clock.Advance(st.advance)
				switch st.op {
				case "on", "off":
					if err := tr.update(st.room, st.to, st.op == "on"); err != nil {
						t.Fatal(err)
					}
				case "end":
					tr.end(st.room, st.to)
				case "endAll":
					tr.endAll()
				}
				if !slices.Equal(got, st.want) {
					t.Fatalf("step %d (%+v): relayed %v, want %v", i, st, got, st.want)
				}
			}
			if n := clock.Pending(); n != 0 {
				t.Errorf("%d expiry timers still pending", n)
			}
		})
	}
}

func TestTypingTrackerForgetsRefusedRelay(t *testing.T) {
	clock := NewFakeClock()
	refuse := errors.New("unknown user")
	var relays int
	tr := newTypingTracker(clock, 6*time.Second, 2*time.Second, func(room, to string, active bool) error {
		relays++
		return refuse
	})
	if err := tr.update("", "ghost", true); !errors.Is(err, refuse) {
		t.Fatalf("update = %v, want the relay's error", err)
	}
	// Nothing was shown, so neither a stop nor the expiry relays anything.
	if err := tr.update("", "ghost", false); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if relays != 1 {
		t.Errorf("relays = %d, want 1 (the refused start only)", relays)
	}
}
