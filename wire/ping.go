package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// pingWaiter is a Ping call waiting for its pong.
type pingWaiter struct {
	payload string
	done    chan struct{}
}

// Ping sends a ping with payload (at most 125 bytes; nil picks a unique
// payload) and waits until the matching pong arrives, ctx ends or the
// connection closes. Pongs are read by the connection's reader, so some
// goroutine must be reading. A pong for a later ping also answers earlier
// ones, since a peer may answer only the latest of several pings. The ping
// is always sent before ctx is looked at, so a ctx that has already ended
// makes Ping a send-only heartbeat (it then returns ctx.Err()).
func (c *Conn) Ping(ctx context.Context, payload []byte) error {
	if len(payload) > maxControlPayload {
		return errors.New("wire: Ping: payload over 125 bytes")
	}
	c.pingMu.Lock()
	c.pingSeq++
	if len(payload) == 0 {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], c.pingSeq)
		payload = b[:]
	}
	w := &pingWaiter{payload: string(payload), done: make(chan struct{})}
	c.pings = append(c.pings, w)
	c.pingMu.Unlock()

	c.wmu.Lock()
	var err error
	if c.closing.Load() {
		err = errWriteClosed
	} else {
		err = c.writeFrameLocked(opPing, true, 0, payload)
	}
	c.unlockWrite()
	if err != nil {
		c.dropPing(w)
		return fmt.Errorf("wire: Ping: %w", err)
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		c.dropPing(w)
		return ctx.Err()
	case <-c.closed:
		c.dropPing(w)
		return fmt.Errorf("wire: Ping: %w", net.ErrClosed)
	}
}

func (c *Conn) dropPing(w *pingWaiter) {
	c.pingMu.Lock()
	defer c.pingMu.Unlock()
	for i, x := range c.pings {
		if x == w {
			c.pings = append(c.pings[:i], c.pings[i+1:]...)
			return
		}
	}
}

// pongArrived wakes the Ping waiting for this payload and every earlier
// one. Unsolicited pongs match nothing and are ignored (RFC 6455 §5.5.3).
func (c *Conn) pongArrived(p []byte) {
	c.pingMu.Lock()
	defer c.pingMu.Unlock()
	last := -1
	for i, w := range c.pings {
		if w.payload == string(p) {
			last = i
		}
	}
	if last < 0 {
		return
	}
	for _, w := range c.pings[:last+1] {
		close(w.done)
	}
	n := copy(c.pings, c.pings[last+1:])
	clear(c.pings[n:])
	c.pings = c.pings[:n]
}
