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
	var seq [8]byte
	if len(payload) == 0 {
		binary.BigEndian.PutUint64(seq[:], c.pingSeq)
		payload = seq[:]
	}
	if err := ctx.Err(); err != nil {
		// A heartbeat: nothing will wait for the pong, so none is
		// registered (an idle connection keeps no waiter list).
		c.pingMu.Unlock()
		if werr := c.writeControl(opPing, payload); werr != nil {
			return fmt.Errorf("wire: Ping: %w", werr)
		}
		return err
	}
	w := &pingWaiter{payload: string(payload), done: make(chan struct{})}
	c.pings = append(c.pings, w)
	c.pingMu.Unlock()

	if err := c.writeControl(opPing, payload); err != nil {
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

// writeControl sends a control frame unless our close frame has gone out.
func (c *Conn) writeControl(op opcode, payload []byte) error {
	c.wmu.Lock()
	defer c.unlockWrite()
	if c.closing.Load() {
		return errWriteClosed
	}
	return c.writeFrameLocked(op, true, 0, payload)
}

func (c *Conn) dropPing(w *pingWaiter) {
	c.pingMu.Lock()
	defer c.pingMu.Unlock()
	for i, x := range c.pings {
		if x == w {
			c.pings = append(c.pings[:i], c.pings[i+1:]...)
			if len(c.pings) == 0 {
				c.pings = nil // an idle connection keeps no list
			}
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
	if n == 0 {
		c.pings = nil // an idle connection keeps no list
	}
}
