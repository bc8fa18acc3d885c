package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/wire"
)

// sink is a WebSocket endpoint that records every message a client sends.
type sink struct {
	msgs chan map[string]any
}

func newSink(t *testing.T) (*sink, string) {
	k := &sink{msgs: make(chan map[string]any, 100)}
	done := make(chan struct{})
	var handlers sync.WaitGroup
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		c, err := wire.Accept(w, r, &wire.AcceptOptions{})
		if err != nil {
			return
		}
		defer c.CloseNow()
		closer := make(chan struct{})
		defer close(closer)
		go func() {
			select {
			case <-done:
				_ = c.CloseNow()
			case <-closer:
			}
		}()
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("client sent invalid JSON %q", b)
			}
			k.msgs <- m
		}
	}))
	t.Cleanup(func() { close(done); hs.Close(); handlers.Wait() })
	return k, "ws" + strings.TrimPrefix(hs.URL, "http")
}

// next returns the next message the client sent, or nil if none arrives
// soon. Only the "nothing was sent" checks wait out the short window, and a
// message sent late would still show up in a later check.
func (k *sink) next(t *testing.T, wait time.Duration) map[string]any {
	t.Helper()
	select {
	case m := <-k.msgs:
		return m
	case <-time.After(wait):
		return nil
	}
}

// typingSession is a bare session connected to a sink, on a fake clock.
func typingSession(t *testing.T) (*Session, *sink, *fakeClock) {
	k, url := newSink(t)
	clk := newFakeClock()
	s := newBareSession(Options{Clock: clk})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, _, err := wire.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.conn = c
	t.Cleanup(func() {
		s.stopAllTyping()
		_ = c.CloseNow()
		s.drainBare()
	})
	return s, k, clk
}

func TestTypingTiming(t *testing.T) {
	type step struct {
		advance time.Duration
		do      string // "key", "stop", "chat", "" (just let time pass)
		want    string // "true", "false", or "" for nothing sent
	}
	tests := []struct {
		name   string
		target Target
		steps  []step
	}{
		{"first keystroke sends, refresh every 3s, idle 5s stops", Room("lobby"), []step{
			{0, "key", "true"},
			{1 * time.Second, "key", ""},
			{1 * time.Second, "key", ""},
			{1 * time.Second, "key", "true"}, // 3 s after the last active:true
			{2 * time.Second, "key", ""},
			{4 * time.Second, "", ""},      // 4 s idle: still typing
			{1 * time.Second, "", "false"}, // 5 s idle
			{10 * time.Second, "", ""},     // nothing more
			{0, "key", "true"},             // a new burst starts at once
		}},
		{"explicit stop sends false once", To("bob"), []step{
			{0, "key", "true"},
			{500 * time.Millisecond, "stop", "false"},
			{10 * time.Second, "", ""}, // the idle timer was cancelled
			{0, "stop", ""},            // stop when not typing: nothing
		}},
		{"sending ends it without a message; next key starts again", Room("lobby"), []step{
			{0, "key", "true"},
			{time.Second, "chat", ""},
			{10 * time.Second, "", ""},
			{0, "key", "true"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, k, clk := typingSession(t)
			for i, st := range tc.steps {
				clk.Advance(st.advance)
				switch st.do {
				case "key":
					s.Typing(tc.target)
				case "stop":
					s.StopTyping(tc.target)
				case "chat":
					s.resetTyping(tc.target)
				}
				if st.want == "" {
					if m := k.next(t, 50*time.Millisecond); m != nil {
						t.Fatalf("step %d: sent %v, want nothing", i, m)
					}
					continue
				}
				m := k.next(t, waitLimit)
				if m == nil {
					t.Fatalf("step %d: nothing sent, want active:%s", i, st.want)
				}
				if m["type"] != "typing" || (m["active"] == true) != (st.want == "true") {
					t.Fatalf("step %d: sent %v, want typing active:%s", i, m, st.want)
				}
				if tc.target.To != "" && (m["to"] != tc.target.To || m["room"] != nil) {
					t.Fatalf("step %d: %v not addressed to %s", i, m, tc.target.To)
				}
				if tc.target.Room != "" && (m["room"] != tc.target.Room || m["to"] != nil) {
					t.Fatalf("step %d: %v not addressed to #%s", i, m, tc.target.Room)
				}
			}
		})
	}
}

func TestTypingNamesIgnoreCase(t *testing.T) {
	s, k, _ := typingSession(t)
	s.Typing(To("Bob"))
	if m := k.next(t, waitLimit); m == nil || m["to"] != "Bob" {
		t.Fatalf("first keystroke sent %v", m)
	}
	s.Typing(To("bob")) // the same person: no second active:true
	if m := k.next(t, 50*time.Millisecond); m != nil {
		t.Fatalf("sent %v for the same user in another case", m)
	}
}
