package wire_test

// Broadcast benchmarks: a PreparedMessage written to a server connection (plain and on a
// connection that negotiated permessage-deflate, so the shared compressed variant is
// used), compared with WriteMessage of the same payload, and WriteBatch of 16 queued
// messages in one writev over real loopback TCP. Goal: 0 allocs per recipient.

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/chatd/chatd/wire"
)

func BenchmarkPrepared(b *testing.B) {
	for _, sz := range benchSizes {
		payload := compressible(sz.n, 1)
		b.Run("WritePrepared/plain/"+sz.name, func(b *testing.B) {
			c := benchServerConn(b, nil, false)
			pm, err := wire.NewPreparedMessage(wire.TextMessage, payload)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WritePrepared(pm); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("WritePrepared/deflate/"+sz.name, func(b *testing.B) {
			c := benchServerConn(b, nil, true)
			if !c.CompressionEnabled() {
				b.Fatal("permessage-deflate not negotiated")
			}
			pm, err := wire.NewPreparedMessage(wire.TextMessage, payload)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WritePrepared(pm); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("WriteMessage/deflate/"+sz.name, func(b *testing.B) {
			c := benchServerConn(b, nil, true)
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WriteMessage(wire.TextMessage, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("NewPreparedMessage/1KiB", func(b *testing.B) {
		payload := compressible(1024, 2)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wire.NewPreparedMessage(wire.TextMessage, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// tcpServerConn returns a server-role *wire.Conn on real loopback TCP whose client end
// reads and discards everything, for benchmarks of the write syscall path.
func tcpServerConn(b *testing.B, compress bool) *wire.Conn {
	b.Helper()
	conns := make(chan *wire.Conn, 1)
	var wg sync.WaitGroup
	opts := &wire.AcceptOptions{}
	if compress {
		opts.Compression = &wire.CompressionOptions{}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wire.Accept(w, r, opts)
		if err != nil {
			return
		}
		conns <- c
	}))
	var extra []string
	if compress {
		extra = append(extra, "Sec-WebSocket-Extensions: permessage-deflate")
	}
	r, _ := dialRaw(b, srv.Listener.Addr().String(), extra...)
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(io.Discard, r.br)
	}()
	c := <-conns
	b.Cleanup(func() {
		c.CloseNow()
		r.c.Close()
		wg.Wait()
		srv.Close()
	})
	return c
}

func BenchmarkWriteBatch(b *testing.B) {
	const queued = 16
	for _, sz := range benchSizes[:2] {
		ms := make([]*wire.PreparedMessage, queued)
		for i := range ms {
			pm, err := wire.NewPreparedMessage(wire.TextMessage, bytes.Repeat([]byte{'a' + byte(i)}, sz.n))
			if err != nil {
				b.Fatal(err)
			}
			ms[i] = pm
		}
		b.Run("WriteBatch16/tcp/"+sz.name, func(b *testing.B) {
			c := tcpServerConn(b, false)
			b.SetBytes(int64(queued * sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WriteBatch(ms); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("WritePrepared16/tcp/"+sz.name, func(b *testing.B) {
			c := tcpServerConn(b, false)
			b.SetBytes(int64(queued * sz.n))
			b.ReportAllocs()
			for b.Loop() {
				for _, m := range ms {
					if err := c.WritePrepared(m); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestWriteBatchOnTheWire checks what the batch benchmark measures: the queued messages
// arrive as separate, complete messages in order, plain and compressed.
func TestWriteBatchOnTheWire(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "deflate"}[compress], func(t *testing.T) {
			es := startEcho(t, func() *wire.AcceptOptions {
				if compress {
					return &wire.AcceptOptions{Compression: &wire.CompressionOptions{}}
				}
				return nil
			}(), echoWhole)
			var extra []string
			if compress {
				extra = append(extra, "Sec-WebSocket-Extensions: permessage-deflate")
			}
			r, _ := dialRaw(t, es.Addr, extra...)
			sc := <-es.conns
			var ms []*wire.PreparedMessage
			var want [][]byte
			for i := range 5 {
				p := compressible(100+i*1000, uint64(i))
				pm, err := wire.NewPreparedMessage(wire.TextMessage, p)
				if err != nil {
					t.Fatal(err)
				}
				if pm.Len() < len(p) {
					t.Errorf("Len() = %d, less than the %d-byte payload", pm.Len(), len(p))
				}
				ms = append(ms, pm)
				want = append(want, p)
			}
			if err := sc.WriteBatch(ms); err != nil {
				t.Fatal(err)
			}
			if err := sc.WritePrepared(ms[4]); err != nil {
				t.Fatal(err)
			}
			want = append(want, want[4])
			inf := &inflater{}
			for i, p := range want {
				e, err := r.next(compress)
				if err != nil {
					t.Fatal(err)
				}
				got := e.payload
				if e.rsv1 {
					inf.hist = nil // prepared frames are compressed without context
					if got, err = inf.inflate(e.payload); err != nil {
						t.Fatal(err)
					}
				}
				if e.op != opText || !bytes.Equal(got, p) {
					t.Fatalf("message %d: %v", i, e)
				}
			}
			r.closeNormally()
		})
	}
}
