package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
	"unicode/utf8"
)

// Close performs the closing handshake of RFC 6455 §7: it sends a close
// frame with code and reason, waits (at most the close timeout, 3 s by
// default) for the peer's close frame, then closes TCP. A server closes TCP
// at once after the handshake; a client first gives the server the same
// time to close it (§7.1.1), so the TIME_WAIT state lands on the server.
//
// If a reader is running it receives the peer's close frame and its read
// returns a *CloseError; otherwise Close reads (and discards) frames itself
// until the close frame arrives. code must be one that may be sent (1000–
// 1003, 1007–1011, 3000–4999) or StatusNoStatusRcvd for an empty close
// frame; reason is at most 123 bytes of UTF-8.
func (c *Conn) Close(code StatusCode, reason string) error {
	if code != StatusNoStatusRcvd && !validWireCode(code) {
		return fmt.Errorf("wire: Close: status code %d may not be sent", code)
	}
	if code == StatusNoStatusRcvd && reason != "" {
		return errors.New("wire: Close: a reason needs a status code")
	}
	if len(reason) > maxControlPayload-2 {
		return errors.New("wire: Close: reason longer than 123 bytes")
	}
	if !utf8.ValidString(reason) {
		return errors.New("wire: Close: reason is not valid UTF-8")
	}
	first, err := c.sendClose(code, reason)
	timeout := time.Duration(c.closeTimeout.Load())
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	if !first {
		// Someone else is closing: wait for them to finish.
		select {
		case <-c.closed:
		case <-timer.C:
			c.CloseNow()
		}
		return fmt.Errorf("wire: Close: %w", net.ErrClosed)
	}
	if err != nil {
		c.CloseNow()
		return err
	}
	select {
	case c.readMu <- struct{}{}:
		// No reader is running: wait for the peer's close ourselves.
		c.awaitPeerClose()
		<-c.readMu
	case <-c.closed:
	case <-timer.C:
		c.CloseNow()
	}
	return nil
}

// CloseNow closes the TCP connection without a close handshake. It is safe
// to call more than once and from any goroutine.
func (c *Conn) CloseNow() error {
	err := fmt.Errorf("wire: CloseNow: %w", net.ErrClosed)
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		close(c.closed)
		err = c.nc.Close()
	})
	return err
}

// sendClose sends our close frame unless one was sent already; first
// reports whether this call sent it. It starts the close handshake's clock:
// reads now end at the close deadline.
func (c *Conn) sendClose(code StatusCode, reason string) (first bool, err error) {
	c.closeMu.Lock()
	if c.closeSent != nil {
		c.closeMu.Unlock()
		return false, nil
	}
	c.closeSent = &CloseError{Code: code, Reason: reason}
	deadline := time.Now().Add(time.Duration(c.closeTimeout.Load()))
	c.closeDeadln = deadline
	c.closeMu.Unlock()

	var payload [maxControlPayload]byte
	n := 0
	if code != StatusNoStatusRcvd {
		binary.BigEndian.PutUint16(payload[:2], uint16(code))
		n = 2 + copy(payload[2:], reason)
	}
	// The deadline goes on before taking the frame lock: a writer stuck
	// in a write to a peer that stopped reading then fails by the
	// deadline instead of holding the lock, and Close stays bounded.
	c.nc.SetWriteDeadline(deadline)
	c.wmu.Lock()
	c.closing.Store(true)
	err = c.writeFrameLocked(opClose, true, 0, payload[:n])
	c.unlockWrite()
	// Bound a reader blocked in the socket by the handshake's deadline.
	c.nc.SetReadDeadline(deadline)
	if err != nil {
		return true, fmt.Errorf("wire: failed to send close frame: %w", err)
	}
	return true, nil
}

// handleClose acts on the peer's close frame (RFC 6455 §5.5.1, §7.1.5):
// check it, answer it with the same code if we have not sent ours, and
// close TCP in the order the RFC asks for.
func (c *Conn) handleClose(p []byte) error {
	code := StatusNoStatusRcvd
	reason := ""
	switch {
	case len(p) == 1:
		return c.fail(StatusProtocolError, "close frame payload of 1 byte")
	case len(p) >= 2:
		code = StatusCode(binary.BigEndian.Uint16(p))
		if !validWireCode(code) {
			return c.fail(StatusProtocolError, "invalid close code "+code.String())
		}
		if !ValidUTF8(p[2:]) {
			return c.fail(StatusInvalidFramePayloadData, "invalid UTF-8 in close reason")
		}
		reason = string(p[2:])
	}
	c.closeMu.Lock()
	c.closeRecvd = true
	c.closeMu.Unlock()
	c.sendClose(c.answerTo(code, reason)) // a no-op if we closed first
	ce := &CloseError{Code: code, Reason: reason}
	c.readErr = ce
	c.finishClose()
	return ce
}

// finishClose closes TCP once both close frames have been exchanged. The
// server closes at once; the client waits (bounded) for the server's FIN
// first, as RFC 6455 §7.1.1 recommends.
func (c *Conn) finishClose() {
	if c.client {
		// Within the same close deadline as the handshake, so Close as
		// a whole stays bounded by one close timeout.
		c.closeMu.Lock()
		deadline := c.closeDeadln
		c.closeMu.Unlock()
		if deadline.IsZero() {
			deadline = time.Now().Add(time.Duration(c.closeTimeout.Load()))
		}
		c.nc.SetReadDeadline(deadline)
		var sink [64]byte
		for {
			if _, err := c.nc.Read(sink[:]); err != nil {
				break
			}
		}
	}
	c.CloseNow()
}

// fail fails the connection (RFC 6455 §7.1.7): it sends a close frame with
// code and reason, waits (bounded) for the peer's close frame while
// discarding everything else, and closes TCP. Reads return the
// *CloseError from then on.
func (c *Conn) fail(code StatusCode, reason string) error {
	if c.readErr != nil {
		return c.readErr
	}
	if c.failReason != nil {
		reason = sendableReason(c.failReason(code, reason), reason)
	}
	ce := &CloseError{Code: code, Reason: reason}
	c.readErr = ce
	if first, err := c.sendClose(code, reason); first && err == nil {
		c.awaitPeerClose()
	}
	c.CloseNow()
	return ce
}

// awaitPeerClose reads and discards frames, without judging them, until
// the peer's close frame, an error or the close deadline, then closes TCP.
// The caller holds the reader side.
func (c *Conn) awaitPeerClose() {
	c.closeMu.Lock()
	recvd := c.closeRecvd
	c.closeMu.Unlock()
	if !recvd {
		// The frame being read when the connection failed may be
		// partly unread: skip its remainder first.
		for {
			if c.frameLeft > 0 {
				if err := c.skipPayload(); err != nil {
					c.CloseNow()
					return
				}
			}
			if _, err := c.readHeader(); err != nil {
				c.CloseNow()
				return
			}
			if c.hdr.op == opClose {
				break
			}
		}
		c.closeMu.Lock()
		c.closeRecvd = true
		c.closeMu.Unlock()
	}
	if c.readErr == nil {
		c.closeMu.Lock()
		sent := c.closeSent
		c.closeMu.Unlock()
		c.readErr = &CloseError{Code: sent.Code, Reason: sent.Reason}
	}
	c.finishClose()
}

// skipPayload discards the rest of the current frame's payload.
func (c *Conn) skipPayload() error {
	for c.frameLeft > 0 {
		if c.rr == c.rw {
			if err := c.readMore(); err != nil {
				return err
			}
		}
		n := int64(c.rw - c.rr)
		if n > c.frameLeft {
			n = c.frameLeft
		}
		c.rr += int(n)
		c.frameLeft -= n
	}
	return nil
}

// answerTo returns the code and reason that answer the peer's close frame:
// the application's choice when it made one that may be sent, else the
// peer's code and reason echoed.
func (c *Conn) answerTo(code StatusCode, reason string) (StatusCode, string) {
	if c.closeAnswer != nil {
		ac, ar := c.closeAnswer(code, reason)
		if validWireCode(ac) {
			return ac, sendableReason(ar, "")
		}
	}
	return code, reason
}

// sendableReason returns reason if it fits a close frame (at most 123 bytes
// of UTF-8), else fallback.
func sendableReason(reason, fallback string) string {
	if len(reason) <= maxControlPayload-2 && utf8.ValidString(reason) {
		return reason
	}
	return fallback
}
