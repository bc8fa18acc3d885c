package bench

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/gorilla/websocket"
)

// GorillaDialer dials with gorilla/websocket: a second, independent client
// implementation, to cross-check that a number is the server's and not the
// project's own client's (chatbench --client gorilla), and for the driver's
// tests, which must not depend on the code under measurement.
func GorillaDialer() Dialer {
	return func(ctx context.Context, url string, local net.IP) (WSConn, error) {
		d := websocket.Dialer{Subprotocols: []string{"chat.v1"}, ReadBufferSize: 1024, WriteBufferSize: 1024}
		if local != nil {
			nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}
			d.NetDialContext = nd.DialContext
		}
		c, resp, err := d.DialContext(ctx, url, nil)
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err != nil {
			return nil, err
		}
		return gorillaConn{c}, nil
	}
}

type gorillaConn struct{ c *websocket.Conn }

// ReadText returns the next text message; binary messages are skipped.
func (g gorillaConn) ReadText(dst []byte) ([]byte, error) {
	for {
		t, r, err := g.c.NextReader()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return dst, &ClosedError{Code: ce.Code, Reason: ce.Text}
			}
			return dst, err
		}
		if t != websocket.TextMessage {
			continue
		}
		for {
			if len(dst) == cap(dst) {
				dst = append(dst, 0)[:len(dst)]
			}
			n, err := r.Read(dst[len(dst):cap(dst)])
			dst = dst[:len(dst)+n]
			if err == io.EOF {
				return dst, nil
			}
			if err != nil {
				return dst, err
			}
		}
	}
}

// WriteText sends p as one text frame.
func (g gorillaConn) WriteText(p []byte) error { return g.c.WriteMessage(websocket.TextMessage, p) }

// CloseNow closes the TCP connection without a handshake.
func (g gorillaConn) CloseNow() error { return g.c.Close() }
