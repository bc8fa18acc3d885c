package server

import (
	"context"
	"errors"
	"os"
	"runtime/debug"
	"sync"
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
	send   bool   // send a Close frame (false: the connection is closed or broken already)
}

// session is one WebSocket connection. Its read loop is the only goroutine
// that handles its messages, so a client's messages take effect in order.
type session struct {
	srv    *Server
	conn   *wire.Conn
	id     string
	remote string
	opened time.Time
	q      *outQueue
	lim    *limiter
	typing *typingTracker

	closing chan struct{}
	once    sync.Once
	cause   closeCause // written before closing is closed
	wg      sync.WaitGroup

	joined bool // read loop only

	mu    sync.Mutex // guards name and rooms
	name  string
	rooms map[string]struct{}
}

func newSession(srv *Server, conn *wire.Conn, remote string) *session {
	s := &session{
		srv:     srv,
		conn:    conn,
		id:      srv.ids.Next(),
		remote:  remote,
		opened:  time.Now(),
		q:       newOutQueue(srv.cfg.QueueBytes, &srv.highWater),
		lim:     newLimiter(srv.cfg.RatePerSec, srv.cfg.RateBurst, srv.cfg.FloodLimit, srv.cfg.FloodWindow, srv.clock),
		closing: make(chan struct{}),
		rooms:   make(map[string]struct{}),
	}
	s.typing = newTypingTracker(srv.clock, srv.cfg.TypingExpiry, srv.cfg.TypingThrottle, s.relayTyping)
	return s
}

// run serves the connection until it ends, then tells the rooms.
func (s *session) run() {
	s.srv.log.Info("connection opened", "remote", s.remote, "session", s.id,
		"subprotocol", s.conn.Subprotocol(), "compression", s.conn.CompressionEnabled())
	// Before the first successful join only the join timeout applies, and it
	// is not extended by anything the client sends.
	_ = s.conn.SetReadDeadline(time.Now().Add(s.srv.cfg.JoinTimeout))
	s.conn.SetCloseTimeout(s.srv.cfg.CloseTimeout)
	s.wg.Add(1)
	go s.writeLoop()

	s.close(s.readLoop())
	// Tell the rooms now, not after the close handshake: the members should
	// not wait up to CloseTimeout to learn that someone left. The queue is
	// closed already, so the leaver gets none of its own leave events.
	s.leaveRooms(s.cause.leave)
	s.wg.Wait()
	_ = s.conn.CloseNow()

	s.mu.Lock()
	name := s.name
	s.mu.Unlock()
	if s.joined {
		s.srv.unregisterName(s)
		ctx, cancel := s.srv.ctx()
		if err := s.srv.broker.ReleaseName(ctx, name, s.id); err != nil {
			s.srv.log.Error("releasing name", "name", name, "err", err)
		}
		cancel()
	}
	s.srv.unregister(s)
	s.srv.m.closed(int(s.cause.code))
	s.srv.log.Info("connection closed", "remote", s.remote, "session", s.id, "name", name,
		"duration", time.Since(s.opened).Round(time.Millisecond), "code", int(s.cause.code),
		"reason", s.cause.reason, "queue_high_water", s.q.highWater())
}

// readLoop reads and handles messages until the connection ends, and says why.
func (s *session) readLoop() closeCause {
	buf := make([]byte, 0, 512) // grows to the largest message read
	for {
		typ, msg, err := s.conn.ReadMessageInto(buf[:0])
		if err != nil {
			return s.readFailure(err)
		}
		buf = msg[:0]
		s.srv.m.bytesIn.Add(float64(len(msg)))
		if typ != wire.TextMessage {
			return closeCause{code: wire.StatusUnsupportedData, reason: "binary_unsupported", leave: leaveDisconnected, send: true}
		}
		if s.srv.stopping.Load() {
			// Shutting down: messages arriving now are not accepted.
			continue
		}
		if ok, flooding := s.lim.allow(); !ok {
			if flooding {
				return closeCause{code: wire.StatusPolicyViolation, reason: "rate_limited", leave: leaveDisconnected, send: true}
			}
			s.sendError(&api.Error{Code: api.CodeRateLimited, Ref: api.PeekRef(msg),
				Message: "too many messages: slow down (the limit is in the welcome message)"})
			continue
		}
		if c := s.handleSafely(msg); c != nil {
			return *c
		}
	}
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
	close(s.closing)
}

// writeLoop drains the outbound queue, one writev per batch, pings every
// PingInterval, and sends the Close frame when the session ends. Pinging
// here rather than in a goroutine of its own keeps a connection at two
// goroutines; the pong is read by the read loop, and like every other byte
// it pushes the idle deadline forward (a peer that never answers hits the
// idle timeout).
func (s *session) writeLoop() {
	defer s.wg.Done()
	pingDue := make(chan struct{}, 1)
	every := s.srv.cfg.PingInterval
	arm := func() Timer {
		return s.srv.clock.AfterFunc(every, func() {
			select {
			case pingDue <- struct{}{}:
			default:
			}
		})
	}
	pingTimer := arm()
	defer func() { pingTimer.Stop() }()
	// Ping sends the frame, then waits for the pong until its context ends:
	// with a context that has ended already it only sends.
	sendOnly, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		select {
		case <-s.q.wake:
			if err := s.flush(); err != nil {
				s.close(closeCause{code: wire.StatusAbnormalClosure, reason: "write failed", leave: leaveDisconnected})
				_ = s.conn.CloseNow()
				return
			}
		case <-pingDue:
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
			_ = s.conn.Ping(sendOnly, nil)
			pingTimer = arm()
		case <-s.closing:
			c := s.cause
			if c.flush {
				if err := s.flush(); err != nil {
					c.send = false
				}
			}
			if c.send {
				if err := s.conn.Close(c.code, c.reason); err != nil {
					s.srv.log.Debug("close handshake", "session", s.id, "err", err)
				}
			}
			_ = s.conn.CloseNow()
			return
		}
	}
}

// flush writes everything queued so far.
func (s *session) flush() error {
	batch := s.q.take()
	if len(batch) == 0 {
		s.q.done(batch)
		return nil
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
	err := s.conn.WriteBatch(batch)
	n := s.q.done(batch)
	if err == nil {
		s.srv.m.bytesOut.Add(float64(n))
	}
	return err
}

// send queues a prepared frame. A queue that would overflow closes the
// client (slow_consumer): it never blocks the caller and never drops a
// message silently while the client stays connected.
func (s *session) send(m *wire.PreparedMessage) bool {
	switch s.q.push(m) {
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

// sendJSON frames one envelope for this session alone.
func (s *session) sendJSON(typ string, b []byte) {
	m, err := wire.NewPreparedMessage(wire.TextMessage, b)
	if err != nil {
		s.srv.log.Error("framing a message", "type", typ, "err", err)
		return
	}
	if s.send(m) {
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
	_, ok := s.rooms[room]
	return ok
}

// leaveRooms ends the session's typing indicators and leaves every room with
// reason. It runs when the session ends (and early on Shutdown, so that the
// leave events reach members that are still connected).
func (s *session) leaveRooms(reason string) {
	s.typing.endAll()
	s.mu.Lock()
	name := s.name
	rooms := s.rooms
	s.rooms = make(map[string]struct{})
	s.mu.Unlock()
	for room := range rooms {
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
