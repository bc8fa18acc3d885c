package wire_test

// Autobahn testsuite section 7 (close handling) in the server role: the close handshake,
// status code validity on the wire (RFC 6455 §7.4), the 1-byte and the oversize close
// payload, invalid UTF-8 in the reason, frames after a close, and the TCP close order.
// Each case gets its own server so the test can also check what the server's read
// returned (the *wire.CloseError with the code the client sent).

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/wire"
)

// closeCase runs script against a fresh echo server and then checks the server-side read
// error carries wantServerCode (0: don't check).
type closeCase struct {
	name           string
	script         func(t *testing.T, r *rawConn)
	wantServerCode []wire.StatusCode
}

func runCloseCases(t *testing.T, cases []closeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es := startEcho(t, nil, echoWhole)
			r, _ := dialRaw(t, es.Addr)
			tc.script(t, r)
			err := es.end(t)
			if len(tc.wantServerCode) > 0 {
				wantCloseErr(t, err, tc.wantServerCode...)
			}
		})
	}
}

func closeCases() []closeCase {
	cases := []closeCase{
		{"7.1.1 echo then close", func(t *testing.T, r *rawConn) {
			r.send(text("Hello World!"))
			r.expect(opText, []byte("Hello World!"))
			r.send(closeFrame(1000, ""))
			r.expectClose(1000)
			r.expectTCPClosed()
		}, []wire.StatusCode{1000}},
		{"7.1.2 close twice", func(t *testing.T, r *rawConn) {
			r.send(closeFrame(1000, ""), closeFrame(1000, ""))
			r.expectClose(1000)
			r.expectTCPClosed()
		}, []wire.StatusCode{1000}},
		{"7.1.3 ping after close is not answered", func(t *testing.T, r *rawConn) {
			r.send(closeFrame(1000, ""), ping("Hello World!"))
			r.expectClose(1000)
			r.expectTCPClosed()
		}, []wire.StatusCode{1000}},
		{"7.1.4 text after close is not echoed", func(t *testing.T, r *rawConn) {
			r.send(closeFrame(1000, ""), text("Hello World!"))
			r.expectClose(1000)
			r.expectTCPClosed()
		}, []wire.StatusCode{1000}},
		{"7.1.5 close inside a fragmented message", func(t *testing.T, r *rawConn) {
			r.send(textPart(false, []byte("fragment1")), closeFrame(1000, ""), cont(true, []byte("fragment2")))
			r.expectClose(1000)
			r.expectTCPClosed()
		}, []wire.StatusCode{1000}},
		{"7.1.6 close after a large message and a ping", func(t *testing.T, r *rawConn) {
			big := []byte(strings.Repeat("BAsd7&jh23", 26214))
			r.send(textPart(true, big), closeFrame(1000, ""), ping("Hello World!"))
			r.expect(opText, big)
			r.expectClose(1000)
			r.expectTCPClosed()
		}, []wire.StatusCode{1000}},
		{"7.3.1 close without payload", func(t *testing.T, r *rawConn) {
			r.send(closeFrame(0, ""))
			r.expectClose(0, 1000)
			r.expectTCPClosed()
		}, []wire.StatusCode{1005}},
		{"7.3.2 close with a 1-byte payload", func(t *testing.T, r *rawConn) {
			r.sendTolerant(frame{fin: true, op: opClose, payload: []byte{0x03}})
			r.failed(1002)
		}, []wire.StatusCode{1002}},
		{"7.3.3 close 1000 without reason", func(t *testing.T, r *rawConn) {
			r.send(closeFrame(1000, ""))
			r.expectClose(1000)
			r.expectTCPClosed()
		}, []wire.StatusCode{1000}},
		{"7.3.4 close 1000 with reason", func(t *testing.T, r *rawConn) {
			r.send(closeFrame(1000, "Hello World!"))
			r.expectClose(1000)
			r.expectTCPClosed()
		}, nil},
		{"7.3.5 close with a 123-byte reason", func(t *testing.T, r *rawConn) {
			r.send(closeFrame(1000, strings.Repeat("*", 123)))
			r.expectClose(1000)
			r.expectTCPClosed()
		}, []wire.StatusCode{1000}},
		{"7.3.6 close with a 124-byte reason (126-byte control frame)", func(t *testing.T, r *rawConn) {
			r.sendTolerant(closeFrame(1000, strings.Repeat("*", 124)))
			r.failed(1002)
		}, nil},
		{"7.5.1 close reason that is not UTF-8", func(t *testing.T, r *rawConn) {
			r.sendTolerant(closeFrame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"))
			r.failed(1002, 1007)
		}, nil},
		{"client never answers the server's close", func(t *testing.T, r *rawConn) {
			// The server fails the connection and must not wait forever for our reply.
			r.sendTolerant(frame{fin: true, op: 3})
			r.expectClose(1002)
			r.expectTCPClosed()
		}, []wire.StatusCode{1002}},
		{"TCP closed without a close frame", func(t *testing.T, r *rawConn) {
			r.send(text("x"))
			r.expect(opText, []byte("x"))
			r.c.Close()
		}, []wire.StatusCode{1006}},
	}
	// 7.7.x: valid codes are echoed (or answered with 1000) and reported to the server.
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cases = append(cases, closeCase{"7.7 valid code " + itoa(int(code)), func(t *testing.T, r *rawConn) {
			r.send(closeFrame(code, ""))
			r.expectClose(code, 1000)
			r.expectTCPClosed()
		}, []wire.StatusCode{wire.StatusCode(code)}})
	}
	// 7.9.x and 7.13.x: codes that must never appear on the wire fail the connection.
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, closeCase{"7.9 invalid code " + itoa(int(code)), func(t *testing.T, r *rawConn) {
			r.sendTolerant(closeFrame(code, "x")) // with a reason so code 0 is really sent
			r.expectClose(1002)
			r.sendTolerant(closeFrame(1002, ""))
			r.expectTCPClosed()
		}, []wire.StatusCode{1002}})
	}
	return cases
}

func TestConformanceClose(t *testing.T) { runCloseCases(t, closeCases()) }

// TestConformanceServerInitiatedClose drives Close from the server side: the close frame
// carries the code and reason, the client's reply completes the handshake, and Close
// returns; a client that never replies cannot hold Close or the socket forever.
func TestConformanceServerInitiatedClose(t *testing.T) {
	tests := []struct {
		name   string
		code   wire.StatusCode
		reason string
		reply  bool
	}{
		{"going away with reason, client replies", 1001, "going away", true},
		{"normal, client replies", 1000, "", true},
		{"application code, client replies", 4000, "app says bye", true},
		{"client never replies", 1000, "bye", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			es := startEcho(t, nil, echoWhole)
			r, _ := dialRaw(t, es.Addr)
			var sc *wire.Conn
			select {
			case sc = <-es.conns:
			case <-time.After(ioBound):
				t.Fatal("no server connection")
			}
			closed := make(chan error, 1)
			go func() { closed <- sc.Close(tt.code, tt.reason) }()
			code, reason := r.expectClose(uint16(tt.code))
			if reason != tt.reason {
				t.Errorf("close reason %q, want %q", reason, tt.reason)
			}
			if tt.reply {
				r.send(closeFrame(uint16(tt.code), ""))
			}
			_ = code
			r.expectTCPClosed()
			select {
			case err := <-closed:
				if tt.reply && err != nil {
					var ce *wire.CloseError
					if !errors.As(err, &ce) {
						t.Errorf("Close after a clean handshake: %v", err)
					}
				}
			case <-time.After(ioBound):
				t.Fatalf("Close did not return within %v", ioBound)
			}
			es.end(t)
		})
	}
}
