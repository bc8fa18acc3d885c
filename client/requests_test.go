package client

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/server"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

func TestRequestsReturnTheConfirmingEvent(t *testing.T) {
	url, _ := startServer(t, nil)
	alice, _ := dial(t, url, testOptions("alice"))
	bob, br := dial(t, url, testOptions("Bob", "lobby"))
	ctx := ctxT(t)

	ce, err := alice.Chat(ctx, "lobby", "hello <all>")
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if ce.From != "alice" || ce.Room != "lobby" || ce.Text != "hello <all>" || len(ce.ID) != 26 || ce.Ref == "" || ce.TS.IsZero() {
		t.Fatalf("Chat returned %+v", ce)
	}
	br.waitFor(t, 0, "alice's chat at bob", isChat("lobby", "alice", "hello <all>"))

	pm, err := alice.PM(ctx, "bob", "hi") // names ignore case
	if err != nil {
		t.Fatalf("PM: %v", err)
	}
	if pm.From != "alice" || pm.To != "Bob" || pm.Text != "hi" || len(pm.ID) != 26 {
		t.Fatalf("PM returned %+v", pm)
	}
	ev, _ := br.waitFor(t, 0, "the pm at bob", func(ev Event) bool { _, ok := ev.Value.(*api.PMEvent); return ok })
	if got := ev.Value.(*api.PMEvent); got.ID != pm.ID || got.Ref != "" {
		t.Fatalf("bob got %+v; want the same id and no ref (the ref is the sender's)", got)
	}

	p, err := alice.Join(ctx, "dev")
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	if p.Room != "dev" || len(p.Users) != 1 || p.Users[0] != "alice" {
		t.Fatalf("Join returned %+v", p)
	}
	if _, err := bob.Join(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	again, err := alice.Join(ctx, "dev") // already in: the member list again
	if err != nil || len(again.Users) != 2 {
		t.Fatalf("Join again: %+v, %v", again, err)
	}

	w, err := bob.Who(ctx, "dev")
	if err != nil {
		t.Fatalf("Who: %v", err)
	}
	if strings.Join(w.Users, ",") != "alice,Bob" {
		t.Fatalf("Who users %v, want [alice Bob] (sorted ignoring case)", w.Users)
	}

	le, err := alice.Leave(ctx, "dev")
	if err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if le.Room != "dev" || le.From != "alice" || le.Reason != api.ReasonLeft {
		t.Fatalf("Leave returned %+v", le)
	}
	if got := alice.Rooms(); len(got) != 1 || got[0] != "lobby" {
		t.Fatalf("Rooms after leave = %v", got)
	}
	br.waitFor(t, 0, "alice's leave at bob", func(ev Event) bool {
		e, ok := ev.Value.(*api.LeaveEvent)
		return ok && e.From == "alice" && e.Room == "dev"
	})
}

func TestRequestErrorsCarryTheProtocolCode(t *testing.T) {
	url, _ := startServer(t, nil)
	alice, ar := dial(t, url, testOptions("alice"))
	dial(t, url, testOptions("bob"))
	ctx := ctxT(t)
	tests := []struct {
		name  string
		call  func() error
		code  api.Code
		field string
	}{
		{"pm to nobody", func() error { _, err := alice.PM(ctx, "nobody", "x"); return err }, api.CodeUnknownUser, ""},
		{"pm to self", func() error { _, err := alice.PM(ctx, "ALICE", "x"); return err }, api.CodeInvalidMessage, "to"},
		{"chat in a room not joined", func() error { _, err := alice.Chat(ctx, "dev", "x"); return err }, api.CodeNotMember, ""},
		{"who in a room not joined", func() error { _, err := alice.Who(ctx, "dev"); return err }, api.CodeNotMember, ""},
		{"leave a room not joined", func() error { _, err := alice.Leave(ctx, "dev"); return err }, api.CodeNotMember, ""},
		{"white-space text", func() error { _, err := alice.Chat(ctx, "lobby", " \t "); return err }, api.CodeInvalidMessage, "text"},
		{"too long text", func() error { _, err := alice.Chat(ctx, "lobby", strings.Repeat("é", 4001)); return err }, api.CodeInvalidMessage, "text"},
		{"bad room name", func() error { _, err := alice.Join(ctx, "Not A Room"); return err }, api.CodeInvalidMessage, "room"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var se *ServerError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want a *ServerError", err, err)
			}
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code != tc.code || se.Code != tc.code {
				t.Fatalf("code %q, want %q", se.Code, tc.code)
			}
			if tc.field != "" && (len(ae.Details) == 0 || ae.Details[0].Field != tc.field) {
				t.Fatalf("details %+v, want field %q", ae.Details, tc.field)
			}
		})
	}
	// Errors also arrive as events, in order, for callers that only watch the channel.
	ar.waitFor(t, 0, "the unknown_user error event", func(ev Event) bool {
		e, ok := ev.Value.(*api.ErrorEvent)
		return ok && e.Err.Code == api.CodeUnknownUser
	})
	// The session is still fine.
	if _, err := alice.Chat(ctx, "lobby", "still here"); err != nil {
		t.Fatal(err)
	}
}

func TestDialNameTaken(t *testing.T) {
	url, _ := startServer(t, nil)
	dial(t, url, testOptions("alice"))
	_, err := Dial(ctxT(t), url, testOptions("ALICE"))
	if Code(err) != api.CodeNameTaken {
		t.Fatalf("Dial with a taken name: %v, want name_taken", err)
	}
}

func TestRateLimitedWithoutPacingButNotWithIt(t *testing.T) {
	url, _ := startServer(t, func(c *server.Config) { c.RatePerSec, c.RateBurst = 5, 5 })
	ctx := ctxT(t)

	raw := testOptions("flood")
	raw.NoPacing = true
	s, _ := dial(t, url, raw)
	var limited int
	for i := range 12 {
		if _, err := s.Chat(ctx, "lobby", fmt.Sprint("m", i)); Code(err) == api.CodeRateLimited {
			limited++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if limited == 0 {
		t.Fatal("12 chats at once against a burst of 5: none rate_limited")
	}

	paced, _ := dial(t, url, testOptions("paced"))
	for i := range 12 {
		if _, err := paced.Chat(ctx, "lobby", fmt.Sprint("m", i)); err != nil {
			t.Fatalf("paced chat %d: %v", i, err)
		}
	}
}

func TestEventsArriveInIDOrder(t *testing.T) {
	url, _ := startServer(t, nil)
	alice, _ := dial(t, url, testOptions("alice"))
	_, br := dial(t, url, testOptions("bob"))
	ctx := ctxT(t)
	const n = 30
	for i := range n {
		if _, err := alice.Chat(ctx, "lobby", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	br.waitFor(t, 0, "the last chat", isChat("lobby", "alice", fmt.Sprint(n-1)))
	var texts []string
	last := ""
	for _, ev := range br.all() {
		var id string
		switch e := ev.Value.(type) {
		case *api.ChatEvent:
			id = e.ID
			texts = append(texts, e.Text)
		case *api.JoinEvent:
			id = e.ID
		default:
			continue
		}
		if id <= last {
			t.Fatalf("id %s after %s: out of order", id, last)
		}
		last = id
	}
	for i, txt := range texts {
		if txt != fmt.Sprint(i) {
			t.Fatalf("chat %d is %q: %v", i, txt, texts)
		}
	}
}

func TestRequestsAfterCloseFail(t *testing.T) {
	url, _ := startServer(t, nil)
	s, r := dial(t, url, testOptions("alice"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Chat(ctxT(t), "lobby", "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Chat after Close: %v, want ErrClosed", err)
	}
	r.wait(t)
	evs := r.all()
	last := evs[len(evs)-1].Value.(*StateChange)
	if last.State != StateClosed || last.Err != nil {
		t.Fatalf("last event %+v, want StateClosed without error", last)
	}
	if s.Err() != nil {
		t.Fatalf("Err() = %v after Close", s.Err())
	}
}

func TestDialDeliversWelcomePresenceJoinInOrder(t *testing.T) {
	url, _ := startServer(t, nil)
	s, r := dial(t, url, testOptions("alice", "lobby", "dev"))
	if s.Name() != "alice" {
		t.Fatalf("Name() = %q", s.Name())
	}
	if got := s.Rooms(); len(got) != 2 || got[0] != "dev" || got[1] != "lobby" {
		t.Fatalf("Rooms() = %v", got)
	}
	_, iw := r.waitFor(t, 0, "welcome", func(ev Event) bool { _, ok := ev.Value.(*api.Welcome); return ok })
	_, ip := r.waitFor(t, iw, "presence of lobby", func(ev Event) bool {
		p, ok := ev.Value.(*api.Presence)
		return ok && p.Room == "lobby" && len(p.Users) == 1 && p.Users[0] == "alice"
	})
	_, ij := r.waitFor(t, ip, "join of lobby", func(ev Event) bool {
		j, ok := ev.Value.(*api.JoinEvent)
		return ok && j.Room == "lobby" && j.From == "alice"
	})
	r.waitFor(t, ij, "join of dev", func(ev Event) bool {
		j, ok := ev.Value.(*api.JoinEvent)
		return ok && j.Room == "dev"
	})
	if s.Welcome() == nil || s.Welcome().Limits.RatePerSec != 20 {
		t.Fatalf("Welcome() = %+v", s.Welcome())
	}
	first := r.all()[0].Value.(*StateChange)
	if first.State != StateConnecting {
		t.Fatalf("first event %+v, want StateConnecting", first)
	}
}

func TestCompressionOnAndOff(t *testing.T) {
	url, _ := startServer(t, nil)
	on := testOptions("zip")
	on.Compression = true
	zip, zr := dial(t, url, on)
	plain, pr := dial(t, url, testOptions("plain"))
	long := strings.Repeat("compressible text ", 200)
	if _, err := zip.Chat(ctxT(t), "lobby", long); err != nil {
		t.Fatal(err)
	}
	pr.waitFor(t, 0, "the long chat at the plain client", isChat("lobby", "zip", long))
	if _, err := plain.Chat(ctxT(t), "lobby", long+"!"); err != nil {
		t.Fatal(err)
	}
	zr.waitFor(t, 0, "the long chat at the compressing client", isChat("lobby", "plain", long+"!"))
}

// BenchmarkChatRoundTrip measures one Chat call: send, the server's
// confirmation back, matched by ref (loopback, in-process server).
func BenchmarkChatRoundTrip(b *testing.B) {
	cfg := server.DefaultConfig()
	cfg.RatePerSec, cfg.RateBurst = 1e9, 1<<30
	srv, err := server.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	opts := testOptions("bench")
	opts.NoPacing = true
	s, err := Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http")+"/ws", opts)
	if err != nil {
		b.Fatal(err)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range s.Events() {
		}
	}()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Chat(ctx, "lobby", "benchmark message"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = s.Close()
	<-drained
}
