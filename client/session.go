package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/wire"
)

// Session is one user's presence on a chatd server, across reconnects. Its
// methods are safe for concurrent use.
type Session struct {
	url  string
	opts Options
	q    *eventQueue

	ctx     context.Context // canceled by Close: stops backoff waits and connect attempts
	cancel  context.CancelFunc
	runDone chan struct{}

	writeMu sync.Mutex // one writer at a time on the current connection

	mu      sync.Mutex
	conn    *wire.Conn // nil while not connected; requests are refused then
	name    string
	welcome *api.Welcome
	rooms   map[string]*roomState // rooms the server confirmed
	// strayLast is the last chat id delivered for a room not (yet) in
	// rooms (a join's replay arrives before its join event), so that such a
	// chat is never delivered twice either.
	strayLast map[string]string
	pending   map[string]*call // by ref
	refSeq    uint64
	limiter   *rate.Limiter
	closing   bool
	closed    bool
	overflow  bool
	err       error

	tmu    sync.Mutex // typing state; taken before mu, never after
	typing map[Target]*typingState
}

type callKind int

const (
	kindChat callKind = iota + 1
	kindPM
	kindJoin
	kindLeave
	kindWho
)

type result struct {
	ev  any
	err error
}

type call struct {
	kind     callKind
	op       string // for error messages: "chat #lobby"
	room     string
	ref      string
	internal bool          // a join sent by connect (first join or re-join), not by a caller
	already  bool          // join of a room the session is in: the presence is the whole answer
	presence *api.Presence // join: the member list, kept until the join event completes the call
	done     chan result   // capacity 1
}

type roomState struct {
	last     string       // the highest id delivered in this room (chat, join or leave)
	lastChat string       // the highest chat id delivered: what the server's history holds
	rejoin   *rejoinState // set while a reconnect's replay of this room is collected
}

// since is the position to resume from. Only chats are kept in the history,
// and the room's events reach us in id order without gaps, so no chat exists
// between the last chat we saw and the last id we saw: the last chat's id
// asks for exactly the same messages, and a server that looks the id up in
// its history finds it (an id it does not know, such as a join's, may make
// it replay everything it keeps, all of it duplicates).
func (rs *roomState) since() string {
	if rs.lastChat != "" {
		return rs.lastChat
	}
	return rs.last
}

type rejoinState struct {
	since     string
	serverNow time.Time
	sawOld    bool
	buf       []Event
}

// Dial connects to a chatd server at url (ws:// or wss://, path /ws), claims
// opts.Name with the first room and joins the others. It returns when every
// room is joined, or the first error: a *ConnectError (network, TLS, HTTP), a
// *ServerError (e.g. name_taken, unauthorized), a *CloseError, or ctx's error.
// ctx bounds only the dial; the session lives until Close or a terminal failure.
func Dial(ctx context.Context, url string, opts Options) (*Session, error) {
	opts = opts.withDefaults()
	if !api.ValidName(opts.Name) {
		return nil, fmt.Errorf("client: invalid name %q: 1–32 letters, digits, _ - . starting with a letter or digit", opts.Name)
	}
	for _, r := range opts.Rooms {
		if !api.ValidRoom(r) {
			return nil, fmt.Errorf("client: invalid room %q: 1–64 lowercase letters, digits, _ - starting with a letter or digit", r)
		}
	}
	s := &Session{
		url:     url,
		opts:    opts,
		q:       newEventQueue(opts.MaxQueuedEvents),
		runDone: make(chan struct{}),
		name:    opts.Name,
		rooms:   make(map[string]*roomState),
		pending: make(map[string]*call),
		typing:  make(map[Target]*typingState),
	}
	s.emit(Event{Value: &StateChange{State: StateConnecting}})
	conn, err := s.connect(ctx, slices.Clone(opts.Rooms))
	if err != nil {
		s.q.finish(Event{Value: &StateChange{State: StateClosed, Err: err}}, 0)
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.publish(conn)
	go s.run(conn)
	return s, nil
}

// Events returns the channel on which every event arrives, in order; it is
// closed after the final StateClosed change (see the package doc).
func (s *Session) Events() <-chan Event { return s.q.out }

// Name returns the session's name as the server shows it.
func (s *Session) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// Welcome returns the latest welcome (a new one after each reconnect).
func (s *Session) Welcome() *api.Welcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.welcome
}

// Rooms returns the rooms the session is in, sorted.
func (s *Session) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := make([]string, 0, len(s.rooms))
	for r := range s.rooms {
		rs = append(rs, r)
	}
	sort.Strings(rs)
	return rs
}

// Err returns why the session ended (nil while it runs and after Close).
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close leaves every room, ends the session (the server answers with close
// 1000) and waits, at most CloseTimeout, for the server's goodbye. Events
// already queued are still delivered, followed by StateClosed.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		<-s.runDone
		return nil
	}
	s.closing = true
	conn := s.conn
	s.mu.Unlock()
	s.stopAllTyping()
	s.cancel()
	if conn != nil {
		t := time.AfterFunc(s.opts.CloseTimeout, func() { _ = conn.CloseNow() })
		defer t.Stop()
		b, _ := encode(leaveMsg{Type: "leave"})
		if err := s.write(conn, b); err != nil {
			_ = conn.CloseNow()
		}
	}
	<-s.runDone
	return nil
}

// connect dials and joins rooms (the first with the name). On a reconnect
// the rooms keep their state and are joined with since = their last id.
func (s *Session) connect(ctx context.Context, rooms []string) (_ *wire.Conn, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ConnectTimeout)
	defer cancel()
	dopts := &wire.DialOptions{
		TLSConfig:    s.opts.TLSConfig,
		Header:       s.opts.Header,
		Subprotocols: []string{Subprotocol},
	}
	if s.opts.Compression {
		dopts.Compression = &wire.CompressionOptions{}
	}
	conn, resp, err := wire.Dial(ctx, s.url, dopts)
	if err != nil {
		ce := &ConnectError{URL: s.url, Err: err}
		if resp != nil {
			ce.Status = resp.StatusCode
			if resp.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
				_ = resp.Body.Close()
				ce.Body = strings.TrimSpace(string(b))
			}
		}
		return nil, ce
	}
	conn.SetIdleTimeout(s.opts.ReadIdleTimeout)
	stop := context.AfterFunc(ctx, func() { _ = conn.CloseNow() })
	var calls []*call
	defer func() {
		stopped := stop()
		s.mu.Lock()
		for _, c := range calls {
			delete(s.pending, c.ref)
		}
		if err != nil {
			for _, rs := range s.rooms {
				rs.rejoin = nil
			}
		}
		s.mu.Unlock()
		if err == nil && !stopped {
			err = ctx.Err() // the connection was closed under us just now
		}
		if err != nil {
			_ = conn.CloseNow()
			if ctx.Err() != nil && !isServerRefusal(err) {
				err = fmt.Errorf("connect %s: %w", s.url, ctx.Err())
			}
		}
	}()

	join := func(room string, first bool) (*call, error) {
		s.mu.Lock()
		s.refSeq++
		c := &call{kind: kindJoin, op: "join #" + room, room: room, ref: strconv.FormatUint(s.refSeq, 10),
			internal: true, done: make(chan result, 1)}
		m := joinMsg{Type: "join", Room: room, Ref: c.ref}
		if first {
			m.Name, m.Token = s.opts.Name, s.opts.Token
		}
		if rs := s.rooms[room]; rs != nil && rs.since() != "" {
			m.Since = rs.since()
			rs.rejoin = &rejoinState{since: m.Since}
		}
		s.pending[c.ref] = c
		calls = append(calls, c)
		s.mu.Unlock()
		b, err := encode(m)
		if err != nil {
			return nil, err
		}
		return c, s.write(conn, b)
	}

	first, err := join(rooms[0], true)
	if err != nil {
		return nil, err
	}
	if _, err := s.await(conn, first); err != nil {
		return nil, err
	}
	// The name is ours now: join the other rooms in one go, then collect the answers.
	rest := make([]*call, 0, len(rooms)-1)
	for _, r := range rooms[1:] {
		c, err := join(r, false)
		if err != nil {
			return nil, err
		}
		rest = append(rest, c)
	}
	for _, c := range rest {
		if _, err := s.await(conn, c); err != nil {
			var se *ServerError
			if !errors.As(err, &se) || s.isFirstConnect() {
				return nil, err
			}
			// A room refused on a re-join is dropped; the error was delivered as an event.
			s.mu.Lock()
			delete(s.rooms, c.room)
			s.mu.Unlock()
		}
	}
	return conn, nil
}

func (s *Session) isFirstConnect() bool { return s.ctx == nil }

// isServerRefusal reports errors that say more than "the time ran out".
func isServerRefusal(err error) bool {
	var se *ServerError
	var ce *CloseError
	return errors.As(err, &se) || errors.As(err, &ce)
}

// await reads and dispatches messages on conn (before it is handed to the run
// loop) until c is answered.
func (s *Session) await(conn *wire.Conn, c *call) (any, error) {
	for {
		select {
		case r := <-c.done:
			return r.ev, r.err
		default:
		}
		if err := s.readOne(conn); err != nil {
			return nil, err
		}
	}
}

// readOne reads one message and dispatches it; it turns a close into a *CloseError.
func (s *Session) readOne(conn *wire.Conn) error {
	t, b, err := conn.ReadMessage()
	if err != nil {
		var we *wire.CloseError
		if errors.As(err, &we) && we.Code != wire.StatusAbnormalClosure && we.Code != wire.StatusNoStatusRcvd {
			return &CloseError{Code: int(we.Code), Reason: we.Reason}
		}
		return err
	}
	if t == wire.TextMessage {
		s.dispatch(b)
	}
	s.mu.Lock()
	over := s.overflow
	s.mu.Unlock()
	if over {
		return ErrSlowConsumer
	}
	return nil
}

// run owns the connection after Dial: it reads until the connection ends,
// then reconnects or ends the session.
func (s *Session) run(conn *wire.Conn) {
	defer close(s.runDone)
	for {
		var err error
		for err == nil {
			err = s.readOne(conn)
		}
		_ = conn.CloseNow()
		s.unpublish(err)
		if s.isClosing() {
			s.end(nil)
			return
		}
		if !retryable(err) {
			s.end(err)
			return
		}
		if conn = s.reconnect(err); conn == nil {
			return
		}
	}
}

// retryable says whether a lost connection is worth dialing again: network
// loss, an abnormal end, 1001 (shutdown, idle timeout) and 1011 (a server
// fault). Not 1000 (the server ended the session on purpose), not 1008
// (policy: the same client would be refused again), not the protocol-error
// codes (a bug on one side that a retry would repeat).
func retryable(err error) bool {
	if errors.Is(err, ErrSlowConsumer) {
		return false
	}
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code == int(wire.StatusGoingAway) || ce.Code == int(wire.StatusInternalError)
	}
	return true
}

func (s *Session) reconnect(cause error) *wire.Conn {
	if s.opts.MaxAttempts < 0 {
		s.end(cause)
		return nil
	}
	var nameTakenSince time.Time
	last := cause
	for attempt := 1; ; attempt++ {
		if attempt > s.opts.MaxAttempts {
			s.end(&GaveUpError{Attempts: s.opts.MaxAttempts, Last: last})
			return nil
		}
		d := backoff(attempt, s.opts.MinBackoff, s.opts.MaxBackoff, jitter)
		s.emit(Event{Value: &StateChange{State: StateReconnecting, Attempt: attempt, Delay: d, Err: last}})
		if !s.sleep(d) {
			s.end(nil)
			return nil
		}
		s.mu.Lock()
		rooms := make([]string, 0, len(s.rooms))
		for r := range s.rooms {
			rooms = append(rooms, r)
		}
		s.mu.Unlock()
		sort.Strings(rooms)
		if len(rooms) == 0 {
			rooms = []string{s.opts.Rooms[0]} // the name needs a first join
		}
		conn, err := s.connect(s.ctx, rooms)
		if err == nil {
			if s.publish(conn) {
				return conn
			}
			s.end(nil)
			return nil
		}
		if s.isClosing() {
			s.end(nil)
			return nil
		}
		last = err
		switch code := Code(err); {
		case code == api.CodeNameTaken:
			// Most likely our own lost connection, which the server has not noticed
			// yet; it will within its idle timeout. Longer than that, it is someone else.
			now := s.opts.Clock.Now()
			if nameTakenSince.IsZero() {
				nameTakenSince = now
			}
			if now.Sub(nameTakenSince) > s.opts.NameTakenGrace {
				s.end(err)
				return nil
			}
		case code == api.CodeRateLimited || code == api.CodeInternal:
			// transient on the server's side: try again later
		case code != "":
			s.end(err) // unauthorized, invalid_message, …: the same join would fail again
			return nil
		default:
			var ce *CloseError
			if errors.As(err, &ce) && !retryable(ce) {
				s.end(err)
				return nil
			}
		}
	}
}

// sleep waits d on the session's clock; false if Close came first.
func (s *Session) sleep(d time.Duration) bool {
	ch := make(chan struct{})
	t := s.opts.Clock.AfterFunc(d, func() { close(ch) })
	select {
	case <-ch:
		return true
	case <-s.ctx.Done():
		t.Stop()
		return false
	}
}

func (s *Session) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// publish makes conn the connection requests use; false if Close came first.
func (s *Session) publish(conn *wire.Conn) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = conn.CloseNow()
		return false
	}
	s.conn = conn
	s.mu.Unlock()
	s.emit(Event{Value: &StateChange{State: StateConnected}})
	return true
}

// unpublish forgets the lost connection and fails the requests that waited on it.
func (s *Session) unpublish(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = nil
	for ref, c := range s.pending {
		c.done <- result{err: fmt.Errorf("%w (%v)", ErrConnectionLost, cause)}
		delete(s.pending, ref)
	}
}

// end ends the session: no more requests, StateClosed last on the channel.
func (s *Session) end(err error) {
	s.mu.Lock()
	s.closed = true
	s.err = err
	for ref, c := range s.pending {
		c.done <- result{err: ErrClosed}
		delete(s.pending, ref)
	}
	s.mu.Unlock()
	s.stopAllTyping()
	s.q.finish(Event{Value: &StateChange{State: StateClosed, Err: err}}, s.opts.DrainTimeout)
}

func (s *Session) emit(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitLocked(ev)
}

func (s *Session) emitLocked(ev Event) {
	if !s.q.push(ev) && !s.closed {
		s.overflow = true
	}
}

// write sends one text message on conn, bounded by WriteTimeout.
func (s *Session) write(conn *wire.Conn, b []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout)); err != nil {
		return err
	}
	return conn.WriteMessage(wire.TextMessage, b)
}

// request sends the message built by msg (given the fresh ref) and waits for
// the answer with that ref.
func (s *Session) request(ctx context.Context, c *call, msg func(ref string) any) (any, error) {
	s.mu.Lock()
	if s.closed || s.closing {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	conn := s.conn
	if conn == nil {
		s.mu.Unlock()
		return nil, ErrNotConnected
	}
	s.refSeq++
	c.ref = strconv.FormatUint(s.refSeq, 10)
	c.done = make(chan result, 1)
	if c.kind == kindJoin {
		_, c.already = s.rooms[c.room]
	}
	s.pending[c.ref] = c
	lim := s.limiter
	s.mu.Unlock()

	if lim != nil && !s.opts.NoPacing {
		if err := lim.Wait(ctx); err != nil {
			s.forget(c.ref)
			return nil, err
		}
	}
	b, err := encode(msg(c.ref))
	if err == nil {
		err = s.write(conn, b)
	}
	if err != nil {
		s.forget(c.ref)
		return nil, fmt.Errorf("%s: %w (%v)", c.op, ErrConnectionLost, err)
	}
	select {
	case r := <-c.done:
		return r.ev, r.err
	case <-ctx.Done():
		s.forget(c.ref)
		return nil, ctx.Err()
	}
}

func (s *Session) forget(ref string) {
	s.mu.Lock()
	delete(s.pending, ref)
	s.mu.Unlock()
}

// resolveLocked completes the pending call ref of kind k, if there is one.
func (s *Session) resolveLocked(ref string, k callKind, ev any, err error) {
	if ref == "" {
		return
	}
	c := s.pending[ref]
	if c == nil || (k != 0 && c.kind != k) {
		return
	}
	delete(s.pending, ref)
	c.done <- result{ev: ev, err: err}
}

// dispatch handles one envelope from the server: bookkeeping of rooms and
// ids, de-duplication after a reconnect, delivery, and answers to requests.
func (s *Session) dispatch(raw []byte) {
	v, err := api.DecodeServer(raw)
	if err != nil {
		return // not an envelope; clients ignore what they cannot read
	}
	ev := Event{Value: v, Raw: bytes.Clone(raw)}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e := v.(type) {
	case *api.Welcome:
		s.name, s.welcome = e.Name, e
		if e.Limits.RatePerSec > 0 && e.Limits.RateBurst > 0 {
			// A little under the server's bucket, so network jitter that bunches
			// our messages up does not push them over its limit.
			s.limiter = rate.NewLimiter(rate.Limit(e.Limits.RatePerSec*0.9), max(1, e.Limits.RateBurst/2))
		}
		s.emitLocked(ev)
	case *api.Presence:
		s.emitLocked(ev)
		c := s.pending[e.Ref]
		if e.Ref == "" || c == nil {
			return
		}
		switch c.kind {
		case kindWho:
			s.resolveLocked(e.Ref, kindWho, e, nil)
		case kindJoin:
			c.presence = e
			if rs := s.rooms[c.room]; rs == nil {
				s.rooms[c.room] = &roomState{}
			} else if rs.rejoin != nil {
				rs.rejoin.serverNow = e.TS
			}
			if c.already {
				s.resolveLocked(e.Ref, kindJoin, e, nil)
			}
		}
	case *api.ChatEvent:
		if rs := s.rooms[e.Room]; rs != nil {
			if rj := rs.rejoin; rj != nil && e.Replay {
				if e.ID <= rj.since {
					rj.sawOld = true // history reaches back to where we were
				} else {
					rj.buf = append(rj.buf, ev)
				}
				return
			}
			if e.ID <= rs.last {
				return // delivered before the connection was lost
			}
			rs.last, rs.lastChat = e.ID, e.ID
		} else {
			if last, ok := s.strayLast[e.Room]; ok && e.ID <= last {
				return
			}
			if s.strayLast == nil {
				s.strayLast = make(map[string]string)
			}
			s.strayLast[e.Room] = e.ID
		}
		s.emitLocked(ev)
		s.resolveLocked(e.Ref, kindChat, e, nil)
	case *api.JoinEvent:
		c := s.pending[e.Ref]
		if e.Ref == "" || c == nil || c.kind != kindJoin {
			c = nil
		}
		rs := s.rooms[e.Room]
		if c != nil && rs == nil {
			rs = &roomState{}
			s.rooms[e.Room] = rs
			delete(s.strayLast, e.Room)
		}
		if rs != nil {
			if rj := rs.rejoin; rj != nil && c != nil {
				rs.rejoin = nil
				if g := s.gap(e.Room, rj, e); g != nil {
					s.emitLocked(Event{Value: g})
				}
				for _, b := range rj.buf {
					if id := b.Value.(*api.ChatEvent).ID; id > rs.last {
						s.emitLocked(b)
						rs.last, rs.lastChat = id, id
					}
				}
			}
			if e.ID <= rs.last {
				return
			}
			rs.last = e.ID
		}
		s.emitLocked(ev)
		if c != nil {
			p := c.presence
			if p == nil {
				p = &api.Presence{TS: e.TS, Room: e.Room, Ref: e.Ref}
			}
			s.resolveLocked(e.Ref, kindJoin, p, nil)
		}
	case *api.LeaveEvent:
		if rs := s.rooms[e.Room]; rs != nil {
			if e.ID <= rs.last {
				return
			}
			rs.last = e.ID
		}
		if c := s.pending[e.Ref]; e.Ref != "" && c != nil && c.kind == kindLeave {
			delete(s.rooms, e.Room)
		}
		s.emitLocked(ev)
		s.resolveLocked(e.Ref, kindLeave, e, nil)
	case *api.PMEvent:
		s.emitLocked(ev)
		s.resolveLocked(e.Ref, kindPM, e, nil)
	case *api.ErrorEvent:
		s.emitLocked(ev)
		if e.Err != nil {
			if c := s.pending[e.Err.Ref]; c != nil {
				s.resolveLocked(e.Err.Ref, 0, nil, newServerError(c.op, e.Err))
			}
		}
	default:
		s.emitLocked(ev)
	}
}

// gap applies the package doc's rule to a finished re-join replay.
func (s *Session) gap(room string, rj *rejoinState, join *api.JoinEvent) *Gap {
	if rj.sawOld {
		return nil
	}
	complete := len(rj.buf) < s.opts.HistoryKeep
	now := rj.serverNow
	if now.IsZero() {
		now = join.TS
	}
	if t, ok := api.ULIDTime(rj.since); !ok || now.Sub(t) >= s.opts.HistoryTTL {
		complete = false
	}
	if complete {
		return nil
	}
	g := &Gap{Room: room, After: rj.since, Before: join.ID}
	if len(rj.buf) > 0 {
		g.Before = rj.buf[0].Value.(*api.ChatEvent).ID
	}
	return g
}
