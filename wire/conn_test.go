package wire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// pair is a server and a client Conn over loopback TCP.
type pair struct {
	srv, cli *Conn
}

// newPair starts an httptest server whose handler hands its Conn to the
// test, dials it and returns both ends; cleanup closes everything.
func newPair(t testing.TB, aopts *AcceptOptions, dopts *DialOptions) pair {
	t.Helper()
	ch := make(chan *Conn, 1)
	var wg sync.WaitGroup
	done := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, aopts)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		ch <- c
		<-done
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cli, _, err := Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http"), dopts)
	if err != nil {
		close(done)
		ts.Close()
		t.Fatalf("Dial: %v", err)
	}
	srv := <-ch
	t.Cleanup(func() {
		cli.CloseNow()
		srv.CloseNow()
		close(done)
		wg.Wait()
		ts.Close()
	})
	return pair{srv: srv, cli: cli}
}

func TestEchoBothDirections(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 1000, 65535, 65536, 100000, 4 << 20}
	for _, compress := range []bool{false, true} {
		var aopts AcceptOptions
		var dopts DialOptions
		if compress {
			aopts.Compression = &CompressionOptions{}
			dopts.Compression = &CompressionOptions{}
		}
		p := newPair(t, &aopts, &dopts)
		if p.srv.CompressionEnabled() != compress || p.cli.CompressionEnabled() != compress {
			t.Fatalf("compression negotiated: server %v client %v, want %v", p.srv.CompressionEnabled(), p.cli.CompressionEnabled(), compress)
		}
		for _, n := range sizes {
			msg := bytes.Repeat([]byte("abcdefgh"), n/8+1)[:n]
			for _, dir := range []struct {
				name     string
				from, to *Conn
			}{{"client→server", p.cli, p.srv}, {"server→client", p.srv, p.cli}} {
				errc := make(chan error, 1)
				go func() { errc <- dir.from.WriteMessage(TextMessage, msg) }()
				typ, got, err := dir.to.ReadMessage()
				if err != nil {
					t.Fatalf("compress=%v %s %d bytes: read: %v", compress, dir.name, n, err)
				}
				if werr := <-errc; werr != nil {
					t.Fatalf("write: %v", werr)
				}
				if typ != TextMessage || !bytes.Equal(got, msg) {
					t.Fatalf("compress=%v %s %d bytes: got type %v, %d bytes", compress, dir.name, n, typ, len(got))
				}
			}
		}
	}
}

func TestNextWriterFragmentsAndStreams(t *testing.T) {
	for _, compress := range []bool{false, true} {
		var aopts AcceptOptions
		var dopts DialOptions
		if compress {
			aopts.Compression = &CompressionOptions{}
			dopts.Compression = &CompressionOptions{}
		}
		p := newPair(t, &aopts, &dopts)
		msg := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160 KB: several fragments
		errc := make(chan error, 1)
		go func() {
			w, err := p.cli.NextWriter(BinaryMessage)
			if err != nil {
				errc <- err
				return
			}
			for rest := msg; len(rest) > 0; {
				n := min(len(rest), 7000)
				if _, err := w.Write(rest[:n]); err != nil {
					errc <- err
					return
				}
				rest = rest[n:]
			}
			errc <- w.Close()
		}()
		typ, r, err := p.srv.NextReader()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if typ != BinaryMessage || !bytes.Equal(got, msg) {
			t.Fatalf("compress=%v: got %v %d bytes", compress, typ, len(got))
		}
	}
}

func TestCloseHandshake(t *testing.T) {
	p := newPair(t, nil, nil)
	readErr := make(chan error, 1)
	go func() {
		_, _, err := p.srv.ReadMessage()
		readErr <- err
	}()
	if err := p.cli.Close(StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err := <-readErr
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusNormalClosure || ce.Reason != "bye" {
		t.Fatalf("server read error = %v, want close 1000 bye", err)
	}
}

// loopback returns the two ends of a TCP connection on 127.0.0.1.
func loopback(t testing.TB) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-acc
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// rawPeer returns a Conn in the given role (client=false: a server Conn)
// whose peer is a raw socket the test writes frames to and reads frames
// from, skipping the handshake.
func rawPeer(t testing.TB, client bool, pmd pmdState) (*Conn, net.Conn) {
	t.Helper()
	a, b := loopback(t)
	c := newConn(a, client, nil, "", pmd, 0)
	c.SetCloseTimeout(2 * time.Second)
	t.Cleanup(func() { c.CloseNow() })
	return c, b
}

// encodeFrame builds a frame as a peer would send it; masked frames use a
// fixed key.
func encodeFrame(fin bool, rsv byte, op opcode, masked bool, payload []byte) []byte {
	h := header{fin: fin, rsv: rsv, op: op, masked: masked, length: int64(len(payload)), key: [4]byte{1, 2, 3, 4}}
	var hb [maxHeaderLen]byte
	n := putHeader(hb[:], h)
	out := append(hb[:n:n], payload...)
	if masked {
		Mask(h.key, 0, out[n:])
	}
	return out
}

// readFrame reads one frame from a raw socket (unmasking it).
func readFrame(t testing.TB, nc net.Conn) (header, []byte) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hb [maxHeaderLen]byte
	if _, err := io.ReadFull(nc, hb[:2]); err != nil {
		t.Fatalf("reading frame header: %v", err)
	}
	n := headerLen(hb[0], hb[1])
	if _, err := io.ReadFull(nc, hb[2:n]); err != nil {
		t.Fatalf("reading frame header: %v", err)
	}
	h, _ := parseHeader(hb[:n])
	p := make([]byte, h.length)
	if _, err := io.ReadFull(nc, p); err != nil {
		t.Fatalf("reading frame payload: %v", err)
	}
	if h.masked {
		Mask(h.key, 0, p)
	}
	return h, p
}

// expectEOF asserts that the raw socket is closed by the other side
// (after any unread bytes).
func expectEOF(t testing.TB, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		t.Fatalf("waiting for TCP close: %v", err)
	}
}

func TestIdleConnHoldsNoPooledBuffers(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	msg := bytes.Repeat([]byte("x"), 100000) // forces the pooled read buffer
	go func() {
		peer.Write(encodeFrame(true, 0, opPing, true, []byte("are you there")))
		peer.Write(encodeFrame(true, 0, opBinary, true, msg))
	}()
	if _, got, err := c.ReadMessage(); err != nil || len(got) != len(msg) {
		t.Fatalf("ReadMessage: %d bytes, %v", len(got), err)
	}
	if h, p := readFrame(t, peer); h.op != opPong || string(p) != "are you there" {
		t.Fatalf("got op %d %q, want the pong", h.op, p)
	}
	small, err := NewPreparedMessage(TextMessage, []byte("a chat message"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteBatch([]*PreparedMessage{small, small, small}); err != nil {
		t.Fatal(err)
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Ping(ended, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("heartbeat Ping = %v, want context.Canceled", err)
	}
	for range 3 {
		if h, _ := readFrame(t, peer); h.op != opText {
			t.Fatalf("got op %d, want the batch's text frames", h.op)
		}
	}
	if h, _ := readFrame(t, peer); h.op != opPing {
		t.Fatalf("got op %d, want the heartbeat ping", h.op)
	}
	held := map[string]bool{
		"read buffer": c.rb != nil, "small read buffer": c.rsmall != nil, "large read buffer": c.rbig != nil,
		"inflater": c.infl != nil, "message writer buffer": c.mw.buf != nil, "compressor": c.pmd.fw != nil,
		"pong buffer": c.pongBuf != nil, "ping waiters": c.pings != nil, "writev slice": c.batch != nil,
	}
	for what, ok := range held {
		if ok {
			t.Errorf("an idle connection holds its %s", what)
		}
	}
}

// BenchmarkIdleConnMemory reports what an idle server connection costs:
// heap and goroutine stack per connection, each with a reader goroutine
// blocked waiting for the next message, as a server runs them. The
// baseline is the same number of plain TCP connections with a goroutine
// blocked in Read, so "wire-B/conn" is what this package adds.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 500
	var lastStack float64 // stack share of the last measure call
	measure := func(setup func(nc net.Conn, peer net.Conn) func()) float64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before, beforeStack := ms.HeapInuse+ms.StackInuse, ms.StackInuse
		var stops []func()
		for i := 0; i < n; i++ {
			a, p := loopback(b)
			stops = append(stops, setup(a, p))
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		after := ms.HeapInuse + ms.StackInuse
		lastStack = float64(ms.StackInuse-beforeStack) / n
		for _, s := range stops {
			s()
		}
		return float64(after-before) / n
	}
	for _, tc := range []struct {
		name string
		pmd  func() pmdState
	}{
		{"plain", func() pmdState { return pmdState{} }},
		{"deflate", func() pmdState { return (&CompressionOptions{}).state() }},
		{"deflate-takeover", func() pmdState {
			s := (&CompressionOptions{ContextTakeover: true}).state()
			s.writeTakeover, s.readTakeover = true, true
			return s
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				base := measure(func(nc, peer net.Conn) func() {
					done := make(chan struct{})
					go func() {
						var one [1]byte
						nc.Read(one[:])
						close(done)
					}()
					return func() { nc.Close(); <-done }
				})
				withWire := measure(func(nc, peer net.Conn) func() {
					c := newConn(nc, false, nil, "", tc.pmd(), 0)
					// One message each way first, so pooled buffers and
					// compressors have been used and given back.
					msg := bytes.Repeat([]byte("an idle chat connection "), 20)
					go c.WriteMessage(TextMessage, msg)
					readFrame(b, peer)
					f := encodeFrame(true, 0, opText, true, msg)
					if c.pmd.enabled {
						var z appender
						statelessCompress(&z, msg)
						f = encodeFrame(true, rsv1, opText, true, trimTail(z.b))
					}
					peer.Write(f)
					if _, _, err := c.ReadMessage(); err != nil {
						b.Fatal(err)
					}
					done := make(chan struct{})
					go func() { c.ReadMessage(); close(done) }()
					return func() { c.CloseNow(); <-done }
				})
				b.ReportMetric(lastStack, "stack-B/conn")
				b.ReportMetric(withWire, "B/conn")
				b.ReportMetric(withWire-base, "wire-B/conn")
				b.ReportMetric(float64(unsafe.Sizeof(Conn{})), "Conn-struct-B")
			}
		})
	}
}

// TestConcurrentUse exercises the documented rule under -race: one reader
// and one writer per side at the same time, plus WritePrepared, WriteBatch
// and Ping from other goroutines, then Close from yet another.
func TestConcurrentUse(t *testing.T) {
	for _, compress := range []bool{false, true} {
		var aopts AcceptOptions
		var dopts DialOptions
		if compress {
			aopts.Compression = &CompressionOptions{}
			dopts.Compression = &CompressionOptions{}
		}
		p := newPair(t, &aopts, &dopts)
		const n = 200
		pm, _ := NewPreparedMessage(TextMessage, []byte(strings.Repeat("prepared ", 50)))
		var wg sync.WaitGroup
		// Server: echo reader/writer loop.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				typ, b, err := p.srv.ReadMessage()
				if err != nil {
					return
				}
				if err := p.srv.WriteMessage(typ, b); err != nil {
					return
				}
			}
		}()
		// Server: broadcasts from other goroutines.
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n/4; i++ {
					if i%2 == 0 {
						p.srv.WritePrepared(pm)
					} else {
						p.srv.WriteBatch([]*PreparedMessage{pm, pm})
					}
				}
			}()
		}
		// Client: writer and pinger.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				w, err := p.cli.NextWriter(BinaryMessage)
				if err != nil {
					return
				}
				w.Write(bytes.Repeat([]byte{byte(i)}, 1000+i))
				w.Close()
			}
		}()
		pinged := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for i := 0; i < 10; i++ {
				if err := p.cli.Ping(ctx, nil); err != nil {
					pinged <- err
					return
				}
			}
			pinged <- nil
		}()
		// Client reader: runs until the connection closes (it also reads
		// the pongs); the test counts what it delivers.
		type msg struct {
			typ MessageType
			b   []byte
			err error
		}
		msgs := make(chan msg, 16)
		go func() {
			for {
				typ, b, err := p.cli.ReadMessage()
				msgs <- msg{typ, b, err}
				if err != nil {
					close(msgs)
					return
				}
			}
		}()
		echoes, prepared := 0, 0
		for echoes < n || prepared < n/4*3/2 {
			m := <-msgs
			if m.err != nil {
				t.Fatalf("client read after %d echoes, %d prepared: %v", echoes, prepared, m.err)
			}
			if m.typ == TextMessage {
				if string(m.b) != strings.Repeat("prepared ", 50) {
					t.Fatal("prepared message corrupted")
				}
				prepared++
				continue
			}
			if len(m.b) != 1000+echoes || m.b[0] != byte(echoes) {
				t.Fatalf("echo %d: %d bytes starting %d", echoes, len(m.b), m.b[0])
			}
			echoes++
		}
		if err := <-pinged; err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if err := p.cli.Close(StatusNormalClosure, "done"); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for m := range msgs {
			if m.err != nil && CloseStatus(m.err) != StatusNormalClosure {
				t.Fatalf("client reader ended with %v", m.err)
			}
		}
		wg.Wait()
	}
}
