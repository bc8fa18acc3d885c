package server

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/wire"
)

const levelDebug = slog.LevelDebug

// localRoom is the set of this server's sessions in one room. The broker
// delivers one room's events one at a time, so membership changes (join and
// leave events) and fan-out never interleave for a room.
type localRoom struct {
	mu      sync.RWMutex
	name    string
	members []*session
	dead    bool // removed from Server.rooms; look it up again
}

// lockLocalRoom returns the room locked for writing, creating it when create
// is set, or nil. Lock order: Server.mu is released before a room's lock is
// taken, so holding a room lock and then taking Server.mu (dropIfEmpty) is safe.
func (s *Server) lockLocalRoom(name string, create bool) *localRoom {
	for {
		s.mu.Lock()
		r := s.rooms[name]
		if r == nil && create {
			r = &localRoom{name: name}
			s.rooms[name] = r
		}
		s.mu.Unlock()
		if r == nil {
			return nil
		}
		r.mu.Lock()
		if !r.dead {
			return r
		}
		r.mu.Unlock()
	}
}

// dropIfEmpty forgets r once its last local member has left. r.mu is held.
func (s *Server) dropIfEmpty(r *localRoom) {
	if len(r.members) > 0 {
		return
	}
	r.dead = true
	s.mu.Lock()
	if s.rooms[r.name] == r {
		delete(s.rooms, r.name)
	}
	s.mu.Unlock()
}

// encode runs enc on a pooled buffer and hands the bytes to use, which must
// not keep them (wire.NewPreparedMessage copies them into the frame).
func (s *Server) encode(enc func([]byte) []byte, use func([]byte)) {
	bp := s.bufs.Get().(*[]byte)
	b := enc((*bp)[:0])
	use(b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		s.bufs.Put(bp)
	}
}

// prepare frames one encoded envelope once, for any number of recipients.
func (s *Server) prepare(typ string, enc func([]byte) []byte) *wire.PreparedMessage {
	var m *wire.PreparedMessage
	s.encode(enc, func(b []byte) {
		var err error
		if m, err = wire.NewPreparedMessage(wire.TextMessage, b); err != nil {
			s.log.Error("framing a message", "type", typ, "err", err)
		}
	})
	return m
}

// deliver is the broker's callback: it hands an event to this server's
// sessions.
func (s *Server) deliver(ev *Event) {
	switch ev.Kind {
	case EventJoin:
		s.deliverJoin(ev)
	case EventLeave:
		s.deliverLeave(ev)
	case EventChat:
		s.deliverChat(ev)
	case EventPM:
		s.deliverPM(ev)
	case EventTyping:
		s.deliverTyping(ev)
	}
}

// deliverJoin gives the joiner (if it is here) presence, replay and its own
// join event, in that order, then makes it a local member; the other members
// get the join event.
func (s *Server) deliverJoin(ev *Event) {
	joiner := s.session(ev.Session)
	r := s.lockLocalRoom(ev.Room, joiner != nil)
	if r == nil {
		return
	}
	defer r.mu.Unlock()
	if len(r.members) > 0 {
		m := s.prepare("join", func(b []byte) []byte {
			return api.AppendJoin(b, &api.JoinEvent{ID: ev.ID, TS: ev.TS, Room: ev.Room, From: ev.From})
		})
		s.fanout("join", r.members, m, nil)
	}
	if joiner == nil {
		s.dropIfEmpty(r)
		return
	}
	joiner.sendPresence(ev.Room, ev.Users, ev.Ref)
	for i := range ev.Replay {
		joiner.sendReplay(&ev.Replay[i])
	}
	s.encode(func(b []byte) []byte {
		return api.AppendJoin(b, &api.JoinEvent{ID: ev.ID, TS: ev.TS, Room: ev.Room, From: ev.From, Ref: ev.Ref})
	}, func(b []byte) { joiner.sendJSON("join", b) })
	r.members = append(r.members, joiner)
}

// deliverLeave tells the remaining members, and confirms to a leaver that
// left one room on purpose.
func (s *Server) deliverLeave(ev *Event) {
	r := s.lockLocalRoom(ev.Room, false)
	if r == nil {
		return
	}
	defer r.mu.Unlock()
	var leaver *session
	if i := slices.IndexFunc(r.members, func(m *session) bool { return m.id == ev.Session }); i >= 0 {
		leaver = r.members[i]
		r.members = slices.Delete(r.members, i, i+1)
	}
	if len(r.members) > 0 {
		m := s.prepare("leave", func(b []byte) []byte {
			return api.AppendLeave(b, &api.LeaveEvent{ID: ev.ID, TS: ev.TS, Room: ev.Room, From: ev.From, Reason: ev.Reason})
		})
		s.fanout("leave", r.members, m, nil)
	}
	if leaver != nil && ev.Reason == leaveLeft {
		// A session that ends has closed its queue, so only a leave of one
		// room reaches the leaver here.
		s.encode(func(b []byte) []byte {
			return api.AppendLeave(b, &api.LeaveEvent{ID: ev.ID, TS: ev.TS, Room: ev.Room, From: ev.From, Reason: ev.Reason, Ref: ev.Ref})
		}, func(b []byte) { leaver.sendJSON("leave", b) })
	}
	s.dropIfEmpty(r)
}

// deliverChat is the broadcast: one encoding and one frame for every member,
// and a separate copy with ref for the sender.
func (s *Server) deliverChat(ev *Event) {
	s.mu.RLock()
	r := s.rooms[ev.Room]
	s.mu.RUnlock()
	if r == nil {
		return
	}
	start := time.Now()
	m := s.prepare("chat", func(b []byte) []byte {
		return api.AppendChat(b, &api.ChatEvent{ID: ev.ID, TS: ev.TS, Room: ev.Room, From: ev.From, Text: ev.Text})
	})
	r.mu.RLock()
	s.fanout("chat", r.members, m, ev)
	r.mu.RUnlock()
	s.m.fanout.Observe(time.Since(start).Seconds())
}

// fanout queues m to members. With ev set and a ref on it, the member whose
// session sent ev gets its own copy carrying the ref instead.
func (s *Server) fanout(typ string, members []*session, m *wire.PreparedMessage, ev *Event) {
	if m == nil {
		return
	}
	n := 0
	for _, member := range members {
		if ev != nil && ev.Ref != "" && member.id == ev.Session {
			s.encode(func(b []byte) []byte {
				return api.AppendChat(b, &api.ChatEvent{ID: ev.ID, TS: ev.TS, Room: ev.Room, From: ev.From, Text: ev.Text, Ref: ev.Ref})
			}, func(b []byte) { member.sendJSON(typ, b) })
			continue
		}
		// The sender's own copy is an answer it waits for: not held
		// back for a coalescing round.
		if member.sendAs(m, ev != nil && member.id == ev.Session) {
			n++
		}
	}
	s.m.sent(typ, n)
}

// deliverPM gives the recipient its copy and the sender its confirmation
// (same id, with ref).
func (s *Server) deliverPM(ev *Event) {
	if to := s.sessionByName(ev.To); to != nil {
		s.encode(func(b []byte) []byte {
			return api.AppendPM(b, &api.PMEvent{ID: ev.ID, TS: ev.TS, From: ev.From, To: ev.To, Text: ev.Text})
		}, func(b []byte) { to.sendJSON("pm", b) })
	}
	if from := s.session(ev.Session); from != nil {
		s.encode(func(b []byte) []byte {
			return api.AppendPM(b, &api.PMEvent{ID: ev.ID, TS: ev.TS, From: ev.From, To: ev.To, Text: ev.Text, Ref: ev.Ref})
		}, func(b []byte) { from.sendJSON("pm", b) })
	}
}

// deliverTyping relays an indicator to the room's other members or to the
// one recipient; never to the sender, never with a ref.
func (s *Server) deliverTyping(ev *Event) {
	te := &api.TypingEvent{TS: ev.TS, From: ev.From, Active: ev.Active, Room: ev.Room, To: ev.To}
	if ev.To != "" {
		if to := s.sessionByName(ev.To); to != nil {
			s.encode(func(b []byte) []byte { return api.AppendTyping(b, te) },
				func(b []byte) { to.sendJSON("typing", b) })
		}
		return
	}
	s.mu.RLock()
	r := s.rooms[ev.Room]
	s.mu.RUnlock()
	if r == nil {
		return
	}
	m := s.prepare("typing", func(b []byte) []byte { return api.AppendTyping(b, te) })
	if m == nil {
		return
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, member := range r.members {
		if member.id != ev.Session && member.send(m) {
			n++
		}
	}
	s.m.sent("typing", n)
}

// registerName makes a joined session reachable by name (pm, typing).
func (s *Server) registerName(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byName[api.NameKey(sess.myName())] = sess
}

// unregisterName is the reverse of registerName.
func (s *Server) unregisterName(sess *session) {
	key := api.NameKey(sess.myName())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byName[key] == sess {
		delete(s.byName, key)
	}
}

// unregister forgets an ended session.
func (s *Server) unregister(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess.id)
}
