package wire_test

// The conformance harness: a raw RFC 6455 peer built from bytes, so the tests can send
// exactly the frames (good or broken) that the Autobahn testsuite sends and look at exactly
// what comes back on the wire. It plays the client (masked frames, own handshake) against
// wire.Accept, and the server (own handshake reply, unmasked or deliberately masked frames)
// against wire.Dial. Nothing here imports wire internals: only bytes and the exported API.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatd/chatd/wire"
	"go.uber.org/goleak"
)

// ioBound guards every blocking step of the raw peer so a broken implementation fails the
// test instead of hanging it. It is a hang guard, not a performance threshold: a correct
// implementation answers in microseconds.
const ioBound = 30 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Opcodes (RFC 6455 §5.2).
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xA
)

// RSV bits as the value of the 3-bit field (RSV1 is the high one).
const (
	rsv1 byte = 4
	rsv2 byte = 2
	rsv3 byte = 1
)

// frame is one frame as the raw peer sends it. len64 forces a payload length encoding
// (0: minimal) so the tests can send the 64-bit form or set its high bit.
type frame struct {
	fin     bool
	rsv     byte
	op      byte
	payload []byte
	// rawLen, when non-nil, replaces the length field with exactly these bytes
	// (the 7-bit marker 126/127 included as the first byte); payload is still appended.
	rawLen []byte
}

func text(s string) frame               { return frame{fin: true, op: opText, payload: []byte(s)} }
func binaryFrame(p []byte) frame        { return frame{fin: true, op: opBinary, payload: p} }
func ping(p string) frame               { return frame{fin: true, op: opPing, payload: []byte(p)} }
func pong(p string) frame               { return frame{fin: true, op: opPong, payload: []byte(p)} }
func cont(fin bool, p []byte) frame     { return frame{fin: fin, op: opCont, payload: p} }
func textPart(fin bool, p []byte) frame { return frame{fin: fin, op: opText, payload: p} }

// closeFrame builds a close frame with a status code and reason (code 0: empty payload).
func closeFrame(code uint16, reason string) frame {
	if code == 0 && reason == "" {
		return frame{fin: true, op: opClose}
	}
	p := binary.BigEndian.AppendUint16(nil, code)
	return frame{fin: true, op: opClose, payload: append(p, reason...)}
}

// encode renders f; masked frames use key (RFC 6455 §5.3).
func (f frame) encode(masked bool, key [4]byte) []byte {
	b0 := f.op&0x0f | (f.rsv&7)<<4
	if f.fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	var m byte
	if masked {
		m = 0x80
	}
	n := len(f.payload)
	switch {
	case f.rawLen != nil:
		out = append(out, m|f.rawLen[0])
		out = append(out, f.rawLen[1:]...)
	case n <= 125:
		out = append(out, m|byte(n))
	case n <= 0xffff:
		out = append(out, m|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if masked {
		out = append(out, key[:]...)
		start := len(out)
		out = append(out, f.payload...)
		maskBytes(key, out[start:])
		return out
	}
	return append(out, f.payload...)
}

// maskBytes XORs b with key from key position 0 (RFC 6455 §5.3), eight bytes at a time
// so megabyte payloads stay cheap under the race detector. It is the harness's own code,
// independent of wire.Mask.
func maskBytes(key [4]byte, b []byte) {
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k)
	}
	for ; i < len(b); i++ {
		b[i] ^= key[i&3]
	}
}

// gotFrame is one frame as the raw peer read it.
type gotFrame struct {
	fin     bool
	rsv     byte
	op      byte
	masked  bool
	payload []byte
}

func (f gotFrame) String() string {
	p := f.payload
	if len(p) > 40 {
		p = p[:40]
	}
	return fmt.Sprintf("{fin:%v rsv:%d op:%#x masked:%v len:%d %q}", f.fin, f.rsv, f.op, f.masked, len(f.payload), p)
}

// closeCode decodes a close frame's payload (0 when it is empty).
func (f gotFrame) closeCode() (uint16, string) {
	if len(f.payload) < 2 {
		return 0, ""
	}
	return binary.BigEndian.Uint16(f.payload), string(f.payload[2:])
}

// rawConn is one end of a WebSocket connection driven byte by byte.
type rawConn struct {
	t        testing.TB
	c        net.Conn
	br       *bufio.Reader
	isClient bool // true: we mask what we send and require unmasked frames from the peer
	key      [4]byte
	// a data message being reassembled across frames
	partial   []byte
	partialOp byte
	inMessage bool
}

func newRawConn(t testing.TB, c net.Conn, br *bufio.Reader, isClient bool) *rawConn {
	r := &rawConn{t: t, c: c, br: br, isClient: isClient}
	binary.BigEndian.PutUint32(r.key[:], rand.Uint32()|1) // never the all-zero key
	t.Cleanup(func() { c.Close() })
	return r
}

// write sends raw bytes; a write error after the peer closed is reported to the caller.
func (r *rawConn) write(b []byte) error {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(ioBound))
	_, err := r.c.Write(b)
	return err
}

// mustWrite sends raw bytes and fails the test if the connection does not take them.
func (r *rawConn) mustWrite(b []byte) {
	r.t.Helper()
	if err := r.write(b); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

// send writes frames, masked when we are the client.
func (r *rawConn) send(fs ...frame) {
	r.t.Helper()
	var buf []byte
	for _, f := range fs {
		buf = append(buf, f.encode(r.isClient, r.key)...)
	}
	r.mustWrite(buf)
}

// sendTolerant writes frames but ignores a write error: used after a frame the peer must
// reject, when the peer may already have closed the TCP connection.
func (r *rawConn) sendTolerant(fs ...frame) {
	var buf []byte
	for _, f := range fs {
		buf = append(buf, f.encode(r.isClient, r.key)...)
	}
	_ = r.write(buf)
}

// sendMaskedAs writes a frame with an explicit masking choice (for the "wrong mask" cases).
func (r *rawConn) sendMaskedAs(f frame, masked bool) {
	r.t.Helper()
	r.mustWrite(f.encode(masked, r.key))
}

// readFrame reads one frame within ioBound.
func (r *rawConn) readFrame() (gotFrame, error) {
	r.c.SetReadDeadline(time.Now().Add(ioBound))
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return gotFrame{}, err
	}
	f := gotFrame{fin: h[0]&0x80 != 0, rsv: h[0] >> 4 & 7, op: h[0] & 0x0f, masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 64<<20 {
		return f, fmt.Errorf("frame length %d beyond what any test sends", n)
	}
	var key [4]byte
	if f.masked {
		if _, err := io.ReadFull(r.br, key[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r.br, f.payload); err != nil {
		return f, err
	}
	if f.masked {
		maskBytes(key, f.payload)
	}
	return f, nil
}

// event is what the raw peer observes: a complete data message or a control frame.
type event struct {
	op      byte // opText/opBinary for messages; control opcode otherwise
	payload []byte
	rsv1    bool // RSV1 on the first frame (compressed message)
	frames  int  // frames the data message came in
}

func (e event) String() string {
	p := e.payload
	if len(p) > 40 {
		p = p[:40]
	}
	return fmt.Sprintf("{op:%#x len:%d frames:%d rsv1:%v %q}", e.op, len(e.payload), e.frames, e.rsv1, p)
}

// next reads frames until it can report an event, validating what the RFC requires of
// the peer's framing: the mask bit per role, no stray RSV bits (RSV1 only on a message's
// first frame when allowRSV1), well-formed fragmentation.
func (r *rawConn) next(allowRSV1 bool) (event, error) {
	r.t.Helper()
	frames := 0
	var rsv1First bool
	for {
		f, err := r.readFrame()
		if err != nil {
			return event{}, err
		}
		if f.masked == r.isClient {
			r.t.Errorf("peer frame masked=%v, RFC 6455 §5.1 wants masked=%v: %v", f.masked, !r.isClient, f)
		}
		if f.op >= 0x8 {
			if !f.fin || len(f.payload) > 125 || f.rsv != 0 {
				r.t.Errorf("malformed control frame from peer: %v", f)
			}
			return event{op: f.op, payload: f.payload}, nil
		}
		switch {
		case f.op == opCont && !r.inMessage:
			r.t.Errorf("peer sent a continuation frame outside a message: %v", f)
		case f.op != opCont && r.inMessage:
			r.t.Errorf("peer started a new message inside a fragmented one: %v", f)
		case f.op != opCont && f.op != opText && f.op != opBinary:
			r.t.Errorf("peer sent reserved opcode: %v", f)
		}
		if f.rsv != 0 && !(allowRSV1 && f.rsv == rsv1 && f.op != opCont) {
			r.t.Errorf("peer frame has RSV bits %d: %v", f.rsv, f)
		}
		if f.op != opCont {
			r.inMessage = true
			r.partialOp = f.op
			r.partial = r.partial[:0]
			rsv1First = f.rsv&rsv1 != 0
			frames = 0
		}
		frames++
		r.partial = append(r.partial, f.payload...)
		if f.fin {
			r.inMessage = false
			return event{op: r.partialOp, payload: bytes.Clone(r.partial), rsv1: rsv1First, frames: frames}, nil
		}
	}
}

// expect reads one event and requires it to be exactly (op, payload).
func (r *rawConn) expect(op byte, payload []byte) event {
	r.t.Helper()
	e, err := r.next(false)
	if err != nil {
		r.t.Fatalf("waiting for op %#x (%d bytes): %v", op, len(payload), err)
	}
	if e.op != op || !bytes.Equal(e.payload, payload) {
		p := payload
		if len(p) > 40 {
			p = p[:40]
		}
		r.t.Fatalf("got %v, want op %#x len %d %q", e, op, len(payload), p)
	}
	return e
}

// expectClose reads until a close frame, failing on anything else first, and checks its code
// is one of codes (0 stands for an empty close payload).
func (r *rawConn) expectClose(codes ...uint16) (uint16, string) {
	r.t.Helper()
	e, err := r.next(false)
	if err != nil {
		r.t.Fatalf("waiting for close %v: %v", codes, err)
	}
	if e.op != opClose {
		r.t.Fatalf("got %v, want a close frame with code %v", e, codes)
	}
	f := gotFrame{payload: e.payload}
	code, reason := f.closeCode()
	if len(e.payload) == 1 {
		r.t.Errorf("peer sent a 1-byte close payload")
	}
	for _, c := range codes {
		if c == code {
			return code, reason
		}
	}
	r.t.Fatalf("close code %d (reason %q), want one of %v", code, reason, codes)
	return code, reason
}

// expectTCPClosed requires the peer to close the TCP connection within ioBound, with no
// further frames. A reset counts as closed: the peer may close with our unread bytes
// still in its buffer after it failed the connection.
func (r *rawConn) expectTCPClosed() {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(ioBound))
	b, err := r.br.ReadByte()
	if err == nil {
		rest, _ := r.br.Peek(r.br.Buffered())
		r.t.Fatalf("peer sent more bytes after its close frame: % x", append([]byte{b}, rest...))
	}
	if isTimeout(err) {
		r.t.Fatalf("peer did not close the TCP connection within %v", ioBound)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		r.t.Fatalf("waiting for TCP close: %v", err)
	}
}

// failed asserts the peer failed the connection with one of codes: its close frame, our
// close reply, and its TCP close.
func (r *rawConn) failed(codes ...uint16) {
	r.t.Helper()
	code, _ := r.expectClose(codes...)
	r.sendTolerant(closeFrame(code, ""))
	r.expectTCPClosed()
}

// closeNormally runs the client-initiated close handshake and checks the echo and TCP close.
func (r *rawConn) closeNormally() {
	r.t.Helper()
	r.send(closeFrame(1000, "bye"))
	r.expectClose(1000)
	r.expectTCPClosed()
}

// sync proves the peer is still alive and has processed everything sent before: a ping with
// a unique payload must come back as the matching pong before anything else arrives.
func (r *rawConn) sync(tag string) {
	r.t.Helper()
	r.send(ping(tag))
	r.expect(opPong, []byte(tag))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// acceptKey is Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

func newKey() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

// rawRequest is a handshake request written byte for byte.
func rawRequest(host, key string, extra ...string) string {
	var sb strings.Builder
	sb.WriteString("GET /chat HTTP/1.1\r\nHost: " + host + "\r\n")
	sb.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\n")
	sb.WriteString("Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n")
	for _, h := range extra {
		sb.WriteString(h + "\r\n")
	}
	sb.WriteString("\r\n")
	return sb.String()
}

// roundTrip sends a raw request and reads the response; for failed handshakes the body
// is read too, and the connection is returned for an upgrade.
func roundTrip(t testing.TB, addr, req string) (*http.Response, []byte, net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioBound)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(ioBound))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading handshake response: %v", err)
	}
	var body []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	c.SetDeadline(time.Time{})
	return resp, body, c, br
}

// dialRaw opens a WebSocket connection from the raw client to addr, checks the 101
// response and returns the raw connection.
func dialRaw(t testing.TB, addr string, extra ...string) (*rawConn, *http.Response) {
	t.Helper()
	key := newKey()
	resp, body, c, br := roundTrip(t, addr, rawRequest(addr, key, extra...))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s %q", resp.Status, body)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
		t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, acceptKey(key))
	}
	if !headerHasToken(resp.Header, "Upgrade", "websocket") || !headerHasToken(resp.Header, "Connection", "upgrade") {
		t.Fatalf("101 without Upgrade/Connection tokens: %v", resp.Header)
	}
	dialedBy.Store(c.LocalAddr().String(), t.Name())
	return newRawConn(t, c, br, true), resp
}

// dialedBy maps a raw client's local address to the test that dialed it, to name the
// test behind a server connection that did not end.
var dialedBy sync.Map

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, s := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(s), token) {
				return true
			}
		}
	}
	return false
}

// echoServer is wire.Accept behind httptest, echoing every message with its type, the way
// cmd/wsecho does. It records how each connection ended so tests can assert close codes
// the server saw.
type echoServer struct {
	URL  string // ws://127.0.0.1:port
	Addr string
	wg   sync.WaitGroup
	// active maps the remote address of each running handler to its start, so a handler
	// that outlives its test can be named (see dialedBy).
	active sync.Map
	ends   chan error // the read error that ended each connection
	// conns receives every accepted *wire.Conn when set (for server-initiated actions)
	conns chan *wire.Conn
}

// echoMode selects how the echo handler moves messages.
type echoMode int

const (
	echoWhole     echoMode = iota // ReadMessage → WriteMessage
	echoStreaming                 // NextReader → NextWriter with io.Copy
)

func startEcho(t testing.TB, opts *wire.AcceptOptions, mode echoMode) *echoServer {
	t.Helper()
	es := &echoServer{ends: make(chan error, 256), conns: make(chan *wire.Conn, 256)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wire.Accept(w, r, opts)
		if err != nil {
			return // Accept answered the HTTP request itself
		}
		es.wg.Add(1)
		defer es.wg.Done()
		es.active.Store(r.RemoteAddr, true)
		defer es.active.Delete(r.RemoteAddr)
		defer c.CloseNow()
		select {
		case es.conns <- c:
		default:
		}
		err = echoLoop(c, mode)
		select {
		case es.ends <- err:
		default: // a shared server nobody asks: don't block the handler
		}
	})
	return es.serve(t, h)
}

// serve runs h on 127.0.0.1 and stops it (waiting for hijacked handlers) at cleanup.
func (es *echoServer) serve(t testing.TB, h http.Handler) *echoServer {
	srv := httptest.NewServer(h)
	es.Addr = srv.Listener.Addr().String()
	es.URL = "ws://" + es.Addr
	t.Cleanup(func() {
		srv.Close()
		done := make(chan struct{})
		go func() { es.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(ioBound):
			var names []string
			es.active.Range(func(k, _ any) bool {
				name, _ := dialedBy.Load(k)
				names = append(names, fmt.Sprintf("%v (%v)", k, name))
				return true
			})
			var dump strings.Builder
			pprof.Lookup("goroutine").WriteTo(&dump, 1)
			t.Errorf("echo handlers still running %v after the test: %v\n%s", ioBound, names, dump.String())
		}
	})
	return es
}

func echoLoop(c *wire.Conn, mode echoMode) error {
	var buf []byte
	for {
		switch mode {
		case echoStreaming:
			typ, rd, err := c.NextReader()
			if err != nil {
				return err
			}
			w, err := c.NextWriter(typ)
			if err != nil {
				return err
			}
			if _, err := io.Copy(w, rd); err != nil {
				w.Close()
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
		default:
			typ, p, err := c.ReadMessageInto(buf[:0])
			if err != nil {
				return err
			}
			buf = p
			if err := c.WriteMessage(typ, p); err != nil {
				return err
			}
		}
	}
}

// end waits for the server side of one connection to finish and returns its read error.
func (es *echoServer) end(t testing.TB) error {
	t.Helper()
	select {
	case err := <-es.ends:
		return err
	case <-time.After(ioBound):
		t.Fatalf("server connection did not end within %v", ioBound)
		return nil
	}
}

// rawServer is the deliberately misbehaving server for wire.Dial: it answers the
// handshake with whatever respond returns and hands the connection to the test.
type rawServer struct {
	URL   string
	ln    net.Listener
	peers chan *rawPeer
	wg    sync.WaitGroup
}

// rawPeer is the server end of one connection plus the request that opened it.
type rawPeer struct {
	*rawConn
	req *http.Request
}

// respondFunc writes the handshake response for a request (the whole HTTP head).
type respondFunc func(req *http.Request) string

// goodResponse is a correct 101 with optional extra header lines.
func goodResponse(extra ...string) respondFunc {
	return func(req *http.Request) string {
		var sb strings.Builder
		sb.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
		sb.WriteString("Sec-WebSocket-Accept: " + acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n")
		for _, h := range extra {
			sb.WriteString(h + "\r\n")
		}
		sb.WriteString("\r\n")
		return sb.String()
	}
}

func startRawServer(t testing.TB, respond respondFunc) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rs := &rawServer{URL: "ws://" + ln.Addr().String() + "/", ln: ln, peers: make(chan *rawPeer, 8)}
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(ioBound))
			br := bufio.NewReader(c)
			req, err := http.ReadRequest(br)
			if err != nil {
				c.Close()
				continue
			}
			if respond != nil {
				if _, err := io.WriteString(c, respond(req)); err != nil {
					c.Close()
					continue
				}
			}
			c.SetDeadline(time.Time{})
			rs.peers <- &rawPeer{rawConn: &rawConn{t: t, c: c, br: br, isClient: false, key: [4]byte{0x37, 0xfa, 0x21, 0x3d}}, req: req}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		rs.wg.Wait()
		close(rs.peers)
		for p := range rs.peers {
			p.c.Close()
		}
	})
	return rs
}

// peer returns the next accepted connection.
func (rs *rawServer) peer(t testing.TB) *rawPeer {
	t.Helper()
	select {
	case p := <-rs.peers:
		t.Cleanup(func() { p.c.Close() })
		return p
	case <-time.After(ioBound):
		t.Fatalf("no connection reached the raw server within %v", ioBound)
		return nil
	}
}

// dialWire dials the raw server with wire.Dial and a bounded context.
func dialWire(t testing.TB, url string, opts *wire.DialOptions) (*wire.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioBound)
	defer cancel()
	c, resp, err := wire.Dial(ctx, url, opts)
	if err == nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// readResult is what a wire read returned, collected off the test goroutine.
type readResult struct {
	typ wire.MessageType
	p   []byte
	err error
}

// readAsync runs ReadMessage in a goroutine so the raw peer can keep driving the
// connection; the result arrives on the returned channel.
func readAsync(c *wire.Conn) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		typ, p, err := c.ReadMessage()
		ch <- readResult{typ, p, err}
	}()
	return ch
}

func waitRead(t testing.TB, ch <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(ioBound):
		t.Fatalf("ReadMessage did not return within %v", ioBound)
		return readResult{}
	}
}

// wantCloseErr checks err carries one of codes as a *wire.CloseError.
func wantCloseErr(t testing.TB, err error, codes ...wire.StatusCode) {
	t.Helper()
	var ce *wire.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T), want a *wire.CloseError with code %v", err, err, codes)
	}
	if got := wire.CloseStatus(err); got != ce.Code {
		t.Errorf("CloseStatus = %d, CloseError.Code = %d", got, ce.Code)
	}
	for _, c := range codes {
		if ce.Code == c {
			return
		}
	}
	t.Fatalf("close code %d (%q), want one of %v", ce.Code, ce.Reason, codes)
}

// deflater compresses messages the way a permessage-deflate peer does (RFC 7692 §7.2.1):
// a sync flush per message with the 0x00 0x00 0xff 0xff tail removed. With takeover the
// LZ77 window carries over between messages; huffmanOnly emits no back-references, which
// stays valid under any client_max_window_bits the server may ask for.
type deflater struct {
	takeover    bool
	huffmanOnly bool
	buf         bytes.Buffer
	w           *flate.Writer
}

func (d *deflater) compress(p []byte) []byte {
	level := flate.BestSpeed
	if d.huffmanOnly {
		level = flate.HuffmanOnly
	}
	if d.w == nil || !d.takeover {
		d.buf.Reset()
		d.w, _ = flate.NewWriter(&d.buf, level)
	}
	d.buf.Reset()
	d.w.Write(p)
	d.w.Flush()
	out := bytes.Clone(d.buf.Bytes())
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		panic("flate sync flush without its tail")
	}
	return out[:len(out)-4]
}

// inflater decompresses a peer's messages. It always primes the window with the history
// of earlier messages: harmless when the peer resets its context, required when it doesn't.
type inflater struct {
	hist []byte
}

func (i *inflater) inflate(p []byte) ([]byte, error) {
	// The tail the sender removed, then an empty final stored block so the reader sees
	// a clean end of stream.
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))
	fr := flate.NewReaderDict(src, i.hist)
	out, err := io.ReadAll(io.LimitReader(fr, 64<<20))
	if err != nil {
		return nil, err
	}
	i.hist = append(i.hist, out...)
	if len(i.hist) > 32<<10 {
		i.hist = bytes.Clone(i.hist[len(i.hist)-32<<10:])
	}
	return out, nil
}

// compressible returns n bytes of JSON-like text that compresses the way chat traffic
// does: a 64 KiB block of varied records, repeated, cut on a rune boundary.
func compressible(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	words := []string{"room", "lobby", "alice", "bob", "text", "hello", "ts", "id", "type", "chat", "ü", "€", "😀"}
	var block []byte
	for len(block) < min(n, 64<<10) {
		block = append(block, `{"type":"`...)
		block = append(block, words[r.IntN(len(words))]...)
		block = append(block, `","n":`...)
		block = strconv.AppendInt(block, int64(r.IntN(100000)), 10)
		block = append(block, "},\n"...)
	}
	b := make([]byte, 0, n+len(block))
	for len(b) < n {
		b = append(b, block...)
	}
	// Cut on a rune boundary so the text stays valid UTF-8, then pad to exactly n.
	cut := n
	for cut > 0 && cut < len(b) && b[cut]&0xc0 == 0x80 {
		cut--
	}
	return append(b[:cut:cut], bytes.Repeat([]byte(" "), n-cut)...)
}

// randomBytes returns n incompressible bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 11))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}
