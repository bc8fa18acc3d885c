package server_test

// Scale and abuse: 1,000 concurrent clients in several rooms with every message
// accounted for (§3 "Order" and "No silent loss"), and a slow consumer that must be
// cut off (1008 slow_consumer) without stalling the others or growing the heap.

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatd/chatd/server"
)

// loadMember is one of the thousand: its own reader goroutine records what it sees.
type loadMember struct {
	name  string
	rooms []string
	ws    *websocket.Conn

	joined   chan string   // room, on each own join event
	complete chan struct{} // closed once every expected chat arrived
	synced   chan struct{} // closed on the answer to the final who (ref "sync")
	done     chan struct{} // reader exited

	// Written by the reader under mu (events may still arrive after complete).
	mu       sync.Mutex
	presence map[string][]string // room → users at join
	events   map[string][]env    // room → join/leave/chat in arrival order
	chats    map[string]int
	err      error
}

func (m *loadMember) read(want map[string]int) {
	defer close(m.done)
	order := newOrderTracker()
	completed := false
	for {
		_, b, err := m.ws.ReadMessage()
		m.mu.Lock()
		if err != nil {
			defer m.mu.Unlock()
			if !completed && m.err == nil {
				m.err = fmt.Errorf("%s: connection ended early: %v", m.name, err)
			}
			return
		}
		e, err := parseEnvelope(b)
		if err == nil {
			err = order.observe(e)
		}
		if err != nil && m.err == nil {
			m.err = fmt.Errorf("%s: %v", m.name, err)
		}
		room := e.s("room")
		switch e.typ() {
		case "welcome":
		case "presence":
			if e.s("ref") == "sync" {
				close(m.synced)
				break
			}
			m.presence[room] = e.strs("users")
		case "join", "leave", "chat":
			m.events[room] = append(m.events[room], e)
			if e.typ() == "join" && e.s("from") == m.name {
				m.joined <- room
			}
			if e.typ() == "chat" {
				m.chats[room]++
			}
		default:
			if m.err == nil {
				m.err = fmt.Errorf("%s: unexpected %s", m.name, e)
			}
		}
		if !completed && want != nil {
			all := true
			for r, n := range want {
				all = all && m.chats[r] >= n
			}
			if all {
				completed = true
				close(m.complete)
			}
		}
		m.mu.Unlock()
	}
}

// TestE2EThousandClients is not parallel: it runs before the parallel tests, so
// they do not compete with it for the CPU (and it not with them).
func TestE2EThousandClients(t *testing.T) {
	const clients, rooms = 1000, 50
	h := start(t, func(c *server.Config) {
		// A loaded CI machine (and -race) may leave a reader unscheduled for a
		// while: this test is about delivery and order, not about slow consumers.
		c.WriteTimeout, c.QueueBytes, c.JoinTimeout = time.Minute, 8<<20, time.Minute
		// No pings during the test: gorilla answers them with a 1 s write deadline,
		// and a pong write starved that long poisons its connection for good.
		c.PingInterval, c.IdleTimeout = 10*time.Minute, 20*time.Minute
	})

	members := make([]*loadMember, clients)
	roomMembers := map[string][]string{}
	for i := range members {
		primary := i % rooms
		rs := []string{fmt.Sprintf("room%02d", primary)}
		if i%10 == 0 { // a tenth of them sit in a second room too
			second := (primary + 1 + (i/rooms)%(rooms-1)) % rooms
			rs = append(rs, fmt.Sprintf("room%02d", second))
		}
		m := &loadMember{name: fmt.Sprintf("u%04d", i), rooms: rs, joined: make(chan string, 2),
			complete: make(chan struct{}), synced: make(chan struct{}), done: make(chan struct{}),
			presence: map[string][]string{}, events: map[string][]env{}, chats: map[string]int{}}
		members[i] = m
		for _, r := range rs {
			roomMembers[r] = append(roomMembers[r], m.name)
		}
	}
	want := func(m *loadMember) map[string]int {
		w := map[string]int{}
		for _, r := range m.rooms {
			w[r] = len(roomMembers[r]) // everyone in the room chats once
		}
		return w
	}
	t.Cleanup(func() {
		for _, m := range members {
			if m.ws != nil {
				_ = m.ws.NetConn().Close()
				<-m.done
			}
		}
	})
	write := func(m *loadMember, v map[string]any) error {
		b, _ := json.Marshal(v)
		// No write deadline: on a loaded machine under -race a goroutine may wait
		// long for the CPU; a real hang shows as missing chats below.
		return m.ws.WriteMessage(websocket.TextMessage, b)
	}
	awaitJoin := func(m *loadMember, room string) error {
		select {
		case r := <-m.joined:
			if r != room {
				return fmt.Errorf("%s: joined %s, want %s", m.name, r, room)
			}
			return nil
		case <-m.done:
			return m.err
		case <-time.After(time.Minute):
			return fmt.Errorf("%s: no join event for %s", m.name, room)
		}
	}

	startT := time.Now()
	// Phase 1: connect and join, 50 handshakes at a time.
	var failed atomic.Value
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ws, _, err := h.dialWS(dialOpts{})
			if err != nil {
				failed.CompareAndSwap(nil, fmt.Errorf("%s: dial: %v", m.name, err))
				close(m.done)
				return
			}
			m.ws = ws
			go m.read(want(m))
			if err := write(m, map[string]any{"type": "join", "name": m.name, "room": m.rooms[0]}); err != nil {
				failed.CompareAndSwap(nil, err)
				return
			}
			if err := awaitJoin(m, m.rooms[0]); err != nil {
				failed.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	// Phase 2: second rooms.
	for _, m := range members {
		if len(m.rooms) < 2 {
			continue
		}
		if err := write(m, map[string]any{"type": "join", "room": m.rooms[1]}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range members {
		if len(m.rooms) == 2 {
			if err := awaitJoin(m, m.rooms[1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	joinedAt := time.Since(startT)
	// Phase 3: everyone chats once in each of its rooms, all at once.
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range m.rooms {
				if err := write(m, map[string]any{"type": "chat", "room": r, "text": m.name + "@" + r}); err != nil {
					failed.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	deliveries := 0
	for _, m := range members {
		select {
		case <-m.complete:
		case <-m.done:
			t.Fatalf("%s: ended before every chat arrived: %v", m.name, m.err)
		case <-time.After(2 * time.Minute):
			m.mu.Lock()
			got := fmt.Sprint(m.chats)
			m.mu.Unlock()
			t.Fatalf("%s: chats missing: got %v, want %v", m.name, got, want(m))
		}
	}
	chattedAt := time.Since(startT)
	// Every chat has been fanned out by now; a who round trip per member flushes
	// anything else still queued for it (a duplicate would show up below).
	for _, m := range members {
		if err := write(m, map[string]any{"type": "who", "room": m.rooms[0], "ref": "sync"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range members {
		select {
		case <-m.synced:
		case <-m.done:
			t.Fatalf("%s: ended before the final who: %v", m.name, m.err)
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s: no answer to the final who", m.name)
		}
	}

	// Verify: each member saw every chat of each of its rooms exactly once, and the
	// room's membership is exactly presence-at-join plus the joins seen after.
	for _, m := range members {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.err != nil {
			t.Fatal(m.err)
		}
		for _, r := range m.rooms {
			var texts []string
			seen := slices.Clone(m.presence[r])
			for _, e := range m.events[r] {
				switch e.typ() {
				case "chat":
					texts = append(texts, e.s("text"))
					deliveries++
				case "join":
					if e.s("from") != m.name {
						seen = append(seen, e.s("from"))
					}
				case "leave":
					t.Fatalf("%s: unexpected leave in %s: %s", m.name, r, e)
				}
			}
			slices.Sort(texts)
			var wantTexts []string
			for _, n := range roomMembers[r] {
				wantTexts = append(wantTexts, n+"@"+r)
			}
			slices.Sort(wantTexts)
			if !slices.Equal(texts, wantTexts) {
				t.Fatalf("%s in %s: %d chats, want exactly the %d sent", m.name, r, len(texts), len(wantTexts))
			}
			slices.Sort(seen)
			wantMembers := slices.Clone(roomMembers[r])
			slices.Sort(wantMembers)
			if !slices.Equal(seen, wantMembers) {
				t.Fatalf("%s in %s: presence+joins %d names, want the %d members", m.name, r, len(seen), len(wantMembers))
			}
		}
	}
	t.Logf("%d clients in %d rooms: joined after %v, %d chat deliveries verified after %v",
		clients, rooms, joinedAt.Round(time.Millisecond), deliveries, chattedAt.Round(time.Millisecond))
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestE2ESlowConsumer: while alice floods the room, slow reads nothing. bob and
// alice keep up and must get everything without a stall; slow's queue must stay
// bounded (it is cut off with 1008 slow_consumer, which it reads once it resumes,
// after a gap-free prefix of what it was owed); the heap must not hold its backlog.
//
// Not parallel: Go runs it before the parallel tests start, so the heap it
// measures is its own.
func TestE2ESlowConsumer(t *testing.T) {
	const queue = 64 << 10
	h := start(t, func(c *server.Config) {
		c.QueueBytes = queue
		c.RatePerSec, c.RateBurst = 1e6, 1e6
		// Long enough that the server is still trying to deliver slow's Close frame
		// when slow resumes reading at the end of the flood.
		c.WriteTimeout, c.CloseTimeout = time.Minute, time.Minute
		c.PingInterval, c.IdleTimeout = 10*time.Minute, 20*time.Minute // see TestE2EThousandClients
	})
	a, _ := h.joinAs(t, "alice", "lobby")
	b, _ := h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")
	slow := h.dial(t, dialOpts{noReader: true})
	syncJoin(t, slow, "slow", "lobby")
	a.expectEvent("join", "lobby", "slow")
	b.expectEvent("join", "lobby", "slow")

	runtime.GC()
	base := heapAlloc()
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			if v := heapAlloc(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { close(stopSampling) }); sampler.Wait() }
	t.Cleanup(stop)

	// ~8 MB to every member: more than slow's socket buffers (measured: up to ~4 MB
	// on loopback) and queue hold.
	// alice sends message i only once both she and bob have received message
	// i-window, so neither lags by more than window messages (a quarter of the
	// queue; the batch being written counts too).
	const n, window = 2000, 4
	pad := strings.Repeat("p", 3990)
	seen := map[*client]int{}
	left := map[*client]bool{}
	consume := func(m *client, upto int, wantLeave bool) {
		t.Helper()
		for seen[m] <= upto || (wantLeave && !left[m]) {
			e := m.next()
			switch {
			case e.typ() == "leave" && e.s("from") == "slow":
				if e.s("reason") != "disconnected" {
					t.Fatalf("slow consumer's leave reason %q, want disconnected", e.s("reason"))
				}
				left[m] = true
			case e.typ() == "chat" && strings.HasPrefix(e.s("text"), fmt.Sprintf("%05d", seen[m])):
				seen[m]++
			default:
				t.Fatalf("%s: want chat %d, got %.60s", m.name, seen[m], e.raw)
			}
		}
	}
	for i := range n {
		a.sendText(fmt.Sprintf(`{"type":"chat","text":"%05d%s"}`, i, pad))
		if i >= window {
			consume(b, i-window, false)
			consume(a, i-window, false)
		}
	}
	consume(b, n-1, false)
	consume(a, n-1, false)
	stop()

	// Now slow reads: a gap-free prefix, then the Close.
	got := 0
	var closeErr *websocket.CloseError
	_ = slow.ws.SetReadDeadline(time.Now().Add(guard))
	for {
		_, msg, err := slow.ws.ReadMessage()
		if err != nil {
			if !errors.As(err, &closeErr) {
				t.Errorf("slow consumer after %d messages: %v (want a Close 1008 slow_consumer)", got, err)
			}
			break
		}
		e, err := parseEnvelope(msg)
		if err != nil {
			t.Fatal(err)
		}
		if e.typ() != "chat" || !strings.HasPrefix(e.s("text"), fmt.Sprintf("%05d", got)) {
			t.Fatalf("slow consumer: message %d is %.40s: a gap", got, e.raw)
		}
		got++
	}
	if closeErr != nil && (closeErr.Code != 1008 || closeErr.Text != "slow_consumer") {
		t.Errorf("slow consumer closed with %d %q, want 1008 slow_consumer", closeErr.Code, closeErr.Text)
	}
	if got == n {
		t.Fatalf("slow consumer got all %d messages: it was never cut off", n)
	}
	consume(b, n-1, true) // its leave
	consume(a, n-1, true)
	runtime.GC()
	after := heapAlloc()

	mb := func(v uint64) float64 { return float64(v) / (1 << 20) }
	t.Logf("slow consumer got %d of %d messages (%.1f MiB) before its close; heap: base %.1f MiB, peak during the flood %.1f MiB, after GC %.1f MiB",
		got, n, mb(uint64(n)*4000), mb(base), mb(peak.Load()), mb(after))
	if after > base+4<<20 {
		t.Errorf("heap after the flood %.1f MiB vs %.1f MiB before: the slow consumer's backlog was kept", mb(after), mb(base))
	}
	if p := peak.Load(); p > base+32<<20 {
		t.Errorf("heap peaked at %.1f MiB (base %.1f MiB) while %.1f MiB went to a reader that did not read",
			mb(p), mb(base), mb(uint64(n)*4000))
	}
	b.chat("lobby", "after the slow one") // still serving
}
