// Package brokertest is the test suite every server.Broker implementation
// must pass: names, membership, per-room order and ids, history and since,
// private messages and typing relay, and fan-out to several subscribed nodes.
// Run it from an implementation's tests:
//
//	func TestBroker(t *testing.T) {
//		brokertest.Run(t, func(t *testing.T) server.Broker { return newMyBroker(t) })
//	}
//
// Events may arrive asynchronously; the suite waits for each expected event
// (up to Timeout) and checks only what has arrived, never that something
// did not, so an implementation is not judged by its speed.
package brokertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/server"
)

// Timeout bounds how long the suite waits for an expected event.
var Timeout = 10 * time.Second

// Run runs the whole suite. newBroker must return a fresh, empty broker; the
// suite closes it.
func Run(t *testing.T, newBroker func(t *testing.T) server.Broker) {
	tests := []struct {
		name string
		run  func(t *testing.T, b server.Broker)
	}{
		{"NamesAreUniqueIgnoringCase", testNames},
		{"JoinCarriesMembersAndOrder", testJoin},
		{"RoomOrderUnderConcurrentSenders", testRoomOrder},
		{"NotMember", testNotMember},
		{"LeaveAndRejoin", testLeave},
		{"HistoryAndSince", testHistory},
		{"PrivateMessages", testPM},
		{"TypingRelay", testTyping},
		{"EveryNodeGetsEveryEvent", testTwoNodes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBroker(t)
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.run(t, b)
		})
	}
}

// Recorder is a subscriber that keeps a copy of every event.
type Recorder struct {
	mu     sync.Mutex
	cond   *sync.Cond
	events []server.Event
}

// Subscribe attaches a new Recorder to b until the test ends.
func Subscribe(t *testing.T, b server.Broker) *Recorder {
	r := &Recorder{}
	r.cond = sync.NewCond(&r.mu)
	cancel := b.Subscribe(func(ev *server.Event) {
		r.mu.Lock()
		r.events = append(r.events, *ev)
		r.mu.Unlock()
		r.cond.Broadcast()
	}, func(err error) { t.Errorf("broker lost: %v", err) })
	t.Cleanup(cancel)
	return r
}

// WaitFor returns the events matching keep once there are at least n of
// them, or fails the test after Timeout.
func (r *Recorder) WaitFor(t *testing.T, n int, keep func(*server.Event) bool) []server.Event {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	stop := time.AfterFunc(Timeout, r.cond.Broadcast)
	defer stop.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var got []server.Event
		for i := range r.events {
			if keep(&r.events[i]) {
				got = append(got, r.events[i])
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %d events, got %d: %+v", Timeout, n, len(got), got)
		}
		r.cond.Wait()
	}
}

// Of matches events of one kind in one room ("" for any room).
func Of(kind server.EventKind, room string) func(*server.Event) bool {
	return func(ev *server.Event) bool { return ev.Kind == kind && (room == "" || ev.Room == room) }
}

// InRoom matches the join, leave and chat events of room.
func InRoom(room string) func(*server.Event) bool {
	return func(ev *server.Event) bool {
		return ev.Room == room && (ev.Kind == server.EventJoin || ev.Kind == server.EventLeave || ev.Kind == server.EventChat)
	}
}

var bg = context.Background()

// member claims name and joins room with it, failing the test on error.
func member(t *testing.T, b server.Broker, name, session string, rooms ...string) {
	t.Helper()
	if err := b.ClaimName(bg, name, session); err != nil {
		t.Fatalf("ClaimName(%s): %v", name, err)
	}
	for _, room := range rooms {
		if err := b.Join(bg, server.JoinRequest{Room: room, Name: name, Session: session, Replay: 50}); err != nil {
			t.Fatalf("Join(%s, %s): %v", name, room, err)
		}
	}
}

func testNames(t *testing.T, b server.Broker) {
	steps := []struct {
		op            string // claim or release
		name, session string
		want          error
	}{
		{"claim", "Alice", "s1", nil},
		{"claim", "alice", "s2", server.ErrNameTaken},
		{"claim", "ALICE", "s2", server.ErrNameTaken},
		{"claim", "Alice", "s1", nil}, // the holder may claim again
		{"release", "alice", "s2", nil},
		{"claim", "alice", "s2", server.ErrNameTaken}, // a stranger's release is a no-op
		{"release", "aLiCe", "s1", nil},
		{"claim", "alice", "s2", nil},
		{"claim", "bob", "s3", nil},
	}
	for i, st := range steps {
		var err error
		if st.op == "claim" {
			err = b.ClaimName(bg, st.name, st.session)
		} else {
			err = b.ReleaseName(bg, st.name, st.session)
		}
		if !errors.Is(err, st.want) && !(err == nil && st.want == nil) {
			t.Fatalf("step %d: %s(%s, %s) = %v, want %v", i, st.op, st.name, st.session, err, st.want)
		}
	}
}

func testJoin(t *testing.T, b server.Broker) {
	rec := Subscribe(t, b)
	member(t, b, "carol", "s3", "lobby")
	member(t, b, "Alice", "s1", "lobby")
	member(t, b, "bob", "s2", "lobby")
	evs := rec.WaitFor(t, 3, Of(server.EventJoin, "lobby"))
	wantUsers := [][]string{{"carol"}, {"Alice", "carol"}, {"Alice", "bob", "carol"}}
	for i, ev := range evs {
		if !slices.Equal(ev.Users, wantUsers[i]) {
			t.Errorf("join %d users = %v, want %v (sorted by NameKey, spelled as given)", i, ev.Users, wantUsers[i])
		}
		if len(ev.ID) != 26 || (i > 0 && ev.ID <= evs[i-1].ID) {
			t.Errorf("join %d id %q does not follow %q", i, ev.ID, evs[max(i-1, 0)].ID)
		}
		if ev.TS.IsZero() {
			t.Errorf("join %d has no timestamp", i)
		}
	}
	if err := b.Join(bg, server.JoinRequest{Room: "lobby", Name: "BOB", Session: "s2"}); !errors.Is(err, server.ErrAlreadyMember) {
		t.Errorf("second Join of the same room = %v, want ErrAlreadyMember", err)
	}
	users, err := b.Members(bg, "lobby")
	if err != nil || !slices.Equal(users, wantUsers[2]) {
		t.Errorf("Members = %v, %v; want %v", users, err, wantUsers[2])
	}
	if users, err := b.Members(bg, "nowhere"); err != nil || len(users) != 0 {
		t.Errorf("Members of an unknown room = %v, %v; want none", users, err)
	}
}

func testRoomOrder(t *testing.T, b server.Broker) {
	rec := Subscribe(t, b)
	const senders, each = 4, 50
	for i := range senders {
		member(t, b, fmt.Sprintf("u%d", i), fmt.Sprintf("s%d", i), "a", "b")
	}
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			for j := range each {
				room := []string{"a", "b"}[j%2]
				if err := b.Chat(bg, room, fmt.Sprintf("u%d", i), fmt.Sprintf("s%d", i), fmt.Sprintf("%d-%d", i, j), ""); err != nil {
					t.Errorf("Chat: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, room := range []string{"a", "b"} {
		evs := rec.WaitFor(t, senders+senders*each/2, InRoom(room))
		next := make([]int, senders) // room a gets the even messages, b the odd ones
		if room == "b" {
			for i := range next {
				next[i] = 1
			}
		}
		for i, ev := range evs {
			if i > 0 && ev.ID <= evs[i-1].ID {
				t.Fatalf("room %s: event %d id %s not above %s", room, i, ev.ID, evs[i-1].ID)
			}
			if ev.Kind != server.EventChat {
				continue
			}
			var s, j int
			fmt.Sscanf(ev.Text, "%d-%d", &s, &j)
			if j != next[s] {
				t.Fatalf("room %s: sender %d's message %d arrived when %d was due", room, s, j, next[s])
			}
			next[s] += 2
		}
	}
}

func testNotMember(t *testing.T, b server.Broker) {
	member(t, b, "alice", "s1", "lobby")
	member(t, b, "bob", "s2")
	cases := []struct {
		name string
		call func() error
	}{
		{"chat in a room never joined", func() error { return b.Chat(bg, "lobby", "bob", "s2", "hi", "") }},
		{"chat in an unknown room", func() error { return b.Chat(bg, "void", "alice", "s1", "hi", "") }},
		{"chat as another session", func() error { return b.Chat(bg, "lobby", "alice", "s9", "hi", "") }},
		{"leave a room never joined", func() error { return b.Leave(bg, "lobby", "bob", "s2", "left", "") }},
		{"typing in a room never joined", func() error {
			return b.Typing(bg, server.TypingRequest{From: "bob", Session: "s2", Room: "lobby", Active: true})
		}},
	}
	for _, c := range cases {
		if err := c.call(); !errors.Is(err, server.ErrNotMember) {
			t.Errorf("%s: %v, want ErrNotMember", c.name, err)
		}
	}
}

func testLeave(t *testing.T, b server.Broker) {
	rec := Subscribe(t, b)
	member(t, b, "alice", "s1", "lobby")
	member(t, b, "bob", "s2", "lobby")
	if err := b.Leave(bg, "lobby", "BOB", "s2", "left", "r1"); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	lv := rec.WaitFor(t, 1, Of(server.EventLeave, "lobby"))[0]
	if lv.From != "bob" || lv.Reason != "left" || lv.Ref != "r1" || lv.Session != "s2" {
		t.Errorf("leave event = %+v", lv)
	}
	if users, _ := b.Members(bg, "lobby"); !slices.Equal(users, []string{"alice"}) {
		t.Errorf("members after leave = %v", users)
	}
	if err := b.Join(bg, server.JoinRequest{Room: "lobby", Name: "bob", Session: "s2"}); err != nil {
		t.Fatalf("rejoin: %v", err)
	}
	evs := rec.WaitFor(t, 4, InRoom("lobby"))
	if evs[3].Kind != server.EventJoin || evs[3].ID <= lv.ID {
		t.Errorf("rejoin event %+v does not follow the leave %s", evs[3], lv.ID)
	}
}

func testHistory(t *testing.T, b server.Broker) {
	rec := Subscribe(t, b)
	member(t, b, "alice", "s1", "lobby")
	const n = 60
	for i := range n {
		if err := b.Chat(bg, "lobby", "alice", "s1", fmt.Sprint(i), "ref"); err != nil {
			t.Fatal(err)
		}
	}
	chats := rec.WaitFor(t, n, Of(server.EventChat, "lobby"))
	for _, c := range chats {
		if c.Ref != "ref" {
			t.Fatalf("live chat event lost its ref: %+v", c)
		}
	}
	joins := rec.WaitFor(t, 1, Of(server.EventJoin, "lobby"))
	cases := []struct {
		name      string
		since     string
		limit     int
		wantFirst int // index into chats; -1: none
		wantN     int
	}{
		{"last 50", "", 50, n - 50, 50},
		{"last 5", "", 5, n - 5, 5},
		{"since a message", chats[41].ID, 50, 42, n - 42},
		{"since the newest", chats[n-1].ID, 50, -1, 0},
		{"since the join before every message", joins[0].ID, 50, 0, n},
		{"since older than everything", "00000000000000000000000000", 50, 0, n},
		{"since unknown (newer than anything here)", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", 50, 0, n},
		{"since unknown (between kept messages)", unusedID(chats[30].ID, chats, joins), 50, 0, n},
	}
	for _, c := range cases {
		got, err := b.History(bg, "lobby", c.since, c.limit)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != c.wantN {
			t.Errorf("%s: %d events, want %d", c.name, len(got), c.wantN)
			continue
		}
		for i, e := range got {
			w := chats[c.wantFirst+i]
			if e.ID != w.ID || e.Text != w.Text || e.From != "alice" || e.Room != "lobby" || !e.Replay || e.Ref != "" {
				t.Errorf("%s: event %d = %+v, want id %s text %s, replay, no ref", c.name, i, e, w.ID, w.Text)
				break
			}
		}
	}
	// A joiner's replay comes with its join event.
	member(t, b, "bob", "s2")
	if err := b.Join(bg, server.JoinRequest{Room: "lobby", Name: "bob", Session: "s2", Since: chats[n-3].ID, Replay: 50}); err != nil {
		t.Fatal(err)
	}
	j := rec.WaitFor(t, 2, Of(server.EventJoin, "lobby"))[1]
	if len(j.Replay) != 2 || j.Replay[0].ID != chats[n-2].ID || j.Replay[1].ID != chats[n-1].ID {
		t.Errorf("join replay with since = %+v, want the last 2 messages", j.Replay)
	}
}

// unusedID returns a valid id next to near that no event used: an id in the
// middle of the room's range that the room does not know.
func unusedID(near string, used ...[]server.Event) string {
	for _, c := range "0123456789ABCDEFGHJKMNPQRSTVWXYZ" {
		cand := near[:25] + string(c)
		if !slices.ContainsFunc(used, func(evs []server.Event) bool {
			return slices.ContainsFunc(evs, func(e server.Event) bool { return e.ID == cand })
		}) {
			return cand
		}
	}
	panic("no unused id next to " + near)
}

func testPM(t *testing.T, b server.Broker) {
	rec := Subscribe(t, b)
	member(t, b, "Alice", "s1")
	member(t, b, "bob", "s2")
	if err := b.PM(bg, "bob", "s2", "ALICE", "hi", "r1"); err != nil {
		t.Fatal(err)
	}
	if err := b.PM(bg, "Alice", "s1", "bob", "yo", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.PM(bg, "bob", "s2", "carol", "hi", ""); !errors.Is(err, server.ErrUnknownUser) {
		t.Errorf("PM to nobody = %v, want ErrUnknownUser", err)
	}
	pms := rec.WaitFor(t, 2, Of(server.EventPM, ""))
	if p := pms[0]; p.From != "bob" || p.To != "Alice" || p.Text != "hi" || p.Ref != "r1" || p.Session != "s2" {
		t.Errorf("pm = %+v; want To spelled as the recipient joined", p)
	}
	if pms[1].ID <= pms[0].ID {
		t.Errorf("pm ids %s, %s not increasing", pms[0].ID, pms[1].ID)
	}
}

func testTyping(t *testing.T, b server.Broker) {
	rec := Subscribe(t, b)
	member(t, b, "alice", "s1", "lobby")
	member(t, b, "Bob", "s2", "lobby")
	reqs := []server.TypingRequest{
		{From: "alice", Session: "s1", Room: "lobby", Active: true},
		{From: "alice", Session: "s1", To: "BOB", Active: true},
		{From: "alice", Session: "s1", Room: "lobby", Active: false},
	}
	for _, r := range reqs {
		if err := b.Typing(bg, r); err != nil {
			t.Fatalf("Typing(%+v): %v", r, err)
		}
	}
	if err := b.Typing(bg, server.TypingRequest{From: "alice", Session: "s1", To: "zed", Active: true}); !errors.Is(err, server.ErrUnknownUser) {
		t.Errorf("typing to nobody = %v, want ErrUnknownUser", err)
	}
	evs := rec.WaitFor(t, 3, Of(server.EventTyping, ""))
	want := []server.Event{
		{Kind: server.EventTyping, From: "alice", Session: "s1", Room: "lobby", Active: true},
		{Kind: server.EventTyping, From: "alice", Session: "s1", To: "Bob", Active: true},
		{Kind: server.EventTyping, From: "alice", Session: "s1", Room: "lobby", Active: false},
	}
	for i, ev := range evs {
		w := want[i]
		if ev.From != w.From || ev.Session != w.Session || ev.Room != w.Room || ev.To != w.To || ev.Active != w.Active || ev.ID != "" {
			t.Errorf("typing %d = %+v, want %+v", i, ev, w)
		}
	}
}

func testTwoNodes(t *testing.T, b server.Broker) {
	n1, n2 := Subscribe(t, b), Subscribe(t, b)
	member(t, b, "alice", "s1", "lobby")
	member(t, b, "bob", "s2", "lobby")
	for i := range 10 {
		if err := b.Chat(bg, "lobby", "bob", "s2", fmt.Sprint(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	a, c := n1.WaitFor(t, 12, InRoom("lobby")), n2.WaitFor(t, 12, InRoom("lobby"))
	for i := range a {
		if a[i].ID != c[i].ID {
			t.Fatalf("nodes disagree at %d: %s vs %s", i, a[i].ID, c[i].ID)
		}
	}
}
