package server_test

// PROTOCOL.md §1 at the frame level, over a raw TCP socket so the test controls
// every bit: protocol violations (1002), binary (1003), invalid UTF-8 (1007),
// oversize (1009), the close handshake and its timeouts, ping/pong.

import (
	"bytes"
	"compress/flate"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/server"
)

const frameLimit = 4096 // MaxMessageBytes for the frame tests: small keeps them fast

// deflate compresses p as one permessage-deflate message (RFC 7692 §7.2.1: the
// trailing 00 00 ff ff of a sync flush is removed).
func deflate(t testing.TB, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if !bytes.HasSuffix(b, []byte{0, 0, 0xff, 0xff}) {
		t.Fatal("flush did not end in 00 00 ff ff")
	}
	return b[:len(b)-4]
}

// chatOfSize is a chat envelope of exactly n bytes whose text stays within 4000
// code points (two-byte runes carry the bulk).
func chatOfSize(t testing.TB, n int) string {
	t.Helper()
	const prefix, suffix = `{"type":"chat","room":"lobby","text":"`, `"}`
	body := n - len(prefix) - len(suffix)
	if body < 1 || body > 8000 {
		t.Fatalf("chatOfSize(%d) out of range", n)
	}
	text := strings.Repeat("é", body/2) + strings.Repeat("a", body%2)
	s := prefix + text + suffix
	if len(s) != n {
		t.Fatalf("chatOfSize: built %d bytes, want %d", len(s), n)
	}
	return s
}

// writeLoose writes without failing: the server may already have closed the
// connection because of the bytes before.
func (r *rawClient) writeLoose(b []byte) {
	_ = r.conn.SetWriteDeadline(time.Now().Add(guard))
	_, _ = r.conn.Write(b)
}

func TestE2EFrameViolations(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) {
		c.MaxMessageBytes = frameLimit
		c.CloseTimeout = 500 * time.Millisecond
	})
	bomb := deflate(t, bytes.Repeat([]byte("a"), 1<<20)) // 1 MiB of valid UTF-8 in ~1 KiB
	half := []byte(chatOfSize(t, 3000))
	tests := []struct {
		name    string
		deflate bool // negotiate permessage-deflate first
		frames  []frame
		raw     []byte // written after frames, loosely (may hit a closed socket)
		code    int
		reason  string // "" = any short description
	}{
		{name: "unmasked client frame", frames: []frame{{fin: true, op: opText, payload: []byte(`{"type":"who"}`), unmasked: true}}, code: 1002},
		{name: "rsv2 set", frames: []frame{{fin: true, rsv: rsv2, op: opText, payload: []byte(`{"type":"who"}`)}}, code: 1002},
		{name: "rsv3 set", frames: []frame{{fin: true, rsv: rsv3, op: opText, payload: []byte(`{"type":"who"}`)}}, code: 1002},
		{name: "rsv1 without deflate", frames: []frame{{fin: true, rsv: rsv1, op: opText, payload: []byte(`{"type":"who"}`)}}, code: 1002},
		{name: "rsv1 on continuation", deflate: true, frames: []frame{
			{op: opText, rsv: rsv1, payload: deflate(t, []byte(`{"type":`))},
			{fin: true, rsv: rsv1, op: opCont, payload: []byte{0}}}, code: 1002},
		{name: "rsv1 on ping", deflate: true, frames: []frame{{fin: true, rsv: rsv1, op: opPing}}, code: 1002},
		{name: "reserved data opcode 3", frames: []frame{{fin: true, op: 0x3, payload: []byte("x")}}, code: 1002},
		{name: "reserved control opcode B", frames: []frame{{fin: true, op: 0xB}}, code: 1002},
		{name: "continuation without start", frames: []frame{{fin: true, op: opCont, payload: []byte("x")}}, code: 1002},
		{name: "text inside fragmented text", frames: []frame{
			{op: opText, payload: []byte(`{"type":`)},
			{fin: true, op: opText, payload: []byte(`{"type":"who"}`)}}, code: 1002},
		{name: "oversized ping", frames: []frame{{fin: true, op: opPing, payload: bytes.Repeat([]byte("p"), 126)}}, code: 1002},
		{name: "fragmented ping", frames: []frame{{op: opPing, payload: []byte("p")}}, code: 1002},
		{name: "close with one byte", frames: []frame{{fin: true, op: opClose, payload: []byte{3}}}, code: 1002},
		{name: "close code 999", frames: []frame{{fin: true, op: opClose, payload: closePayload(999, "")}}, code: 1002},
		{name: "close code 1005", frames: []frame{{fin: true, op: opClose, payload: closePayload(1005, "")}}, code: 1002},
		{name: "close code 1006", frames: []frame{{fin: true, op: opClose, payload: closePayload(1006, "")}}, code: 1002},
		{name: "close code 1015", frames: []frame{{fin: true, op: opClose, payload: closePayload(1015, "")}}, code: 1002},
		{name: "close code 5000", frames: []frame{{fin: true, op: opClose, payload: closePayload(5000, "")}}, code: 1002},
		{name: "binary", frames: []frame{{fin: true, op: opBinary, payload: []byte(`{"type":"who"}`)}}, code: 1003, reason: "binary_unsupported"},
		{name: "invalid utf8", frames: []frame{{fin: true, op: opText, payload: []byte("{\"type\":\"chat\",\"text\":\"\xff\"}")}}, code: 1007, reason: "invalid_utf8"},
		{name: "invalid utf8 split across fragments", frames: []frame{
			{op: opText, payload: []byte("{\"type\":\"chat\",\"text\":\"\xe2\x82")},
			{fin: true, op: opCont, payload: []byte("\x28\"}")}}, code: 1007, reason: "invalid_utf8"},
		// Fail fast: the message never ends, the server must not wait for it.
		{name: "invalid utf8 in an unfinished message", frames: []frame{
			{op: opText, payload: []byte("{\"type\":\"chat\",\"text\":\"\xc0\xaf")}}, code: 1007, reason: "invalid_utf8"},
		{name: "truncated utf8 at message end", frames: []frame{
			{fin: true, op: opText, payload: []byte("{\"type\":\"chat\",\"text\":\"\xe2\x82")}}, code: 1007, reason: "invalid_utf8"},
		{name: "invalid utf8 close reason", frames: []frame{{fin: true, op: opClose, payload: closePayload(1000, "\xff\xfe")}}, code: 1007, reason: "invalid_utf8"},
		{name: "one byte over the limit", frames: []frame{{fin: true, op: opText, payload: []byte(chatOfSize(t, frameLimit+1))}}, code: 1009, reason: "too_large"},
		// Declares 100 MB, sends 2 limits' worth, then stalls: the close must not wait for the rest.
		{name: "oversize without the rest", frames: []frame{{op: opText, fin: true, length: 100 << 20, payload: bytes.Repeat([]byte("a"), 2*frameLimit)}}, code: 1009, reason: "too_large"},
		{name: "fragmented oversize", frames: []frame{
			{op: opText, payload: half},
			{op: opCont, payload: half}}, code: 1009, reason: "too_large"},
		{name: "compressed bomb", deflate: true, frames: []frame{{fin: true, rsv: rsv1, op: opText, payload: bomb}}, code: 1009, reason: "too_large"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.deflate {
				hdr.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover")
			}
			r := h.rawDial(t, hdr)
			if tc.deflate && !strings.Contains(r.resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
				t.Fatalf("permessage-deflate not negotiated: %q", r.resp.Header.Get("Sec-WebSocket-Extensions"))
			}
			// Each case has its own room and observer, so one failure does not cascade.
			name, room := fmt.Sprintf("f%d", i), fmt.Sprintf("v%02d", i)
			obs, _ := h.joinAs(t, "obs"+name, room)
			r.join(name, room)
			obs.expectEvent("join", room, name)
			var b []byte
			for _, f := range tc.frames {
				b = append(b, f.encode()...)
			}
			r.writeLoose(b)
			ci, texts := r.readClose(true)
			if ci.code != tc.code || (tc.reason != "" && ci.reason != tc.reason) {
				t.Fatalf("close %v, want %d %q", ci, tc.code, tc.reason)
			}
			if tc.code == 1002 && ci.reason == "" {
				t.Errorf("1002 without a short description")
			}
			if len(texts) > 0 {
				t.Errorf("envelopes before the close: %v", texts)
			}
			// Everything but a clean close started by the client is "disconnected".
			l := obs.expectEvent("leave", room, name)
			if l.s("reason") != "disconnected" {
				t.Fatalf("leave reason %q, want disconnected", l.s("reason"))
			}
			obs.who(room) // the server keeps serving the others
		})
	}
}

// TestE2EFramesAccepted checks the legal corner cases the violations border on.
func TestE2EFramesAccepted(t *testing.T) {
	t.Parallel()
	euro := "\u20ac"
	tests := []struct {
		name    string
		deflate bool
		frames  []frame
		want    func(t *testing.T, e env) // on the first envelope that answers
		pong    string                    // a pong with this payload comes first
	}{
		{name: "exactly the limit", frames: []frame{{fin: true, op: opText, payload: []byte(chatOfSize(t, frameLimit))}},
			want: func(t *testing.T, e env) {
				if e.typ() != "chat" {
					t.Fatalf("a message of exactly MaxMessageBytes was refused: %s", e)
				}
			}},
		{name: "utf8 split validly across fragments", frames: []frame{
			{op: opText, payload: []byte("{\"type\":\"chat\",\"text\":\"\xe2\x82")},
			{fin: true, op: opCont, payload: []byte("\xac\"}")}},
			want: func(t *testing.T, e env) {
				if e.typ() != "chat" || e.s("text") != euro {
					t.Fatalf("want chat %q, got %s", euro, e)
				}
			}},
		{name: "ping between fragments", pong: "mid", frames: []frame{
			{op: opText, payload: []byte(`{"type":"who",`)},
			{fin: true, op: opPing, payload: []byte("mid")},
			{fin: true, op: opCont, payload: []byte(`"ref":"p"}`)}},
			want: func(t *testing.T, e env) {
				if e.typ() != "presence" || e.s("ref") != "p" {
					t.Fatalf("want presence with ref p, got %s", e)
				}
			}},
		{name: "compressed message", deflate: true, frames: []frame{
			{fin: true, rsv: rsv1, op: opText, payload: deflate(t, []byte(`{"type":"who","ref":"z"}`))}},
			want: func(t *testing.T, e env) {
				if e.typ() != "presence" || e.s("ref") != "z" {
					t.Fatalf("want presence with ref z, got %s", e)
				}
			}},
		{name: "compressed and fragmented", deflate: true, frames: func() []frame {
			z := deflate(t, []byte(`{"type":"chat","text":"`+strings.Repeat("zip ", 500)+`"}`))
			return []frame{{rsv: rsv1, op: opText, payload: z[:len(z)/2]}, {fin: true, op: opCont, payload: z[len(z)/2:]}}
		}(),
			want: func(t *testing.T, e env) {
				if e.typ() != "chat" || e.s("text") != strings.Repeat("zip ", 500) {
					t.Fatalf("want the inflated chat, got %.100s", e)
				}
			}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A server per case: the chats below go to lobby, where an earlier
			// case's leave must not arrive first.
			h := start(t, func(c *server.Config) { c.MaxMessageBytes = frameLimit })
			hdr := http.Header{}
			if tc.deflate {
				hdr.Set("Sec-WebSocket-Extensions", "permessage-deflate")
			}
			r := h.rawDial(t, hdr)
			if tc.deflate && !strings.Contains(r.resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
				t.Fatalf("permessage-deflate not negotiated")
			}
			r.join(fmt.Sprintf("ok%d", i), "lobby")
			r.writeFrames(tc.frames...)
			if tc.pong != "" {
				f, err := r.readFrameSkipPings()
				if err != nil || f.op != opPong || string(f.payload) != tc.pong {
					t.Fatalf("want pong %q, got op %#x %q (%v)", tc.pong, f.op, f.payload, err)
				}
			}
			tc.want(t, r.next())
		})
	}
}

// readFrameSkipPings reads the next frame that is not a server ping.
func (r *rawClient) readFrameSkipPings() (frame, error) {
	for {
		f, err := r.readFrame(time.Now().Add(guard))
		if err != nil || f.op != opPing {
			return f, err
		}
	}
}

func TestE2EPingPong(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) { c.PingInterval = 30 * time.Millisecond })
	r := h.rawDial(t, nil)
	r.join("pinger", "lobby")

	// The server pings on its own.
	f, err := r.readFrame(time.Now().Add(guard))
	if err != nil || f.op != opPing {
		t.Fatalf("want a server ping, got op %#x (%v)", f.op, err)
	}
	r.writeFrames(frame{fin: true, op: opPong, payload: f.payload})

	// And answers ours with the same payload.
	r.writeFrames(frame{fin: true, op: opPing, payload: []byte("are you there")})
	f, err = r.readFrameSkipPings()
	if err != nil || f.op != opPong || string(f.payload) != "are you there" {
		t.Fatalf("want pong %q, got op %#x %q (%v)", "are you there", f.op, f.payload, err)
	}
}

func TestE2ECloseHandshake(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) { c.CloseTimeout = 300 * time.Millisecond })
	tests := []struct {
		name   string
		act    func(t *testing.T, r *rawClient)
		reason string // the leave reason the others see
	}{
		{name: "client close 1000, socket kept open", reason: "left", act: func(t *testing.T, r *rawClient) {
			r.writeFrames(frame{fin: true, op: opClose, payload: closePayload(1000, "done")})
			f, err := r.readFrameSkipPings()
			if err != nil || f.op != opClose {
				t.Fatalf("want the server's Close answer, got op %#x (%v)", f.op, err)
			}
			if ci := parseClose(f.payload); ci.code != 1000 || ci.reason != "bye" {
				t.Fatalf("answer to the client's close: %v, want 1000 \"bye\"", ci)
			}
			r.expectEOF() // bounded by CloseTimeout although we never close
		}},
		{name: "client close 1001 going away", reason: "left", act: func(t *testing.T, r *rawClient) {
			r.writeFrames(frame{fin: true, op: opClose, payload: closePayload(1001, "tab closed")})
			f, err := r.readFrameSkipPings()
			if err != nil || f.op != opClose {
				t.Fatalf("want the server's Close answer, got op %#x (%v)", f.op, err)
			}
			if ci := parseClose(f.payload); ci.code != 1000 || ci.reason != "bye" {
				t.Fatalf("answer to the client's close: %v, want 1000 \"bye\"", ci)
			}
			r.expectEOF()
		}},
		{name: "client close without code", reason: "left", act: func(t *testing.T, r *rawClient) {
			r.writeFrames(frame{fin: true, op: opClose})
			f, err := r.readFrameSkipPings()
			if err != nil || f.op != opClose {
				t.Fatalf("want the server's Close answer, got op %#x (%v)", f.op, err)
			}
			r.expectEOF()
		}},
		{name: "server close never answered", reason: "disconnected", act: func(t *testing.T, r *rawClient) {
			r.writeFrames(frame{fin: true, op: opBinary, payload: []byte("x")})
			ci, _ := r.readClose(false) // requires TCP close without our answer
			if ci.code != 1003 {
				t.Fatalf("close %v, want 1003", ci)
			}
		}},
		{name: "half-close without Close frame", reason: "disconnected", act: func(t *testing.T, r *rawClient) {
			if err := r.conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			r.expectEOF()
		}},
		{name: "abrupt TCP close", reason: "disconnected", act: func(t *testing.T, r *rawClient) {
			_ = r.conn.Close()
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.rawDial(t, nil)
			name, room := fmt.Sprintf("c%d", i), fmt.Sprintf("c%02d", i)
			obs, _ := h.joinAs(t, "obs"+name, room)
			r.join(name, room)
			obs.expectEvent("join", room, name)
			tc.act(t, r)
			l := obs.expectEvent("leave", room, name)
			if l.s("reason") != tc.reason {
				t.Fatalf("leave reason %q, want %q", l.s("reason"), tc.reason)
			}
		})
	}
}

// TestE2EDefaultSizeLimit: 64 KiB by default, counted on the whole message.
func TestE2EDefaultSizeLimit(t *testing.T) {
	t.Parallel()
	h := start(t)
	const limit = 64 << 10
	envelope := func(n int) []byte {
		const prefix, suffix = `{"type":"chat","text":"`, `","ref":"big"}`
		return []byte(prefix + strings.Repeat("x", n-len(prefix)-len(suffix)) + suffix)
	}
	r := h.rawDial(t, nil)
	r.join("big", "lobby")
	// Exactly the limit is read (and refused as too long a text: 4000 code points).
	r.writeFrames(frame{op: opText, payload: envelope(limit)[:limit/2]}, frame{fin: true, op: opCont, payload: envelope(limit)[limit/2:]})
	if e := r.next(); e.typ() != "error" || e.s("code") != "invalid_message" || e.s("ref") != "big" {
		t.Fatalf("a message of exactly 64 KiB: want invalid_message (text too long), got %s", e)
	}
	// One byte more closes with 1009.
	r.writeLoose(frame{fin: true, op: opText, payload: envelope(limit + 1)}.encode())
	if ci, _ := r.readClose(true); ci.code != 1009 {
		t.Fatalf("a message of 64 KiB + 1: close %v, want 1009", ci)
	}
}
