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
			q := newOutQueue(c.limit, &high)
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

func TestOutQueueWakesWriterOnce(t *testing.T) {
	q := newOutQueue(1<<20, nil)
	m := prepared(t, 10)
	for range 5 {
		q.push(m)
	}
	select {
	case <-q.wake:
	default:
		t.Fatal("no wake-up after pushes")
	}
	select {
	case <-q.wake:
		t.Fatal("a second wake-up for one batch")
	default:
	}
	if b := q.take(); len(b) != 5 {
		t.Fatalf("took %d messages, want 5", len(b))
	}
}

// TestOutQueuePushDoesNotAllocate is the per-recipient half of the broadcast
// promise: once the queue's arrays have grown, queueing costs no allocation.
func TestOutQueuePushDoesNotAllocate(t *testing.T) {
	q := newOutQueue(1<<20, nil)
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
