package client

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatd/chatd/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit bounds how long a test waits for something that should happen
// promptly; reaching it is a failure, not a measurement.
const waitLimit = 10 * time.Second

// startServer runs an in-process chatd on 127.0.0.1 and returns its ws URL.
func startServer(t *testing.T, mut func(*server.Config)) (string, *server.Server) {
	t.Helper()
	cfg := server.DefaultConfig()
	if mut != nil {
		mut(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", srv
}

// testOptions are quick to give up and to retry, so tests stay fast.
func testOptions(name string, rooms ...string) Options {
	return Options{Name: name, Rooms: rooms, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		MaxAttempts: 20, ConnectTimeout: 5 * time.Second, CloseTimeout: 2 * time.Second}
}

// dial connects and records the session's events; the session is closed
// and its channel drained when the test ends.
func dial(t *testing.T, url string, opts Options) (*Session, *recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", opts.Name, err)
	}
	r := record(s)
	t.Cleanup(func() {
		_ = s.Close()
		r.wait(t)
	})
	return s, r
}

// recorder drains a session's events into a slice that tests wait on.
type recorder struct {
	mu      sync.Mutex
	evs     []Event
	changed chan struct{}
	done    chan struct{}
}

func record(s *Session) *recorder {
	r := &recorder{changed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range s.Events() {
			r.mu.Lock()
			r.evs = append(r.evs, ev)
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) wait(t *testing.T) {
	select {
	case <-r.done:
	case <-time.After(waitLimit):
		t.Error("event channel not closed after Close")
	}
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.evs...)
}

// waitFor returns the first event at index from or later that matches,
// waiting for it to arrive, and its index.
func (r *recorder) waitFor(t *testing.T, from int, what string, match func(Event) bool) (Event, int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		r.mu.Lock()
		for i := from; i < len(r.evs); i++ {
			if match(r.evs[i]) {
				ev := r.evs[i]
				r.mu.Unlock()
				return ev, i
			}
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-r.done:
			r.mu.Lock()
			for i := from; i < len(r.evs); i++ {
				if match(r.evs[i]) {
					ev := r.evs[i]
					r.mu.Unlock()
					return ev, i
				}
			}
			r.mu.Unlock()
			t.Fatalf("event channel closed without %s; got:\n%s", what, describe(r.all()))
		case <-deadline:
			t.Fatalf("no %s within %v; got:\n%s", what, waitLimit, describe(r.all()))
		}
	}
}

func describe(evs []Event) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Raw != nil {
			b.Write(ev.Raw)
		} else {
			fmt.Fprintf(&b, "%T %+v", ev.Value, ev.Value)
		}
		b.WriteString("\n")
	}
	return b.String()
}
