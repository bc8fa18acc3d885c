package wire

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestCloseArgumentChecks(t *testing.T) {
	c, _ := rawPeer(t, false, pmdState{})
	for _, tt := range []struct {
		code   StatusCode
		reason string
	}{
		{1006, ""},
		{1015, ""},
		{999, ""},
		{5000, ""},
		{StatusNoStatusRcvd, "reason without code"},
		{1000, string(make([]byte, 124))},
		{1000, "\xff"},
	} {
		if err := c.Close(tt.code, tt.reason); err == nil {
			t.Errorf("Close(%d, %q) accepted", tt.code, tt.reason)
		}
	}
}

// TestServerCloseTimesOutOnSilentPeer: a peer that never answers our close
// frame cannot hold the connection past the close timeout.
func TestServerCloseTimesOutOnSilentPeer(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	c.SetCloseTimeout(50 * time.Millisecond)
	errc := make(chan error, 1)
	go func() { errc <- c.Close(StatusGoingAway, "shutdown") }()
	h, p := readFrame(t, peer)
	if h.op != opClose || string(p) != "\x03\xe9shutdown" {
		t.Fatalf("got op %d %q", h.op, p)
	}
	// Say nothing: the server must close TCP on its own.
	expectEOF(t, peer)
	if err := <-errc; err != nil {
		t.Fatalf("Close = %v", err)
	}
	if _, _, err := c.ReadMessage(); CloseStatus(err) != StatusGoingAway {
		t.Fatalf("read after Close = %v, want the 1001 we sent", err)
	}
}

// TestServerAnswersCloseAndClosesTCP: the peer closes; the server echoes
// the code and closes TCP first (RFC 6455 §7.1.1).
func TestServerAnswersCloseAndClosesTCP(t *testing.T) {
	for _, tt := range []struct {
		name    string
		payload []byte
		code    StatusCode
	}{
		{"with code", []byte("\x0f\xa0app reason"), 4000},
		{"empty", nil, StatusNoStatusRcvd},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := rawPeer(t, false, pmdState{})
			peer.Write(encodeFrame(true, 0, opClose, true, tt.payload))
			_, _, err := c.ReadMessage()
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Code != tt.code {
				t.Fatalf("read error %v, want close %d", err, tt.code)
			}
			h, p := readFrame(t, peer)
			want := ""
			if len(tt.payload) >= 2 {
				want = string(tt.payload[:2])
			}
			if h.op != opClose || string(p[:min(2, len(p))]) != want {
				t.Fatalf("answer op %d %q, want close echoing %q", h.op, p, want)
			}
			expectEOF(t, peer)
		})
	}
}

// TestClientWaitsForServerFIN: after the close handshake the client leaves
// closing TCP to the server, but not for longer than the close timeout.
func TestClientWaitsForServerFIN(t *testing.T) {
	c, peer := rawPeer(t, true, pmdState{})
	c.SetCloseTimeout(3 * time.Second)
	errc := make(chan error, 1)
	go func() { errc <- c.Close(StatusNormalClosure, "") }()
	if h, _ := readFrame(t, peer); h.op != opClose || !h.masked {
		t.Fatalf("client sent op %d masked=%v", h.op, h.masked)
	}
	peer.Write(encodeFrame(true, 0, opClose, false, []byte{0x03, 0xe8}))
	// The client must not have closed yet: a read sees no EOF for a moment.
	peer.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	var b [1]byte
	if _, err := peer.Read(b[:]); !isTimeoutErr(err) {
		t.Fatalf("client closed TCP before the server: %v", err)
	}
	peer.Close()
	if err := <-errc; err != nil {
		t.Fatalf("Close = %v", err)
	}
}

func isTimeoutErr(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// TestPeerFINWithoutClose: the peer half-closes without a close frame; the
// read reports 1006 and our side closes TCP at once.
func TestPeerFINWithoutClose(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	peer.(interface{ CloseWrite() error }).CloseWrite()
	_, _, err := c.ReadMessage()
	if CloseStatus(err) != StatusAbnormalClosure || !errors.Is(err, io.EOF) {
		t.Fatalf("read error %v, want 1006 wrapping EOF", err)
	}
	expectEOF(t, peer)
}

// TestCloseFromAnotherGoroutine: Close while a reader is blocked; the
// reader receives the peer's answer and both return.
func TestCloseFromAnotherGoroutine(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	readErr := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage()
		readErr <- err
	}()
	closeErr := make(chan error, 1)
	go func() { closeErr <- c.Close(StatusNormalClosure, "bye") }()
	h, p := readFrame(t, peer)
	if h.op != opClose {
		t.Fatalf("op %d", h.op)
	}
	peer.Write(encodeFrame(true, 0, opClose, true, p))
	expectEOF(t, peer)
	if err := <-closeErr; err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := <-readErr; CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("reader got %v", err)
	}
}

// TestCloseWhileWriterIsStuck: a writer blocked on a peer that stopped
// reading must not keep Close from finishing within the close timeout.
func TestCloseWhileWriterIsStuck(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	c.SetCloseTimeout(100 * time.Millisecond)
	big := make([]byte, 8<<20) // far more than the socket buffers hold
	writeErr := make(chan error, 1)
	go func() { writeErr <- c.WriteMessage(BinaryMessage, big) }()
	// Let the write fill the buffers and block.
	time.Sleep(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- c.Close(StatusGoingAway, "") }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked behind a stuck writer")
	}
	if err := <-writeErr; err == nil {
		t.Fatal("the stuck write reported success")
	}
	_ = peer
}

// TestApplicationChosenCloseFrames: FailReason names the reason of the close
// frames wire sends on failure, and CloseAnswer the code and reason that answer
// a peer's close; values that may not be sent fall back to wire's own.
func TestApplicationChosenCloseFrames(t *testing.T) {
	failReason := func(code StatusCode, detail string) string {
		switch code {
		case StatusInvalidFramePayloadData:
			return "invalid_utf8"
		case StatusMessageTooBig:
			return strings.Repeat("x", 200) // too long for a close frame: falls back
		}
		return detail
	}
	for _, tt := range []struct {
		name       string
		send       []byte
		answer     func(StatusCode, string) (StatusCode, string)
		wantCode   StatusCode
		wantReason string
	}{
		{"failure reason chosen", encodeFrame(true, 0, opText, true, []byte{0xc0, 0x80}), nil,
			StatusInvalidFramePayloadData, "invalid_utf8"},
		{"unsendable failure reason falls back", encodeFrame(true, 0, opText, true, make([]byte, 2048)), nil,
			StatusMessageTooBig, "message too big"},
		{"answer chosen", encodeFrame(true, 0, opClose, true, []byte("\x03\xe9tab closed")),
			func(StatusCode, string) (StatusCode, string) { return StatusNormalClosure, "bye" },
			StatusNormalClosure, "bye"},
		{"answer to an empty close chosen", encodeFrame(true, 0, opClose, true, nil),
			func(StatusCode, string) (StatusCode, string) { return StatusNormalClosure, "bye" },
			StatusNormalClosure, "bye"},
		{"unsendable answer falls back to the echo", encodeFrame(true, 0, opClose, true, []byte("\x03\xe9tab closed")),
			func(StatusCode, string) (StatusCode, string) { return StatusNoStatusRcvd, "" },
			StatusGoingAway, "tab closed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := rawPeer(t, false, pmdState{})
			c.SetReadLimit(1024)
			c.failReason = failReason
			c.closeAnswer = tt.answer
			peer.Write(tt.send)
			if _, _, err := c.ReadMessage(); err == nil {
				t.Fatal("ReadMessage succeeded, want a close")
			}
			h, p := readFrame(t, peer)
			if h.op != opClose || len(p) < 2 {
				t.Fatalf("got op %d payload %q, want a close frame with a code", h.op, p)
			}
			if code, reason := StatusCode(uint16(p[0])<<8|uint16(p[1])), string(p[2:]); code != tt.wantCode || reason != tt.wantReason {
				t.Fatalf("close %d %q, want %d %q", code, reason, tt.wantCode, tt.wantReason)
			}
		})
	}
}
