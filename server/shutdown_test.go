package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestShutdown: every message accepted before Shutdown is delivered, the
// members still connected see the others leave, every client is closed with
// 1001 "shutdown", and new upgrades are refused.
func TestShutdown(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.RatePerSec, c.RateBurst = 1000, 1000 })
	names := []string{"alice", "bob", "carol"}
	clients := make([]*client, len(names))
	for i, name := range names {
		clients[i] = ts.dial(t)
		clients[i].send(`{"type":"join","name":"` + name + `"}`)
		clients[i].expect(map[string]any{"type": "welcome"})
	}
	const n = 50
	for i := range n {
		clients[0].send(fmt.Sprintf(`{"type":"chat","text":"m%d"}`, i))
	}
	// Wait until the server has accepted all of them: alice's own copies.
	seen := 0
	for seen < n {
		if m := clients[0].next(); m["type"] == "chat" {
			seen++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(ctx) }()

	for i, c := range clients[1:] {
		chats := 0
		for {
			b, err := c.nextRaw()
			if err != nil {
				break
			}
			if strings.Contains(string(b), `"type":"chat"`) {
				if !strings.Contains(string(b), fmt.Sprintf(`"m%d"`, chats)) {
					t.Fatalf("%s: chat %d out of order: %s", names[i+1], chats, b)
				}
				chats++
			}
		}
		if chats != n {
			t.Errorf("%s got %d of the %d accepted messages before the close", names[i+1], chats, n)
		}
	}
	for i, c := range clients {
		if code, reason := c.closed(); code != 1001 || reason != "shutdown" {
			t.Errorf("%s closed with %d %q, want 1001 shutdown", names[i], code, reason)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	resp, err := http.Get(ts.url + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("upgrade after Shutdown: %d, want 503", resp.StatusCode)
	}
}

// TestShutdownLeaveEvents: members still connected during Shutdown see the
// others leave with reason "disconnected" before their own close.
func TestShutdownLeaveEvents(t *testing.T) {
	ts := startServer(t, nil)
	a, b := ts.dial(t), ts.dial(t)
	a.send(`{"type":"join","name":"a"}`)
	a.expect(map[string]any{"type": "welcome"})
	a.expect(map[string]any{"type": "presence"})
	a.expect(map[string]any{"type": "join", "from": "a"})
	b.send(`{"type":"join","name":"b"}`)
	b.expect(map[string]any{"type": "welcome"})
	a.expect(map[string]any{"type": "join", "from": "b"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// a, the first to join, is the first member of the room to be told
	// about the other; whichever leaves first, the other sees it.
	var leaves int
	for _, c := range []*client{a, b} {
		for {
			msg, err := c.nextRaw()
			if err != nil {
				break
			}
			if strings.Contains(string(msg), `"type":"leave"`) && strings.Contains(string(msg), `"reason":"disconnected"`) {
				leaves++
			}
		}
	}
	if leaves != 1 {
		t.Errorf("%d leave events seen, want 1 (the second leaver has nobody left to tell)", leaves)
	}
}
