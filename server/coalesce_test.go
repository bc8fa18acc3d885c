package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestCoalescerBusy(t *testing.T) {
	c := newCoalescer(10*time.Millisecond, func(*session) {})
	ms := int64(time.Millisecond)
	for _, tt := range []struct {
		name           string
		lastWrite, now int64
		wantBusy       bool
	}{
		{"never written", 0, 5 * ms, false},
		{"written just now", 100 * ms, 100*ms + 1, true},
		{"written inside the window", 100 * ms, 109 * ms, true},
		{"written a window ago", 100 * ms, 110 * ms, false},
		{"written long ago", 100 * ms, 900 * ms, false},
	} {
		if got := c.busy(tt.lastWrite, tt.now); got != tt.wantBusy {
			t.Errorf("%s: busy = %v, want %v", tt.name, got, tt.wantBusy)
		}
	}
}

func TestCoalescerRoundStartsEachWaiterOnce(t *testing.T) {
	var started []*session
	c := newCoalescer(time.Hour, func(s *session) { started = append(started, s) }) // rounds run by hand
	a, b := &session{id: "a"}, &session{id: "b"}
	c.wait(a)
	c.wait(b)
	c.round()
	if len(started) != 2 || started[0] != a || started[1] != b {
		t.Fatalf("first round started %v, want a and b", started)
	}
	c.round()
	if len(started) != 2 {
		t.Fatalf("an empty round started %d more", len(started)-2)
	}
	c.wait(a)
	c.round()
	if len(started) != 3 || started[2] != a {
		t.Fatalf("second round started %v, want a", started[2:])
	}
	c.timer.Stop()
}

func TestCoalescerTimerRunsTheRound(t *testing.T) {
	started := make(chan *session, 1)
	c := newCoalescer(time.Millisecond, func(s *session) { started <- s })
	a := &session{id: "a"}
	c.wait(a)
	select {
	case s := <-started:
		if s != a {
			t.Fatalf("round started %v, want a", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the round never ran")
	}
}

// TestCoalescedFramesGoOutInOneWrite: on a connection written to a moment
// ago, the frames that arrive before the coalescer's round go out together,
// in one write; a quiet connection's first frame needs no round.
func TestCoalescedFramesGoOutInOneWrite(t *testing.T) {
	// A window of an hour: every round in this test is run by hand.
	ts := startServer(t, func(c *Config) { c.WriteCoalesce = time.Hour })
	alice, bob := ts.dial(t), ts.dial(t)
	alice.send(`{"type":"join","name":"alice"}`)
	alice.expect(map[string]any{"type": "welcome"}) // a quiet connection: at once
	bob.send(`{"type":"join","name":"bob"}`)
	// bob's welcome went out at once; what follows waits for rounds.
	bob.expect(map[string]any{"type": "welcome"})

	queued := func(name string) int {
		s := ts.sessionByName(name)
		s.q.mu.Lock()
		defer s.q.mu.Unlock()
		return len(s.q.msgs)
	}
	// Run rounds until bob's join (and its presence) have reached both.
	drain := func() {
		for range 1000 {
			ts.coalesce.round()
			if queued("alice") == 0 && queued("bob") == 0 {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatal("queues never drained")
	}
	drain()
	for m := alice.next(); m["type"] != "join" || m["from"] != "bob"; m = alice.next() {
	}
	for m := bob.next(); m["type"] != "join" || m["from"] != "bob"; m = bob.next() {
	}
	drain()

	const n = 5
	for i := range n {
		alice.send(fmt.Sprintf(`{"type":"chat","text":"m%d"}`, i))
	}
	for range 5000 {
		if queued("bob") == n && queued("alice") == n {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if q := queued("bob"); q != n {
		t.Fatalf("bob's queue holds %d frames before the round, want %d", q, n)
	}
	writes := counterValue(t, ts.m.writes)
	frames := counterValue(t, ts.m.framesOut)
	ts.coalesce.round()
	for i := range n {
		bob.expect(map[string]any{"type": "chat", "text": fmt.Sprintf("m%d", i)})
		alice.expect(map[string]any{"type": "chat", "text": fmt.Sprintf("m%d", i)})
	}
	if w, f := counterValue(t, ts.m.writes)-writes, counterValue(t, ts.m.framesOut)-frames; w != 2 || f != 2*n {
		t.Fatalf("the round wrote %v frames in %v writes, want %d in 2 (one per member)", f, w, 2*n)
	}
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
