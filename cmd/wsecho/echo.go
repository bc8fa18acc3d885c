package main

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"

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
}

func newEchoHandler(maxMessage int64, log *slog.Logger) *echoHandler {
	return &echoHandler{
		opts: &wire.AcceptOptions{
			CheckOrigin: func(*http.Request) error { return nil },
			Compression: &wire.CompressionOptions{ContextTakeover: true},
			ReadLimit:   maxMessage,
		},
		log: log,
	}
}

func (h *echoHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := wire.Accept(w, r, h.opts)
	if err != nil {
		h.log.Info("handshake refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	defer c.CloseNow()
	err = echo(c)
	h.log.Debug("connection ended", "remote", r.RemoteAddr, "code", wire.CloseStatus(err), "err", err)
}

// echo copies messages back until the connection ends, and returns the
// error that ended it. A failed write closes the connection with 1011
// (it can only be a broken socket, which the read side reports as well).
func echo(c *wire.Conn) error {
	for {
		t, r, err := c.NextReader()
		if err != nil {
			return err
		}
		w, err := c.NextWriter(t)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, r); err != nil {
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
