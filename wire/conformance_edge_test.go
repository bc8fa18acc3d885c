package wire_test

// Edge cases between the Autobahn sections: bytes that arrive in the same segment as the
// handshake, frames after a close, fail-fast UTF-8 inside a compressed message, and a
// prepared message written while a streamed message is half sent.

import (
	"bytes"
	"compress/flate"
	"net/http"
	"sync"
	"testing"

	"github.com/chatd/chatd/wire"
)

func TestConformanceEdges(t *testing.T) {
	t.Run("server keeps a frame sent in the same write as the handshake", func(t *testing.T) {
		t.Parallel()
		es := startEcho(t, nil, echoWhole)
		key := newKey()
		f := text("pipelined").encode(true, [4]byte{9, 8, 7, 6})
		resp, body, c, br := roundTrip(t, es.Addr, rawRequest(es.Addr, key)+string(f))
		if resp.StatusCode != 101 {
			t.Fatalf("%s %q", resp.Status, body)
		}
		r := newRawConn(t, c, br, true)
		r.expect(opText, []byte("pipelined"))
		r.closeNormally()
	})
	t.Run("client keeps a frame sent in the same write as the 101", func(t *testing.T) {
		t.Parallel()
		first := text("right behind the 101").encode(false, [4]byte{})
		rs := startRawServer(t, func(req *http.Request) string {
			return goodResponse()(req) + string(first)
		})
		c, _, err := dialWire(t, rs.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		rs.peer(t)
		typ, p, err := c.ReadMessage()
		if err != nil || typ != wire.TextMessage || string(p) != "right behind the 101" {
			t.Fatalf("first message %v %q %v", typ, p, err)
		}
	})
	t.Run("client ignores data after the server's close", func(t *testing.T) {
		t.Parallel()
		c, p := dialRawPeer(t)
		reads := readAsync(c)
		p.send(closeFrame(1001, "bye"), text("after the close"))
		p.expectClose(1001, 1000)
		p.c.Close()
		r := waitRead(t, reads)
		wantCloseErr(t, r.err, 1001)
		if _, msg, err := c.ReadMessage(); err == nil {
			t.Fatalf("read after the close returned %q", msg)
		}
	})
	t.Run("compressed text fails fast inside the message", func(t *testing.T) {
		t.Parallel()
		es := startEcho(t, &wire.AcceptOptions{Compression: &wire.CompressionOptions{}}, echoWhole)
		r, resp := dialRaw(t, es.Addr, "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover")
		if len(parseExtensions(resp.Header)) != 1 {
			t.Fatal("permessage-deflate not negotiated")
		}
		// One DEFLATE stream for the whole message, flushed after each part, so the
		// first fragment inflates completely on its own (RFC 7692 §7.2.1).
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
		fw.Write([]byte("valid start κόσμε "))
		fw.Flush()
		part1 := bytes.Clone(buf.Bytes())
		r.send(frame{rsv: rsv1, op: opText, payload: part1})
		r.sync("prefix still valid")
		buf.Reset()
		fw.Write([]byte("\xed\xa0\x80 then more"))
		fw.Flush()
		r.sendTolerant(cont(false, bytes.Clone(buf.Bytes()))) // the message never ends
		r.failed(1007)
	})
	for _, tc := range []struct {
		name     string
		opts     *wire.CompressionOptions
		offer    string
		takeover bool // the server keeps its compression context
	}{
		{"prepared frames respect server_max_window_bits=9", &wire.CompressionOptions{}, "permessage-deflate; server_max_window_bits=9", false},
		{"prepared frames between context-takeover messages", &wire.CompressionOptions{ContextTakeover: true}, "permessage-deflate; client_max_window_bits", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es := startEcho(t, &wire.AcceptOptions{Compression: tc.opts}, echoWhole)
			r, resp := dialRaw(t, es.Addr, "Sec-WebSocket-Extensions: "+tc.offer)
			n := checkDeflateResponse(t, parseExtensions(resp.Header), offerParams(tc.offer))
			if n.serverNoTakeover == tc.takeover {
				t.Fatalf("negotiated %+v, the case needs server takeover=%v", n, tc.takeover)
			}
			sc := <-es.conns
			inf := &inflater{}
			// Interleave prepared and per-connection messages: a peer keeping one
			// window across them must decode every one.
			for i := range 6 {
				p := compressible(4096+i*100, uint64(i))
				if i%2 == 0 {
					pm, err := wire.NewPreparedMessage(wire.TextMessage, p)
					if err != nil {
						t.Fatal(err)
					}
					if err := sc.WritePrepared(pm); err != nil {
						t.Fatal(err)
					}
				} else if err := sc.WriteMessage(wire.TextMessage, p); err != nil {
					t.Fatal(err)
				}
				e, err := r.next(true)
				if err != nil {
					t.Fatal(err)
				}
				got := e.payload
				if e.rsv1 {
					checkWindow(t, e.payload, n.serverWindow, "server")
					if n.serverNoTakeover {
						inf.hist = nil
					}
					if got, err = inf.inflate(e.payload); err != nil {
						t.Fatalf("message %d does not inflate: %v", i, err)
					}
				}
				// An uncompressed message never passes through the peer's inflater, so
				// it is not part of the LZ77 window (what zlib-based peers do).
				if !bytes.Equal(got, p) {
					t.Fatalf("message %d (prepared=%v) differs", i, i%2 == 0)
				}
			}
			r.closeNormally()
		})
	}
	t.Run("uncompressed messages stay out of the inflater's window", func(t *testing.T) {
		t.Parallel()
		es := startEcho(t, &wire.AcceptOptions{Compression: &wire.CompressionOptions{ContextTakeover: true}}, echoWhole)
		offer := "permessage-deflate; client_max_window_bits"
		r, resp := dialRaw(t, es.Addr, "Sec-WebSocket-Extensions: "+offer)
		n := checkDeflateResponse(t, parseExtensions(resp.Header), offerParams(offer))
		if n.clientNoTakeover {
			t.Fatalf("server asked client_no_context_takeover; the case needs our context kept")
		}
		def := &deflater{takeover: true}
		inf := &inflater{}
		for i, m := range []struct {
			p          []byte
			compressed bool
		}{
			{compressible(3000, 1), true},
			{compressible(3000, 2), false}, // plain: never fed to our compressor
			{compressible(3000, 1), true},  // back-references into message 0 only
			{compressible(3000, 3), false},
			{compressible(3000, 2), true},
		} {
			f := frame{fin: true, op: opText, payload: m.p}
			if m.compressed {
				f.rsv, f.payload = rsv1, def.compress(m.p)
			}
			r.send(f)
			e, err := r.next(true)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			got := e.payload
			if e.rsv1 {
				if n.serverNoTakeover {
					inf.hist = nil
				}
				if got, err = inf.inflate(e.payload); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, m.p) {
				t.Fatalf("echo of message %d (compressed=%v) differs", i, m.compressed)
			}
		}
		r.closeNormally()
	})
	t.Run("WritePrepared waits for a half-written streamed message", func(t *testing.T) {
		t.Parallel()
		es := startEcho(t, nil, echoWhole)
		r, _ := dialRaw(t, es.Addr)
		sc := <-es.conns
		w, err := sc.NextWriter(wire.BinaryMessage)
		if err != nil {
			t.Fatal(err)
		}
		part := bytes.Repeat([]byte{1}, 70000) // more than any write buffer: goes out now
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
		pm, err := wire.NewPreparedMessage(wire.TextMessage, []byte("prepared"))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sc.WritePrepared(pm); err != nil {
				t.Error(err)
			}
		}()
		// The raw client must see the whole streamed message before the prepared one:
		// a data frame inside a fragmented message is a protocol error.
		w.Write(part)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		r.expect(opBinary, append(bytes.Clone(part), part...))
		r.expect(opText, []byte("prepared"))
		r.closeNormally()
	})
}
