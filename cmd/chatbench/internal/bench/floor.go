package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/wire"
)

// The floor scenario measures what a round trip costs on this machine with
// no chat server in the way: the same client (reader goroutine, pacer,
// stamp inside the text, HDR histogram) as the latency scenario, against a
// child process that only echoes. Two echo servers bracket chatd:
//
//   - EchoTCP reads bytes and writes them back: no WebSocket, no JSON. Its
//     round trip is the floor of the machine, the Go runtimes of both
//     processes and loopback TCP.
//   - EchoWS echoes whole messages through wire (Accept, ReadMessageInto,
//     WriteMessage): the floor plus WebSocket framing and masking.
//
// What chatd's latency adds above EchoWS is chatd's own doing.
const (
	EchoTCP = "tcp-echo"
	EchoWS  = "ws-echo"
)

// EchoServers are the floor's servers, in the order they run.
var EchoServers = []string{EchoTCP, EchoWS}

// floorRoom is the room named in the chat envelopes the floor sends. The
// echo servers do not look at it; it keeps the envelope the same shape and
// size as the latency scenario's, and the accounting keyed by room.
const floorRoom = "quiet"

// Floor runs the floor scenario against an echo server t: o.Rate messages
// per second for o.Duration from one connection, as the latency scenario
// sends them, then back-to-back (each message sent as soon as the previous
// one came back) for backToBack. It returns one Result per part; the
// back-to-back one carries the rate it reached. o.Hook, if set, runs
// during the paced part.
func Floor(ctx context.Context, o Options, t *Target, backToBack time.Duration) ([]*Result, error) {
	dial := WireDialer()
	if t.Name == EchoTCP {
		dial = LineDialer()
	}
	paced, err := floorRun(ctx, o, t, dial, func(p *pool, c *client) {
		defer p.hook(ctx, "load")()
		p.pace(ctx, p.clients, p.o.Rate, p.o.Duration, p.quietChat, true)
		p.drain(ctx, p.expected.Load(), p.st.now(), p.o.Drain)
	})
	if err != nil || backToBack <= 0 {
		return []*Result{paced}, err
	}
	var elapsed time.Duration
	b2b, err := floorRun(ctx, o, t, dial, func(p *pool, c *client) {
		elapsed = p.pingPong(ctx, c, backToBack)
	})
	if n := b2b.RTT.Count; n > 0 && elapsed > 0 {
		b2b.Rate = float64(n) / elapsed.Seconds()
	}
	b2b.Duration = elapsed.Seconds()
	return []*Result{paced, b2b}, err
}

// floorRun opens one connection to t (no join: an echo server has no
// rooms), runs load on it and summarizes the round trips.
func floorRun(ctx context.Context, o Options, t *Target, dial Dialer, load func(p *pool, c *client)) (*Result, error) {
	o.Scenario = "floor"
	if o.Names == "" {
		o.Names = "floor-"
	}
	p := newPool(&o, t, dial)
	res := &Result{Scenario: o.Scenario, Server: t.Name, Started: time.Now().UTC(), Conns: 1,
		Senders: 1, Size: o.Size, Rate: o.Rate, Duration: o.Duration.Seconds()}
	ws, err := dial(ctx, t.URL, nil)
	if err != nil {
		return res, fmt.Errorf("dial %s: %w", t.URL, err)
	}
	c := newClient(0, o.Names+"0", floorRoom, ws, p.st)
	go c.readLoop()
	p.clients = []*client{c}
	p.members[floorRoom] = 1
	p.roomSent[floorRoom] = new(atomic.Int64)
	stop := p.ticker(func() {
		h := p.st.rtt.Snapshot(false)
		p.progress("%d round trips, p99 %d µs", h.TotalCount(), h.ValueAtQuantile(99))
	})
	load(p, c)
	stop()
	rtt := Summarize(p.st.rtt.Snapshot(false))
	res.RTT = &rtt
	p.settle(res)
	return res, ctx.Err()
}

// pingPong sends from c one message at a time, each as soon as the previous
// one came back, for d, and returns how long it ran. Every round trip then
// starts with both processes awake: the contrast to the paced run, where
// each one starts from idle.
func (p *pool) pingPong(ctx context.Context, c *client, d time.Duration) time.Duration {
	sc := &scratch{}
	start := p.st.now()
	for p.st.now()-start < d && ctx.Err() == nil {
		if err := p.quietChat(c, sc, 0); err != nil {
			p.st.fail(fmt.Sprintf("%s: write: %v", c.name, err))
			break
		}
		if err := c.waitFor(ctx, c.echo, p.o.JoinTimeout, "echo"); err != nil {
			p.st.fail(err.Error())
			break
		}
	}
	return p.st.now() - start
}

// LineDialer dials the raw TCP echo: each message is one line (chat.v1
// envelopes made by chatbench hold no newline), so the server needs no
// framing beyond echoing bytes.
func LineDialer() Dialer {
	return func(ctx context.Context, u string, local net.IP) (WSConn, error) {
		pu, err := url.Parse(u)
		if err != nil {
			return nil, err
		}
		d := &net.Dialer{}
		if local != nil {
			d.LocalAddr = &net.TCPAddr{IP: local}
		}
		nc, err := d.DialContext(ctx, "tcp", pu.Host)
		if err != nil {
			return nil, err
		}
		return &lineConn{c: nc, r: bufio.NewReaderSize(nc, 4096)}, nil
	}
}

// lineConn is a WSConn over newline-delimited messages on plain TCP.
type lineConn struct {
	c    net.Conn
	r    *bufio.Reader
	wbuf []byte // only the one writer touches it
}

// ReadText appends the next line, without its newline, to dst.
func (l *lineConn) ReadText(dst []byte) ([]byte, error) {
	for {
		line, err := l.r.ReadSlice('\n')
		switch err {
		case nil:
			return append(dst, line[:len(line)-1]...), nil
		case bufio.ErrBufferFull:
			dst = append(dst, line...)
		default:
			return dst, err
		}
	}
}

// WriteText writes p and a newline in one write.
func (l *lineConn) WriteText(p []byte) error {
	l.wbuf = append(append(l.wbuf[:0], p...), '\n')
	_, err := l.c.Write(l.wbuf)
	return err
}

// CloseNow closes the TCP connection.
func (l *lineConn) CloseNow() error { return l.c.Close() }

// ServeTCPEcho accepts connections on ln and writes back every byte each
// one sends, one goroutine per connection reading into a 4 KiB buffer,
// until ln is closed; it then closes the connections and returns once
// their goroutines have ended.
func ServeTCPEcho(ln net.Listener) error {
	var conns connSet
	defer conns.closeAll()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		conns.add(nc, func() {
			buf := make([]byte, 4096)
			for {
				n, err := nc.Read(buf)
				if n > 0 {
					if _, werr := nc.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
}

// WSEchoHandler accepts WebSocket connections (offering chat.v1 accepted)
// and echoes every message back with the same type, until the client
// closes.
func WSEchoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wire.Accept(w, r, &wire.AcceptOptions{
			Subprotocol: func(_ *http.Request, offered []string) (string, error) {
				for _, s := range offered {
					if s == "chat.v1" {
						return s, nil
					}
				}
				return "", nil
			},
			ReadLimit: 1 << 20,
		})
		if err != nil {
			return
		}
		defer c.CloseNow()
		buf := make([]byte, 0, 4096)
		for {
			typ, msg, err := c.ReadMessageInto(buf[:0])
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, msg); err != nil {
				return
			}
			if cap(msg) > cap(buf) {
				buf = msg[:0]
			}
		}
	})
}

// ServeTCPEchoChild is ServeChild for the raw TCP echo: it listens on addr,
// announces "listening ADDR" on out and echoes until stdin reaches EOF.
func ServeTCPEchoChild(addr string, out io.Writer, stdin io.Reader) error {
	return serveUntilEOF(addr, out, stdin, ServeTCPEcho, func(ln net.Listener) { _ = ln.Close() })
}

// connSet tracks the echo's connections so that stopping it closes them
// and waits for their goroutines.
type connSet struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// add runs serve for nc in a goroutine of its own and forgets nc after.
func (s *connSet) add(nc net.Conn, serve func()) {
	s.mu.Lock()
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[nc] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		serve()
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
		_ = nc.Close()
	}()
}

// closeAll closes every connection still open and waits for their goroutines.
func (s *connSet) closeAll() {
	s.mu.Lock()
	for nc := range s.conns {
		_ = nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
