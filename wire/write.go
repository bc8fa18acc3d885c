package wire

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"

	"github.com/klauspost/compress/flate"
)

// errWriteClosed is returned by writes after a close frame was sent.
var errWriteClosed = fmt.Errorf("wire: write after close: %w", net.ErrClosed)

// WriteMessage sends p as one message of type t in a single frame,
// compressed when permessage-deflate was negotiated and p is at least the
// compression threshold.
func (c *Conn) WriteMessage(t MessageType, p []byte) error {
	if t != TextMessage && t != BinaryMessage {
		return errors.New("wire: WriteMessage: type must be TextMessage or BinaryMessage")
	}
	c.msgMu.Lock()
	defer c.msgMu.Unlock()
	if c.pmd.enabled && len(p) >= c.pmd.threshold {
		buf := getBuf()
		out, err := c.compress((*buf)[:0], p)
		if err == nil {
			err = c.writeFrame(opcode(t), true, rsv1, out)
		}
		keepBuf(buf, out)
		return err
	}
	return c.writeFrame(opcode(t), true, 0, p)
}

// keepBuf returns a pooled buffer, adopting a grown version of it unless it
// grew too large to be worth keeping.
func keepBuf(buf *[]byte, grown []byte) {
	if cap(grown) <= 4*bufSize {
		*buf = grown[:cap(grown)]
	}
	if len(*buf) < bufSize {
		*buf = (*buf)[:cap(*buf)]
	}
	putBuf(buf)
}

// writeFrame writes one frame under the frame lock.
func (c *Conn) writeFrame(op opcode, fin bool, rsv byte, p []byte) error {
	c.wmu.Lock()
	if c.closing.Load() {
		c.unlockWrite()
		return errWriteClosed
	}
	err := c.writeFrameLocked(op, fin, rsv, p)
	c.unlockWrite()
	return err
}

// writeErr is sticky: after a failed or partial write the peer's view of
// the stream is broken, so every later write fails too. Guarded by wmu.
func (c *Conn) setWriteErr(err error) error {
	if err != nil && c.werr == nil {
		c.werr = err
	}
	return err
}

// writeFrameLocked writes one frame; the caller holds wmu. Small frames go
// out with one write from inline or pooled memory, large server frames with
// writev (header and payload without a copy), large client frames in
// masked chunks.
func (c *Conn) writeFrameLocked(op opcode, fin bool, rsv byte, p []byte) error {
	if c.werr != nil {
		return c.werr
	}
	h := header{fin: fin, rsv: rsv, op: op, length: int64(len(p)), masked: c.client}
	if c.client {
		h.key = newMaskKey()
	}
	if len(p) <= smallReadLen-maxHeaderLen {
		b := getSmall()
		n := putHeader(b[:], h)
		m := copy(b[n:], p)
		if c.client {
			Mask(h.key, 0, b[n:n+m])
		}
		_, err := c.nc.Write(b[:n+m])
		putSmall(b)
		return c.setWriteErr(err)
	}
	if len(p) <= bufSize-maxHeaderLen {
		buf := getBuf()
		b := *buf
		n := putHeader(b, h)
		m := copy(b[n:], p)
		if c.client {
			Mask(h.key, 0, b[n:n+m])
		}
		_, err := c.nc.Write(b[:n+m])
		putBuf(buf)
		return c.setWriteErr(err)
	}
	if !c.client {
		n := putHeader(c.whdr[:], h)
		c.wvec[0], c.wvec[1] = c.whdr[:n], p
		c.wbufs = c.wvec[:]
		_, err := c.wbufs.WriteTo(c.nc)
		c.wvec[1] = nil
		return c.setWriteErr(err)
	}
	// Client: mask into a pooled buffer chunk by chunk; the caller's p is
	// never modified.
	buf := getBuf()
	defer putBuf(buf)
	b := *buf
	n := putHeader(b, h)
	pos := 0
	for len(p) > 0 {
		m := copy(b[n:], p)
		pos = Mask(h.key, pos, b[n:n+m])
		if _, err := c.nc.Write(b[:n+m]); err != nil {
			return c.setWriteErr(err)
		}
		p = p[m:]
		n = 0
	}
	return nil
}

// newMaskKey returns a fresh masking key. math/rand/v2's global source is
// ChaCha8 seeded from the OS, per RFC 6455 §5.3's "strong source of
// entropy", and needs no lock or allocation.
func newMaskKey() [4]byte {
	u := rand.Uint32()
	return [4]byte{byte(u), byte(u >> 8), byte(u >> 16), byte(u >> 24)}
}

// unlockWrite releases wmu, first sending a pong the reader queued while
// the lock was held. After unlocking it checks again, because the reader
// may have queued one just after the check and failed to take the lock.
func (c *Conn) unlockWrite() {
	for {
		if c.pongPending.Load() {
			c.flushPongLocked()
		}
		c.wmu.Unlock()
		if !c.pongPending.Load() || !c.wmu.TryLock() {
			return
		}
	}
}

func (c *Conn) flushPongLocked() {
	c.pongMu.Lock()
	b, n := c.pongBuf, c.pongLen
	c.pongBuf = nil
	c.pongPending.Store(false)
	c.pongMu.Unlock()
	if b == nil {
		return
	}
	if !c.closing.Load() { // no frames after our close frame
		c.writeFrameLocked(opPong, true, 0, b[:n])
	}
	putSmall(b)
}

// queuePong records the pong owed for a ping; a newer ping replaces an
// older unanswered one (RFC 6455 §5.5.3 allows answering only the latest).
func (c *Conn) queuePong(p []byte) {
	c.pongMu.Lock()
	if c.pongBuf == nil {
		c.pongBuf = getSmall()
	}
	c.pongLen = copy(c.pongBuf[:], p)
	c.pongPending.Store(true)
	c.pongMu.Unlock()
	if c.wmu.TryLock() {
		c.unlockWrite()
	}
}

// NextWriter starts a message of type t and returns a writer for its
// payload. Writes are buffered and sent as fragments when the buffer fills;
// Close sends the final fragment. No other data message can be sent until
// the writer is closed (control frames still can).
func (c *Conn) NextWriter(t MessageType) (io.WriteCloser, error) {
	if t != TextMessage && t != BinaryMessage {
		return nil, errors.New("wire: NextWriter: type must be TextMessage or BinaryMessage")
	}
	c.msgMu.Lock()
	if c.closing.Load() {
		c.msgMu.Unlock()
		return nil, errWriteClosed
	}
	c.mw = messageWriter{c: c, t: t, open: true}
	return &c.mw, nil
}

// messageWriter is the writer NextWriter returns; it lives in the Conn so
// NextWriter does not allocate.
type messageWriter struct {
	c        *Conn
	t        MessageType
	open     bool
	started  bool    // the first frame has been sent
	deflate  bool    // the message is being compressed
	buf      *[]byte // pooled: raw payload, or compressed output when deflate
	n        int     // bytes used in *buf
	total    int     // raw bytes written
	fw       *flate.Writer
	fwPooled int // writerPools index+1 when fw came from a pool
	err      error
}

var errWriterClosed = errors.New("wire: write to a closed message writer")

// Write adds p to the message.
func (w *messageWriter) Write(p []byte) (int, error) {
	if !w.open {
		return 0, errWriterClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	w.total += len(p)
	if w.deflate {
		if err := w.compress(p); err != nil {
			w.err = err
			return 0, err
		}
		return len(p), nil
	}
	written := 0
	for len(p) > 0 {
		if w.buf == nil {
			if !w.c.pmd.enabled && len(p) >= bufSize {
				// Nothing buffered and a large write: send it as a
				// fragment straight from p.
				if err := w.frame(false, p); err != nil {
					return written, err
				}
				return written + len(p), nil
			}
			w.buf = getBuf()
			w.n = 0
		}
		m := copy((*w.buf)[w.n:], p)
		w.n += m
		written += m
		p = p[m:]
		if w.n == len(*w.buf) {
			if w.c.pmd.enabled && !w.started {
				// Big enough to be worth compressing: switch the
				// message to deflate and feed it what we have.
				if err := w.startDeflate(); err != nil {
					w.err = err
					return written, err
				}
				if len(p) > 0 {
					if err := w.compress(p); err != nil {
						w.err = err
						return written, err
					}
					written += len(p)
				}
				return written, nil
			}
			if err := w.frame(false, (*w.buf)[:w.n]); err != nil {
				return written, err
			}
			w.n = 0
		}
	}
	return written, nil
}

// frame sends one fragment of the message.
func (w *messageWriter) frame(fin bool, p []byte) error {
	op := opcode(w.t)
	var rsv byte
	if w.started {
		op = opContinuation
	} else if w.deflate {
		rsv = rsv1
	}
	w.started = true
	err := w.c.writeFrame(op, fin, rsv, p)
	if err != nil {
		w.err = err
	}
	return err
}

// startDeflate compresses the buffered raw bytes and switches the message
// to compressed mode.
func (w *messageWriter) startDeflate() error {
	c := w.c
	raw, rawN := w.buf, w.n
	w.buf, w.n = getBuf(), 0
	w.deflate = true
	st := &c.pmd
	switch {
	case st.writeTakeover || st.writeBits < 15:
		// The per-connection compressor; compress() creates it.
	case st.level != 0:
		lvl := flateLevel(st.level)
		fw, _ := writerPools[lvl+2].Get().(*flate.Writer)
		if fw == nil {
			var err error
			if fw, err = flate.NewWriter(&st.cw, lvl); err != nil {
				return err
			}
		} else {
			fw.Reset(&st.cw)
		}
		w.fw, w.fwPooled = fw, lvl+3
	}
	err := w.compress((*raw)[:rawN])
	putBuf(raw)
	return err
}

// compress feeds raw bytes to the compressor and sends full fragments,
// always holding back the last four bytes so the sync-flush tail can be
// removed at the end (RFC 7692 §7.2.1).
func (w *messageWriter) compress(p []byte) error {
	c := w.c
	st := &c.pmd
	st.cw.b = (*w.buf)[:w.n]
	var err error
	switch {
	case w.fw != nil:
		_, err = w.fw.Write(p)
	case st.writeTakeover || st.writeBits < 15:
		if st.fw == nil {
			if st.writeBits < 15 {
				st.fw, err = flate.NewWriterWindow(&st.cw, 1<<st.writeBits)
			} else {
				st.fw, err = flate.NewWriter(&st.cw, flateLevel(st.level))
			}
		} else if !w.started && w.n == 0 && !st.writeTakeover {
			st.fw.Reset(&st.cw)
		}
		if err == nil {
			w.fw = st.fw
			_, err = w.fw.Write(p)
		}
	default:
		err = flate.StatelessDeflate(&st.cw, p, false, nil)
	}
	w.adopt()
	if err != nil {
		return err
	}
	return w.flushFull()
}

// adopt takes the compressor's output slice back into w.buf.
func (w *messageWriter) adopt() {
	b := w.c.pmd.cw.b
	w.c.pmd.cw.b = nil
	if cap(b) > cap(*w.buf) {
		*w.buf = b[:cap(b)]
	}
	w.n = len(b)
}

// flushFull sends a fragment while more than a buffer of compressed bytes
// is waiting.
func (w *messageWriter) flushFull() error {
	for w.n-4 >= bufSize {
		b := *w.buf
		if err := w.frame(false, b[:w.n-4]); err != nil {
			return err
		}
		w.n = copy(b, b[w.n-4:w.n])
	}
	return nil
}

// Close sends the final fragment and releases the message.
func (w *messageWriter) Close() error {
	if !w.open {
		return errWriterClosed
	}
	c := w.c
	defer func() {
		w.open = false
		if w.buf != nil {
			keepBuf(w.buf, (*w.buf)[:0])
			w.buf = nil
		}
		if w.fwPooled > 0 {
			w.fw.Reset(nil)
			writerPools[w.fwPooled-1].Put(w.fw)
		}
		w.fw = nil
		c.msgMu.Unlock()
	}()
	if w.err != nil {
		return w.err
	}
	if !w.deflate && c.pmd.enabled && !w.started && w.total >= c.pmd.threshold {
		if err := w.startDeflate(); err != nil {
			return err
		}
	}
	if w.deflate {
		if w.fw != nil {
			c.pmd.cw.b = (*w.buf)[:w.n]
			err := w.fw.Flush()
			w.adopt()
			if err != nil {
				return err
			}
		}
		return w.frame(true, trimTail((*w.buf)[:w.n]))
	}
	var p []byte
	if w.buf != nil {
		p = (*w.buf)[:w.n]
	}
	return w.frame(true, p)
}
