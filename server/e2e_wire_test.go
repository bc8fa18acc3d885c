package server_test

// A subset of the end-to-end cases again, with the project's own client side
// (wire.Dial) talking to the server, next to gorilla peers.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatd/chatd/server"
	"github.com/chatd/chatd/wire"
)

type wireTransport struct{ c *wire.Conn }

func (w wireTransport) read() (bool, []byte, error) {
	typ, b, err := w.c.ReadMessage()
	if err != nil {
		var ce *wire.CloseError
		if errors.As(err, &ce) {
			return false, nil, &websocket.CloseError{Code: int(ce.Code), Text: ce.Reason}
		}
		return false, nil, err
	}
	return typ == wire.TextMessage, b, nil
}

func (w wireTransport) write(msg []byte) error {
	_ = w.c.SetWriteDeadline(time.Now().Add(guard))
	return w.c.WriteMessage(wire.TextMessage, msg)
}

func (w wireTransport) closeWith(code int) error { return w.c.Close(wire.StatusCode(code), "") }

func (w wireTransport) kill() error { return w.c.CloseNow() }

func (h *harness) dialWire(t testing.TB, opts *wire.DialOptions) (*client, *wire.Conn) {
	t.Helper()
	if opts == nil {
		opts = &wire.DialOptions{}
	}
	opts.TLSConfig = h.clientTL
	if opts.Subprotocols == nil {
		opts.Subprotocols = []string{subprotocol}
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	conn, resp, err := wire.Dial(ctx, h.wsURL(), opts)
	if err != nil {
		t.Fatalf("wire.Dial %s: %v (response %s)", h.wsURL(), err, statusOf(resp))
	}
	c := newClient(t, wireTransport{conn})
	c.resp = resp
	c.startReader()
	return c, conn
}

func TestE2EWireClient(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) { c.MaxMessageBytes = 4096 })

	t.Run("session", func(t *testing.T) {
		a, conn := h.dialWire(t, nil)
		if conn.Subprotocol() != subprotocol {
			t.Fatalf("subprotocol %q", conn.Subprotocol())
		}
		a.name = "walice"
		a.join(map[string]any{"name": "walice", "room": "wroom"}, true)
		b, _ := h.joinAs(t, "gbob", "wroom")
		a.expectEvent("join", "wroom", "gbob")
		a.chat("wroom", "from wire")
		b.expectChat("wroom", "walice", "from wire")
		b.chat("wroom", "from gorilla")
		a.expectChat("wroom", "gbob", "from gorilla")
		a.send(map[string]any{"type": "pm", "to": "GBOB", "text": "psst", "ref": "p"})
		checkRef(t, a.nextType("pm"), "p")
		checkRef(t, b.nextType("pm"), "")
		b.send(map[string]any{"type": "typing", "to": "walice", "active": true})
		if e := a.nextType("typing"); e.s("from") != "gbob" || !e.b("active") {
			t.Fatalf("typing %s", e)
		}
		a.send(map[string]any{"type": "leave", "room": "wroom", "ref": "l"})
		checkRef(t, a.nextType("leave"), "l")
		b.expectEvent("leave", "wroom", "walice")
		a.send(map[string]any{"type": "leave"})
		a.expectClose(1000, "bye")
	})
	t.Run("compressed", func(t *testing.T) {
		a, conn := h.dialWire(t, &wire.DialOptions{Compression: &wire.CompressionOptions{}})
		if !conn.CompressionEnabled() {
			t.Fatalf("permessage-deflate not negotiated with the wire client")
		}
		a.name = "wzip"
		a.join(map[string]any{"name": "wzip", "room": "zroom"}, true)
		b, _ := h.joinAs(t, "gplain", "zroom")
		a.expectEvent("join", "zroom", "gplain")
		long := strings.Repeat("deflate me ", 300)
		a.chat("zroom", long)
		b.expectChat("zroom", "wzip", long)
		b.chat("zroom", long+"!")
		a.expectChat("zroom", "gplain", long+"!")
	})
	t.Run("binary closes 1003", func(t *testing.T) {
		a, conn := h.dialWire(t, nil)
		a.name = "wbin"
		a.join(map[string]any{"name": "wbin", "room": "binroom"}, true)
		if err := conn.WriteMessage(wire.BinaryMessage, []byte(`{"type":"who"}`)); err != nil {
			t.Fatal(err)
		}
		a.expectClose(1003, "binary_unsupported")
	})
	t.Run("oversize closes 1009", func(t *testing.T) {
		a, _ := h.dialWire(t, nil)
		a.name = "wbig"
		a.join(map[string]any{"name": "wbig", "room": "bigroom"}, true)
		a.sendText(`{"type":"chat","text":"` + strings.Repeat("é", 2100) + `"}`) // 4200+ bytes
		a.expectClose(1009, "too_large")
	})
	t.Run("only other subprotocols", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		conn, resp, err := wire.Dial(ctx, h.wsURL(), &wire.DialOptions{Subprotocols: []string{"chat.v2"}})
		if err == nil {
			conn.CloseNow()
			t.Fatal("handshake offering only chat.v2 succeeded")
		}
		if resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %s, want 400 (%v)", statusOf(resp), err)
		}
	})
}

func TestE2EWireTLS(t *testing.T) {
	t.Parallel()
	h := startTLS(t, newTestCert(t))
	a, _ := h.dialWire(t, nil)
	a.name = "wtls"
	a.join(map[string]any{"name": "wtls"}, true)
	b, _ := h.joinAs(t, "gtls", "lobby")
	a.expectEvent("join", "lobby", "gtls")
	a.chat("lobby", "wss from wire")
	b.expectChat("lobby", "wtls", "wss from wire")
}
