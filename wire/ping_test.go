package wire

import (
	"context"
	"testing"
	"time"
)

func TestPingWaitsForItsPong(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	go c.ReadMessage() // pongs are read by the reader
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errc <- c.Ping(ctx, []byte("are you there"))
	}()
	h, p := readFrame(t, peer)
	if h.op != opPing || string(p) != "are you there" {
		t.Fatalf("got op %d %q", h.op, p)
	}
	peer.Write(encodeFrame(true, 0, opPong, true, []byte("something else")))
	select {
	case err := <-errc:
		t.Fatalf("Ping returned %v on a pong with another payload", err)
	case <-time.After(20 * time.Millisecond):
	}
	peer.Write(encodeFrame(true, 0, opPong, true, p))
	if err := <-errc; err != nil {
		t.Fatalf("Ping = %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Ping(ctx, nil); err != context.Canceled {
		t.Fatalf("Ping with a cancelled context = %v", err)
	}
}
