package client

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/chatd/chatd/api"
)

func isChat(room, from, text string) func(Event) bool {
	return func(ev Event) bool {
		e, ok := ev.Value.(*api.ChatEvent)
		return ok && e.Room == room && e.From == from && e.Text == text
	}
}

// id makes a ULID for time at with a distinguishing low part n.
func id(at time.Time, n byte) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(at))
	_ = u.SetEntropy([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, n})
	return u.String()
}

func ts(t time.Time) string { return string(api.AppendTS(nil, t)) }

// newBareSession is a Session with no connection, for feeding envelopes to
// dispatch directly.
func newBareSession(opts Options) *Session {
	opts = opts.withDefaults()
	return &Session{opts: opts, q: newEventQueue(opts.MaxQueuedEvents), rooms: map[string]*roomState{},
		pending: map[string]*call{}, typing: map[Target]*typingState{}, runDone: make(chan struct{})}
}

// drain ends the bare session's queue and returns what it delivered.
func (s *Session) drainBare() []Event {
	s.q.finish(Event{Value: &StateChange{State: StateClosed}}, waitLimit)
	var evs []Event
	for ev := range s.q.out {
		evs = append(evs, ev)
	}
	return evs[:len(evs)-1]
}

func TestRejoinReplayDedupAndGap(t *testing.T) {
	now := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	recent := now.Add(-time.Minute)
	old := now.Add(-25 * time.Hour)
	tests := []struct {
		name     string
		since    string
		replay   []string // ids, in order
		wantIDs  []string // chat ids delivered
		wantGap  bool
		gapFirst string
	}{
		{"history reaches back: duplicates dropped, no gap", id(recent, 2),
			[]string{id(recent, 1), id(recent, 2), id(recent, 3)}, []string{id(recent, 3)}, false, ""},
		{"short replay of a recent position: complete", id(recent, 2),
			[]string{id(recent, 3), id(recent, 4)}, []string{id(recent, 3), id(recent, 4)}, false, ""},
		{"replay as long as the kept history: maybe truncated", id(recent, 2),
			[]string{id(recent, 3), id(recent, 4), id(recent, 5)}, []string{id(recent, 3), id(recent, 4), id(recent, 5)}, true, id(recent, 3)},
		{"position older than the kept time: maybe expired", id(old, 2),
			[]string{id(recent, 3)}, []string{id(recent, 3)}, true, id(recent, 3)},
		{"nothing replayed, old position: gap up to the join", id(old, 2), nil, nil, true, ""},
		{"nothing replayed, recent position: nothing missed", id(recent, 2), nil, nil, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newBareSession(Options{HistoryKeep: 3})
			s.rooms["lobby"] = &roomState{last: tc.since, rejoin: &rejoinState{since: tc.since}}
			c := &call{kind: kindJoin, room: "lobby", ref: "7", internal: true, done: make(chan result, 1)}
			s.pending["7"] = c
			s.dispatch([]byte(`{"type":"presence","room":"lobby","users":["alice"],"ts":"` + ts(now) + `","ref":"7"}`))
			for _, rid := range tc.replay {
				s.dispatch([]byte(`{"type":"chat","id":"` + rid + `","room":"lobby","from":"bob","text":"x","ts":"` + ts(now) + `","replay":true}`))
			}
			joinID := id(now, 9)
			s.dispatch([]byte(`{"type":"join","id":"` + joinID + `","room":"lobby","from":"alice","ts":"` + ts(now) + `","ref":"7"}`))
			// A live event the client already has must not come again.
			s.dispatch([]byte(`{"type":"chat","id":"` + id(recent, 3) + `","room":"lobby","from":"bob","text":"again","ts":"` + ts(now) + `"}`))

			var ids []string
			var gap *Gap
			evs := s.drainBare()
			for i, ev := range evs {
				switch e := ev.Value.(type) {
				case *api.ChatEvent:
					ids = append(ids, e.ID)
				case *Gap:
					gap = e
					if i+1 < len(evs) {
						if _, ok := evs[i+1].Value.(*api.ChatEvent); !ok && len(tc.replay) > 0 {
							t.Errorf("gap not right before the replayed messages")
						}
					}
				}
			}
			if !slices.Equal(ids, tc.wantIDs) {
				t.Errorf("delivered chats %v, want %v", ids, tc.wantIDs)
			}
			if (gap != nil) != tc.wantGap {
				t.Fatalf("gap = %+v, want gap %v", gap, tc.wantGap)
			}
			if gap != nil {
				want := tc.gapFirst
				if want == "" {
					want = joinID
				}
				if gap.Room != "lobby" || gap.After != tc.since || gap.Before != want {
					t.Errorf("gap %+v, want after %s before %s", gap, tc.since, want)
				}
			}
			if _, still := s.pending["7"]; still {
				t.Fatal("join call still pending after its join event")
			}
			if r := <-c.done; r.err != nil || r.ev.(*api.Presence).Room != "lobby" {
				t.Errorf("join call answered with %+v, want the presence", r)
			}
			if last := s.rooms["lobby"].last; last != joinID {
				t.Errorf("last id %s, want the join's %s", last, joinID)
			}
		})
	}
}

// Every error code the server may send reaches the caller of the request that
// caused it as a *ServerError carrying that code, whatever the request.
func TestEveryErrorCodeReachesTheRequest(t *testing.T) {
	for _, code := range api.Codes() {
		t.Run(string(code), func(t *testing.T) {
			s := newBareSession(Options{})
			c := &call{kind: kindChat, op: "chat #lobby", ref: "5", done: make(chan result, 1)}
			s.pending["5"] = c
			s.dispatch([]byte(`{"type":"error","code":"` + string(code) + `","message":"m","ref":"5","details":[{"field":"text","problem":"p"}],"ts":"2026-11-24T18:04:05.123Z"}`))
			r := <-c.done
			var se *ServerError
			if !errors.As(r.err, &se) || se.Code != code || se.Op != "chat #lobby" {
				t.Fatalf("got %v, want a ServerError with %s", r.err, code)
			}
			if Code(r.err) != code {
				t.Fatalf("Code() = %q", Code(r.err))
			}
			if evs := s.drainBare(); len(evs) != 1 {
				t.Fatalf("%d events, want the error event too", len(evs))
			}
		})
	}
}

// FuzzDispatch: whatever the server sends, the client neither panics nor
// delivers a chat twice.
func FuzzDispatch(f *testing.F) {
	for _, s := range []string{
		`{"type":"chat","id":"01JD0000000000000000000000","room":"lobby","from":"a","text":"x","ts":"2026-11-24T18:04:05.123Z","ref":"1"}`,
		`{"type":"join","id":"01JD0000000000000000000001","room":"lobby","from":"a","ts":"2026-11-24T18:04:05.123Z","ref":"1"}`,
		`{"type":"presence","room":"lobby","users":[],"ref":"1"}`,
		`{"type":"error","code":"x"}`, `{"type":"leave","room":"lobby","ref":"1"}`, `{"type":"welcome","limits":{"rate_per_sec":-1}}`,
		`{`, `[]`, `{"type":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := newBareSession(Options{})
		s.rooms["lobby"] = &roomState{last: "01JD0000000000000000000000", rejoin: &rejoinState{since: "01JD0000000000000000000000"}}
		s.pending["1"] = &call{kind: kindJoin, room: "lobby", ref: "1", internal: true, done: make(chan result, 1)}
		s.dispatch(b)
		s.dispatch(b)
		seen := map[string]bool{}
		for _, ev := range s.drainBare() {
			if e, ok := ev.Value.(*api.ChatEvent); ok && e.ID != "" {
				if seen[e.ID] {
					t.Fatalf("chat %s delivered twice", e.ID)
				}
				seen[e.ID] = true
			}
		}
	})
}

func TestRoomSinceIsTheLastChat(t *testing.T) {
	tests := []struct {
		rs   roomState
		want string
	}{
		{roomState{last: "J2", lastChat: "C1"}, "C1"},
		{roomState{last: "J1"}, "J1"}, // no chat seen: the join's id still says "after this"
	}
	for _, tc := range tests {
		if got := tc.rs.since(); got != tc.want {
			t.Errorf("%+v.since() = %q, want %q", tc.rs, got, tc.want)
		}
	}
}

func TestUnreadEventsEndTheSessionInsteadOfDroppingSilently(t *testing.T) {
	s := newBareSession(Options{MaxQueuedEvents: 4})
	for i := range 10 {
		s.dispatch([]byte(fmt.Sprintf(`{"type":"typing","from":"bob","active":true,"room":"lobby","ts":"2026-11-24T18:04:0%d.000Z"}`, i)))
	}
	s.mu.Lock()
	over := s.overflow
	s.mu.Unlock()
	if !over {
		t.Fatal("10 unread events past a limit of 4 did not mark the session as overflowing")
	}
	if retryable(ErrSlowConsumer) {
		t.Fatal("a slow consumer must not be retried")
	}
	if n := len(s.drainBare()); n < 4 || n > 5 {
		t.Fatalf("%d events kept, want the first 4 (5 if the pump held one)", n)
	}
}
