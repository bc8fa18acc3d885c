package wire_test

// Shared pieces of the interop tests: wire's server with the scenario commands, wire's
// client running the scenario against a foreign server, and the message set both use.
//
// Scenario commands (text messages; every other message is echoed with its type):
//
//	cmd:close:<code>:<reason>  the server closes with that code and reason
//	cmd:ping:<payload>         the server pings; after the pong it sends "pong-received"

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/wire"
)

// interopMessage is one message of the scenario; parts > 1 sends it through a streaming
// writer in that many writes so it goes out fragmented.
type interopMessage struct {
	name  string
	typ   wire.MessageType
	parts [][]byte
}

func (m interopMessage) payload() []byte { return bytes.Join(m.parts, nil) }

// interopMessages is the scenario's message set. Under the race detector the 4 MiB
// messages go only over uncompressed connections (compressing them instrumented takes
// tens of seconds); the ordinary test run sends them compressed too.
func interopMessages(compress bool) []interopMessage {
	ms := []interopMessage{
		{"text", wire.TextMessage, [][]byte{[]byte("hello κόσμε")}},
		{"empty text", wire.TextMessage, [][]byte{nil}},
		{"empty binary", wire.BinaryMessage, [][]byte{nil}},
		{"binary 64 KiB", wire.BinaryMessage, [][]byte{randomBytes(64<<10, 1)}},
		{"text 64 KiB compressible", wire.TextMessage, [][]byte{compressible(64<<10, 2)}},
		{"text 4 MiB", wire.TextMessage, [][]byte{compressible(4<<20, 3)}},
		{"binary 4 MiB", wire.BinaryMessage, [][]byte{randomBytes(4<<20, 4)}},
		{"fragmented text", wire.TextMessage, [][]byte{[]byte("frag"), []byte("ment"), compressible(70000, 5)}},
		{"fragmented binary", wire.BinaryMessage, [][]byte{{0, 1}, nil, bytes.Repeat([]byte{0xff}, 70000)}},
	}
	if raceEnabled && compress {
		ms = slices.DeleteFunc(ms, func(m interopMessage) bool { return len(m.payload()) > 1<<20 })
	}
	return ms
}

// interopServer is wire.Accept running the scenario server; ends reports the read error
// that ended each connection (the client's close code for client-initiated closes).
func startInteropServer(t *testing.T, compress bool) *echoServer {
	t.Helper()
	opts := &wire.AcceptOptions{}
	if compress {
		opts.Compression = &wire.CompressionOptions{}
	}
	es := &echoServer{ends: make(chan error, 16), conns: make(chan *wire.Conn, 16)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wire.Accept(w, r, opts)
		if err != nil {
			return
		}
		es.wg.Add(1)
		defer es.wg.Done()
		defer c.CloseNow()
		var pings sync.WaitGroup
		defer pings.Wait()
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				es.ends <- err
				return
			}
			s := string(p)
			switch {
			case typ == wire.TextMessage && strings.HasPrefix(s, "cmd:close:"):
				code, reason, _ := strings.Cut(strings.TrimPrefix(s, "cmd:close:"), ":")
				n, _ := strconv.Atoi(code)
				// No other reader runs: Close must complete the handshake itself.
				c.Close(wire.StatusCode(n), reason)
			case typ == wire.TextMessage && strings.HasPrefix(s, "cmd:ping:"):
				// Ping needs the reader (this loop) to keep running, so it goes in its
				// own goroutine and answers with WritePrepared, which is safe next to
				// the loop's writes.
				pings.Add(1)
				go func() {
					defer pings.Done()
					ctx, cancel := context.WithTimeout(context.Background(), ioBound)
					defer cancel()
					reply := "pong-received"
					if err := c.Ping(ctx, []byte(strings.TrimPrefix(s, "cmd:ping:"))); err != nil {
						reply = "ping failed: " + err.Error()
					}
					pm, err := wire.NewPreparedMessage(wire.TextMessage, []byte(reply))
					if err == nil {
						c.WritePrepared(pm)
					}
				}()
			default:
				if err := c.WriteMessage(typ, p); err != nil {
					es.ends <- err
					return
				}
			}
		}
	})
	return es.serve(t, h)
}

// pump reads messages from a wire client into a channel so the test can ping (Ping
// needs a running reader) and close while reads continue.
type pump struct {
	msgs chan readResult
	done chan struct{}
}

func startPump(c *wire.Conn) *pump {
	p := &pump{msgs: make(chan readResult, 4), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			typ, b, err := c.ReadMessage()
			p.msgs <- readResult{typ, b, err}
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *pump) next(t *testing.T) readResult {
	t.Helper()
	select {
	case r := <-p.msgs:
		return r
	case <-time.After(ioBound):
		t.Fatalf("no message within %v", ioBound)
		return readResult{}
	}
}

// closeReport is what the foreign server saw of the client's close.
type closeReport func(t *testing.T) (code int, reason string)

// runWireClientScenario runs the scenario with wire.Dial against a foreign server at url.
// mode is "client-close" or "server-close".
func runWireClientScenario(t *testing.T, url string, compress bool, mode string, report closeReport) {
	t.Helper()
	opts := &wire.DialOptions{}
	if compress {
		opts.Compression = &wire.CompressionOptions{}
	}
	c, _, err := dialWire(t, url, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if compress && !c.CompressionEnabled() {
		t.Errorf("peer did not negotiate permessage-deflate")
	}
	pm := startPump(c)
	defer func() {
		c.CloseNow()
		<-pm.done
	}()
	for _, m := range interopMessages(compress) {
		if len(m.parts) == 1 {
			if err := c.WriteMessage(m.typ, m.parts[0]); err != nil {
				t.Fatalf("%s: WriteMessage: %v", m.name, err)
			}
		} else {
			w, err := c.NextWriter(m.typ)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range m.parts {
				if _, err := w.Write(p); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		r := pm.next(t)
		if r.err != nil || r.typ != m.typ || !bytes.Equal(r.p, m.payload()) {
			t.Fatalf("%s: echo %v, %d bytes, err %v", m.name, r.typ, len(r.p), r.err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioBound)
	defer cancel()
	if err := c.Ping(ctx, []byte("wire-ping")); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := c.WriteMessage(wire.TextMessage, []byte("cmd:ping:srv")); err != nil {
		t.Fatal(err)
	}
	if r := pm.next(t); r.err != nil || string(r.p) != "pong-received" {
		t.Fatalf("after the server's ping: %q %v", r.p, r.err)
	}
	switch mode {
	case "client-close":
		if err := c.Close(4000, "wire client bye"); err != nil && wire.CloseStatus(err) == 0 {
			t.Errorf("Close: %v", err)
		}
		r := pm.next(t)
		wantCloseErr(t, r.err, 4000, 1000)
		if report != nil {
			code, reason := report(t)
			if code != 4000 || reason != "wire client bye" {
				t.Errorf("server saw close %d %q, want 4000 %q", code, reason, "wire client bye")
			}
		}
	case "server-close":
		if err := c.WriteMessage(wire.TextMessage, []byte("cmd:close:4001:server bye")); err != nil {
			t.Fatal(err)
		}
		r := pm.next(t)
		wantCloseErr(t, r.err, 4001)
		var ce *wire.CloseError
		if errors.As(r.err, &ce) && ce.Reason != "server bye" {
			t.Errorf("close reason %q, want %q", ce.Reason, "server bye")
		}
	}
}
