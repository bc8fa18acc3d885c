package wire_test

// Fuzz targets for the parsers: the frame reader in the server and the client role, the
// opening handshake (server request parsing and client response checking) and the
// incremental UTF-8 validator. `make fuzz` runs each by name; seeds live in
// testdata/fuzz/<Name>/ and in the f.Add calls below.
//
// The connections run over fakeConn, an in-memory net.Conn whose reads are the fuzz input
// and whose writes are collected, so an input is processed without sockets or goroutines
// and ends when its bytes do.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chatd/chatd/wire"
)

// fuzzBound stops an input that makes the implementation hang; a correct one needs
// microseconds per input.
const fuzzBound = 10 * time.Second

// fakeConn is a net.Conn over memory: reads drain in (then io.EOF), writes go to out
// (capped, the rest counted), respond — when set — produces the bytes to read once the
// first request head has been written (the client handshake).
type fakeConn struct {
	mu      sync.Mutex
	in      []byte
	out     bytes.Buffer
	dropped int
	respond func(head []byte) []byte
	closed  bool
}

func (c *fakeConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if c.respond != nil {
		head := c.out.Bytes()
		i := bytes.Index(head, []byte("\r\n\r\n"))
		if i < 0 {
			return 0, errors.New("fakeConn: read before the request was written")
		}
		c.in = append(c.respond(head[:i+4]), c.in...)
		c.respond = nil
	}
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *fakeConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if room := 1<<20 - c.out.Len(); room < len(p) {
		c.out.Write(p[:max(room, 0)])
		c.dropped += len(p) - max(room, 0)
		return len(p), nil
	}
	return c.out.Write(p)
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *fakeConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out.Bytes())
}

func (c *fakeConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *fakeConn) RemoteAddr() net.Addr               { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }
func (c *fakeConn) SetDeadline(t time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(t time.Time) error { return nil }

// hijackRecorder is an http.ResponseWriter that can be hijacked onto a fakeConn, so
// wire.Accept runs without a server.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	conn     net.Conn
	hijacked bool
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h.hijacked = true
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// serverRequest is a valid upgrade request, with a permessage-deflate offer if compress.
func serverRequest(compress bool) *http.Request {
	r := httptest.NewRequest("GET", "http://fuzz.example/ws", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Version", "13")
	if compress {
		r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
	}
	return r
}

// acceptFake upgrades a fake connection whose peer sends in.
func acceptFake(tb testing.TB, in []byte, compress bool, limit int64) (*wire.Conn, *fakeConn) {
	tb.Helper()
	fc := &fakeConn{in: in}
	w := &hijackRecorder{ResponseRecorder: httptest.NewRecorder(), conn: fc}
	opts := &wire.AcceptOptions{ReadLimit: limit}
	if compress {
		opts.Compression = &wire.CompressionOptions{}
	}
	c, err := wire.Accept(w, serverRequest(compress), opts)
	if err != nil {
		tb.Fatalf("Accept on a valid request: %v (status %d %q)", err, w.Code, w.Body.String())
	}
	return c, fc
}

// dialFake opens a client connection whose server answers a valid 101 (with extension
// line ext, if any) and then sends in.
func dialFake(tb testing.TB, in []byte, ext string, limit int64) (*wire.Conn, *fakeConn, error) {
	tb.Helper()
	fc := &fakeConn{in: in}
	fc.respond = func(head []byte) []byte {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			return []byte("HTTP/1.1 400 Bad Request\r\n\r\n")
		}
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n"
		if ext != "" {
			resp += "Sec-WebSocket-Extensions: " + ext + "\r\n"
		}
		return []byte(resp + "\r\n")
	}
	opts := &wire.DialOptions{
		ReadLimit:   limit,
		NetDial:     func(context.Context, string, string) (net.Conn, error) { return fc, nil },
		Compression: &wire.CompressionOptions{},
	}
	ctx, cancel := context.WithTimeout(context.Background(), fuzzBound)
	defer cancel()
	c, _, err := wire.Dial(ctx, "ws://fuzz.example/ws", opts)
	return c, fc, err
}

// bounded runs f and fails if it does not return within fuzzBound.
func bounded(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(fuzzBound):
		t.Fatalf("%s did not finish within %v", what, fuzzBound)
	}
}

// readAll reads messages until the connection fails and checks what the reads promise:
// text is valid UTF-8, nothing exceeds the limit, the final error is a *wire.CloseError.
func readAll(t *testing.T, c *wire.Conn, limit int64) {
	for range 10000 {
		typ, p, err := c.ReadMessage()
		if err != nil {
			var ce *wire.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("read error %v (%T) is not a *wire.CloseError", err, err)
			}
			return
		}
		if typ == wire.TextMessage && !utf8.Valid(p) {
			t.Fatalf("text message with invalid UTF-8: %q", p)
		}
		if int64(len(p)) > limit {
			t.Fatalf("message of %d bytes over the %d limit", len(p), limit)
		}
		if typ != wire.TextMessage && typ != wire.BinaryMessage {
			t.Fatalf("message type %v", typ)
		}
	}
}

// checkOutput parses what our side wrote after the handshake: well-formed frames, masked
// exactly when we are the client, control frames short and final, close codes valid.
func checkOutput(t *testing.T, out []byte, client bool) {
	i := bytes.Index(out, []byte("\r\n\r\n"))
	if client {
		// The request head is ours; frames follow it.
		if i < 0 {
			return
		}
	} else if !bytes.HasPrefix(out, []byte("HTTP/1.1 101")) || i < 0 {
		t.Fatalf("handshake response %q", out[:min(len(out), 64)])
	}
	b := out[i+4:]
	for len(b) >= 2 {
		fin, op, masked := b[0]&0x80 != 0, b[0]&0x0f, b[1]&0x80 != 0
		if masked != client {
			t.Fatalf("frame masked=%v from the %s", masked, map[bool]string{true: "client", false: "server"}[client])
		}
		n := int(b[1] & 0x7f)
		h := 2
		switch n {
		case 126:
			if len(b) < 4 {
				return
			}
			n, h = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return
			}
			n, h = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		var key [4]byte
		if masked {
			if len(b) < h+4 {
				return
			}
			copy(key[:], b[h:])
			h += 4
		}
		if n < 0 || len(b) < h+n {
			return // cut by the output cap
		}
		p := bytes.Clone(b[h : h+n])
		for j := range p {
			p[j] ^= key[j&3]
		}
		if op >= 8 && (!fin || n > 125) {
			t.Fatalf("control frame op %d fin=%v len %d", op, fin, n)
		}
		if op == 8 {
			if n == 1 {
				t.Fatal("close frame with a 1-byte payload")
			}
			if n >= 2 {
				code := binary.BigEndian.Uint16(p)
				if !(code >= 1000 && code <= 1003 || code >= 1007 && code <= 1011 || code >= 3000 && code <= 4999) {
					t.Fatalf("close code %d sent on the wire", code)
				}
				if !utf8.Valid(p[2:]) {
					t.Fatalf("close reason %q not UTF-8", p[2:])
				}
			}
		}
		b = b[h+n:]
	}
}

// frameSeeds are valid and broken frame sequences to start the fuzzers from.
func frameSeeds(masked bool) [][]byte {
	key := [4]byte{1, 2, 3, 4}
	enc := func(fs ...frame) []byte {
		var b []byte
		for _, f := range fs {
			b = append(b, f.encode(masked, key)...)
		}
		return b
	}
	comp := (&deflater{}).compress(compressible(300, 1))
	return [][]byte{
		enc(text("hello")),
		enc(binaryFrame(bytes.Repeat([]byte{7}, 200))),
		enc(binaryFrame(bytes.Repeat([]byte{7}, 70000))),
		enc(textPart(false, []byte("frag")), ping("p"), cont(true, []byte("ment"))),
		enc(frame{fin: true, rsv: rsv1, op: opText, payload: comp}),
		enc(textPart(true, []byte("\xce\xba\xed\xa0\x80"))),
		enc(closeFrame(1000, "bye")),
		enc(closeFrame(1005, "")),
		enc(frame{fin: true, op: opClose, payload: []byte{3}}),
		enc(frame{fin: true, op: 3}),
		enc(frame{fin: true, op: opBinary, rawLen: []byte{127, 0x80, 0, 0, 0, 0, 0, 0, 1}}),
		enc(cont(true, []byte("x"))),
		enc(text("a"), text("b"), pong("x"), closeFrame(4000, "")),
	}
}

func FuzzReadFrameServer(f *testing.F) {
	for _, s := range frameSeeds(true) {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		const limit = 64 << 10
		var fc *fakeConn
		bounded(t, "server read", func() {
			var c *wire.Conn
			c, fc = acceptFake(t, data, compress, limit)
			readAll(t, c, limit)
			c.CloseNow()
		})
		checkOutput(t, fc.written(), false)
	})
}

func FuzzReadFrameClient(f *testing.F) {
	for _, s := range frameSeeds(false) {
		f.Add(s, "")
		f.Add(s, "permessage-deflate")
		f.Add(s, "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
	}
	f.Fuzz(func(t *testing.T, data []byte, ext string) {
		const limit = 64 << 10
		var fc *fakeConn
		bounded(t, "client read", func() {
			c, conn, err := dialFake(t, data, ext, limit)
			fc = conn
			if err != nil {
				return // a response extension line the client must refuse
			}
			readAll(t, c, limit)
			c.CloseNow()
		})
		checkOutput(t, fc.written(), true)
	})
}

// FuzzHandshake feeds raw HTTP requests to Accept (and, when asClient, raw responses to
// Dial with the correct accept key substituted for {ACCEPT}): the server either
// upgrades a request that meets RFC 6455 §4.2.1 or answers 4xx; the client either
// accepts a proper 101 or returns an error.
func FuzzHandshake(f *testing.F) {
	valid := rawRequest("fuzz.example", "dGhlIHNhbXBsZSBub25jZQ==")
	f.Add([]byte(valid), false)
	f.Add([]byte(rawRequest("fuzz.example", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, foo", "Sec-WebSocket-Protocol: a, b")), false)
	f.Add([]byte(strings.Replace(valid, "13", "8", 1)), false)
	f.Add([]byte(strings.Replace(valid, "GET", "POST", 1)), false)
	f.Add([]byte(strings.Replace(valid, "Upgrade: websocket", "Upgrade: h2c", 1)), false)
	f.Add([]byte(strings.Replace(valid, "dGhlIHNhbXBsZSBub25jZQ==", "AAAA", 1)), false)
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n"
	f.Add([]byte(resp+"\r\n"), true)
	f.Add([]byte(resp+"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n\r\n"), true)
	f.Add([]byte(resp+"Sec-WebSocket-Protocol: x\r\n\r\n"), true)
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, asClient bool) {
		if asClient {
			fuzzClientHandshake(t, data)
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return // not HTTP: net/http's business, not ours
		}
		fc := &fakeConn{}
		w := &hijackRecorder{ResponseRecorder: httptest.NewRecorder(), conn: fc}
		var c *wire.Conn
		bounded(t, "Accept", func() {
			c, err = wire.Accept(w, req, &wire.AcceptOptions{
				Compression: &wire.CompressionOptions{},
				Subprotocol: func(r *http.Request, offered []string) (string, error) {
					if len(offered) > 0 {
						return offered[0], nil
					}
					return "", nil
				},
			})
		})
		out := fc.written()
		if err == nil {
			defer c.CloseNow()
			if !bytes.HasPrefix(out, []byte("HTTP/1.1 101 ")) {
				t.Fatalf("upgraded, but wrote %q", out)
			}
			key := req.Header.Get("Sec-WebSocket-Key")
			if !bytes.Contains(out, []byte("Sec-WebSocket-Accept: "+acceptKey(key))) {
				t.Fatalf("101 without the accept value for key %q: %q", key, out)
			}
			if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
				t.Fatalf("upgraded with key %q, which is not 16 bytes in base64", key)
			}
			if req.Method != "GET" || !req.ProtoAtLeast(1, 1) || req.Header.Get("Sec-WebSocket-Version") != "13" ||
				!headerHasToken(req.Header, "Upgrade", "websocket") || !headerHasToken(req.Header, "Connection", "upgrade") {
				t.Fatalf("upgraded a request that is not a valid opening handshake: %q", data)
			}
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
			if err != nil {
				t.Fatalf("101 does not parse: %v", err)
			}
			if exts := parseExtensions(resp.Header); len(exts) > 0 {
				checkDeflateResponse(t, exts, nil)
			}
			return
		}
		status := w.Code
		if w.hijacked {
			resp, perr := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
			if perr != nil {
				t.Fatalf("refused after hijack with an unparsable answer %q", out)
			}
			status = resp.StatusCode
		}
		if status < 400 || status > 499 {
			t.Fatalf("refused (%v) with status %d, want 4xx", err, status)
		}
	})
}

func fuzzClientHandshake(t *testing.T, data []byte) {
	fc := &fakeConn{}
	var accept string
	fc.respond = func(head []byte) []byte {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err == nil {
			accept = acceptKey(req.Header.Get("Sec-WebSocket-Key"))
		}
		return bytes.ReplaceAll(data, []byte("{ACCEPT}"), []byte(accept))
	}
	var c *wire.Conn
	var resp *http.Response
	var err error
	bounded(t, "Dial", func() {
		ctx, cancel := context.WithTimeout(context.Background(), fuzzBound)
		defer cancel()
		c, resp, err = wire.Dial(ctx, "ws://fuzz.example/", &wire.DialOptions{
			NetDial:     func(context.Context, string, string) (net.Conn, error) { return fc, nil },
			Compression: &wire.CompressionOptions{},
		})
	})
	if err != nil {
		return
	}
	defer c.CloseNow()
	if resp == nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != accept {
		t.Fatalf("Dial accepted %q", data)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
		t.Fatalf("Dial accepted subprotocol %q it never offered", p)
	}
	if exts := parseExtensions(resp.Header); len(exts) > 0 {
		for _, e := range exts {
			if e.name != "permessage-deflate" {
				t.Fatalf("Dial accepted extension %q it never offered", e.name)
			}
		}
		checkDeflateResponse(t, exts, nil)
	}
}

// validPrefix reports whether some continuation can make p valid UTF-8: the reference
// for the validator's fail-fast answer, computed independently with unicode/utf8.
func validPrefix(p []byte) bool {
	i := 0
	for i < len(p) {
		if !utf8.FullRune(p[i:]) {
			break
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		i += size
	}
	tail := p[i:]
	if len(tail) == 0 {
		return true
	}
	conts := []byte{0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf}
	var try func(s []byte) bool
	try = func(s []byte) bool {
		if utf8.Valid(s) {
			return true
		}
		if len(s) >= 4 {
			return false
		}
		for _, c := range conts {
			if try(append(bytes.Clone(s), c)) {
				return true
			}
		}
		return false
	}
	return try(tail)
}

func FuzzValidateUTF8(f *testing.F) {
	for _, sq := range utf8Sequences() {
		f.Add([]byte(sq.s))
	}
	f.Add([]byte("a\xc2\xa2b\xe2\x82\xacc\xf0\xa4\xad\xa2d"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1024 {
			data = data[:1024] // the checks are quadratic; long inputs add nothing
		}
		want := utf8.Valid(data)
		if wire.ValidUTF8(data) != want {
			t.Fatalf("ValidUTF8(%q) = %v, utf8.Valid says %v", data, !want, want)
		}
		var v wire.UTF8Validator
		// Two pieces, split at every point.
		for k := 0; k <= len(data); k++ {
			v.Reset()
			ok1 := v.Write(data[:k])
			if ok1 != validPrefix(data[:k]) {
				t.Fatalf("Write(%q) = %v, but the prefix can be completed: %v", data[:k], ok1, !ok1)
			}
			got := ok1 && v.Write(data[k:]) && v.Done()
			if got != want {
				t.Fatalf("split at %d of %q: validator %v, utf8.Valid %v", k, data, got, want)
			}
		}
		// One byte at a time: each answer is the fail-fast answer for that prefix.
		v.Reset()
		ok := true
		for i := range data {
			ok = v.Write(data[i : i+1])
			if ok != validPrefix(data[:i+1]) {
				t.Fatalf("byte-wise at %d of %q: %v, prefix completable %v", i, data, ok, !ok)
			}
			if !ok {
				break
			}
		}
		if ok && v.Done() != want {
			t.Fatalf("byte-wise Done() = %v for %q, want %v", v.Done(), data, want)
		}
	})
}

// TestFuzzSeedCorpusPresent keeps the seed directories `make fuzz` relies on from
// disappearing unnoticed.
func TestFuzzSeedCorpusPresent(t *testing.T) {
	for _, name := range []string{"FuzzReadFrameServer", "FuzzReadFrameClient", "FuzzHandshake", "FuzzValidateUTF8"} {
		ents, err := os.ReadDir("testdata/fuzz/" + name)
		if err != nil || len(ents) == 0 {
			t.Errorf("seed corpus testdata/fuzz/%s missing or empty: %v", name, err)
		}
	}
}
