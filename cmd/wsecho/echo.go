package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/chatd/chatd/wire"
)

// echoHandler answers every WebSocket message with the same bytes and type,
// on any path. Messages are streamed (NextReader → NextWriter), so a large
// message is echoed fragment by fragment without holding it whole in memory.
// Cross-origin requests are allowed: this is a conformance target, not an
// application with sessions to protect.
type echoHandler struct {
	opts *wire.AcceptOptions
	log  *slog.Logger

	mu       sync.Mutex
	conns    map[*wire.Conn]struct{}
	draining bool
	wg       sync.WaitGroup
}

func newEchoHandler(maxMessage int64, log *slog.Logger) *echoHandler {
	return &echoHandler{
		opts: &wire.AcceptOptions{
			CheckOrigin: func(*http.Request) error { return nil },
			Compression: &wire.CompressionOptions{ContextTakeover: true},
			ReadLimit:   maxMessage,
		},
		log:   log,
		conns: make(map[*wire.Conn]struct{}),
	}
}

func (h *echoHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.draining {
		h.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()

	c, err := wire.Accept(w, r, h.opts)
	if err != nil {
		h.log.Info("handshake refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	h.mu.Lock()
	if h.draining {
		// shutdown began while this handshake ran and did not see us.
		h.mu.Unlock()
		c.Close(wire.StatusGoingAway, "shutdown")
		c.CloseNow()
		return
	}
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
		c.CloseNow()
	}()
	err = echo(c)
	h.log.Debug("connection ended", "remote", r.RemoteAddr, "code", wire.CloseStatus(err), "err", err)
}

// shutdown refuses new connections, closes the open ones with 1001 and waits
// for their handlers until ctx ends.
func (h *echoHandler) shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	for c := range h.conns {
		// Close waits for the peer's answer (bounded): do them all at once.
		go c.Close(wire.StatusGoingAway, "shutdown")
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		h.mu.Lock()
		for c := range h.conns {
			c.CloseNow()
		}
		h.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// echo copies messages back until the connection ends, and returns the
// error that ended it. A write that fails for another reason than the
// connection closing ends it with 1011.
func echo(c *wire.Conn) error {
	buf := make([]byte, 32<<10)
	for {
		t, r, err := c.NextReader()
		if err != nil {
			return err
		}
		w, err := c.NextWriter(t)
		if err != nil {
			return err
		}
		if _, err := io.CopyBuffer(w, r, buf); err != nil {
			w.Close()
			if wire.CloseStatus(err) != 0 || errors.Is(err, os.ErrDeadlineExceeded) {
				return err
			}
			c.Close(wire.StatusInternalError, "write failed")
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}
