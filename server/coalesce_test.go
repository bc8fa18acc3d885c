package server

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestFloodMeter(t *testing.T) {
	c := newCoalescer(10*time.Millisecond, func(*session) {}) // spans of 100 ms
	ms := int64(time.Millisecond)
	type write struct {
		at     int64
		frames int
	}
	for _, tt := range []struct {
		name        string
		writes      []write
		at          int64 // when flooded is asked
		wantFlooded bool
	}{
		{"never written", nil, 5 * ms, false},
		{"a request's answers: a few frames", []write{{1 * ms, 1}, {1 * ms, 2}, {3 * ms, 1}}, 4 * ms, false},
		{"ten frames within a span", []write{{1 * ms, 4}, {20 * ms, 3}, {90 * ms, 3}}, 91 * ms, true},
		{"one batch of ten", []write{{1 * ms, 10}}, 2 * ms, true},
		{"a flood lasts a span after its last full span", []write{{1 * ms, 10}}, 100 * ms, true},
		{"and ends then", []write{{1 * ms, 10}}, 101 * ms, false},
		{"ten frames spread over two spans are no flood", []write{{1 * ms, 5}, {150 * ms, 5}}, 151 * ms, false},
		{"a steady 100 frames/s is", []write{{1 * ms, 1}, {11 * ms, 1}, {21 * ms, 1}, {31 * ms, 1}, {41 * ms, 1},
			{51 * ms, 1}, {61 * ms, 1}, {71 * ms, 1}, {81 * ms, 1}, {91 * ms, 1}}, 95 * ms, true},
	} {
		var m floodMeter
		for _, w := range tt.writes {
			c.record(&m, w.frames, w.at)
		}
		if got := c.flooded(&m, tt.at); got != tt.wantFlooded {
			t.Errorf("%s: flooded = %v, want %v", tt.name, got, tt.wantFlooded)
		}
	}
	c.timer.Stop()
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

// TestCoalescedFramesGoOutInOneWrite: a connection is written at once until
// it is flooded; then the frames that arrive before the coalescer's round
// go out together, in one write — except a client's answers (its own
// message's copy), which never wait.
func TestCoalescedFramesGoOutInOneWrite(t *testing.T) {
	// A window of an hour: every round in this test is run by hand, and a
	// flood, once reached, lasts for the whole test.
	ts := startServer(t, func(c *Config) { c.WriteCoalesce = time.Hour })
	alice, bob := ts.dial(t), ts.dial(t)
	alice.send(`{"type":"join","name":"alice"}`)
	alice.expect(map[string]any{"type": "welcome"})
	bob.send(`{"type":"join","name":"bob"}`)
	bob.expect(map[string]any{"type": "welcome"})

	queued := func(name string) int {
		s := ts.sessionByName(name)
		s.q.mu.Lock()
		defer s.q.mu.Unlock()
		return len(s.q.msgs)
	}
	// Not flooded yet: bob's join, presence and the first chats reach both
	// without a round.
	// (Rounds are run while waiting: the warm-up itself floods them.)
	awaitChat := func(c *client, text string) {
		t.Helper()
		for range 10000 {
			ts.coalesce.round()
			select {
			case b := <-c.msgs:
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				if m["type"] == "chat" && m["text"] == text {
					return
				}
			default:
				time.Sleep(time.Millisecond)
			}
		}
		t.Fatalf("%q never arrived", text)
	}
	for i := range floodFrames {
		alice.send(fmt.Sprintf(`{"type":"chat","text":"warm-up %d"}`, i))
	}
	last := fmt.Sprintf("warm-up %d", floodFrames-1)
	awaitChat(alice, last)
	awaitChat(bob, last)
	for _, name := range []string{"alice", "bob"} {
		if !ts.sessionByName(name).flooded() {
			t.Fatalf("%s is not flooded after %d frames", name, floodFrames)
		}
	}

	// Both writers have finished (a writer still running takes what is
	// queued without a round).
	idle := func(name string) bool {
		s := ts.sessionByName(name)
		s.q.mu.Lock()
		defer s.q.mu.Unlock()
		return !s.q.running && len(s.q.msgs) == 0
	}
	for i := 0; !idle("alice") || !idle("bob"); i++ {
		if i == 5000 {
			t.Fatal("the writers never went idle")
		}
		ts.coalesce.round()
		time.Sleep(time.Millisecond)
	}

	const n = 5
	for i := range n {
		alice.send(fmt.Sprintf(`{"type":"chat","text":"m%d"}`, i))
	}
	// alice's own copies are answers she waits for: they go out at once,
	// flood or not.
	for i := range n {
		alice.expect(map[string]any{"type": "chat", "text": fmt.Sprintf("m%d", i)})
	}
	for i := 0; queued("bob") != n; i++ {
		if i == 5000 {
			t.Fatalf("bob's queue holds %d frames, want %d", queued("bob"), n)
		}
		time.Sleep(time.Millisecond)
	}
	writes := counterValue(t, ts.m.writes)
	frames := counterValue(t, ts.m.framesOut)
	ts.coalesce.round()
	for i := range n {
		bob.expect(map[string]any{"type": "chat", "text": fmt.Sprintf("m%d", i)})
	}
	// The writer counts its write after the syscall, which may be after
	// bob has read the bytes: wait for it to finish.
	for i := 0; !idle("bob"); i++ {
		if i == 5000 {
			t.Fatal("bob's writer never finished")
		}
		time.Sleep(time.Millisecond)
	}
	if w, f := counterValue(t, ts.m.writes)-writes, counterValue(t, ts.m.framesOut)-frames; w != 1 || f != n {
		t.Fatalf("the round wrote %v frames in %v writes, want %d in one", f, w, n)
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
