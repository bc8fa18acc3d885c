package server

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/wire"
)

// Leave reasons (PROTOCOL.md §3a).
const (
	leaveLeft         = "left"
	leaveTimeout      = "timeout"
	leaveDisconnected = "disconnected"
)

// closeCause is why a session ends, and how.
type closeCause struct {
	code   wire.StatusCode
	reason string
	leave  string // the leave reason its rooms see
	flush  bool   // write what is queued before the Close frame
	// afterLeave holds the Close frame until the session's rooms are left
	// and its name is freed (a leave message: the client may reconnect as
	// soon as it sees 1000 bye, and must find its name free, on every node).
	// Never set for causes decided outside the read loop (slow consumer,
	// shutdown): there the read loop ends only after the Close frame went
	// out, so waiting for run would stall until CloseTimeout.
	afterLeave bool
	send       bool // send a Close frame (false: the connection is closed or broken already)
}

// Read states of a session with a watched socket.
const (
	reading int32 = iota // a goroutine is reading (or the session is ending)
	parked               // no goroutine: waiting for the poller or the read deadline
)

// session is one WebSocket connection. One goroutine at a time reads and
// handles its messages, so a client's messages take effect in order. When
// its socket can be watched (plain TCP on Linux), that goroutine ends once
// everything that arrived is handled, and the poller (readiness.go) starts
// a new one when more arrives: an idle session has no goroutine at all.
// Otherwise (TLS, whose records wire cannot see into, or no poller) one
// goroutine stays blocked in the read. Writes are made by a writer
// goroutine that runs only while there is something to write (see
// outQueue).
type session struct {
	srv    *Server
	conn   *wire.Conn
	id     string
	remote string
	opened time.Time
	q      *outQueue
	lim    *limiter
	typing *typingTracker

	once  sync.Once
	cause closeCause // written before the queue is closed
	// wg counts the writer that ends the connection (added in newSession,
	// so a close that comes before run cannot reach zero early) and a slow
	// consumer's early leave.
	wg sync.WaitGroup

	pingMu      sync.Mutex // guards pingTimer and pingStopped
	pingTimer   Timer
	pingStopped bool

	joined bool // read loop only

	flood         floodMeter // with coalescing: whether writes wait for rounds
	writeDeadline int64      // monoNow of the socket's write deadline (writers only)

	// The read side when the socket is watched (watch != nil). The fields
	// below state are touched only by the goroutine that reads; a wake-up
	// hands them on through state.
	watch        watcher
	state        atomic.Int32
	joinDeadline time.Time   // before the first join: when the join timeout ends
	parkedUntil  time.Time   // while parked: when the read phase times out (zero: never)
	readTimer    *time.Timer // fires at parkedUntil

	leaveMu  sync.Mutex    // serializes leaveRooms
	released chan struct{} // see releasedChan; guarded by mu

	mu    sync.Mutex // guards name and rooms
	name  string
	rooms []string // a slice, not a map: a handful of rooms is usual, and a map costs ~200 bytes

}

func newSession(srv *Server, conn *wire.Conn, remote string) *session {
	s := &session{
		srv:    srv,
		conn:   conn,
		id:     srv.ids.Next(),
		remote: remote,
		opened: time.Now(),
		q:      newOutQueue(srv.cfg.QueueBytes, &srv.highWater, nil),
		lim:    newLimiter(srv.cfg.RatePerSec, srv.cfg.RateBurst, srv.cfg.FloodLimit, srv.cfg.FloodWindow, srv.clock),
	}
	s.q.start = s.startWriter
	if c := srv.coalesce; c != nil {
		s.q.shouldDefer = s.flooded
		s.q.deferTo = func() { c.wait(s) }
	}
	s.wg.Add(1)
	s.typing = newTypingTracker(srv.clock, srv.cfg.TypingExpiry, srv.cfg.TypingThrottle, s.relayTyping)
	return s
}

// run starts serving the connection: it arms the join timeout and the first
// ping, registers the socket with the poller when it can be watched, and
// reads what the client has sent. The session goes on in whichever
// goroutine reads next, and end finishes it.
func (s *session) run() {
	s.srv.log.Info("connection opened", "remote", s.remote, "session", s.id,
		"subprotocol", s.conn.Subprotocol(), "compression", s.conn.CompressionEnabled())
	// Before the first successful join only the join timeout applies, and it
	// is not extended by anything the client sends.
	s.joinDeadline = time.Now().Add(s.srv.cfg.JoinTimeout)
	_ = s.conn.SetReadDeadline(s.joinDeadline)
	s.armPing()
	if sc, ok := s.conn.NetConn().(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			if w, err := watchSocket(rc, s.wake); err == nil {
				s.watch = w
				s.readTimer = time.AfterFunc(time.Duration(math.MaxInt64), s.deadlineHit)
			} else if !errors.Is(err, errNoPoller) {
				s.srv.log.Warn("cannot watch the socket; reading in a goroutine", "session", s.id, "err", err)
			}
		}
	}
	s.serve(false)
}

// serve reads and handles messages until the session parks (nothing more
// to read on a watched socket: the goroutine returns) or ends. readable
// says the poller has just reported the socket readable.
func (s *session) serve(readable bool) {
	c, isParked := s.readLoop(readable)
	if !isParked {
		s.end(c)
	}
}

// park hands the session to the poller and the read deadline's timer and
// reports true; the caller's goroutine then returns. It reports false when
// the socket cannot be armed (it is closed) and nothing else has taken the
// session meanwhile: the caller reads on, and meets the error.
func (s *session) park() bool {
	// Everything is decided before the state says parked: from then on a
	// wake-up may hand the session to another goroutine at any moment.
	var until time.Time
	if !s.joined {
		until = s.joinDeadline
	} else if d := s.srv.cfg.IdleTimeout; d > 0 {
		// wire's idle timeout counts from the last read from the socket,
		// which has just happened.
		until = time.Now().Add(d)
	}
	s.parkedUntil = until
	s.state.Store(parked)
	if !until.IsZero() {
		// A Reset that lands after a later park's (this goroutine is late)
		// only makes the timer fire early; deadlineHit checks.
		s.readTimer.Reset(time.Until(until))
	}
	if err := s.watch.arm(); err != nil {
		return !s.state.CompareAndSwap(parked, reading)
	}
	return true
}

// wake is the poller's call: the socket is readable (or broken, or closed
// by the writer, which calls it too). It starts a goroutine to read unless
// one is reading already.
func (s *session) wake() {
	if s.state.CompareAndSwap(parked, reading) {
		go s.serve(true)
	}
}

// deadlineHit runs (on the timer's goroutine) when a parked session's read
// deadline may have passed.
func (s *session) deadlineHit() {
	if !s.state.CompareAndSwap(parked, reading) {
		return
	}
	if s.parkedUntil.IsZero() || time.Now().Before(s.parkedUntil) {
		// The timer of an earlier wait, late: wait on.
		s.serve(false)
		return
	}
	// The join or idle timeout has passed with nothing read, as a blocked
	// read would have reported it.
	s.end(s.readFailure(os.ErrDeadlineExceeded))
}

// end finishes the session with cause c (the first cause given wins): the
// rooms learn, the name is freed, and once the writer has sent the Close
// frame the connection is closed and forgotten.
func (s *session) end(c closeCause) {
	if s.readTimer != nil {
		s.readTimer.Stop()
	}
	if s.watch != nil {
		s.watch.stop()
	}
	s.close(c)
	// Tell the rooms now, not after the close handshake: the members should
	// not wait up to CloseTimeout to learn that someone left. The queue is
	// closed already, so the leaver gets none of its own leave events.
	s.leaveRooms(s.cause.leave)
	// Free the name as soon as the rooms know, not after the close
	// handshake: a client that leaves and reconnects at once must find its
	// name free, not name_taken for up to CloseTimeout.
	name := s.myName()
	if s.joined {
		s.srv.unregisterName(s)
		ctx, cancel := s.srv.ctx()
		if err := s.srv.broker.ReleaseName(ctx, name, s.id); err != nil {
			s.srv.log.Error("releasing name", "name", name, "err", err)
		}
		cancel()
	}
	s.mu.Lock()
	if s.released == nil {
		s.released = closedChan // nobody waits: no channel needed
	} else {
		close(s.released)
	}
	s.mu.Unlock()
	s.wg.Wait()
	_ = s.conn.CloseNow()
	s.srv.unregister(s)
	s.srv.m.closed(int(s.cause.code))
	s.srv.log.Info("connection closed", "remote", s.remote, "session", s.id, "name", name,
		"duration", time.Since(s.opened).Round(time.Millisecond), "code", int(s.cause.code),
		"reason", s.cause.reason, "queue_high_water", s.q.highWater())
	s.srv.m.connections.Dec()
	s.srv.conns.Done()
}

// closedChan is a closed channel: a session's released once it is.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// releasedChan returns a channel closed once the session's rooms are left
// and its name is freed. It is made only when someone waits for it (a
// leave message's Close frame), so a session does not carry one.
func (s *session) releasedChan() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released == nil {
		s.released = make(chan struct{})
	}
	return s.released
}

// cut closes the connection without a handshake and lets a parked session
// find out.
func (s *session) cut() {
	_ = s.conn.CloseNow()
	s.wake()
}

// readLoop reads and handles messages until the connection ends, and says
// why, or until a watched socket has nothing more to read and the session
// has parked (isParked). It waits for the next message holding no buffer
// (NextReader, or NextReaderReady on a watched socket), then reads the
// message into a buffer borrowed from the server's pool and gives it back
// once the message is handled: an idle connection holds no read buffer.
// Nothing that handle starts may keep msg (it decodes into strings).
func (s *session) readLoop(readable bool) (c closeCause, isParked bool) {
	for {
		var typ wire.MessageType
		var r io.Reader
		var err error
		if s.watch == nil {
			typ, r, err = s.conn.NextReader()
		} else {
			if !readable && s.conn.Buffered() == 0 && s.park() {
				return closeCause{}, true
			}
			readable = false
			typ, r, err = s.conn.NextReaderReady()
			if errors.Is(err, wire.ErrNotReady) {
				continue // control frames only: wait for more
			}
		}
		if err != nil {
			return s.readFailure(err), false
		}
		bp := s.srv.bufs.Get().(*[]byte)
		msg, err := readAll(r, (*bp)[:0], !s.conn.CompressionEnabled())
		var c *closeCause
		if err != nil {
			f := s.readFailure(err)
			c = &f
		} else {
			c = s.dispatch(typ, msg)
		}
		if cap(msg) <= 64<<10 { // as encode: a rare huge buffer is not kept
			*bp = msg[:0]
			s.srv.bufs.Put(bp)
		}
		if c != nil {
			return *c, false
		}
	}
}

// readAll appends what is left of r to buf. With probe, a full buffer is
// first tried with an empty read, which wire answers without blocking for an
// uncompressed message (as its ReadMessageInto does), so a message that fits
// exactly does not grow the buffer; a compressed one may need the inflater
// to run, so it is not probed.
func readAll(r io.Reader, buf []byte, probe bool) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if probe {
				if _, err := r.Read(buf[len(buf):]); err == io.EOF {
					return buf, nil
				} else if err != nil {
					return buf, err
				}
			}
			buf = slices.Grow(buf, max(512, len(buf)))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// dispatch handles one message read in full; a non-nil result ends the
// session.
func (s *session) dispatch(typ wire.MessageType, msg []byte) *closeCause {
	s.srv.m.bytesIn.Add(float64(len(msg)))
	if typ != wire.TextMessage {
		return &closeCause{code: wire.StatusUnsupportedData, reason: "binary_unsupported", leave: leaveDisconnected, send: true}
	}
	if s.srv.stopping.Load() {
		// Shutting down: messages arriving now are not accepted.
		return nil
	}
	if ok, flooding := s.lim.allow(); !ok {
		if flooding {
			return &closeCause{code: wire.StatusPolicyViolation, reason: "rate_limited", leave: leaveDisconnected, send: true}
		}
		s.sendError(&api.Error{Code: api.CodeRateLimited, Ref: api.PeekRef(msg),
			Message: "too many messages: slow down (the limit is in the welcome message)"})
		return nil
	}
	return s.handleSafely(msg)
}

// handleSafely is handle with a fault barrier: a bug that panics while one
// connection's message is handled closes that connection with 1011, and the
// server keeps serving the others.
func (s *session) handleSafely(msg []byte) (c *closeCause) {
	defer func() {
		if p := recover(); p != nil {
			s.srv.log.Error("internal error handling a message", "session", s.id, "panic", p,
				"stack", string(debug.Stack()))
			c = &closeCause{code: wire.StatusInternalError, reason: "internal", leave: leaveDisconnected, send: true}
		}
	}()
	return s.handle(msg)
}

// readFailure maps a read error to how the session ends.
func (s *session) readFailure(err error) closeCause {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if s.joined {
			return closeCause{code: wire.StatusGoingAway, reason: "idle_timeout", leave: leaveTimeout, send: true}
		}
		return closeCause{code: wire.StatusPolicyViolation, reason: "join_timeout", leave: leaveDisconnected, send: true}
	}
	var ce *wire.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case wire.StatusProtocolError, wire.StatusInvalidFramePayloadData, wire.StatusMessageTooBig, wire.StatusInternalError:
			// wire detected a violation and has sent this code itself.
			return closeCause{code: ce.Code, reason: ce.Reason, leave: leaveDisconnected}
		case wire.StatusAbnormalClosure, wire.StatusTLSHandshake:
			// The connection broke (EOF, reset, half-close) without a Close frame.
			return closeCause{code: ce.Code, reason: "connection lost", leave: leaveDisconnected}
		}
		// The client closed: it left.
		return closeCause{code: ce.Code, reason: ce.Reason, leave: leaveLeft}
	}
	// Network loss, reset, or EOF without a Close frame.
	return closeCause{code: wire.StatusAbnormalClosure, reason: "connection lost", leave: leaveDisconnected}
}

// close starts ending the session; the first cause wins. It never blocks, so
// a sender fanning out can call it for a slow member.
func (s *session) close(c closeCause) {
	s.once.Do(func() { s.closeLocked(c) })
}

// closeLocked is close's body; it runs inside s.once.
func (s *session) closeLocked(c closeCause) {
	s.cause = c
	s.q.close()
}

// endedCtx has ended already: Ping with it sends the ping and does not wait
// for the pong (the read loop takes the pong, and like every other byte it
// pushes the idle deadline forward, so a peer that never answers hits the
// idle timeout).
var endedCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// startWriter runs a writer; the queue calls it when work arrives and no
// writer is running (or, with coalescing, when the round comes).
func (s *session) startWriter() { go s.writer() }

// flooded is the queue's shouldDefer with coalescing: a flooded connection
// waits for the coalescer's next round, so that what arrives meanwhile goes
// out in the same write.
func (s *session) flooded() bool {
	return s.srv.coalesce.flooded(&s.flood, monoNow())
}

// writer writes what the queue hands it, one writev per batch, and the pings
// that came due; it exits when there is nothing left to do. The writer that
// finds the queue closed ends the connection.
func (s *session) writer() {
	for {
		batch, ping, closed, ok := s.q.next()
		if !ok {
			return
		}
		if closed {
			s.finish()
			return
		}
		frames := len(batch)
		if err := s.write(batch); err != nil {
			s.close(closeCause{code: wire.StatusAbnormalClosure, reason: "write failed", leave: leaveDisconnected})
			_ = s.conn.CloseNow()
			continue // next reports the close: finish
		}
		if ping {
			s.renewWriteDeadline()
			_ = s.conn.Ping(endedCtx, nil)
			s.armPing()
		}
		if c := s.srv.coalesce; c != nil {
			now := monoNow()
			c.record(&s.flood, frames, now)
			if c.flooded(&s.flood, now) && s.q.yield() {
				// More arrived during the write: it waits for the
				// round with whatever else arrives until then.
				return
			}
		}
	}
}

// finish ends the connection after close: flush what is queued if the cause
// asks for it, send the Close frame, and let run go on.
func (s *session) finish() {
	defer s.wg.Done()
	s.stopPing()
	c := s.cause
	if c.flush {
		if err := s.flush(); err != nil {
			c.send = false
		}
	}
	if c.afterLeave {
		select {
		case <-s.releasedChan():
		case <-time.After(s.srv.cfg.CloseTimeout):
		}
	}
	if c.send {
		if err := s.conn.Close(c.code, c.reason); err != nil {
			s.srv.log.Debug("close handshake", "session", s.id, "err", err)
		}
	}
	s.cut()
}

// armPing schedules the next ping PingInterval from now, unless the session
// has ended. A timer, not a goroutine, waits for it.
func (s *session) armPing() {
	s.pingMu.Lock()
	defer s.pingMu.Unlock()
	if !s.pingStopped {
		s.pingTimer = s.srv.clock.AfterFunc(s.srv.cfg.PingInterval, s.q.pingDue)
	}
}

// stopPing cancels the pending ping for good.
func (s *session) stopPing() {
	s.pingMu.Lock()
	defer s.pingMu.Unlock()
	s.pingStopped = true
	if s.pingTimer != nil {
		s.pingTimer.Stop()
	}
}

// renewWriteDeadline gives the next write WriteTimeout, within 1 %: the
// socket's deadline is moved only when that would move it by more than a
// hundredth of WriteTimeout, because each move is a runtime timer update
// (8 % of chatd's CPU in a fan-out flood when done before every write).
// Writers run one at a time, so writeDeadline needs no lock.
func (s *session) renewWriteDeadline() {
	now := monoNow()
	timeout := int64(s.srv.cfg.WriteTimeout)
	if now+timeout-s.writeDeadline <= timeout/100 {
		return
	}
	s.writeDeadline = now + timeout
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
}

// flush writes everything queued so far.
func (s *session) flush() error {
	return s.write(s.q.take())
}

// write writes batch and releases its bytes from the queue.
func (s *session) write(batch []*wire.PreparedMessage) error {
	if len(batch) == 0 {
		s.q.done(batch)
		return nil
	}
	s.renewWriteDeadline()
	err := s.conn.WriteBatch(batch)
	frames := len(batch)
	n := s.q.done(batch)
	if err == nil {
		s.srv.m.bytesOut.Add(float64(n))
		s.srv.m.writes.Inc()
		s.srv.m.framesOut.Add(float64(frames))
	}
	return err
}

// send queues a prepared frame. A queue that would overflow closes the
// client (slow_consumer): it never blocks the caller and never drops a
// message silently while the client stays connected.
func (s *session) send(m *wire.PreparedMessage) bool { return s.sendAs(m, false) }

// sendNow is send for an answer the client waits for: it is written at once
// even when the connection's writes wait for coalescing rounds.
func (s *session) sendNow(m *wire.PreparedMessage) bool { return s.sendAs(m, true) }

// sendAs is send and sendNow.
func (s *session) sendAs(m *wire.PreparedMessage, now bool) bool {
	push := s.q.push
	if now {
		push = s.q.pushNow
	}
	switch push(m) {
	case pushed:
		return true
	case overflow:
		first := false
		s.once.Do(func() {
			first = true
			// Added inside once, so run's close (also once) orders it
			// before run's wg.Wait.
			s.wg.Add(1)
			s.closeLocked(closeCause{code: wire.StatusPolicyViolation, reason: "slow_consumer", leave: leaveDisconnected, send: true})
		})
		if first {
			s.srv.m.slowConsumers.Inc()
			s.srv.log.Warn("slow consumer", "remote", s.remote, "session", s.id, "queue_bytes", s.srv.cfg.QueueBytes)
			// The read loop only ends once the Close handshake with this
			// client (which is not reading) has run its course; tell the
			// rooms now. We are inside a broker callback, so not from here.
			go func() {
				defer s.wg.Done()
				s.leaveRooms(leaveDisconnected)
			}()
		}
	}
	return false
}

// sendJSON frames one envelope for this session alone: an answer to its
// request (welcome, presence, its own message's copy with ref, an error, a
// pm's confirmation) or a pm or typing indicator addressed to it. None of
// these waits for a coalescing round.
func (s *session) sendJSON(typ string, b []byte) {
	m, err := wire.NewPreparedMessage(wire.TextMessage, b)
	if err != nil {
		s.srv.log.Error("framing a message", "type", typ, "err", err)
		return
	}
	if s.sendNow(m) {
		s.srv.m.sent(typ, 1)
	}
}

// sendError answers the client with an error envelope.
func (s *session) sendError(e *api.Error) {
	s.srv.m.errorSent(e.Code)
	s.srv.encode(func(b []byte) []byte {
		return api.AppendError(b, &api.ErrorEvent{TS: s.srv.clock.Now(), Err: e})
	}, func(b []byte) { s.sendJSON("error", b) })
}

// inRoom reports whether the session is a member of room.
func (s *session) inRoom(room string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.rooms, room)
}

// leaveRooms ends the session's typing indicators and leaves every room with
// reason. It runs when the session ends (and early on Shutdown, so that the
// leave events reach members that are still connected).
func (s *session) leaveRooms(reason string) {
	// Serialized, so that when a second call returns (run's, after a slow
	// consumer's early one) every leave has been published and the name
	// may be freed.
	s.leaveMu.Lock()
	defer s.leaveMu.Unlock()
	s.typing.endAll()
	s.mu.Lock()
	name := s.name
	rooms := s.rooms
	s.rooms = nil
	s.mu.Unlock()
	for _, room := range rooms {
		ctx, cancel := s.srv.ctx()
		if err := s.srv.broker.Leave(ctx, room, name, s.id, reason, ""); err != nil && !errors.Is(err, ErrNotMember) {
			s.srv.log.Error("leaving room", "room", room, "name", name, "err", err)
		}
		cancel()
	}
}

// relayTyping is the typing tracker's way out to the broker.
func (s *session) relayTyping(room, to string, active bool) error {
	s.mu.Lock()
	name := s.name
	s.mu.Unlock()
	ctx, cancel := s.srv.ctx()
	defer cancel()
	return s.srv.broker.Typing(ctx, TypingRequest{From: name, Session: s.id, Room: room, To: to, Active: active})
}
