package wire_test

// Side-by-side benchmarks against gorilla/websocket and coder/websocket in the same run:
// an echo round trip (client writes a message, the server echoes it, the client reads it)
// and one-way frame throughput (the client streams messages, the server reads them), both
// over real loopback TCP, without compression. Every implementation reads into a reused
// buffer so the comparison is of the libraries, not of the benchmark's allocations.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"

	"github.com/chatd/chatd/wire"
)

// benchClient is the client half of one implementation.
type benchClient interface {
	write(p []byte) error
	read(buf []byte) ([]byte, error)
	close()
}

// benchImpl starts an echo (or sink) server and dials it.
type benchImpl struct {
	name   string
	server func(sink bool) http.Handler
	dial   func(b *testing.B, url string) benchClient
}

// sinkDone is the message that ends a throughput run: the sink server echoes it.
var sinkDone = []byte("done")

var benchImpls = []benchImpl{
	{
		name: "wire",
		server: func(sink bool) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := wire.Accept(w, r, &wire.AcceptOptions{ReadLimit: 1 << 20})
				if err != nil {
					return
				}
				defer c.CloseNow()
				buf := make([]byte, 0, 64<<10)
				for {
					typ, p, err := c.ReadMessageInto(buf[:0])
					if err != nil {
						return
					}
					buf = p
					if sink && !bytes.Equal(p, sinkDone) {
						continue
					}
					if err := c.WriteMessage(typ, p); err != nil {
						return
					}
				}
			})
		},
		dial: func(b *testing.B, url string) benchClient {
			c, _, err := wire.Dial(context.Background(), url, &wire.DialOptions{ReadLimit: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			return wireBenchClient{c}
		},
	},
	{
		name: "gorilla",
		server: func(sink bool) http.Handler {
			up := gorilla.Upgrader{}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := up.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				defer c.Close()
				var buf bytes.Buffer
				for {
					typ, rd, err := c.NextReader()
					if err != nil {
						return
					}
					buf.Reset()
					if _, err := buf.ReadFrom(rd); err != nil {
						return
					}
					if sink && !bytes.Equal(buf.Bytes(), sinkDone) {
						continue
					}
					if err := c.WriteMessage(typ, buf.Bytes()); err != nil {
						return
					}
				}
			})
		},
		dial: func(b *testing.B, url string) benchClient {
			c, _, err := gorilla.DefaultDialer.Dial(url, nil)
			if err != nil {
				b.Fatal(err)
			}
			return &gorillaBenchClient{c: c}
		},
	},
	{
		name: "coder",
		server: func(sink bool) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := coder.Accept(w, r, nil)
				if err != nil {
					return
				}
				defer c.CloseNow()
				c.SetReadLimit(1 << 20)
				ctx := context.Background()
				var buf bytes.Buffer
				for {
					typ, rd, err := c.Reader(ctx)
					if err != nil {
						return
					}
					buf.Reset()
					if _, err := buf.ReadFrom(rd); err != nil {
						return
					}
					if sink && !bytes.Equal(buf.Bytes(), sinkDone) {
						continue
					}
					if err := c.Write(ctx, typ, buf.Bytes()); err != nil {
						return
					}
				}
			})
		},
		dial: func(b *testing.B, url string) benchClient {
			c, _, err := coder.Dial(context.Background(), url, nil)
			if err != nil {
				b.Fatal(err)
			}
			c.SetReadLimit(1 << 20)
			return &coderBenchClient{c: c}
		},
	},
}

type wireBenchClient struct{ c *wire.Conn }

func (w wireBenchClient) write(p []byte) error { return w.c.WriteMessage(wire.BinaryMessage, p) }
func (w wireBenchClient) read(buf []byte) ([]byte, error) {
	_, p, err := w.c.ReadMessageInto(buf[:0])
	return p, err
}
func (w wireBenchClient) close() { w.c.CloseNow() }

type gorillaBenchClient struct{ c *gorilla.Conn }

func (g *gorillaBenchClient) write(p []byte) error { return g.c.WriteMessage(gorilla.BinaryMessage, p) }
func (g *gorillaBenchClient) read(buf []byte) ([]byte, error) {
	_, rd, err := g.c.NextReader()
	if err != nil {
		return nil, err
	}
	return readInto(rd, buf)
}
func (g *gorillaBenchClient) close() { g.c.Close() }

type coderBenchClient struct{ c *coder.Conn }

func (c *coderBenchClient) write(p []byte) error {
	return c.c.Write(context.Background(), coder.MessageBinary, p)
}
func (c *coderBenchClient) read(buf []byte) ([]byte, error) {
	_, rd, err := c.c.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	return readInto(rd, buf)
}
func (c *coderBenchClient) close() { c.c.CloseNow() }

// readInto reads a whole message into buf's capacity without allocating.
func readInto(rd io.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// benchServer runs h on loopback and stops it (and the handler goroutines) at cleanup.
func benchServer(b *testing.B, h http.Handler) string {
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		h.ServeHTTP(w, r)
	}))
	b.Cleanup(func() {
		srv.Close()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func BenchmarkEchoRoundTrip(b *testing.B) {
	for _, sz := range benchSizes {
		for _, impl := range benchImpls {
			b.Run(sz.name+"/"+impl.name, func(b *testing.B) {
				url := benchServer(b, impl.server(false))
				c := impl.dial(b, url)
				defer c.close()
				p := randomBytes(sz.n, 1)
				buf := make([]byte, 0, sz.n)
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.write(p); err != nil {
						b.Fatal(err)
					}
					got, err := c.read(buf)
					if err != nil || len(got) != sz.n {
						b.Fatalf("echo %d bytes: %v", len(got), err)
					}
				}
			})
		}
	}
}

func BenchmarkFrameThroughput(b *testing.B) {
	for _, sz := range benchSizes {
		for _, impl := range benchImpls {
			b.Run(sz.name+"/"+impl.name, func(b *testing.B) {
				url := benchServer(b, impl.server(true))
				c := impl.dial(b, url)
				defer c.close()
				p := randomBytes(sz.n, 2)
				buf := make([]byte, 0, 64<<10)
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := c.write(p); err != nil {
						b.Fatal(err)
					}
				}
				// The sink echoes only the end marker: when it comes back, the server
				// has read every message, and the timer includes that.
				if err := c.write(sinkDone); err != nil {
					b.Fatal(err)
				}
				if got, err := c.read(buf); err != nil || !bytes.Equal(got, sinkDone) {
					b.Fatalf("end marker: %q %v", got, err)
				}
			})
		}
	}
}
