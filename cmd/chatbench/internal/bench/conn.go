package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// WSConn is the WebSocket connection API the driver needs: text messages in
// and out, and two ways to close. One goroutine reads while another writes.
type WSConn interface {
	// ReadText appends the next text message to dst and returns it. Control
	// frames are answered inside. Once the connection is closed it returns a
	// *ClosedError when the peer sent a Close frame, another error otherwise.
	ReadText(dst []byte) ([]byte, error)
	WriteText(p []byte) error
	CloseNow() error
}

// Dialer opens one WebSocket connection to url speaking chat.v1, from the
// local address local when it is not nil.
type Dialer func(ctx context.Context, url string, local net.IP) (WSConn, error)

// ClosedError reports the Close frame that ended a connection.
type ClosedError struct {
	Code   int
	Reason string
}

// Error says which Close frame ended the connection.
func (e *ClosedError) Error() string {
	return fmt.Sprintf("connection closed: %d %s", e.Code, e.Reason)
}

// runStats is what every connection of one run reports into.
type runStats struct {
	epoch    time.Time
	delivery *Recorder // every chat/pm delivery, to every recipient
	rtt      *Recorder // the sender's own copy only: the round trip
	lag      *Recorder // how late each write finished after its intended send time
	errors   atomic.Int64
	closed   atomic.Int64 // connections the server ended while we still used them
	foreign  atomic.Int64 // chat/pm texts chatbench did not write
	firstErr atomic.Pointer[string]
}

func newRunStats() *runStats {
	return &runStats{epoch: time.Now(), delivery: NewRecorder(), rtt: NewRecorder(), lag: NewRecorder()}
}

// now is the time on the run's monotonic clock, the one message texts carry.
func (s *runStats) now() time.Duration { return time.Since(s.epoch) }

func (s *runStats) fail(msg string) {
	s.errors.Add(1)
	s.firstErr.CompareAndSwap(nil, &msg)
}

// client is one load-generating connection with its reader goroutine. The
// driver writes from exactly one goroutine at a time (the pacer that owns
// the client, or the setup code before pacing starts).
type client struct {
	idx  int
	name string
	room string
	ws   WSConn
	st   *runStats

	delivered  atomic.Int64
	frames     atomic.Int64 // every text frame read, of any type: tells when the setup's traffic is over
	expectedPM atomic.Int64 // pm deliveries owed to this client (recipient and confirmation)
	seq        int64        // next message number; only the owning writer touches it
	leaving    atomic.Bool  // a close from here on is ours, not the server's doing

	joined chan struct{} // a token per join event about ourselves
	echo   chan struct{} // a token per copy of our own chat or pm
	done   chan struct{} // closed when the reader returns
	err    error         // why the reader returned; read after done
}

func newClient(idx int, name, room string, ws WSConn, st *runStats) *client {
	return &client{
		idx: idx, name: name, room: room, ws: ws, st: st,
		joined: make(chan struct{}, 1),
		echo:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
}

// readLoop runs until the connection ends. It counts our deliveries, records
// their latency and signals the events the driver waits for.
func (c *client) readLoop() {
	defer close(c.done)
	buf := make([]byte, 0, 256)
	var e envelope
	for {
		b, err := c.ws.ReadText(buf[:0])
		if err != nil {
			c.err = err
			if !c.leaving.Load() {
				c.st.closed.Add(1)
				c.st.fail(fmt.Sprintf("%s: %v", c.name, err))
			}
			return
		}
		c.frames.Add(1)
		if cap(b) > cap(buf) {
			buf = b[:0]
		}
		if !scanEnvelope(b, &e) {
			c.st.fail("unreadable frame: " + truncate(b))
			continue
		}
		switch string(e.typ) {
		case "chat", "pm":
			if e.replay {
				continue
			}
			sent, sender, _, ok := parseText(e.text)
			if !ok {
				c.st.foreign.Add(1)
				continue
			}
			lat := c.st.now() - sent
			c.delivered.Add(1)
			c.st.delivery.Record(c.idx, lat)
			if sender == c.idx {
				c.st.rtt.Record(c.idx, lat)
				signal(c.echo)
			}
		case "join":
			if string(e.from) == c.name {
				signal(c.joined)
			}
		case "error":
			c.st.fail(fmt.Sprintf("%s: error %s", c.name, e.code))
		}
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// waitFor waits for a token on ch, for the reader to end, or for timeout.
func (c *client) waitFor(ctx context.Context, ch chan struct{}, timeout time.Duration, what string) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-c.done:
		if c.err != nil {
			return fmt.Errorf("%s: waiting for %s: %w", c.name, what, c.err)
		}
		return fmt.Errorf("%s: connection ended waiting for %s", c.name, what)
	case <-t.C:
		return fmt.Errorf("%s: no %s within %v", c.name, what, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown closes the connection without a handshake and waits for the
// reader; used for teardown, where thousands of polite closes would only
// measure the close handshake.
func (c *client) shutdown() {
	c.leaving.Store(true)
	_ = c.ws.CloseNow()
	<-c.done
}

// closeCode is the code of the Close frame that ended the reader, or 0.
func (c *client) closeCode() int {
	var ce *ClosedError
	if errors.As(c.err, &ce) {
		return ce.Code
	}
	return 0
}

// sourceIP spreads connections over 127.0.0.2–127.0.0.254 so that each
// source address needs only a share of the ephemeral ports: 19,000+
// connections from one address to one server port would exhaust them.
func sourceIP(i int) net.IP {
	return net.IPv4(127, 0, 0, byte(2+i%253))
}
