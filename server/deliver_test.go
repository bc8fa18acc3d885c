package server

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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
		members[i].q.start = func() {} // no socket: drain plays the writer
		members[i].name = fmt.Sprintf("user%d", i)
	}
	r.members = members
	srv.rooms["lobby"] = r
	tb.Cleanup(func() { srv.broker.Close() })
	return srv, members
}

func drain(members []*session) {
	for _, m := range members {
		for {
			batch, _, _, ok := m.q.next()
			if !ok {
				break
			}
			m.q.done(batch)
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
		for range 3 { // grow both of each queue's arrays
			srv.deliver(ev)
			drain(members)
		}
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

// BenchmarkFanoutLoopback is the end-to-end broadcast: one sender, n
// members connected over loopback with the project's wire client, each
// reading every message (and counting the chats). One op is one chat
// message sent and received by all n members; ns/delivery divides by n.
// The connections are set up once per size and reused by the benchmark's
// rounds (1,000 joins are a million join events).
func BenchmarkFanoutLoopback(b *testing.B) {
	for _, n := range []int{100, 1000} {
		f := newFanoutRoom(b, n)
		b.Run(fmt.Sprintf("members=%d", n), f.run)
		f.stop()
	}
}

// fanoutRoom is n members in "lobby" plus a sender, over loopback.
type fanoutRoom struct {
	ts      *testServer
	n       int
	sender  *client
	got     atomic.Int64 // chats read by all members
	readers sync.WaitGroup
}

func newFanoutRoom(b *testing.B, n int) *fanoutRoom {
	f := &fanoutRoom{n: n}
	f.ts = startServer(b, func(c *Config) {
		c.Logger = nil
		c.RatePerSec, c.RateBurst = 1e9, 1<<30
		c.QueueBytes = 64 << 20 // measure speed, not the slow-consumer rule
	})
	for i := range n {
		c := f.ts.dialPaused(b)
		c.send(fmt.Sprintf(`{"type":"join","name":"m%d"}`, i))
		f.readers.Go(func() {
			for {
				_, msg, err := c.conn.ReadMessage()
				if err != nil {
					return
				}
				if bytes.Contains(msg, []byte(`"type":"chat"`)) {
					f.got.Add(1)
				}
			}
		})
	}
	// The members joined asynchronously: wait until all are in.
	for {
		users, _ := f.ts.broker.Members(context.Background(), "lobby")
		if len(users) == n {
			break
		}
		time.Sleep(time.Millisecond)
	}
	f.sender = f.ts.dialPaused(b)
	f.sender.send(`{"type":"join","name":"sender","room":"elsewhere"}`)
	f.sender.send(`{"type":"join","room":"lobby"}`)
	return f
}

func (f *fanoutRoom) run(b *testing.B) {
	text := strings.Repeat("fan-out ", 8)
	f.got.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		f.sender.send(`{"type":"chat","text":"` + text + `"}`)
	}
	want := int64(b.N) * int64(f.n)
	for f.got.Load() < want {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/delivery")
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "deliveries/s")
}

// stop closes every connection (the server's Shutdown) and waits for the
// members' readers.
func (f *fanoutRoom) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = f.ts.Shutdown(ctx)
	f.readers.Wait()
}
