package server_test

// PROTOCOL.md §1 "On SIGTERM …" through Server.Shutdown: stop accepting, deliver
// every accepted message, close with 1001 shutdown; bounded for clients that never
// read.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatd/chatd/server"
)

// syncJoin joins a client that has no background reader, reading on the test's
// goroutine until its own join event.
func syncJoin(t *testing.T, c *client, name, room string) {
	t.Helper()
	c.name = name
	c.send(map[string]any{"type": "join", "name": name, "room": room})
	_ = c.ws.SetReadDeadline(time.Now().Add(guard))
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			t.Fatalf("%s: join: %v", name, err)
		}
		e, err := parseEnvelope(b)
		if err != nil {
			t.Fatal(err)
		}
		if e.typ() == "join" && e.s("from") == name {
			_ = c.ws.SetReadDeadline(time.Time{})
			return
		}
	}
}

func TestE2EShutdown(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) {
		c.RatePerSec, c.RateBurst = 1e5, 1e5
		c.QueueBytes = 16 << 20 // room for everything below: this test is not about slow consumers
	})
	a, _ := h.joinAs(t, "alice", "lobby")
	c, _ := h.joinAs(t, "carol", "lobby")
	a.expectEvent("join", "lobby", "carol")
	// bob stops reading after his join, so the accepted messages pile up in his queue
	// and socket: Shutdown has to flush them.
	b := h.dial(t, dialOpts{noReader: true})
	syncJoin(t, b, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")
	c.expectEvent("join", "lobby", "bob")

	const n = 300
	body := strings.Repeat("s", 3000)
	for i := range n {
		a.send(map[string]any{"type": "chat", "text": fmt.Sprintf("%04d %s", i, body)})
	}
	for i := range n { // alice's own copies: all n accepted
		if e := a.nextType("chat"); !strings.HasPrefix(e.s("text"), fmt.Sprintf("%04d ", i)) {
			t.Fatalf("alice's copy %d: %.20s", i, e.s("text"))
		}
	}

	shutdownErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		shutdownErr <- h.shutdownServer(ctx)
	}()
	b.startReader()

	// Every member: all n messages in order, then (perhaps) the others' leave with
	// reason disconnected, then 1001 shutdown.
	for _, m := range []*client{b, c} {
		for i := range n {
			e := m.nextType("chat")
			if !strings.HasPrefix(e.s("text"), fmt.Sprintf("%04d ", i)) {
				t.Fatalf("%s: message %d is %.20s", m.name, i, e.s("text"))
			}
		}
	}
	leaves := 0
	for _, m := range []*client{a, b, c} {
		ce := m.closeErr(func(e env) bool {
			if e.typ() != "leave" || e.s("reason") != "disconnected" || e.s("from") == m.name {
				t.Errorf("%s before the shutdown close: %s (want only others' leave events with reason disconnected)", m.name, e)
			}
			leaves++
			return true
		})
		if ce.Code != 1001 || ce.Text != "shutdown" {
			t.Errorf("%s: close %d %q, want 1001 shutdown", m.name, ce.Code, ce.Text)
		}
	}
	// §3 "Leaving": shutdown ends every session with a leave (disconnected) in
	// its rooms; whichever leaves first still has the other two as members.
	if leaves < 2 {
		t.Errorf("%d leave events seen by the members during shutdown, want at least 2", leaves)
	}
	if err := <-shutdownErr; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Stopped accepting.
	if ws, resp, err := h.dialWS(dialOpts{}); err == nil {
		ws.Close()
		t.Fatalf("a new connection was upgraded after Shutdown (%s)", resp.Status)
	}
}

// TestE2EShutdownBounded: a client that never reads cannot hold Shutdown past its
// context; when Shutdown returns, that connection is gone too.
func TestE2EShutdownBounded(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) {
		c.RatePerSec, c.RateBurst = 1e5, 1e5
		c.QueueBytes = 16 << 20
		c.WriteTimeout, c.CloseTimeout = time.Minute, 300*time.Millisecond
	})
	a, _ := h.joinAs(t, "alice", "lobby")
	// Default socket buffers: once Shutdown has cut it, the client drains what the
	// kernel holds at loopback speed and sees the end.
	stuck := h.dial(t, dialOpts{noReader: true})
	syncJoin(t, stuck, "stuck", "lobby")
	a.expectEvent("join", "lobby", "stuck")
	body := strings.Repeat("x", 3900)
	for range 1500 { // ~6 MB: more than the sockets hold, less than the queue
		a.send(map[string]any{"type": "chat", "text": body})
		a.nextType("chat")
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		done <- h.shutdownServer(ctx)
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v", err)
		}
		t.Logf("Shutdown with a client that never reads returned %v", err)
	case <-time.After(guard):
		t.Fatalf("Shutdown ignored its 500 ms context for a client that never reads")
	}
	if ce := a.closeErr(func(e env) bool { return e.typ() == "leave" }); ce.Code != 1001 || ce.Text != "shutdown" {
		t.Errorf("alice: close %d %q, want 1001 shutdown", ce.Code, ce.Text)
	}
	// The stuck client's connection is gone: reading drains what the kernel held and
	// then ends.
	_ = stuck.ws.SetReadDeadline(time.Now().Add(guard))
	for {
		_, _, err := stuck.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("stuck client still connected after Shutdown returned")
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			t.Logf("stuck client got close %d %q", ce.Code, ce.Text)
		}
		break
	}
}
