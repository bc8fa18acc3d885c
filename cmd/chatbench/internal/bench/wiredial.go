package bench

import (
	"context"
	"errors"
	"net"

	"github.com/chatd/chatd/wire"
)

// WireDialer dials with the project's own wire package, offering chat.v1 and
// no compression: the load generator must stay cheaper than the servers it
// measures, and both servers are measured without permessage-deflate.
func WireDialer() Dialer {
	return func(ctx context.Context, url string, local net.IP) (WSConn, error) {
		opts := &wire.DialOptions{Subprotocols: []string{"chat.v1"}, ReadLimit: 1 << 20}
		if local != nil {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}
			opts.NetDial = d.DialContext
		}
		c, resp, err := wire.Dial(ctx, url, opts)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			return nil, err
		}
		return wireConn{c}, nil
	}
}

type wireConn struct{ c *wire.Conn }

// ReadText returns the next text message; binary messages are skipped.
func (w wireConn) ReadText(dst []byte) ([]byte, error) {
	for {
		t, b, err := w.c.ReadMessageInto(dst)
		if err != nil {
			var ce *wire.CloseError
			if errors.As(err, &ce) {
				return dst, &ClosedError{Code: int(ce.Code), Reason: ce.Reason}
			}
			return dst, err
		}
		if t == wire.TextMessage {
			return b, nil
		}
		dst = b[:len(dst)]
	}
}

// WriteText sends p as one text frame.
func (w wireConn) WriteText(p []byte) error { return w.c.WriteMessage(wire.TextMessage, p) }

// CloseNow closes the TCP connection without a handshake.
func (w wireConn) CloseNow() error { return w.c.CloseNow() }
