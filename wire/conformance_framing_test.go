package wire_test

// Autobahn testsuite sections 1–5 (framing, ping/pong, reserved bits, opcodes,
// fragmentation) in the server role: the raw client sends the case's frames to a
// wire.Accept echo server and asserts what comes back on the wire.

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// serverCase is one scripted conversation with the echo server.
type serverCase struct {
	name string
	run  func(t *testing.T, r *rawConn)
}

// runServerCases runs each case on a fresh connection to one echo server, in parallel.
func runServerCases(t *testing.T, cases []serverCase) {
	t.Helper()
	es := startEcho(t, nil, echoWhole)
	runServerCasesAt(t, es.Addr, cases)
}

// runServerCasesAt runs the cases against any echo server at addr (cmd/wsecho too).
func runServerCasesAt(t *testing.T, addr string, cases []serverCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := dialRaw(t, addr)
			tc.run(t, r)
		})
	}
}

// chopped writes the frames in pieces of n bytes, each its own write, so the server
// must reassemble headers and payloads from partial reads.
func chopped(r *rawConn, n int, fs ...frame) {
	r.t.Helper()
	var buf []byte
	for _, f := range fs {
		buf = append(buf, f.encode(true, r.key)...)
	}
	for len(buf) > 0 {
		k := min(n, len(buf))
		r.mustWrite(buf[:k])
		buf = buf[k:]
	}
}

// echoCase sends one frame and expects the identical message back, then a clean close.
func echoCase(name string, f frame, chop int) serverCase {
	return serverCase{name, func(t *testing.T, r *rawConn) {
		if chop > 0 {
			chopped(r, chop, f)
		} else {
			r.send(f)
		}
		r.expect(f.op, f.payload)
		r.closeNormally()
	}}
}

func framingCases() []serverCase {
	// Section 1: text and binary at every length-encoding boundary (7-bit, 16-bit, 64-bit).
	var cases []serverCase
	for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		cases = append(cases,
			echoCase("1.1."+itoa(i+1)+" text "+itoa(n), frame{fin: true, op: opText, payload: bytes.Repeat([]byte("*"), n)}, 0),
			echoCase("1.2."+itoa(i+1)+" binary "+itoa(n), binaryFrame(bytes.Repeat([]byte{0xfe}, n)), 0))
	}
	cases = append(cases,
		echoCase("1.1.8 text 65536 chopped 997", frame{fin: true, op: opText, payload: bytes.Repeat([]byte("*"), 65536)}, 997),
		echoCase("1.2.8 binary 65536 chopped 997", binaryFrame(bytes.Repeat([]byte{0xfe}, 65536)), 997),
		echoCase("header byte by byte", text("Hello, world"), 1),
		serverCase{"64-bit length with the high bit set", func(t *testing.T, r *rawConn) {
			f := frame{fin: true, op: opBinary, payload: []byte("x"), rawLen: []byte{127, 0x80, 0, 0, 0, 0, 0, 0, 1}}
			r.sendTolerant(f)
			r.failed(1002)
		}},
		serverCase{"unmasked client frame", func(t *testing.T, r *rawConn) {
			r.sendMaskedAs(text("Hello"), false)
			r.failed(1002)
		}},
		serverCase{"several messages in one write", func(t *testing.T, r *rawConn) {
			r.send(text("one"), binaryFrame([]byte("two")), text(""))
			r.expect(opText, []byte("one"))
			r.expect(opBinary, []byte("two"))
			r.expect(opText, nil)
			r.closeNormally()
		}},
	)
	return cases
}

func TestConformanceFraming(t *testing.T) { runServerCases(t, framingCases()) }

func pingPongCases() []serverCase {
	bin := []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}
	p125 := strings.Repeat("\xfe", 125)
	cases := []serverCase{
		{"2.1 ping without payload", func(t *testing.T, r *rawConn) {
			r.send(ping(""))
			r.expect(opPong, nil)
			r.closeNormally()
		}},
		{"2.2 ping with text payload", func(t *testing.T, r *rawConn) {
			r.send(ping("Hello, world!"))
			r.expect(opPong, []byte("Hello, world!"))
			r.closeNormally()
		}},
		{"2.3 ping with binary payload", func(t *testing.T, r *rawConn) {
			r.send(frame{fin: true, op: opPing, payload: bin})
			r.expect(opPong, bin)
			r.closeNormally()
		}},
		{"2.4 ping with 125 bytes", func(t *testing.T, r *rawConn) {
			r.send(ping(p125))
			r.expect(opPong, []byte(p125))
			r.closeNormally()
		}},
		{"2.5 ping with 126 bytes", func(t *testing.T, r *rawConn) {
			r.sendTolerant(ping(p125 + "x"))
			r.failed(1002)
		}},
		{"2.6 ping with 125 bytes chopped to 1-byte writes", func(t *testing.T, r *rawConn) {
			chopped(r, 1, ping(p125))
			r.expect(opPong, []byte(p125))
			r.closeNormally()
		}},
		{"2.7 unsolicited empty pong is ignored", func(t *testing.T, r *rawConn) {
			r.send(pong(""))
			r.sync("after-pong")
			r.closeNormally()
		}},
		{"2.8 unsolicited pong with payload is ignored", func(t *testing.T, r *rawConn) {
			r.send(pong("unsolicited pong payload"))
			r.sync("after-pong")
			r.closeNormally()
		}},
		{"2.9 pong then ping: only the ping is answered", func(t *testing.T, r *rawConn) {
			r.send(pong("unsolicited pong payload"), ping("ping payload"))
			r.expect(opPong, []byte("ping payload"))
			r.closeNormally()
		}},
		{"2.10 ten pings in one write", func(t *testing.T, r *rawConn) { tenPings(t, r, 0) }},
		{"2.11 ten pings chopped", func(t *testing.T, r *rawConn) { tenPings(t, r, 1) }},
	}
	return cases
}

func TestConformancePingPong(t *testing.T) { runServerCases(t, pingPongCases()) }

// tenPings sends 10 pings and accepts the RFC's latitude (§5.5.3: an endpoint may answer
// only the most recent of several unanswered pings): the pongs must come in order, each
// carry one of the ping payloads, and the last must answer the last ping.
func tenPings(t *testing.T, r *rawConn, chop int) {
	var fs []frame
	for i := range 10 {
		fs = append(fs, ping("payload-"+itoa(i)))
	}
	if chop > 0 {
		chopped(r, chop, fs...)
	} else {
		r.send(fs...)
	}
	last := -1
	for last < 9 {
		e, err := r.next(false)
		if err != nil {
			t.Fatalf("after pong for ping %d: %v", last, err)
		}
		if e.op != opPong || !strings.HasPrefix(string(e.payload), "payload-") {
			t.Fatalf("got %v, want a pong", e)
		}
		n := atoi(strings.TrimPrefix(string(e.payload), "payload-"))
		if n <= last {
			t.Fatalf("pong for ping %d after pong for ping %d", n, last)
		}
		last = n
	}
	r.closeNormally()
}

func reservedBitsCases() []serverCase {
	cases := []serverCase{
		{"3.1 RSV1 on text without an extension", func(t *testing.T, r *rawConn) {
			r.sendTolerant(frame{fin: true, rsv: rsv1, op: opText, payload: []byte("Hello, world!")})
			r.failed(1002)
		}},
		{"3.2 RSV2 on text after a good text, ping after", func(t *testing.T, r *rawConn) {
			r.send(text("Hello, world!"))
			r.expect(opText, []byte("Hello, world!"))
			r.sendTolerant(frame{fin: true, rsv: rsv2, op: opText, payload: []byte("Hello, world!")}, ping(""))
			r.failed(1002)
		}},
		{"3.3 RSV1|RSV2 on text, all in one write", func(t *testing.T, r *rawConn) {
			r.send(text("Hello, world!"), frame{fin: true, rsv: rsv1 | rsv2, op: opText, payload: []byte("Hello, world!")}, ping(""))
			r.expect(opText, []byte("Hello, world!"))
			r.failed(1002)
		}},
		{"3.4 RSV3 on text, chopped", func(t *testing.T, r *rawConn) {
			chopped(r, 1, text("Hello, world!"))
			r.expect(opText, []byte("Hello, world!"))
			r.sendTolerant(frame{fin: true, rsv: rsv3, op: opText, payload: []byte("Hello, world!")}, ping(""))
			r.failed(1002)
		}},
		{"3.5 RSV1|RSV3 on binary", func(t *testing.T, r *rawConn) {
			r.sendTolerant(frame{fin: true, rsv: rsv1 | rsv3, op: opBinary, payload: []byte{0, 0xff, 0xfe}})
			r.failed(1002)
		}},
		{"3.6 RSV2|RSV3 on ping", func(t *testing.T, r *rawConn) {
			r.sendTolerant(frame{fin: true, rsv: rsv2 | rsv3, op: opPing, payload: []byte("Hello, world!")})
			r.failed(1002)
		}},
		{"3.7 all RSV bits on close", func(t *testing.T, r *rawConn) {
			f := closeFrame(1000, "")
			f.rsv = 7
			r.sendTolerant(f)
			r.failed(1002)
		}},
		{"RSV1 on a continuation frame", func(t *testing.T, r *rawConn) {
			r.sendTolerant(textPart(false, []byte("Hello, ")), frame{fin: true, rsv: rsv1, op: opCont, payload: []byte("world!")})
			r.failed(1002)
		}},
	}
	return cases
}

func TestConformanceReservedBits(t *testing.T) { runServerCases(t, reservedBitsCases()) }

func opcodeCases() []serverCase {
	var cases []serverCase
	// 4.1.x: reserved non-control opcodes 3–7; 4.2.x: reserved control opcodes 0xB–0xF.
	// Odd cases sandwich the bad frame between a good text (echoed first) and a ping
	// (never answered).
	for i, op := range []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		sec := "4.1."
		if op >= 0xB {
			sec = "4.2."
		}
		name := sec + itoa(i%5+1) + " opcode " + itoa(int(op))
		bad := frame{fin: true, op: op}
		if i%5 >= 1 {
			bad.payload = []byte("reserved opcode payload")
		}
		sandwich := i%5 >= 2
		cases = append(cases, serverCase{name, func(t *testing.T, r *rawConn) {
			if sandwich {
				r.sendTolerant(text("Hello, world!"), bad, ping(""))
				r.expect(opText, []byte("Hello, world!"))
			} else {
				r.sendTolerant(bad)
			}
			r.failed(1002)
		}})
	}
	return cases
}

func TestConformanceOpcodes(t *testing.T) { runServerCases(t, opcodeCases()) }

func fragmentationCases() []serverCase {
	frag1, frag2 := []byte("fragment1"), []byte("fragment2")
	both := []byte("fragment1fragment2")
	cases := []serverCase{
		{"5.1 fragmented ping", func(t *testing.T, r *rawConn) {
			r.sendTolerant(frame{op: opPing, payload: frag1}, cont(true, frag2))
			r.failed(1002)
		}},
		{"5.2 fragmented pong", func(t *testing.T, r *rawConn) {
			r.sendTolerant(frame{op: opPong, payload: frag1}, cont(true, frag2))
			r.failed(1002)
		}},
		{"5.3 text in two fragments", func(t *testing.T, r *rawConn) {
			r.send(textPart(false, frag1), cont(true, frag2))
			r.expect(opText, both)
			r.closeNormally()
		}},
		{"5.4 text in two fragments, separate writes", func(t *testing.T, r *rawConn) {
			r.send(textPart(false, frag1))
			r.sync("between fragments")
			r.send(cont(true, frag2))
			r.expect(opText, both)
			r.closeNormally()
		}},
		{"5.5 text in two fragments, chopped", func(t *testing.T, r *rawConn) {
			chopped(r, 1, textPart(false, frag1), cont(true, frag2))
			r.expect(opText, both)
			r.closeNormally()
		}},
		{"5.6 ping between text fragments", func(t *testing.T, r *rawConn) {
			r.send(textPart(false, frag1), ping("pongme!"), cont(true, frag2))
			r.expect(opPong, []byte("pongme!"))
			r.expect(opText, both)
			r.closeNormally()
		}},
		{"5.8 ping between text fragments, chopped", func(t *testing.T, r *rawConn) {
			chopped(r, 1, textPart(false, frag1), ping("pongme!"), cont(true, frag2))
			r.expect(opPong, []byte("pongme!"))
			r.expect(opText, both)
			r.closeNormally()
		}},
		{"5.9 continuation FIN=1 without a start", func(t *testing.T, r *rawConn) {
			r.sendTolerant(cont(true, []byte("non-continuation payload")), text("Hello, world!"))
			r.failed(1002)
		}},
		{"5.10 continuation FIN=1 without a start, chopped", func(t *testing.T, r *rawConn) {
			chopped(r, 1, cont(true, []byte("non-continuation payload")))
			r.failed(1002)
		}},
		{"5.12 continuation FIN=0 without a start", func(t *testing.T, r *rawConn) {
			r.sendTolerant(cont(false, []byte("non-continuation payload")), text("Hello, world!"))
			r.failed(1002)
		}},
		{"5.15 text, cont FIN, then a stray cont FIN=0 and text", func(t *testing.T, r *rawConn) {
			r.sendTolerant(textPart(false, frag1), cont(true, frag2), cont(false, []byte("fragment3")), textPart(true, []byte("fragment4")))
			r.expect(opText, both)
			r.failed(1002)
		}},
		{"5.16 twice: cont FIN=0, text FIN=0, cont FIN=1", func(t *testing.T, r *rawConn) {
			r.sendTolerant(cont(false, frag1), textPart(false, frag2), cont(true, []byte("fragment3")))
			r.failed(1002)
		}},
		{"5.18 new text frame inside a fragmented text", func(t *testing.T, r *rawConn) {
			r.sendTolerant(textPart(false, frag1), textPart(true, frag2))
			r.failed(1002)
		}},
		{"5.18b new binary frame inside a fragmented text", func(t *testing.T, r *rawConn) {
			r.sendTolerant(textPart(false, frag1), frame{fin: true, op: opBinary, payload: frag2})
			r.failed(1002)
		}},
		{"5.19 pings inside a 5-fragment text", func(t *testing.T, r *rawConn) {
			r.send(textPart(false, []byte("f1")), cont(false, []byte("f2")), ping("pongme 1!"))
			r.expect(opPong, []byte("pongme 1!"))
			r.send(cont(false, []byte("f3")), cont(false, []byte("f4")), ping("pongme 2!"), cont(true, []byte("f5")))
			r.expect(opPong, []byte("pongme 2!"))
			r.expect(opText, []byte("f1f2f3f4f5"))
			r.closeNormally()
		}},
		{"binary in many empty and one-byte fragments", func(t *testing.T, r *rawConn) {
			fs := []frame{{op: opBinary}}
			for i := range 20 {
				fs = append(fs, cont(false, []byte{byte(i)}), cont(false, nil))
			}
			fs = append(fs, cont(true, nil))
			r.send(fs...)
			want := make([]byte, 20)
			for i := range want {
				want[i] = byte(i)
			}
			r.expect(opBinary, want)
			r.closeNormally()
		}},
		{"control frame with FIN=0 and no continuation", func(t *testing.T, r *rawConn) {
			r.sendTolerant(frame{op: opClose, payload: []byte{3, 0xe8}})
			r.failed(1002)
		}},
	}
	return cases
}

func TestConformanceFragmentation(t *testing.T) { runServerCases(t, fragmentationCases()) }

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
