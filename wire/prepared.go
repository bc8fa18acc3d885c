package wire

import (
	"errors"
	"net"
	"sync"
)

// PreparedMessage is a message encoded once for many connections: the
// frame bytes are built when it is created (and the compressed variant the
// first time a compressing connection needs it), so broadcasting it to
// thousands of server connections costs no encoding and no allocation per
// recipient. Client connections, which must mask every frame with a fresh
// key, mask a copy per write. A PreparedMessage is safe for concurrent use.
type PreparedMessage struct {
	t       MessageType
	payload []byte
	plain   []byte // unmasked frame: header + payload

	once       sync.Once
	compressed []byte // unmasked frame with RSV1, or nil when not worth it
	cpayload   []byte // compressed payload inside compressed
}

// NewPreparedMessage builds the frame for a message of type t carrying
// payload (which it copies).
func NewPreparedMessage(t MessageType, payload []byte) (*PreparedMessage, error) {
	if t != TextMessage && t != BinaryMessage {
		return nil, errors.New("wire: NewPreparedMessage: type must be TextMessage or BinaryMessage")
	}
	h := header{fin: true, op: opcode(t), length: int64(len(payload))}
	var hb [maxHeaderLen]byte
	n := putHeader(hb[:], h)
	frame := make([]byte, n+len(payload))
	copy(frame, hb[:n])
	copy(frame[n:], payload)
	return &PreparedMessage{t: t, payload: frame[n:], plain: frame}, nil
}

// Len returns the size in bytes of the uncompressed frame, for queue
// accounting.
func (m *PreparedMessage) Len() int { return len(m.plain) }

// compressedFrame returns the compressed frame, built on first use with
// no context (so any connection that negotiated no-context-takeover for
// its sending side can use it), or nil when compression does not shrink
// the message.
func (m *PreparedMessage) compressedFrame() []byte {
	m.once.Do(func() {
		var a appender
		if err := statelessCompress(&a, m.payload); err != nil {
			return
		}
		p := trimTail(a.b)
		if len(p) >= len(m.payload) {
			return
		}
		h := header{fin: true, rsv: rsv1, op: opcode(m.t), length: int64(len(p))}
		var hb [maxHeaderLen]byte
		n := putHeader(hb[:], h)
		frame := make([]byte, n+len(p))
		copy(frame, hb[:n])
		copy(frame[n:], p)
		m.compressed, m.cpayload = frame, frame[n:]
	})
	return m.compressed
}

// frameFor picks the variant c may send: the shared compressed frame when
// c compresses each message on its own with a full window, else the plain
// one. A connection that keeps compression context cannot use a frame
// compressed without it (its peer's window would fall out of step), so it
// gets the plain frame.
func (m *PreparedMessage) frameFor(c *Conn) (frame, payload []byte, rsv byte) {
	st := &c.pmd
	if st.enabled && !st.writeTakeover && st.writeBits == 15 && len(m.payload) >= st.threshold {
		if f := m.compressedFrame(); f != nil {
			return f, m.cpayload, rsv1
		}
	}
	return m.plain, m.payload, 0
}

// WritePrepared sends m. It is safe from any goroutine and waits for a
// message being written with NextWriter to finish.
func (c *Conn) WritePrepared(m *PreparedMessage) error {
	frame, payload, rsv := m.frameFor(c)
	c.msgMu.Lock()
	defer c.msgMu.Unlock()
	if c.client {
		return c.writeFrame(opcode(m.t), true, rsv, payload)
	}
	c.wmu.Lock()
	defer c.unlockWrite()
	if c.closing.Load() {
		return errWriteClosed
	}
	if c.werr != nil {
		return c.werr
	}
	_, err := c.nc.Write(frame)
	return c.setWriteErr(err)
}

// WriteBatch sends several prepared messages with one writev system call
// (on TCP), the cheapest way to drain a connection's outbound queue.
func (c *Conn) WriteBatch(ms []*PreparedMessage) error {
	if len(ms) == 0 {
		return nil
	}
	c.msgMu.Lock()
	defer c.msgMu.Unlock()
	c.wmu.Lock()
	defer c.unlockWrite()
	if c.closing.Load() {
		return errWriteClosed
	}
	if c.werr != nil {
		return c.werr
	}
	if c.client {
		return c.setWriteErr(c.writeMaskedBatch(ms))
	}
	if _, ok := c.nc.(*net.TCPConn); !ok || batchLen(c, ms) <= bufSize {
		// Without writev (TLS, pipes) each buffer would be its own
		// write (and TLS record): coalesce into pooled buffers instead.
		// A batch that fits one pooled buffer is copied too: the copy
		// is cheap, and writev would leave an iovec array cached on the
		// socket and a slice on the Conn, held while it idles.
		return c.setWriteErr(c.writeCoalesced(ms))
	}
	c.batch = c.batch[:0]
	for _, m := range ms {
		f, _, _ := m.frameFor(c)
		c.batch = append(c.batch, f)
	}
	c.wbufs = c.batch
	_, err := c.wbufs.WriteTo(c.nc)
	clear(c.batch)
	c.batch = c.batch[:0]
	return c.setWriteErr(err)
}

// batchLen is the number of bytes ms takes on c.
func batchLen(c *Conn, ms []*PreparedMessage) int {
	n := 0
	for _, m := range ms {
		f, _, _ := m.frameFor(c)
		n += len(f)
	}
	return n
}

// writeCoalesced copies the frames into pooled buffers and writes each
// buffer with one write; a frame larger than a buffer is written on its own.
func (c *Conn) writeCoalesced(ms []*PreparedMessage) error {
	buf := getBuf()
	defer putBuf(buf)
	b := (*buf)[:0]
	for _, m := range ms {
		f, _, _ := m.frameFor(c)
		if len(b)+len(f) > cap(b) && len(b) > 0 {
			if _, err := c.nc.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
		if len(f) > cap(b) {
			if _, err := c.nc.Write(f); err != nil {
				return err
			}
			continue
		}
		b = append(b, f...)
	}
	if len(b) > 0 {
		_, err := c.nc.Write(b)
		return err
	}
	return nil
}

// writeMaskedBatch writes the messages as client frames, each masked with
// its own key, gathered into pooled buffers so a batch of small messages
// still goes out in one write. The caller holds wmu.
func (c *Conn) writeMaskedBatch(ms []*PreparedMessage) error {
	buf := getBuf()
	defer putBuf(buf)
	b := *buf
	n := 0
	for _, m := range ms {
		_, payload, rsv := m.frameFor(c)
		if maxHeaderLen+len(payload) > len(b)-n {
			if n > 0 {
				if _, err := c.nc.Write(b[:n]); err != nil {
					return err
				}
				n = 0
			}
			if maxHeaderLen+len(payload) > len(b) {
				// Too big to gather: its own (chunked) write.
				if err := c.writeFrameLocked(opcode(m.t), true, rsv, payload); err != nil {
					return err
				}
				continue
			}
		}
		h := header{fin: true, rsv: rsv, op: opcode(m.t), length: int64(len(payload)), masked: true, key: newMaskKey()}
		hn := putHeader(b[n:], h)
		copy(b[n+hn:], payload)
		Mask(h.key, 0, b[n+hn:n+hn+len(payload)])
		n += hn + len(payload)
	}
	if n > 0 {
		_, err := c.nc.Write(b[:n])
		return err
	}
	return nil
}
