package wire_test

// Steady-state frame benchmarks: reading and writing text and binary messages of 125 B,
// 1 KiB and 64 KiB on an established connection in both roles, over in-memory
// connections so only wire's own work is measured. The goal is 0 allocs/op. Masking
// throughput is measured next to copy() of the same bytes.

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chatd/chatd/wire"
)

// loopConn is a net.Conn for benchmarks: writes are discarded, reads first return the
// handshake response (client role) and then the same frame bytes over and over.
type loopConn struct {
	respond func(head []byte) []byte
	head    []byte
	pending []byte
	loop    []byte
	pos     int
}

func (c *loopConn) Read(p []byte) (int, error) {
	if c.respond != nil {
		if i := bytes.Index(c.head, []byte("\r\n\r\n")); i >= 0 {
			c.pending = c.respond(c.head[:i+4])
			c.respond = nil
		}
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	n := 0
	for n < len(p) && len(c.loop) > 0 {
		k := copy(p[n:], c.loop[c.pos:])
		n += k
		c.pos = (c.pos + k) % len(c.loop)
	}
	return n, nil
}

func (c *loopConn) Write(p []byte) (int, error) {
	if c.respond != nil {
		c.head = append(c.head, p...)
	}
	return len(p), nil
}

func (c *loopConn) Close() error                       { return nil }
func (c *loopConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *loopConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *loopConn) SetDeadline(t time.Time) error      { return nil }
func (c *loopConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *loopConn) SetWriteDeadline(t time.Time) error { return nil }

// benchServerConn upgrades a loopConn in the server role; loop is what the "client" sends.
func benchServerConn(b *testing.B, loop []byte, compress bool) *wire.Conn {
	b.Helper()
	w := &hijackRecorder{ResponseRecorder: httptest.NewRecorder(), conn: &loopConn{loop: loop}}
	opts := &wire.AcceptOptions{ReadLimit: 1 << 20}
	if compress {
		opts.Compression = &wire.CompressionOptions{}
	}
	c, err := wire.Accept(w, serverRequest(compress), opts)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// benchClientConn dials a loopConn in the client role; loop is what the "server" sends.
func benchClientConn(b *testing.B, loop []byte) *wire.Conn {
	b.Helper()
	lc := &loopConn{loop: loop}
	lc.respond = func(head []byte) []byte {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			return nil
		}
		return []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n")
	}
	c, _, err := wire.Dial(context.Background(), "ws://bench.example/", &wire.DialOptions{
		ReadLimit: 1 << 20,
		NetDial:   func(context.Context, string, string) (net.Conn, error) { return lc, nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

var benchSizes = []struct {
	name string
	n    int
}{{"125B", 125}, {"1KiB", 1024}, {"64KiB", 64 << 10}}

var benchTypes = []struct {
	name string
	typ  wire.MessageType
	op   byte
}{{"text", wire.TextMessage, opText}, {"binary", wire.BinaryMessage, opBinary}}

func BenchmarkReadMessage(b *testing.B) {
	for _, role := range []string{"server", "client"} {
		for _, tp := range benchTypes {
			for _, sz := range benchSizes {
				b.Run(role+"/"+tp.name+"/"+sz.name, func(b *testing.B) {
					p := bytes.Repeat([]byte("x"), sz.n)
					f := frame{fin: true, op: tp.op, payload: p}
					var c *wire.Conn
					if role == "server" {
						c = benchServerConn(b, f.encode(true, [4]byte{1, 2, 3, 4}), false)
					} else {
						c = benchClientConn(b, f.encode(false, [4]byte{}))
					}
					buf := make([]byte, 0, sz.n)
					b.SetBytes(int64(sz.n))
					b.ReportAllocs()
					for b.Loop() {
						_, got, err := c.ReadMessageInto(buf[:0])
						if err != nil || len(got) != sz.n {
							b.Fatalf("read %d bytes: %v", len(got), err)
						}
					}
				})
			}
		}
	}
}

func BenchmarkWriteMessage(b *testing.B) {
	for _, role := range []string{"server", "client"} {
		for _, tp := range benchTypes {
			for _, sz := range benchSizes {
				b.Run(role+"/"+tp.name+"/"+sz.name, func(b *testing.B) {
					var c *wire.Conn
					if role == "server" {
						c = benchServerConn(b, nil, false)
					} else {
						c = benchClientConn(b, nil)
					}
					p := bytes.Repeat([]byte("x"), sz.n)
					b.SetBytes(int64(sz.n))
					b.ReportAllocs()
					for b.Loop() {
						if err := c.WriteMessage(tp.typ, p); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkStreamingReadWrite covers the NextReader/NextWriter path a proxy would use.
func BenchmarkStreamingWrite(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			c := benchServerConn(b, nil, false)
			p := bytes.Repeat([]byte("x"), sz.n)
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				w, err := c.NextWriter(wire.BinaryMessage)
				if err != nil {
					b.Fatal(err)
				}
				w.Write(p)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMask(b *testing.B) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for _, sz := range []struct {
		name string
		n    int
	}{{"125B", 125}, {"1KiB", 1024}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}} {
		src := randomBytes(sz.n, 1)
		dst := make([]byte, sz.n)
		b.Run("wire.Mask/"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				wire.Mask(key, 0, dst)
			}
		})
		b.Run("copy/"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, src)
			}
		})
		b.Run("bytewise/"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			for b.Loop() {
				for i := range dst {
					dst[i] ^= key[i&3]
				}
			}
		})
	}
}

// TestMaskMatchesBytewise pins the benchmarked Mask to the RFC's definition at every key
// offset and length, chunked at every split, so the speed numbers are for a correct mask.
func TestMaskMatchesBytewise(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	src := randomBytes(300, 9)
	for n := 0; n <= len(src); n += 7 {
		for split := 0; split <= n; split += 13 {
			for pos := range 4 {
				want := bytes.Clone(src[:n])
				for i := range want {
					want[i] ^= key[(pos+i)&3]
				}
				got := bytes.Clone(src[:n])
				next := wire.Mask(key, pos, got[:split])
				end := wire.Mask(key, next, got[split:])
				if !bytes.Equal(got, want) {
					t.Fatalf("n=%d split=%d pos=%d: wrong bytes", n, split, pos)
				}
				if end != (pos+n)&3 {
					t.Fatalf("n=%d pos=%d: returned position %d, want %d", n, pos, end, (pos+n)&3)
				}
			}
		}
	}
}
