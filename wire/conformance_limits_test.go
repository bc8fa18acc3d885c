package wire_test

// Autobahn testsuite sections 9 (limits and performance: large single-frame and
// fragmented messages up to the 16 MiB default read limit) and 10 (auto-fragmentation),
// plus the read limit itself: a message crossing it closes with 1009 at once, before the
// rest of it is sent.

import (
	"bytes"
	"slices"
	"testing"

	"github.com/chatd/chatd/wire"
)

// fragmentFrames splits p into a message of frames of at most n bytes.
func fragmentFrames(op byte, p []byte, n int) []frame {
	var fs []frame
	first := true
	for first || len(p) > 0 {
		k := min(n, len(p))
		o := opCont
		if first {
			o = op
		}
		fs = append(fs, frame{fin: k == len(p), op: o, payload: p[:k]})
		p = p[k:]
		first = false
	}
	return fs
}

func TestConformanceLargeMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("moves about 100 MiB through loopback")
	}
	type lcase struct {
		name string
		op   byte
		size int
		frag int // 0: one frame
	}
	var cases []lcase
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
	if raceEnabled {
		sizes = sizes[:4]
	}
	for i, n := range sizes {
		cases = append(cases,
			lcase{"9.1." + itoa(i+1) + " text " + itoa(n), opText, n, 0},
			lcase{"9.2." + itoa(i+1) + " binary " + itoa(n), opBinary, n, 0})
	}
	for i, fr := range []int{64, 256, 4 << 10, 64 << 10, 1 << 20, 4 << 20} {
		size := 4 << 20
		if fr <= 256 {
			size = 1 << 20 // thousands of frames already prove the reassembly
		}
		cases = append(cases,
			lcase{"9.3." + itoa(i+1) + " text in frames of " + itoa(fr), opText, size, fr},
			lcase{"9.4." + itoa(i+1) + " binary in frames of " + itoa(fr), opBinary, size, fr})
	}
	if raceEnabled {
		cases = slices.DeleteFunc(cases, func(c lcase) bool { return c.frag > 0 && c.frag < 4096 && c.size > 1<<20 })
	} else {
		cases = append(cases, lcase{"exactly the 16 MiB default limit in 1 MiB frames", opBinary, 16 << 20, 1 << 20})
	}

	es := startEcho(t, nil, echoWhole)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p []byte
			if tc.op == opText {
				p = compressible(tc.size, uint64(tc.size))
			} else {
				p = randomBytes(tc.size, uint64(tc.size))
			}
			r, _ := dialRaw(t, es.Addr)
			done := make(chan struct{})
			// Write from a goroutine: the server starts echoing only after the whole
			// message arrived, but a 16 MiB write can outgrow the socket buffers.
			go func() {
				defer close(done)
				if tc.frag == 0 {
					r.sendTolerant(frame{fin: true, op: tc.op, payload: p})
				} else {
					r.sendTolerant(fragmentFrames(tc.op, p, tc.frag)...)
				}
			}()
			r.expect(tc.op, p)
			<-done
			r.closeNormally()
		})
	}
}

// TestConformanceStreamingEcho proves the per-message reader and writer stream: a message
// echoed with io.Copy from NextReader to NextWriter comes back intact and, for 4 MiB, in
// more than one frame (the writer fragments instead of buffering the whole message).
func TestConformanceStreamingEcho(t *testing.T) {
	es := startEcho(t, nil, echoStreaming)
	for _, tc := range []struct {
		name      string
		op        byte
		p         []byte
		frag      int
		minFrames int
	}{
		{"empty text", opText, nil, 0, 1},
		{"small binary", opBinary, []byte{1, 2, 3}, 0, 1},
		{"10.1.1 64 KiB text sent in 1300-byte fragments", opText, compressible(65536, 1), 1300, 1},
		{"4 MiB binary auto-fragmented on the way back", opBinary, randomBytes(4<<20, 2), 0, 2},
		{"1 MiB text in 4 KiB fragments", opText, compressible(1<<20, 3), 4096, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := dialRaw(t, es.Addr)
			done := make(chan struct{})
			go func() {
				defer close(done)
				if tc.frag == 0 {
					r.sendTolerant(frame{fin: true, op: tc.op, payload: tc.p})
				} else {
					r.sendTolerant(fragmentFrames(tc.op, tc.p, tc.frag)...)
				}
			}()
			e := r.expect(tc.op, tc.p)
			<-done
			if e.frames < tc.minFrames {
				t.Errorf("echo came in %d frame(s), want at least %d", e.frames, tc.minFrames)
			}
			r.closeNormally()
		})
	}
}

func TestConformanceReadLimit(t *testing.T) {
	const limit = 1024
	cases := []serverCase{
		{"message of exactly the limit in one frame", func(t *testing.T, r *rawConn) {
			p := bytes.Repeat([]byte("a"), limit)
			r.send(textPart(true, p))
			r.expect(opText, p)
			r.closeNormally()
		}},
		{"message of exactly the limit in two fragments", func(t *testing.T, r *rawConn) {
			p := bytes.Repeat([]byte{7}, limit)
			r.send(frame{op: opBinary, payload: p[:limit/2]}, cont(true, p[limit/2:]))
			r.expect(opBinary, p)
			r.closeNormally()
		}},
		{"one frame announcing limit+1 bytes: 1009 before the payload is sent", func(t *testing.T, r *rawConn) {
			f := binaryFrame(make([]byte, limit+1))
			b := f.encode(true, r.key)
			r.mustWrite(b[:len(b)-len(f.payload)]) // header only
			r.failed(1009)
		}},
		{"a 64-bit length announcing 8 EiB: 1009, nothing buffered", func(t *testing.T, r *rawConn) {
			r.mustWrite(frame{fin: true, op: opBinary, rawLen: []byte{127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}.encode(true, r.key))
			r.failed(1009)
		}},
		{"fragments crossing the limit: 1009 at the crossing fragment", func(t *testing.T, r *rawConn) {
			half := bytes.Repeat([]byte("b"), limit/2)
			r.send(textPart(false, half), cont(false, half))
			r.sync("at the limit")
			r.sendTolerant(cont(false, []byte("c")))
			r.failed(1009)
		}},
		{"limit applies per message, not per connection", func(t *testing.T, r *rawConn) {
			p := bytes.Repeat([]byte("d"), limit)
			for range 4 {
				r.send(textPart(true, p))
				r.expect(opText, p)
			}
			r.closeNormally()
		}},
	}
	es := startEcho(t, &wire.AcceptOptions{ReadLimit: limit}, echoWhole)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := dialRaw(t, es.Addr)
			tc.run(t, r)
		})
	}

	t.Run("default limit is 16 MiB: one byte more closes with 1009", func(t *testing.T) {
		t.Parallel()
		es := startEcho(t, nil, echoWhole)
		r, _ := dialRaw(t, es.Addr)
		f := binaryFrame(make([]byte, 16<<20+1))
		b := f.encode(true, r.key)
		r.mustWrite(b[:len(b)-len(f.payload)])
		r.failed(1009)
		wantCloseErr(t, es.end(t), 1009)
	})
}
