package server

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatd/chatd/wire"
)

func prepared(t testing.TB, size int) *wire.PreparedMessage {
	m, err := wire.NewPreparedMessage(wire.TextMessage, []byte(strings.Repeat("x", size)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOutQueue(t *testing.T) {
	m := prepared(t, 98) // a 100-byte frame (2-byte header)
	if m.Len() != 100 {
		t.Fatalf("frame length %d, want 100", m.Len())
	}
	type step struct {
		op   string // push, take, done, close
		want pushResult
	}
	cases := []struct {
		name     string
		limit    int
		steps    []step
		wantHigh int
	}{
		{"fills to the byte limit, then overflows", 300, []step{
			{"push", pushed}, {"push", pushed}, {"push", pushed}, {"push", overflow},
		}, 300},
		{"bytes being written still count", 200, []step{
			{"push", pushed}, {"push", pushed}, {"take", 0}, {"push", overflow}, {"done", 0}, {"push", pushed},
		}, 200},
		{"closed queue drops", 300, []step{
			{"push", pushed}, {"close", 0}, {"push", dropped},
		}, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var high atomic.Int64
			q := newOutQueue(c.limit, &high, func() {})
			var batch []*wire.PreparedMessage
			for i, st := range c.steps {
				switch st.op {
				case "push":
					if got := q.push(m); got != st.want {
						t.Fatalf("step %d: push = %d, want %d", i, got, st.want)
					}
				case "take":
					batch = q.take()
				case "done":
					q.done(batch)
				case "close":
					q.close()
				}
			}
			if q.highWater() != c.wantHigh || high.Load() != int64(c.wantHigh) {
				t.Errorf("high water %d (server %d), want %d", q.highWater(), high.Load(), c.wantHigh)
			}
		})
	}
}

// TestOutQueueStartsWriterOnDemand: a writer is started only when work
// arrives and none runs; it is told to exit when the queue is empty, and
// exactly one writer is started to end a closed queue.
func TestOutQueueStartsWriterOnDemand(t *testing.T) {
	m := prepared(t, 10)
	type step struct {
		op         string // push, ping, next, close
		wantStarts int    // writers started so far
		// for next:
		wantBatch  int
		wantPing   bool
		wantClosed bool
		wantOK     bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"pushes while a writer runs start none", []step{
			{op: "push", wantStarts: 1}, {op: "push", wantStarts: 1}, {op: "push", wantStarts: 1},
			{op: "next", wantStarts: 1, wantBatch: 3, wantOK: true},
			{op: "push", wantStarts: 1},
			{op: "next", wantStarts: 1, wantBatch: 1, wantOK: true},
			{op: "next", wantStarts: 1}, // empty: the writer exits
			{op: "push", wantStarts: 2}, // so the next push starts another
			{op: "ping", wantStarts: 2}, // and a ping joins its work
			{op: "next", wantStarts: 2, wantBatch: 1, wantPing: true, wantOK: true},
			{op: "next", wantStarts: 2},
		}},
		{"a ping alone starts a writer", []step{
			{op: "ping", wantStarts: 1}, {op: "ping", wantStarts: 1},
			{op: "next", wantStarts: 1, wantPing: true, wantOK: true},
			{op: "next", wantStarts: 1},
		}},
		{"close starts the writer that ends the connection", []step{
			{op: "push", wantStarts: 1},
			{op: "next", wantStarts: 1, wantBatch: 1, wantOK: true},
			{op: "next", wantStarts: 1},
			{op: "close", wantStarts: 2},
			{op: "next", wantStarts: 2, wantClosed: true, wantOK: true},
			{op: "push", wantStarts: 2}, // dropped
			{op: "ping", wantStarts: 2}, // ignored
			{op: "close", wantStarts: 2},
		}},
		{"close while a writer runs starts none", []step{
			{op: "push", wantStarts: 1}, {op: "close", wantStarts: 1},
			{op: "next", wantStarts: 1, wantClosed: true, wantOK: true},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			starts := 0
			q := newOutQueue(1<<20, nil, func() { starts++ })
			for i, st := range c.steps {
				switch st.op {
				case "push":
					q.push(m)
				case "ping":
					q.pingDue()
				case "close":
					q.close()
				case "next":
					batch, ping, closed, ok := q.next()
					if len(batch) != st.wantBatch || ping != st.wantPing || closed != st.wantClosed || ok != st.wantOK {
						t.Fatalf("step %d: next = %d messages, ping %v, closed %v, ok %v; want %d, %v, %v, %v",
							i, len(batch), ping, closed, ok, st.wantBatch, st.wantPing, st.wantClosed, st.wantOK)
					}
					q.done(batch)
				}
				if starts != st.wantStarts {
					t.Fatalf("step %d (%s): %d writers started, want %d", i, st.op, starts, st.wantStarts)
				}
			}
		})
	}
}

// TestOutQueuePushDoesNotAllocate is the per-recipient half of the broadcast
// promise: once the queue's arrays have grown, queueing costs no allocation.
func TestOutQueuePushDoesNotAllocate(t *testing.T) {
	q := newOutQueue(1<<20, nil, func() {})
	m := prepared(t, 100)
	cycle := func() {
		for range 8 {
			q.push(m)
		}
		q.done(q.take())
	}
	cycle()
	cycle()
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Errorf("%.1f allocations per push/take/done cycle, want 0", n)
	}
}

// TestOutQueueDefersToCoalescingRounds: with coalescing, a writer that
// should wait is deferred to the round (not started), further pushes add to
// it, the round starts it once, a writer's yield defers it again, and a
// close starts a deferred writer at once instead of waiting for the round.
func TestOutQueueDefersToCoalescingRounds(t *testing.T) {
	m := prepared(t, 10)
	var started, deferrals int
	busy := true
	q := newOutQueue(1<<20, nil, func() { started++ })
	q.shouldDefer = func() bool { return busy }
	q.deferTo = func() { deferrals++ }
	check := func(step string, wantStarted, wantDeferrals int) {
		t.Helper()
		if started != wantStarted || deferrals != wantDeferrals {
			t.Fatalf("%s: %d starts and %d deferrals, want %d and %d", step, started, deferrals, wantStarted, wantDeferrals)
		}
	}

	q.push(m)
	check("push on a busy connection", 0, 1)
	q.push(m)
	q.pingDue()
	check("more work while deferred", 0, 1)
	q.roundStart()
	check("the round", 1, 1)
	q.roundStart()
	check("a second round", 1, 1)

	batch, ping, closed, ok := q.next()
	if len(batch) != 2 || !ping || closed || !ok {
		t.Fatalf("next = %d frames, ping %v, closed %v, ok %v; want 2, true, false, true", len(batch), ping, closed, ok)
	}
	q.done(batch)
	if q.yield() {
		t.Fatal("yield with nothing queued: the writer should carry on (and exit)")
	}
	q.push(m)
	check("a push while the writer runs", 1, 1)
	if !q.yield() {
		t.Fatal("yield with a frame queued: the writer should wait for the round")
	}
	check("the writer yielded", 1, 2)

	q.close()
	check("a close while deferred starts the writer at once", 2, 2)
	q.roundStart()
	check("the round after the close", 2, 2)
	if _, _, closed, _ := q.next(); !closed {
		t.Fatal("the started writer does not see the close")
	}

	// A quiet connection starts its writer at once.
	busy = false
	started, deferrals = 0, 0
	q = newOutQueue(1<<20, nil, func() { started++ })
	q.shouldDefer = func() bool { return busy }
	q.deferTo = func() { deferrals++ }
	q.push(m)
	check("push on a quiet connection", 1, 0)
}

// TestOutQueuePushNowDoesNotWaitForTheRound: an answer the client waits for
// starts the writer at once, on a flooded connection too, and takes a
// writer deferred to the round along.
func TestOutQueuePushNowDoesNotWaitForTheRound(t *testing.T) {
	m := prepared(t, 10)
	var started, deferrals int
	q := newOutQueue(1<<20, nil, func() { started++ })
	q.shouldDefer = func() bool { return true } // flooded
	q.deferTo = func() { deferrals++ }

	q.pushNow(m)
	if started != 1 || deferrals != 0 {
		t.Fatalf("pushNow on an idle flooded queue: %d starts, %d deferrals; want 1 and 0", started, deferrals)
	}
	batch, _, _, _ := q.next()
	q.done(batch)
	if _, _, _, ok := q.next(); ok {
		t.Fatal("the writer has work left")
	}

	q.push(m)
	if started != 1 || deferrals != 1 {
		t.Fatalf("push on a flooded queue: %d starts, %d deferrals; want 1 and 1", started, deferrals)
	}
	q.pushNow(m)
	if started != 2 {
		t.Fatalf("pushNow while deferred: %d starts, want 2", started)
	}
	if batch, _, _, _ := q.next(); len(batch) != 2 {
		t.Fatalf("the writer took %d frames, want both", len(batch))
	}
	q.roundStart()
	if started != 2 {
		t.Fatalf("the round after pushNow started another writer (%d starts)", started)
	}

	// A pushNow while the writer runs: the writer must not yield it to
	// the round.
	q.pushNow(m)
	if q.yield() {
		t.Fatal("the writer yielded an urgent frame to the round")
	}
	if batch, _, _, ok := q.next(); !ok || len(batch) != 1 {
		t.Fatalf("the writer took %d frames (ok %v), want the urgent one", len(batch), ok)
	}
	q.push(m)
	if !q.yield() {
		t.Fatal("a plain frame after the urgent one was taken: the writer should yield")
	}
}
