package server

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// benchRoom builds a server whose room "lobby" has n local members without
// connections: their queues are drained by hand, so the benchmark measures
// the fan-out alone (encode once, frame once, queue n times).
func benchRoom(tb testing.TB, n int) (*Server, []*session) {
	cfg := DefaultConfig()
	cfg.QueueBytes = 64 << 20
	srv, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	r := &localRoom{name: "lobby"}
	members := make([]*session, n)
	for i := range members {
		members[i] = newSession(srv, nil, "bench")
		members[i].name = fmt.Sprintf("user%d", i)
	}
	r.members = members
	srv.rooms["lobby"] = r
	tb.Cleanup(func() { srv.broker.Close() })
	return srv, members
}

func drain(members []*session) {
	for _, m := range members {
		m.q.done(m.q.take())
		select {
		case <-m.q.wake:
		default:
		}
	}
}

// BenchmarkBroadcast fans one chat event out to 1,000 members. Reported:
// ns per delivery and allocations per recipient (the goal is 0: one encoding
// and one frame per event, shared by every queue).
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			srv, members := benchRoom(b, n)
			ev := &Event{Kind: EventChat, ID: "01JD0000000000000000000000", TS: time.Now(), Room: "lobby",
				From: "user1", Session: "someone-else", Text: strings.Repeat("hello ", 10)}
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				srv.deliver(ev)
				if i%64 == 63 {
					b.StopTimer()
					drain(members)
					b.StartTimer()
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/float64(n), "allocs/delivery")
		})
	}
}

// TestBroadcastAllocationsDoNotGrowWithMembers pins the broadcast promise:
// the allocations of one fan-out are the same for 10 members as for 1,000.
func TestBroadcastAllocationsDoNotGrowWithMembers(t *testing.T) {
	allocs := func(n int) float64 {
		srv, members := benchRoom(t, n)
		ev := &Event{Kind: EventChat, ID: "01JD0000000000000000000000", TS: time.Now(), Room: "lobby",
			From: "user1", Session: "someone-else", Text: "hello"}
		srv.deliver(ev) // grow the queues' arrays
		drain(members)
		return testing.AllocsPerRun(20, func() {
			srv.deliver(ev)
			drain(members)
		})
	}
	small, large := allocs(10), allocs(1000)
	if large > small {
		t.Errorf("one broadcast allocates %.0f times for 1,000 members but %.0f for 10", large, small)
	}
}
