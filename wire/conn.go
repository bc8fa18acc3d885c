package wire

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// DefaultReadLimit is the largest message a Conn reads unless told
	// otherwise: the whole message, across fragments, after inflation.
	DefaultReadLimit = 16 << 20
	// DefaultCloseTimeout bounds the close handshake: how long Close waits
	// for the peer's close frame, and how long a client waits for the
	// server to close TCP first.
	DefaultCloseTimeout = 3 * time.Second
	// smallReadLen is the size of the small pooled buffer a reader waits on
	// (and of the buffers control frames and small writes borrow). It is
	// large enough for a typical chat frame, so small messages never need
	// a large buffer.
	smallReadLen = 256
	// directReadMin is the request size from which payload reads go from
	// the socket straight into the caller's memory instead of through the
	// read buffer.
	directReadMin = 2048
)

// Conn is one WebSocket connection. See the package documentation for which
// methods may run concurrently.
type Conn struct {
	nc       net.Conn
	client   bool
	subproto string

	// permessage-deflate as negotiated; see deflate.go.
	pmd pmdState

	// Optional choices of the close frames wire sends on its own; see
	// AcceptOptions.FailReason and CloseAnswer. Set before the first read.
	failReason  func(code StatusCode, detail string) string
	closeAnswer func(code StatusCode, reason string) (StatusCode, string)

	closeTimeout atomic.Int64 // time.Duration
	idleTimeout  atomic.Int64 // time.Duration; 0 = off
	readDeadline atomic.Int64 // unix nanoseconds set by SetReadDeadline; 0 = none
	readLimit    atomic.Int64

	// Reader side: owned by whoever holds readMu (a channel so Close can
	// wait for it with a timeout).
	readMu     chan struct{}
	rb         []byte    // rsmall[:], *rbig, or nil while no read is in progress
	rr, rw     int       // unread bytes are rb[rr:rw]
	rbig       *[]byte   // pooled buffer while a burst of frames is moving
	rfull      bool      // the last read filled rsmall: switch to a pooled buffer
	rsmall     *smallBuf // pooled buffer a read waits on
	hdr        header    // the frame being read
	frameLeft  int64     // payload bytes of hdr not yet read
	maskPos    int
	fragmented bool        // a data message started and its FIN frame is still to come
	msgType    MessageType // of the message being read
	msgDeflate bool        // the message being read is compressed
	msgFin     bool        // the frame being read is the message's last
	msgBytes   int64       // bytes of the message delivered so far (after inflation)
	msgDone    bool        // the current message has been read to its end
	utf8       UTF8Validator
	readErr    error // sticky: once set every read returns it
	mr         messageReader
	infl       *inflater // while a compressed message is being read

	handlerMu   sync.Mutex
	pingHandler func([]byte) error
	pongHandler func([]byte) error

	// Writer side. msgMu keeps data messages whole (a NextWriter holds it
	// until Close); wmu serializes frames, including control frames, which
	// RFC 6455 §5.4 lets appear between the fragments of a message.
	msgMu sync.Mutex
	wmu   sync.Mutex
	whdr  [maxHeaderLen]byte
	wvec  [2][]byte
	wbufs net.Buffers
	batch net.Buffers
	mw    messageWriter
	werr  error // sticky write error, guarded by wmu

	// A pong owed to the peer. The reader stores the latest ping payload
	// here and whoever holds wmu (or takes it next) sends it, so a slow
	// writer never blocks the reader and only the latest ping is answered.
	pongMu      sync.Mutex
	pongPending atomic.Bool
	pongLen     int
	pongBuf     *smallBuf // while a pong is owed

	pingMu  sync.Mutex
	pings   []*pingWaiter
	pingSeq uint64

	// Close state.
	closeMu     sync.Mutex
	closing     atomic.Bool // a close frame was sent: no more data frames
	closeSent   *CloseError // what we sent
	closeRecvd  bool        // the peer's close frame arrived
	closeDeadln time.Time   // when the close handshake gives up
	closed      chan struct{}
	closeOnce   sync.Once
}

// newConn wraps nc after a successful handshake. buffered holds bytes the
// handshake read past the HTTP header (frames the peer sent at once).
func newConn(nc net.Conn, client bool, buffered []byte, subproto string, pmd pmdState, readLimit int64) *Conn {
	c := &Conn{
		nc:       nc,
		client:   client,
		subproto: subproto,
		pmd:      pmd,
		readMu:   make(chan struct{}, 1),
		closed:   make(chan struct{}),
	}
	if readLimit <= 0 {
		readLimit = DefaultReadLimit
	}
	c.readLimit.Store(readLimit)
	c.closeTimeout.Store(int64(DefaultCloseTimeout))
	c.msgDone = true
	switch {
	case len(buffered) == 0:
	case len(buffered) <= smallReadLen:
		c.rsmall = getSmall()
		c.rb = c.rsmall[:]
	default:
		c.rbig = getBuf()
		if len(buffered) > len(*c.rbig) {
			// A pipelined burst larger than a pooled buffer: keep it
			// in its own slice for this once.
			b := make([]byte, len(buffered))
			c.rbig = &b
		}
		c.rb = *c.rbig
	}
	c.rw = copy(c.rb, buffered)
	c.mr.c = c
	c.mw.c = c
	return c
}

// Subprotocol returns the subprotocol the handshake selected, or "".
func (c *Conn) Subprotocol() string { return c.subproto }

// CompressionEnabled reports whether permessage-deflate was negotiated.
func (c *Conn) CompressionEnabled() bool { return c.pmd.enabled }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// NetConn returns the connection wire reads and writes: the hijacked TCP
// (or TLS) connection. It is for watching the socket (its file descriptor,
// through syscall.Conn, for a readiness-driven reader), not for reading or
// writing around wire.
func (c *Conn) NetConn() net.Conn { return c.nc }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// SetReadLimit sets the largest message the connection accepts, counted
// over all fragments after inflation; a larger message fails the connection
// with 1009 as soon as the limit is crossed. n <= 0 restores the default.
func (c *Conn) SetReadLimit(n int64) {
	if n <= 0 {
		n = DefaultReadLimit
	}
	c.readLimit.Store(n)
}

// SetReadDeadline sets the deadline for reads; the zero time removes it.
// A read that hits it returns an error wrapping os.ErrDeadlineExceeded and
// the connection can no longer be read.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.readDeadline.Store(0)
	} else {
		c.readDeadline.Store(t.UnixNano())
	}
	return c.nc.SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline for writes; the zero time removes it.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// SetIdleTimeout makes every read from the socket push the read deadline to
// now+d, so a connection fails with a deadline error only after d without
// a single byte from the peer. d <= 0 turns it off. A deadline from
// SetReadDeadline still applies when it is earlier.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	if d < 0 {
		d = 0
	}
	c.idleTimeout.Store(int64(d))
	if d > 0 {
		c.nc.SetReadDeadline(c.nextReadDeadline())
	}
}

// SetCloseTimeout bounds the close handshake (default 3 s): how long Close
// waits for the peer's close frame, how long a connection waits for the
// peer after failing it, and how long a client waits for the server to
// close TCP first.
func (c *Conn) SetCloseTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultCloseTimeout
	}
	c.closeTimeout.Store(int64(d))
}

// SetPingHandler sets a function called with the payload of every ping
// received, after the automatic pong has been queued. An error it returns
// is returned by the read in progress. The payload is valid only during
// the call.
func (c *Conn) SetPingHandler(h func(payload []byte) error) {
	c.handlerMu.Lock()
	c.pingHandler = h
	c.handlerMu.Unlock()
}

// SetPongHandler sets a function called with the payload of every pong
// received (solicited or not). An error it returns is returned by the read
// in progress. The payload is valid only during the call.
func (c *Conn) SetPongHandler(h func(payload []byte) error) {
	c.handlerMu.Lock()
	c.pongHandler = h
	c.handlerMu.Unlock()
}

// nextReadDeadline is the deadline for the next socket read: the earliest
// of the explicit read deadline, now+idle timeout, and the close
// handshake's deadline.
func (c *Conn) nextReadDeadline() time.Time {
	var d time.Time
	if ns := c.readDeadline.Load(); ns != 0 {
		d = time.Unix(0, ns)
	}
	if idle := time.Duration(c.idleTimeout.Load()); idle > 0 {
		if t := time.Now().Add(idle); d.IsZero() || t.Before(d) {
			d = t
		}
	}
	if c.closing.Load() {
		c.closeMu.Lock()
		t := c.closeDeadln
		c.closeMu.Unlock()
		if d.IsZero() || t.Before(d) {
			d = t
		}
	}
	return d
}

// readConn reads from the socket, first moving the deadline when an idle
// timeout or a close handshake is running.
func (c *Conn) readConn(p []byte) (int, error) {
	if c.idleTimeout.Load() > 0 || c.closing.Load() {
		c.nc.SetReadDeadline(c.nextReadDeadline())
	}
	return c.nc.Read(p)
}
