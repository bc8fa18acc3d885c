package wire

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSteadyStateReadDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects under the race detector")
	}
	for _, client := range []bool{false, true} {
		for _, size := range []int{125, 1024, 64 << 10} {
			c, peer := rawPeer(t, client, pmdState{})
			frame := encodeFrame(true, 0, opBinary, !client, bytes.Repeat([]byte{'a'}, size))
			const runs = 50
			go func() {
				for i := 0; i < runs+1; i++ {
					if _, err := peer.Write(frame); err != nil {
						return
					}
				}
			}()
			buf := make([]byte, 0, size)
			allocs := testing.AllocsPerRun(runs, func() {
				var err error
				_, buf, err = c.ReadMessageInto(buf[:0])
				if err != nil || len(buf) != size {
					t.Fatalf("ReadMessageInto: %d bytes, %v", len(buf), err)
				}
			})
			if allocs != 0 {
				t.Errorf("client=%v %d B: %.1f allocs per ReadMessageInto, want 0", client, size, allocs)
			}
		}
	}
}

func TestNextReaderStreamsWithoutAllocating(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects under the race detector")
	}
	c, peer := rawPeer(t, false, pmdState{})
	frame := encodeFrame(true, 0, opText, true, bytes.Repeat([]byte{'a'}, 1024))
	const runs = 50
	go func() {
		for i := 0; i < runs+1; i++ {
			peer.Write(frame)
		}
	}()
	buf := make([]byte, 300)
	allocs := testing.AllocsPerRun(runs, func() {
		_, r, err := c.NextReader()
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for {
			n, err := r.Read(buf)
			total += n
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if total != 1024 {
			t.Fatalf("read %d bytes, want 1024", total)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocs per message through NextReader, want 0", allocs)
	}
}

// TestProtocolViolations sends each broken frame to a server Conn and checks
// the close code on the wire, the read error, and that TCP is closed.
func TestProtocolViolations(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 126)
	tests := []struct {
		name   string
		frames [][]byte
		code   StatusCode
	}{
		{"unmasked client frame", [][]byte{encodeFrame(true, 0, opText, false, []byte("hi"))}, StatusProtocolError},
		{"RSV1 without extension", [][]byte{encodeFrame(true, rsv1, opText, true, []byte("hi"))}, StatusProtocolError},
		{"RSV2", [][]byte{encodeFrame(true, rsv2, opText, true, []byte("hi"))}, StatusProtocolError},
		{"RSV3 on ping", [][]byte{encodeFrame(true, rsv3, opPing, true, nil)}, StatusProtocolError},
		{"reserved data opcode 3", [][]byte{encodeFrame(true, 0, 3, true, nil)}, StatusProtocolError},
		{"reserved control opcode 11", [][]byte{encodeFrame(true, 0, 11, true, nil)}, StatusProtocolError},
		{"control frame over 125 bytes", [][]byte{encodeFrame(true, 0, opPing, true, long)}, StatusProtocolError},
		{"fragmented ping", [][]byte{encodeFrame(false, 0, opPing, true, nil)}, StatusProtocolError},
		{"continuation without start", [][]byte{encodeFrame(true, 0, opContinuation, true, []byte("x"))}, StatusProtocolError},
		{"new message inside fragmented one", [][]byte{
			encodeFrame(false, 0, opText, true, []byte("a")),
			encodeFrame(true, 0, opText, true, []byte("b")),
		}, StatusProtocolError},
		{"64-bit length with high bit", [][]byte{{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}}, StatusProtocolError},
		{"16-bit length not minimal", [][]byte{{0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e'}}, StatusProtocolError},
		{"invalid UTF-8", [][]byte{encodeFrame(true, 0, opText, true, []byte{0xff})}, StatusInvalidFramePayloadData},
		{"UTF-8 cut at message end", [][]byte{encodeFrame(true, 0, opText, true, []byte{0xce})}, StatusInvalidFramePayloadData},
		{"close payload of 1 byte", [][]byte{encodeFrame(true, 0, opClose, true, []byte{3})}, StatusProtocolError},
		{"close code 1005", [][]byte{encodeFrame(true, 0, opClose, true, []byte{0x03, 0xED})}, StatusProtocolError},
		{"close code 999", [][]byte{encodeFrame(true, 0, opClose, true, []byte{0x03, 0xE7})}, StatusProtocolError},
		{"close code 5000", [][]byte{encodeFrame(true, 0, opClose, true, []byte{0x13, 0x88})}, StatusProtocolError},
		{"close reason invalid UTF-8", [][]byte{encodeFrame(true, 0, opClose, true, []byte{0x03, 0xE8, 0xff})}, StatusInvalidFramePayloadData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := rawPeer(t, false, pmdState{})
			for _, f := range tt.frames {
				peer.Write(f)
			}
			errc := make(chan error, 1)
			go func() {
				_, _, err := c.ReadMessage()
				errc <- err
			}()
			h, p := readFrame(t, peer)
			if h.op != opClose || len(p) < 2 || StatusCode(uint16(p[0])<<8|uint16(p[1])) != tt.code {
				t.Fatalf("got frame op %d payload %q, want close %d", h.op, p, tt.code)
			}
			// Answer like a well-behaved peer; the server must then close TCP.
			peer.Write(encodeFrame(true, 0, opClose, true, p[:2]))
			expectEOF(t, peer)
			if err := <-errc; CloseStatus(err) != tt.code {
				t.Fatalf("read error %v, want code %d", err, tt.code)
			}
		})
	}
}

func TestClientRejectsMaskedFrames(t *testing.T) {
	c, peer := rawPeer(t, true, pmdState{})
	peer.Write(encodeFrame(true, 0, opText, true, []byte("hi")))
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage()
		errc <- err
	}()
	h, p := readFrame(t, peer)
	if h.op != opClose || !h.masked || string(p[:2]) != "\x03\xea" {
		t.Fatalf("got op %d masked %v payload %q, want a masked close 1002", h.op, h.masked, p)
	}
	peer.Write(encodeFrame(true, 0, opClose, false, p[:2]))
	peer.Close() // the server closes TCP first; the client then closes its side
	if err := <-errc; CloseStatus(err) != StatusProtocolError {
		t.Fatalf("read error %v, want 1002", err)
	}
}

func TestReadLimitFailsBeforeThePayload(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	c.SetReadLimit(1000)
	// A header announcing 1 GiB and nothing else: the 1009 must come
	// without waiting for (or buffering) the payload.
	var hb [maxHeaderLen]byte
	n := putHeader(hb[:], header{fin: true, op: opBinary, masked: true, length: 1 << 30})
	peer.Write(hb[:n])
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage()
		errc <- err
	}()
	h, p := readFrame(t, peer)
	if h.op != opClose || string(p[:2]) != "\x03\xf1" {
		t.Fatalf("got op %d payload %q, want close 1009", h.op, p)
	}
	// The peer cannot answer in the middle of its 1 GiB frame: it hangs up.
	peer.Close()
	if err := <-errc; CloseStatus(err) != StatusMessageTooBig {
		t.Fatalf("read error %v, want 1009", err)
	}
}

func TestReadLimitCountsAllFragments(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	c.SetCloseTimeout(50 * time.Millisecond) // the raw peer never answers the close
	c.SetReadLimit(10)
	peer.Write(encodeFrame(false, 0, opBinary, true, []byte("123456")))
	peer.Write(encodeFrame(true, 0, opContinuation, true, []byte("789012")))
	_, _, err := c.ReadMessage()
	if CloseStatus(err) != StatusMessageTooBig {
		t.Fatalf("read error %v, want 1009", err)
	}
}

func TestUTF8FailsFastAcrossFragments(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	c.SetCloseTimeout(50 * time.Millisecond) // the raw peer never answers the close
	// The first fragment ends with a valid prefix; the second starts with a
	// byte that cannot continue it. The final fragment never comes: the
	// 1007 must not wait for it.
	peer.Write(encodeFrame(false, 0, opText, true, []byte("κ\xe1\xbd")))
	peer.Write(encodeFrame(false, 0, opContinuation, true, []byte{0x41}))
	_, r, err := c.NextReader()
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	if CloseStatus(err) != StatusInvalidFramePayloadData {
		t.Fatalf("read error %v, want 1007", err)
	}
}

func TestControlFramesBetweenFragments(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	var pings []string
	c.SetPingHandler(func(p []byte) error { pings = append(pings, string(p)); return nil })
	peer.Write(encodeFrame(false, 0, opText, true, []byte("frag")))
	peer.Write(encodeFrame(true, 0, opPing, true, []byte("p1")))
	peer.Write(encodeFrame(true, 0, opPong, true, []byte("unsolicited")))
	peer.Write(encodeFrame(true, 0, opContinuation, true, []byte("ment")))
	typ, got, err := c.ReadMessage()
	if err != nil || typ != TextMessage || string(got) != "fragment" {
		t.Fatalf("ReadMessage = %v %q %v", typ, got, err)
	}
	if len(pings) != 1 || pings[0] != "p1" {
		t.Fatalf("ping handler saw %q", pings)
	}
	h, p := readFrame(t, peer)
	if h.op != opPong || string(p) != "p1" || h.masked {
		t.Fatalf("got op %d %q masked=%v, want unmasked pong p1", h.op, p, h.masked)
	}
}

func TestHandlerErrorIsReturnedByRead(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	boom := errors.New("boom")
	c.SetPongHandler(func([]byte) error { return boom })
	peer.Write(encodeFrame(true, 0, opPong, true, nil))
	if _, _, err := c.ReadMessage(); !errors.Is(err, boom) {
		t.Fatalf("ReadMessage = %v, want the handler's error", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	c.SetIdleTimeout(50 * time.Millisecond)
	// Bytes keep arriving (one header byte at a time, more slowly than
	// nothing at all but faster than the timeout): each one extends it.
	go func() {
		f := encodeFrame(true, 0, opText, true, []byte("ok"))
		for _, b := range f {
			peer.Write([]byte{b})
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "ok" {
		t.Fatalf("ReadMessage = %q, %v", got, err)
	}
	_, _, err := c.ReadMessage()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle read = %v, want a deadline error", err)
	}
}

func TestNextReaderDiscardsUnreadRest(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	peer.Write(encodeFrame(true, 0, opText, true, []byte(strings.Repeat("a", 5000))))
	peer.Write(encodeFrame(true, 0, opBinary, true, []byte("second")))
	_, r, err := c.NextReader()
	if err != nil {
		t.Fatal(err)
	}
	var b [10]byte
	r.Read(b[:])
	typ, got, err := c.ReadMessage()
	if err != nil || typ != BinaryMessage || string(got) != "second" {
		t.Fatalf("ReadMessage after partial read = %v %q %v", typ, got, err)
	}
}

func TestNextReaderReady(t *testing.T) {
	ping := encodeFrame(true, 0, opPing, true, []byte("p"))
	hello := encodeFrame(true, 0, opText, true, []byte("hello"))
	world := encodeFrame(true, 0, opText, true, []byte("world"))
	tests := []struct {
		name   string
		writes [][]byte // written one after the other, the first before the call
		want   []string // messages NextReaderReady returns, in order; "" = ErrNotReady
		pongs  int
	}{
		{"a ping alone leaves nothing to read", [][]byte{ping}, []string{""}, 1},
		{"a ping then a message in one write", [][]byte{append(ping[:len(ping):len(ping)], hello...)}, []string{"hello"}, 1},
		{"two messages in one write are both returned without waiting", [][]byte{append(hello[:len(hello):len(hello)], world...)}, []string{"hello", "world", ""}, 0},
		{"a header split across writes is waited for", [][]byte{hello[:1], hello[1:]}, []string{"hello"}, 0},
		{"a fragmented message with a ping inside is returned whole", [][]byte{
			encodeFrame(false, 0, opText, true, []byte("frag")), ping,
			encodeFrame(true, 0, opContinuation, true, []byte("ment")),
		}, []string{"fragment"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := rawPeer(t, false, pmdState{})
			peer.Write(tt.writes[0])
			go func() {
				for _, w := range tt.writes[1:] {
					time.Sleep(10 * time.Millisecond)
					peer.Write(w)
				}
			}()
			for i, want := range tt.want {
				if i > 0 && c.Buffered() == 0 {
					// A readiness-driven reader waits for the socket here;
					// the table says ErrNotReady is what it would get.
					if want != "" {
						t.Fatalf("call %d: nothing buffered, want %q", i, want)
					}
					continue
				}
				typ, r, err := c.NextReaderReady()
				if want == "" {
					if !errors.Is(err, ErrNotReady) {
						t.Fatalf("call %d: NextReaderReady = %v, want ErrNotReady", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("call %d: NextReaderReady: %v", i, err)
				}
				got, err := io.ReadAll(r)
				if err != nil || typ != TextMessage || string(got) != want {
					t.Fatalf("call %d: got %v %q %v, want %q", i, typ, got, err, want)
				}
			}
			if n := c.Buffered(); n != 0 {
				t.Fatalf("Buffered() = %d after everything was read", n)
			}
			for i := 0; i < tt.pongs; i++ {
				if h, p := readFrame(t, peer); h.op != opPong || string(p) != "p" {
					t.Fatalf("got op %d %q, want pong p", h.op, p)
				}
			}
		})
	}
}

func TestNextReaderReadyAfterPingOnlyHoldsNoPooledBuffer(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	// More than the inline array, so the read borrows a pooled buffer.
	var burst []byte
	for len(burst) <= smallReadLen {
		burst = append(burst, encodeFrame(true, 0, opPing, true, []byte("0123456789"))...)
	}
	peer.Write(burst)
	for {
		if _, _, err := c.NextReaderReady(); !errors.Is(err, ErrNotReady) {
			t.Fatalf("NextReaderReady = %v, want ErrNotReady", err)
		}
		if c.Buffered() == 0 {
			break
		}
	}
	if c.rbig != nil {
		t.Fatal("a pooled read buffer is held after ErrNotReady with nothing buffered")
	}
}

func TestNextReaderReadyReportsPeerClose(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	peer.Write(encodeFrame(true, 0, opClose, true, []byte{0x03, 0xe8}))
	if _, _, err := c.NextReaderReady(); CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("NextReaderReady = %v, want close 1000", err)
	}
}
