package wire_test

// The Conn behaviours section 2 and section 7 imply for an API user, checked on the wire
// against the raw server: ping and pong handlers, Ping waiting for its pong (and giving
// up with its context), read deadlines, and Close refusing what it must never send.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/wire"
)

// dialRawPeer dials a fresh raw server with wire.Dial and returns both ends.
func dialRawPeer(t *testing.T) (*wire.Conn, *rawPeer) {
	t.Helper()
	rs := startRawServer(t, goodResponse())
	c, _, err := dialWire(t, rs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := rs.peer(t)
	p.t = t
	return c, p
}

func TestConformanceClientAPI(t *testing.T) {
	t.Run("ping handler sees the payload after the automatic pong", func(t *testing.T) {
		t.Parallel()
		c, p := dialRawPeer(t)
		seen := make(chan string, 1)
		c.SetPingHandler(func(b []byte) error { seen <- string(b); return nil })
		reads := readAsync(c)
		p.send(ping("hi there"))
		p.expect(opPong, []byte("hi there"))
		select {
		case s := <-seen:
			if s != "hi there" {
				t.Errorf("ping handler got %q", s)
			}
		case <-time.After(ioBound):
			t.Fatal("ping handler not called")
		}
		p.send(text("after"))
		if r := waitRead(t, reads); r.err != nil || string(r.p) != "after" {
			t.Fatalf("read %q %v", r.p, r.err)
		}
	})
	t.Run("ping handler error ends the read", func(t *testing.T) {
		t.Parallel()
		c, p := dialRawPeer(t)
		boom := errors.New("handler says no")
		c.SetPingHandler(func([]byte) error { return boom })
		reads := readAsync(c)
		p.send(ping("x"))
		if r := waitRead(t, reads); !errors.Is(r.err, boom) {
			t.Fatalf("read error %v, want the handler's", r.err)
		}
	})
	t.Run("pong handler sees unsolicited pongs", func(t *testing.T) {
		t.Parallel()
		c, p := dialRawPeer(t)
		seen := make(chan string, 1)
		c.SetPongHandler(func(b []byte) error { seen <- string(b); return nil })
		reads := readAsync(c)
		p.send(pong("unsolicited"), text("then a message"))
		if r := waitRead(t, reads); r.err != nil || string(r.p) != "then a message" {
			t.Fatalf("read %q %v", r.p, r.err)
		}
		if s := <-seen; s != "unsolicited" {
			t.Errorf("pong handler got %q", s)
		}
	})
	t.Run("Ping waits for its pong", func(t *testing.T) {
		t.Parallel()
		c, p := dialRawPeer(t)
		reads := readAsync(c)
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), ioBound)
			defer cancel()
			done <- c.Ping(ctx, []byte("are you there"))
		}()
		e, err := p.next(false)
		if err != nil || e.op != opPing || string(e.payload) != "are you there" {
			t.Fatalf("raw server got %v %v, want the ping", e, err)
		}
		select {
		case err := <-done:
			t.Fatalf("Ping returned %v before the pong", err)
		default:
		}
		p.send(pong("are you there"))
		if err := <-done; err != nil {
			t.Fatalf("Ping: %v", err)
		}
		p.send(closeFrame(1000, ""))
		p.expectClose(1000)
		p.c.Close()
		waitRead(t, reads)
	})
	t.Run("Ping gives up with its context", func(t *testing.T) {
		t.Parallel()
		c, p := dialRawPeer(t)
		reads := readAsync(c)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := c.Ping(ctx, []byte("nobody answers"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Ping without a pong returned %v, want context.DeadlineExceeded", err)
		}
		p.expect(opPing, []byte("nobody answers"))
		p.c.Close()
		waitRead(t, reads)
	})
	t.Run("Ping payload over 125 bytes is refused before sending", func(t *testing.T) {
		t.Parallel()
		c, p := dialRawPeer(t)
		ctx, cancel := context.WithTimeout(context.Background(), ioBound)
		defer cancel()
		if err := c.Ping(ctx, bytes.Repeat([]byte("x"), 126)); err == nil {
			t.Fatal("Ping accepted a 126-byte payload")
		}
		// The connection is still good: the next frame on the wire is our message.
		if err := c.WriteMessage(wire.TextMessage, []byte("still fine")); err != nil {
			t.Fatal(err)
		}
		p.expect(opText, []byte("still fine"))
	})
	t.Run("read deadline", func(t *testing.T) {
		t.Parallel()
		c, _ := dialRawPeer(t)
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, _, err := c.ReadMessage()
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read past the deadline: %v, want os.ErrDeadlineExceeded", err)
		}
	})
	t.Run("Close with 1005 sends an empty close frame", func(t *testing.T) {
		t.Parallel()
		c, p := dialRawPeer(t)
		done := make(chan error, 1)
		go func() { done <- c.Close(wire.StatusNoStatusRcvd, "") }()
		e, err := p.next(false)
		if err != nil || e.op != opClose || len(e.payload) != 0 {
			t.Fatalf("got %v %v, want an empty close frame", e, err)
		}
		p.send(closeFrame(0, ""))
		p.c.Close()
		if err := <-done; err != nil && wire.CloseStatus(err) == 0 {
			t.Errorf("Close: %v", err)
		}
	})
	for _, tc := range []struct {
		name   string
		code   wire.StatusCode
		reason string
	}{
		{"Close refuses 1005 with a reason (1005 means an empty close frame)", 1005, "why"},
		{"Close refuses 1006", 1006, ""},
		{"Close refuses 999", 999, ""},
		{"Close refuses 5000", 5000, ""},
		{"Close refuses a reason over 123 bytes", 1000, strings.Repeat("r", 124)},
		{"Close refuses a reason that is not UTF-8", 1000, "\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, p := dialRawPeer(t)
			if err := c.Close(tc.code, tc.reason); err == nil {
				t.Fatalf("Close(%d, %d-byte reason) succeeded", tc.code, len(tc.reason))
			}
			// Whatever Close did instead, it must not have put that frame on the wire.
			c.CloseNow()
			for {
				f, err := p.readFrame()
				if err != nil {
					break // the TCP close from CloseNow
				}
				if code, reason := f.closeCode(); f.op == opClose && code == uint16(tc.code) && reason == tc.reason {
					t.Fatalf("Close sent the refused close frame %d", code)
				}
			}
		})
	}
}
