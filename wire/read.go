package wire

import (
	"errors"
	"io"
	"os"
	"slices"
)

// lockRead and unlockRead guard the reader side. readMu is a channel so
// Close can wait for it next to a timer.
func (c *Conn) lockRead()   { c.readMu <- struct{}{} }
func (c *Conn) unlockRead() { <-c.readMu }

// NextReader waits for the next data message and returns its type and a
// reader for its payload (inflated and, for text, checked as UTF-8 while it
// is read). Control frames that arrive meanwhile are handled inline. The
// reader is valid until the next call to NextReader, ReadMessage or
// ReadMessageInto; whatever it left unread is discarded then.
func (c *Conn) NextReader() (MessageType, io.Reader, error) { return c.nextReader(false) }

// nextReader is NextReader and, with ready, NextReaderReady.
func (c *Conn) nextReader(ready bool) (MessageType, io.Reader, error) {
	c.lockRead()
	defer c.unlockRead()
	if err := c.startMessage(ready); err != nil {
		return 0, nil, err
	}
	return c.msgType, &c.mr, nil
}

// ErrNotReady is returned by [Conn.NextReaderReady] when the bytes that had
// arrived held control frames only (or nothing): no data message has begun
// and nothing is buffered, so the caller may wait for the socket to become
// readable again without a goroutine.
var ErrNotReady = errors.New("wire: no data message has arrived yet")

// NextReaderReady is NextReader for a reader driven by socket readiness (an
// epoll loop, say) rather than by a goroutine blocked on every connection.
// Call it when the socket has become readable or [Conn.Buffered] is not
// zero. It reads what has arrived and handles control frames as NextReader
// does; if it then stands between frames with nothing buffered and no data
// message begun, it returns ErrNotReady instead of waiting on the socket.
// Once a frame has begun to arrive it waits for the rest, as NextReader
// does (read deadlines apply), and so does a first socket read that finds
// nothing yet.
func (c *Conn) NextReaderReady() (MessageType, io.Reader, error) { return c.nextReader(true) }

// Buffered returns how many bytes have been read from the socket and not yet
// consumed by a read. A readiness-driven reader that finds it zero between
// messages can wait for the socket instead of calling NextReaderReady.
func (c *Conn) Buffered() int {
	c.lockRead()
	defer c.unlockRead()
	return c.rw - c.rr
}

// ReadMessage reads the next data message into a new slice.
func (c *Conn) ReadMessage() (MessageType, []byte, error) {
	return c.ReadMessageInto(nil)
}

// ReadMessageInto reads the next data message and appends its payload to
// dst, returning the extended slice. With a dst whose capacity fits the
// message it does not allocate, so a loop of
//
//	t, buf, err = c.ReadMessageInto(buf[:0])
//
// reads any number of messages with zero allocations.
func (c *Conn) ReadMessageInto(dst []byte) (MessageType, []byte, error) {
	c.lockRead()
	defer c.unlockRead()
	if err := c.startMessage(false); err != nil {
		return 0, dst, err
	}
	start := len(dst)
	for {
		if len(dst) == cap(dst) && !c.msgDeflate {
			// dst is full: before growing it, find out whether the
			// message has more to come (an empty read reaches the end or
			// the next frame's header).
			n, err := c.readMsg(dst[len(dst):])
			if err == io.EOF {
				return c.msgType, dst, nil
			}
			if err != nil || n != 0 {
				return 0, dst[:start], err
			}
		}
		if len(dst) == cap(dst) {
			want := 512
			if !c.msgDeflate && c.frameLeft > 0 {
				want = int(c.frameLeft)
			} else if len(dst) > want {
				want = len(dst)
			}
			dst = slices.Grow(dst, want)
		} else if !c.msgDeflate && int64(cap(dst)-len(dst)) < c.frameLeft {
			// The frame header said how much is coming (already checked
			// against the read limit): make room for all of it at once.
			dst = slices.Grow(dst, int(c.frameLeft))
		}
		n, err := c.readMsg(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return c.msgType, dst, nil
		}
		if err != nil {
			return 0, dst[:start], err
		}
	}
}

// messageReader is the io.Reader NextReader returns. It lives inside the
// Conn so NextReader does not allocate.
type messageReader struct{ c *Conn }

// Read reads payload bytes of the current message; io.EOF marks its end.
func (r *messageReader) Read(p []byte) (int, error) {
	c := r.c
	c.lockRead()
	defer c.unlockRead()
	return c.readMsg(p)
}

// startMessage finishes the previous message and reads frames up to the
// first frame of the next data message. With ready it returns ErrNotReady
// instead of waiting on the socket once a frame boundary leaves nothing
// buffered (see NextReaderReady).
func (c *Conn) startMessage(ready bool) error {
	if c.readErr != nil {
		return c.readErr
	}
	if !c.msgDone {
		if err := c.discardMessage(); err != nil {
			return err
		}
	}
	c.releaseReadBuf()
	if err := c.nextDataFrame(ready); err != nil {
		return err
	}
	c.msgDone = false
	if c.msgDeflate {
		c.startInflate()
	}
	return nil
}

// discardMessage reads the rest of the current message and drops it; it is
// still inflated and checked, so the connection's state and the peer's
// compression context stay in step.
func (c *Conn) discardMessage() error {
	buf := getBuf()
	defer putBuf(buf)
	for {
		_, err := c.readMsg(*buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readMsg reads payload bytes of the current message into p, enforcing the
// read limit and UTF-8 for text. It returns io.EOF once the message is
// complete.
func (c *Conn) readMsg(p []byte) (int, error) {
	if c.readErr != nil {
		return 0, c.readErr
	}
	if c.msgDone {
		return 0, io.EOF
	}
	limit := c.readLimit.Load()
	var n int
	var err error
	if c.msgDeflate {
		// Ask the inflater for at most one byte past the limit, so a
		// deflate bomb is stopped there and never inflated further.
		if room := limit - c.msgBytes + 1; int64(len(p)) > room {
			p = p[:room]
		}
		n, err = c.inflate(p)
		if c.msgBytes+int64(n) > limit {
			return 0, c.fail(StatusMessageTooBig, "message too big")
		}
	} else {
		n, err = c.readRaw(p)
	}
	if n > 0 {
		c.msgBytes += int64(n)
		if c.msgType == TextMessage && !c.utf8.Write(p[:n]) {
			return 0, c.fail(StatusInvalidFramePayloadData, "invalid UTF-8 in text message")
		}
	}
	if err == io.EOF {
		if c.msgType == TextMessage && !c.utf8.Done() {
			return 0, c.fail(StatusInvalidFramePayloadData, "text message ends inside a UTF-8 sequence")
		}
		c.endMessage()
		return n, io.EOF
	}
	if err != nil && c.readErr == nil {
		// Not an error the frame reader already turned into a close.
		return n, c.fail(StatusInvalidFramePayloadData, "invalid compressed data")
	}
	if c.readErr != nil {
		return 0, c.readErr
	}
	return n, nil
}

// endMessage marks the current message complete and gives pooled memory
// back.
func (c *Conn) endMessage() {
	c.msgDone = true
	if c.infl != nil {
		c.endInflate()
	}
	c.releaseReadBuf()
}

// readRaw reads payload bytes of the current message as they are on the
// wire (compressed or not), crossing into continuation frames. It returns
// io.EOF after the message's last frame.
func (c *Conn) readRaw(p []byte) (int, error) {
	for c.frameLeft == 0 {
		if c.msgFin {
			return 0, io.EOF
		}
		if err := c.nextDataFrame(false); err != nil {
			return 0, err
		}
	}
	n, err := c.readPayload(p)
	if err != nil {
		return 0, c.ioFail(err)
	}
	return n, nil
}

// nextDataFrame reads frame headers, handling control frames inline, until
// the header of a data frame has been read and checked. With ready, a frame
// boundary after the first frame with nothing buffered returns ErrNotReady
// (the first header may be read from the socket: the caller was told it is
// readable).
func (c *Conn) nextDataFrame(ready bool) error {
	for first := true; ; first = false {
		if ready && !first && c.rr == c.rw {
			c.releaseReadBuf()
			return ErrNotReady
		}
		problem, err := c.readHeader()
		if err != nil {
			return c.ioFail(err)
		}
		if err := c.checkHeader(problem); err != nil {
			return err
		}
		if !c.hdr.op.isControl() {
			return nil
		}
		if err := c.handleControl(); err != nil {
			return err
		}
	}
}

// readHeader reads one frame header into c.hdr.
func (c *Conn) readHeader() (lengthProblem, error) {
	if err := c.fill(2); err != nil {
		return "", err
	}
	n := headerLen(c.rb[c.rr], c.rb[c.rr+1])
	if err := c.fill(n); err != nil {
		return "", err
	}
	h, problem := parseHeader(c.rb[c.rr : c.rr+n])
	c.rr += n
	c.hdr = h
	c.frameLeft = h.length
	c.maskPos = 0
	return problem, nil
}

// checkHeader applies the frame rules of RFC 6455 §5 (and RFC 7692 §6 for
// RSV1) to c.hdr and updates the message state; every violation fails the
// connection with 1002, a message over the read limit with 1009.
func (c *Conn) checkHeader(problem lengthProblem) error {
	h := &c.hdr
	if problem != "" {
		return c.fail(StatusProtocolError, string(problem))
	}
	if h.masked == c.client {
		if c.client {
			return c.fail(StatusProtocolError, "masked frame from server")
		}
		return c.fail(StatusProtocolError, "unmasked frame from client")
	}
	if h.rsv&(rsv2|rsv3) != 0 {
		return c.fail(StatusProtocolError, "reserved bit set")
	}
	switch h.op {
	case opClose, opPing, opPong:
		switch {
		case h.rsv != 0:
			return c.fail(StatusProtocolError, "RSV1 set on a control frame")
		case !h.fin:
			return c.fail(StatusProtocolError, "fragmented control frame")
		case h.length > maxControlPayload:
			return c.fail(StatusProtocolError, "control frame payload over 125 bytes")
		}
		return nil
	case opText, opBinary:
		if c.fragmented {
			return c.fail(StatusProtocolError, "new data frame inside a fragmented message")
		}
		if h.rsv&rsv1 != 0 && !c.pmd.enabled {
			return c.fail(StatusProtocolError, "RSV1 set without permessage-deflate")
		}
		c.msgType = MessageType(h.op)
		c.msgDeflate = h.rsv&rsv1 != 0
		c.msgBytes = 0
		c.utf8.Reset()
	case opContinuation:
		if !c.fragmented {
			return c.fail(StatusProtocolError, "continuation frame without a message to continue")
		}
		if h.rsv != 0 {
			return c.fail(StatusProtocolError, "RSV1 set on a continuation frame")
		}
	default:
		return c.fail(StatusProtocolError, "reserved opcode")
	}
	c.fragmented = !h.fin
	c.msgFin = h.fin
	if !c.msgDeflate && c.msgBytes+h.length > c.readLimit.Load() {
		return c.fail(StatusMessageTooBig, "message too big")
	}
	return nil
}

// handleControl reads the payload of the control frame in c.hdr and acts
// on it.
func (c *Conn) handleControl() error {
	buf := getSmall()
	defer putSmall(buf)
	p := buf[:c.frameLeft]
	for got := 0; got < len(p); {
		n, err := c.readPayload(p[got:])
		if err != nil {
			return c.ioFail(err)
		}
		got += n
	}
	switch c.hdr.op {
	case opPing:
		c.queuePong(p)
		c.handlerMu.Lock()
		h := c.pingHandler
		c.handlerMu.Unlock()
		if h != nil {
			return h(p)
		}
	case opPong:
		c.pongArrived(p)
		c.handlerMu.Lock()
		h := c.pongHandler
		c.handlerMu.Unlock()
		if h != nil {
			return h(p)
		}
	case opClose:
		return c.handleClose(p)
	}
	return nil
}

// fill makes sure at least n (<= smallReadLen) unread bytes are buffered.
func (c *Conn) fill(n int) error {
	for c.rw-c.rr < n {
		if len(c.rb)-c.rr < n {
			c.rw = copy(c.rb, c.rb[c.rr:c.rw])
			c.rr = 0
		}
		if err := c.readMore(); err != nil {
			return err
		}
	}
	return nil
}

// readMore reads at least one more byte from the socket into the buffer.
// A connection waits on a small pooled buffer; once a read fills it, more
// is evidently flowing and it borrows a large one until the burst is over
// (releaseReadBuf).
func (c *Conn) readMore() error {
	if c.rr == c.rw {
		c.rr, c.rw = 0, 0
	}
	if c.rb == nil {
		c.rsmall = getSmall()
		c.rb = c.rsmall[:]
	}
	if c.rbig == nil && c.rfull {
		big := getBuf()
		n := copy(*big, c.rb[c.rr:c.rw])
		c.rbig, c.rb, c.rr, c.rw = big, *big, 0, n
	} else if c.rw == len(c.rb) {
		c.rw = copy(c.rb, c.rb[c.rr:c.rw])
		c.rr = 0
	}
	for {
		n, err := c.readConn(c.rb[c.rw:])
		c.rw += n
		if c.rbig == nil && c.rw == len(c.rb) {
			c.rfull = true
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// releaseReadBuf returns the pooled read buffers once nothing is buffered,
// so a connection between messages holds none (a reader that goes on to
// wait for the next frame borrows a small one again).
func (c *Conn) releaseReadBuf() {
	if c.rb == nil || c.rr != c.rw {
		return
	}
	if c.rbig != nil && cap(*c.rbig) == bufSize {
		putBuf(c.rbig)
	}
	if c.rsmall != nil {
		putSmall(c.rsmall)
	}
	c.rbig, c.rsmall, c.rb = nil, nil, nil
	c.rr, c.rw = 0, 0
	c.rfull = false
}

// readPayload reads up to len(p) payload bytes of the current frame and
// unmasks them.
func (c *Conn) readPayload(p []byte) (int, error) {
	if int64(len(p)) > c.frameLeft {
		p = p[:c.frameLeft]
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	switch {
	case c.rr < c.rw:
		n = copy(p, c.rb[c.rr:c.rw])
		c.rr += n
	case len(p) >= directReadMin:
		// Large reads go from the socket straight into p.
		for n == 0 {
			var err error
			n, err = c.readConn(p)
			if n == 0 && err != nil {
				return 0, err
			}
		}
	default:
		if err := c.readMore(); err != nil {
			return 0, err
		}
		n = copy(p, c.rb[c.rr:c.rw])
		c.rr += n
	}
	if c.hdr.masked {
		c.maskPos = Mask(c.hdr.key, c.maskPos, p[:n])
	}
	c.frameLeft -= int64(n)
	return n, nil
}

// ioFail turns a socket error into the connection's read error. A deadline
// that expires outside a close handshake is returned as is (it wraps
// os.ErrDeadlineExceeded); anything else ends the connection.
func (c *Conn) ioFail(err error) error {
	if c.readErr != nil {
		return c.readErr
	}
	c.closeMu.Lock()
	sent := c.closeSent
	c.closeMu.Unlock()
	var out error
	switch {
	case sent != nil:
		out = &CloseError{Code: sent.Code, Reason: sent.Reason, err: err}
		c.CloseNow()
	case errors.Is(err, os.ErrDeadlineExceeded):
		out = err
	default:
		// The peer closed TCP (or it broke) without a close frame:
		// nothing more can arrive, so close our side now.
		out = &CloseError{Code: StatusAbnormalClosure, err: err}
		c.CloseNow()
	}
	c.readErr = out
	return out
}
