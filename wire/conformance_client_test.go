package wire_test

// The client role: wire.Dial against a deliberately misbehaving raw server. The server
// writes its own handshake reply (wrong accept key, unoffered subprotocol or extension,
// bad status) and its own frames (masked when they must not be, reserved bits and
// opcodes, broken fragmentation, invalid UTF-8, bad close frames), and asserts what the
// client puts on the wire in answer: masked frames, the close code, the TCP close.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/wire"
)

func TestConformanceClientHandshake(t *testing.T) {
	tests := []struct {
		name    string
		respond respondFunc
		opts    *wire.DialOptions
		ok      bool
		check   func(t *testing.T, c *wire.Conn)
	}{
		{"valid", goodResponse(), nil, true, nil},
		{"status 200", func(*http.Request) string { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" }, nil, false, nil},
		{"status 403", func(*http.Request) string { return "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope" }, nil, false, nil},
		{"wrong accept key", func(*http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
		}, nil, false, nil},
		{"missing accept key", func(*http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
		}, nil, false, nil},
		{"missing Upgrade", func(r *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
		}, nil, false, nil},
		{"Upgrade to something else", func(r *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
		}, nil, false, nil},
		{"missing Connection", func(r *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + acceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
		}, nil, false, nil},
		{"subprotocol when none was offered", goodResponse("Sec-WebSocket-Protocol: chat.v1"), nil, false, nil},
		{"subprotocol that was not offered", goodResponse("Sec-WebSocket-Protocol: c"), &wire.DialOptions{Subprotocols: []string{"a", "b"}}, false, nil},
		{"two subprotocols", goodResponse("Sec-WebSocket-Protocol: a, b"), &wire.DialOptions{Subprotocols: []string{"a", "b"}}, false, nil},
		{"offered subprotocol chosen", goodResponse("Sec-WebSocket-Protocol: b"), &wire.DialOptions{Subprotocols: []string{"a", "b"}}, true,
			func(t *testing.T, c *wire.Conn) {
				if c.Subprotocol() != "b" {
					t.Errorf("Subprotocol() = %q, want b", c.Subprotocol())
				}
			}},
		{"no subprotocol chosen from an offer", goodResponse(), &wire.DialOptions{Subprotocols: []string{"a"}}, true,
			func(t *testing.T, c *wire.Conn) {
				if c.Subprotocol() != "" {
					t.Errorf("Subprotocol() = %q, want none", c.Subprotocol())
				}
			}},
		{"permessage-deflate not offered", goodResponse("Sec-WebSocket-Extensions: permessage-deflate"), nil, false, nil},
		{"unknown extension", goodResponse("Sec-WebSocket-Extensions: x-foo"), &wire.DialOptions{Compression: &wire.CompressionOptions{}}, false, nil},
		{"permessage-deflate with an unknown parameter", goodResponse("Sec-WebSocket-Extensions: permessage-deflate; foo=1"), &wire.DialOptions{Compression: &wire.CompressionOptions{}}, false, nil},
		{"permessage-deflate twice", goodResponse("Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate"), &wire.DialOptions{Compression: &wire.CompressionOptions{}}, false, nil},
		{"server_max_window_bits=16", goodResponse("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16"), &wire.DialOptions{Compression: &wire.CompressionOptions{}}, false, nil},
		{"accepted permessage-deflate", goodResponse("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover"), &wire.DialOptions{Compression: &wire.CompressionOptions{}}, true,
			func(t *testing.T, c *wire.Conn) {
				if !c.CompressionEnabled() {
					t.Error("CompressionEnabled() = false after an accepted permessage-deflate")
				}
			}},
		{"server limits its own window (allowed unasked, RFC 7692 §7.1.2.1)", goodResponse("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10"), &wire.DialOptions{Compression: &wire.CompressionOptions{}}, true, nil},
		{"server declines compression", goodResponse(), &wire.DialOptions{Compression: &wire.CompressionOptions{}}, true,
			func(t *testing.T, c *wire.Conn) {
				if c.CompressionEnabled() {
					t.Error("CompressionEnabled() = true without the extension in the response")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs := startRawServer(t, tt.respond)
			c, resp, err := dialWire(t, rs.URL, tt.opts)
			if !tt.ok {
				if err == nil {
					t.Fatalf("Dial accepted the response (status %d)", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			if resp == nil || resp.StatusCode != 101 {
				t.Errorf("Dial response %v, want the 101", resp)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			p := rs.peer(t)
			// The connection works: a message each way.
			c.WriteMessage(wire.TextMessage, []byte("hi"))
			p.expect(opText, []byte("hi"))
			p.send(text("hello"))
			typ, msg, err := c.ReadMessage()
			if err != nil || typ != wire.TextMessage || string(msg) != "hello" {
				t.Fatalf("ReadMessage = %v %q %v", typ, msg, err)
			}
		})
	}
}

func TestConformanceClientRequest(t *testing.T) {
	rs := startRawServer(t, goodResponse())
	opts := &wire.DialOptions{
		Header:       http.Header{"X-Token": {"abc"}, "Origin": {"https://app.example"}},
		Subprotocols: []string{"chat.v1", "chat.v0"},
		Compression:  &wire.CompressionOptions{},
	}
	if _, _, err := dialWire(t, rs.URL+"path?q=1", opts); err != nil {
		t.Fatal(err)
	}
	p := rs.peer(t)
	r := p.req
	if r.Method != "GET" || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		t.Errorf("request line %s HTTP/%d.%d", r.Method, r.ProtoMajor, r.ProtoMinor)
	}
	if r.URL.RequestURI() != "/path?q=1" {
		t.Errorf("request URI %q", r.URL.RequestURI())
	}
	if r.Host == "" {
		t.Error("no Host header")
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") || !headerHasToken(r.Header, "Connection", "upgrade") {
		t.Errorf("Upgrade/Connection: %v", r.Header)
	}
	if k, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key")); err != nil || len(k) != 16 {
		t.Errorf("Sec-WebSocket-Key %q does not decode to 16 bytes", r.Header.Get("Sec-WebSocket-Key"))
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Errorf("Sec-WebSocket-Version %q", r.Header.Get("Sec-WebSocket-Version"))
	}
	if r.Header.Get("X-Token") != "abc" || r.Header.Get("Origin") != "https://app.example" {
		t.Errorf("extra headers missing: %v", r.Header)
	}
	var protos []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, s := range strings.Split(v, ",") {
			protos = append(protos, strings.TrimSpace(s))
		}
	}
	if strings.Join(protos, ",") != "chat.v1,chat.v0" {
		t.Errorf("Sec-WebSocket-Protocol offers %q", protos)
	}
	exts := parseExtensions(r.Header)
	if len(exts) == 0 || exts[0].name != "permessage-deflate" {
		t.Errorf("no permessage-deflate offer: %q", r.Header.Values("Sec-WebSocket-Extensions"))
	}
	t.Run("keys differ between connections", func(t *testing.T) {
		if _, _, err := dialWire(t, rs.URL, nil); err != nil {
			t.Fatal(err)
		}
		p2 := rs.peer(t)
		if p2.req.Header.Get("Sec-WebSocket-Key") == r.Header.Get("Sec-WebSocket-Key") {
			t.Error("two connections used the same Sec-WebSocket-Key")
		}
		if len(p2.req.Header.Values("Sec-WebSocket-Extensions")) != 0 {
			t.Error("extension offered without DialOptions.Compression")
		}
	})
}

// TestConformanceClientHandshakeTimeout: a server that accepts TCP and never answers
// cannot hold Dial past its context.
func TestConformanceClientHandshakeTimeout(t *testing.T) {
	rs := startRawServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		c, _, err := wire.Dial(ctx, rs.URL, nil)
		if c != nil {
			c.CloseNow()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Dial succeeded without a response")
		}
		if !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
			t.Errorf("Dial error %v does not say the deadline passed", err)
		}
	case <-time.After(ioBound):
		t.Fatalf("Dial ignored its context for %v", ioBound)
	}
}

// clientCase dials the raw server, starts a reader, runs the server's script and checks
// what the read returned.
type clientCase struct {
	name    string
	opts    *wire.DialOptions
	respond respondFunc
	script  func(t *testing.T, p *rawPeer, c *wire.Conn)
	// wantCode: the read must end with a *CloseError of one of these codes (nil: script checks).
	wantCode []wire.StatusCode
}

// serverFails runs the server half of a failure case: the client must send a masked close
// with one of codes, we reply, close TCP.
func serverFails(p *rawPeer, codes ...uint16) {
	p.t.Helper()
	code, _ := p.expectClose(codes...)
	p.sendTolerant(closeFrame(code, ""))
	p.c.Close()
}

func runClientCases(t *testing.T, cases []clientCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			respond := tc.respond
			if respond == nil {
				respond = goodResponse()
			}
			rs := startRawServer(t, respond)
			c, _, err := dialWire(t, rs.URL, tc.opts)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			p := rs.peer(t)
			p.t = t
			reads := readAsync(c)
			tc.script(t, p, c)
			if tc.wantCode != nil {
				res := waitRead(t, reads)
				if res.err == nil {
					t.Fatalf("ReadMessage returned a message (%v, %d bytes), want close %v", res.typ, len(res.p), tc.wantCode)
				}
				wantCloseErr(t, res.err, tc.wantCode...)
			}
		})
	}
}

func TestConformanceClientFrames(t *testing.T) {
	p125 := strings.Repeat("a", 125)
	fails := func(code uint16, fs ...frame) func(t *testing.T, p *rawPeer, c *wire.Conn) {
		return func(t *testing.T, p *rawPeer, c *wire.Conn) {
			p.sendTolerant(fs...)
			serverFails(p, code)
		}
	}
	cases := []clientCase{
		{name: "masked server frame", script: func(t *testing.T, p *rawPeer, c *wire.Conn) {
			p.sendMaskedAs(text("masked"), true)
			serverFails(p, 1002)
		}, wantCode: []wire.StatusCode{1002}},
		{name: "RSV1 without an extension", script: fails(1002, frame{fin: true, rsv: rsv1, op: opText, payload: []byte("x")}), wantCode: []wire.StatusCode{1002}},
		{name: "RSV2|RSV3", script: fails(1002, frame{fin: true, rsv: rsv2 | rsv3, op: opBinary, payload: []byte("x")}), wantCode: []wire.StatusCode{1002}},
		{name: "reserved opcode 3", script: fails(1002, frame{fin: true, op: 3}), wantCode: []wire.StatusCode{1002}},
		{name: "reserved control opcode 0xB", script: fails(1002, frame{fin: true, op: 0xB, payload: []byte("x")}), wantCode: []wire.StatusCode{1002}},
		{name: "ping of 126 bytes", script: fails(1002, ping(p125+"a")), wantCode: []wire.StatusCode{1002}},
		{name: "fragmented ping", script: fails(1002, frame{op: opPing, payload: []byte("a")}, cont(true, []byte("b"))), wantCode: []wire.StatusCode{1002}},
		{name: "continuation without a start", script: fails(1002, cont(true, []byte("x"))), wantCode: []wire.StatusCode{1002}},
		{name: "text inside a fragmented text", script: fails(1002, textPart(false, []byte("a")), textPart(true, []byte("b"))), wantCode: []wire.StatusCode{1002}},
		{name: "64-bit length with the high bit set", script: fails(1002, frame{fin: true, op: opBinary, payload: []byte("x"), rawLen: []byte{127, 0x80, 0, 0, 0, 0, 0, 0, 1}}), wantCode: []wire.StatusCode{1002}},
		{name: "invalid UTF-8 text", script: fails(1007, text("\xce\xba\xed\xa0\x80")), wantCode: []wire.StatusCode{1007}},
		{name: "invalid UTF-8 fails fast across fragments", script: func(t *testing.T, p *rawPeer, c *wire.Conn) {
			p.send(textPart(false, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4")))
			p.sendTolerant(cont(false, []byte("\x90")))
			serverFails(p, 1007)
		}, wantCode: []wire.StatusCode{1007}},
		{name: "close with a 1-byte payload", script: fails(1002, frame{fin: true, op: opClose, payload: []byte{3}}), wantCode: []wire.StatusCode{1002}},
		{name: "close with code 1005", script: fails(1002, closeFrame(1005, "")), wantCode: []wire.StatusCode{1002}},
		{name: "close with code 2999", script: fails(1002, closeFrame(2999, "")), wantCode: []wire.StatusCode{1002}},
		{name: "close with code 5000", script: fails(1002, closeFrame(5000, "")), wantCode: []wire.StatusCode{1002}},
		{name: "close reason not UTF-8", script: func(t *testing.T, p *rawPeer, c *wire.Conn) {
			p.sendTolerant(closeFrame(1000, "\xed\xa0\x80"))
			serverFails(p, 1002, 1007)
		}, wantCode: []wire.StatusCode{1002, 1007}},
		{name: "message over the client's read limit", opts: &wire.DialOptions{ReadLimit: 100}, script: func(t *testing.T, p *rawPeer, c *wire.Conn) {
			p.sendTolerant(textPart(false, bytes.Repeat([]byte("a"), 60)), cont(false, bytes.Repeat([]byte("a"), 41)))
			serverFails(p, 1009)
		}, wantCode: []wire.StatusCode{1009}},
		{name: "server closes 1000 with reason: client echoes and reports it", script: func(t *testing.T, p *rawPeer, c *wire.Conn) {
			p.send(closeFrame(1000, "server says bye"))
			p.expectClose(1000)
			p.c.Close()
		}, wantCode: []wire.StatusCode{1000}},
		{name: "server closes 4001: client echoes the code", script: func(t *testing.T, p *rawPeer, c *wire.Conn) {
			p.send(closeFrame(4001, ""))
			p.expectClose(4001, 1000)
			p.c.Close()
		}, wantCode: []wire.StatusCode{4001}},
		{name: "server closes with an empty close frame", script: func(t *testing.T, p *rawPeer, c *wire.Conn) {
			p.send(closeFrame(0, ""))
			p.expectClose(0, 1000)
			p.c.Close()
		}, wantCode: []wire.StatusCode{1005}},
		{name: "server drops TCP without a close", script: func(t *testing.T, p *rawPeer, c *wire.Conn) {
			p.c.Close()
		}, wantCode: []wire.StatusCode{1006}},
		{name: "ping is answered with a masked pong; unsolicited pong ignored", script: func(t *testing.T, p *rawPeer, c *wire.Conn) {
			p.send(pong("unsolicited"), ping("ping payload"))
			p.expect(opPong, []byte("ping payload"))
			p.send(ping(p125))
			p.expect(opPong, []byte(p125))
			p.send(closeFrame(1000, ""))
			p.expectClose(1000)
			p.c.Close()
		}, wantCode: []wire.StatusCode{1000}},
	}
	runClientCases(t, cases)
}

func TestConformanceClientMessages(t *testing.T) {
	big := randomBytes(1<<20, 42)
	rs := startRawServer(t, goodResponse())
	c, _, err := dialWire(t, rs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := rs.peer(t)
	p.t = t
	msgs := []struct {
		op byte
		p  []byte
		fr int
	}{
		{opText, nil, 0}, {opText, []byte("hello"), 0}, {opBinary, bytes.Repeat([]byte{1}, 125), 0},
		{opBinary, bytes.Repeat([]byte{2}, 126), 0}, {opBinary, bytes.Repeat([]byte{3}, 65535), 0},
		{opBinary, bytes.Repeat([]byte{4}, 65536), 0}, {opBinary, big, 0}, {opText, compressible(100000, 1), 999},
	}
	for _, m := range msgs {
		go func() {
			if m.fr > 0 {
				fs := fragmentFrames(m.op, m.p, m.fr)
				fs = append(fs[:1], append([]frame{ping("in between")}, fs[1:]...)...)
				p.sendTolerant(fs...)
			} else {
				p.sendTolerant(frame{fin: true, op: m.op, payload: m.p})
			}
		}()
		typ, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("ReadMessage (%d bytes): %v", len(m.p), err)
		}
		if byte(typ) != m.op || !bytes.Equal(got, m.p) {
			t.Fatalf("got type %v, %d bytes; want op %d, %d bytes", typ, len(got), m.op, len(m.p))
		}
		if m.fr > 0 {
			p.expect(opPong, []byte("in between"))
		}
		// Echo back through the client: masked, same bytes.
		errc := make(chan error, 1)
		go func() { errc <- c.WriteMessage(typ, got) }()
		p.expect(m.op, m.p)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	// A streamed message from NextWriter arrives as one valid fragmented message.
	go func() {
		w, err := c.NextWriter(wire.BinaryMessage)
		if err != nil {
			t.Error(err)
			return
		}
		for i := range 5 {
			w.Write(big[i*1000 : (i+1)*1000])
		}
		w.Close()
	}()
	p.expect(opBinary, big[:5000])

	// Client-initiated close: masked close with code and reason, then the server closes TCP.
	reads := readAsync(c)
	closed := make(chan error, 1)
	go func() { closed <- c.Close(1000, "client done") }()
	code, reason := p.expectClose(1000)
	if reason != "client done" {
		t.Errorf("close reason %q", reason)
	}
	p.send(closeFrame(code, ""))
	p.c.Close()
	select {
	case <-closed:
	case <-time.After(ioBound):
		t.Fatal("Close did not return")
	}
	res := waitRead(t, reads)
	if res.err == nil {
		t.Fatal("read after close returned a message")
	}
}

func TestConformanceClientCloseUnanswered(t *testing.T) {
	rs := startRawServer(t, goodResponse())
	c, _, err := dialWire(t, rs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := rs.peer(t)
	p.t = t
	closed := make(chan error, 1)
	go func() { closed <- c.Close(1001, "leaving") }()
	p.expectClose(1001)
	// Never answer, never close: Close must give up on its own.
	select {
	case <-closed:
	case <-time.After(2 * ioBound):
		t.Fatalf("Close waited more than %v for a peer that never answers", 2*ioBound)
	}
	p.expectTCPClosed()
}

func TestConformanceClientDeflate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		response string
	}{
		{"no context takeover both ways", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"server keeps its context", "permessage-deflate; client_no_context_takeover"},
		{"both keep context", "permessage-deflate"},
		{"server limits the client's window to 2^9", "permessage-deflate; client_no_context_takeover; client_max_window_bits=9"},
		{"server limits the client's window to 2^8, with context takeover", "permessage-deflate; client_max_window_bits=8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := startRawServer(t, goodResponse("Sec-WebSocket-Extensions: "+tc.response))
			c, _, err := dialWire(t, rs.URL, &wire.DialOptions{Compression: &wire.CompressionOptions{}, ReadLimit: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			p := rs.peer(t)
			p.t = t
			n := checkDeflateResponse(t, parseExtensions(http.Header{"Sec-Websocket-Extensions": {tc.response}}), nil)
			def := &deflater{takeover: !n.serverNoTakeover}
			inf := &inflater{}
			for i, size := range []int{10, 200, 5000, 70000, 70000} {
				m := compressible(size, uint64(i))
				// Server → client, compressed, fragmented for the larger ones.
				fs := fragmentFrames(opText, def.compress(m), 4096)
				fs[0].rsv = rsv1
				go p.sendTolerant(fs...)
				typ, got, err := c.ReadMessage()
				if err != nil || typ != wire.TextMessage || !bytes.Equal(got, m) {
					t.Fatalf("message %d (%d bytes): %v, %d bytes", i, size, err, len(got))
				}
				// Client → server: compressed above the threshold, masked always.
				go c.WriteMessage(wire.TextMessage, m)
				e, err := p.next(true)
				if err != nil {
					t.Fatal(err)
				}
				out := e.payload
				if e.rsv1 {
					checkWindow(t, e.payload, n.clientWindow, "client")
					if n.clientNoTakeover {
						inf.hist = nil
					}
					if out, err = inf.inflate(e.payload); err != nil {
						t.Fatalf("client's compressed message does not inflate: %v", err)
					}
				} else if size >= 1024 {
					t.Errorf("client sent a compressible %d-byte message uncompressed", size)
				}
				if !bytes.Equal(out, m) {
					t.Fatalf("client message %d differs", i)
				}
			}
			// A bomb: the client's 1 MiB limit holds against 8 MiB of zeros in 8 KiB.
			bomb := (&deflater{}).compress(make([]byte, 8<<20))
			p.sendTolerant(frame{fin: true, rsv: rsv1, op: opBinary, payload: bomb})
			reads := readAsync(c)
			serverFails(p, 1009)
			wantCloseErr(t, waitRead(t, reads).err, 1009)
		})
	}
}
