package server

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/wire"
)

// handleJoin claims the name on the first join, then enters the room. The
// joiner's presence, replay and join event come back through the broker
// (deliverJoin), so they are in order with the room's other events.
func (s *session) handleJoin(m *api.Join) {
	since := m.Since // canonical (upper case) from DecodeClient
	if !s.joined {
		ctx, cancel := s.srv.ctx()
		err := s.srv.broker.ClaimName(ctx, m.Name, s.id)
		cancel()
		if err != nil {
			if errors.Is(err, ErrNameTaken) {
				s.sendError(&api.Error{Code: api.CodeNameTaken, Ref: m.Ref,
					Message: fmt.Sprintf("the name %s is taken: choose another", m.Name)})
				return
			}
			s.brokerError(err, m.Ref, m.Room, "")
			return
		}
		s.mu.Lock()
		s.name = m.Name
		s.mu.Unlock()
		s.joined = true
		s.srv.registerName(s)
		// From now on the idle timeout applies instead of the join timeout:
		// every byte read extends it.
		_ = s.conn.SetReadDeadline(time.Time{})
		s.conn.SetIdleTimeout(s.srv.cfg.IdleTimeout)
		s.sendWelcome()
	} else if m.Name != "" && !s.isSelf(m.Name) {
		s.sendError(api.FieldError(m.Ref, "name", api.ProblemNameMismatch))
		return
	}
	if s.inRoom(m.Room) {
		s.rejoin(m.Room, since, m.Ref)
		return
	}
	ctx, cancel := s.srv.ctx()
	err := s.srv.broker.Join(ctx, JoinRequest{
		Room: m.Room, Name: s.myName(), Session: s.id, Ref: m.Ref, Since: since, Replay: s.srv.cfg.ReplayCount,
	})
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, ErrAlreadyMember):
		s.rejoin(m.Room, since, m.Ref)
	default:
		s.brokerError(err, m.Ref, m.Room, "")
		return
	}
	s.mu.Lock()
	if !slices.Contains(s.rooms, m.Room) {
		s.rooms = append(s.rooms, m.Room)
	}
	s.mu.Unlock()
	s.srv.m.joins.Inc()
}

// rejoin answers a join of a room the session is already in: presence again,
// and the replay if since is given, but no new join event.
func (s *session) rejoin(room, since, ref string) {
	ctx, cancel := s.srv.ctx()
	defer cancel()
	users, err := s.srv.broker.Members(ctx, room)
	if err != nil {
		s.brokerError(err, ref, room, "")
		return
	}
	s.sendPresence(room, users, ref)
	if since == "" {
		return
	}
	replay, err := s.srv.broker.History(ctx, room, since, s.srv.cfg.ReplayCount)
	if err != nil {
		s.brokerError(err, ref, room, "")
		return
	}
	for i := range replay {
		s.sendReplay(&replay[i])
	}
}

// handleLeave leaves one room, or with no room ends the session (1000 bye).
func (s *session) handleLeave(m *api.Leave) *closeCause {
	if m.Room == "" {
		// The rooms are left (reason "left") once the connection is closed, so
		// the leaver gets 1000 and none of its own leave events.
		return &closeCause{code: wire.StatusNormalClosure, reason: "bye", leave: leaveLeft, flush: true, send: true, afterLeave: true}
	}
	if !s.inRoom(m.Room) {
		s.notMember(m.Ref, m.Room)
		return nil
	}
	s.typing.end(m.Room, "")
	ctx, cancel := s.srv.ctx()
	err := s.srv.broker.Leave(ctx, m.Room, s.myName(), s.id, leaveLeft, m.Ref)
	cancel()
	s.mu.Lock()
	if i := slices.Index(s.rooms, m.Room); i >= 0 {
		s.rooms = slices.Delete(s.rooms, i, i+1)
	}
	s.mu.Unlock()
	if err != nil {
		s.brokerError(err, m.Ref, m.Room, "")
	}
	return nil
}

// sendWelcome greets the session after its first successful join.
func (s *session) sendWelcome() {
	cfg := &s.srv.cfg
	w := &api.Welcome{
		TS: s.srv.clock.Now(), Name: s.myName(), Session: s.id,
		Server: api.ServerInfo{Name: cfg.Name, Version: cfg.Version},
		Limits: api.Limits{MaxMessageBytes: cfg.MaxMessageBytes, MaxTextChars: cfg.MaxTextChars,
			RatePerSec: cfg.RatePerSec, RateBurst: cfg.RateBurst},
	}
	s.srv.encode(func(b []byte) []byte { return api.AppendWelcome(b, w) },
		func(b []byte) { s.sendJSON("welcome", b) })
}

// sendPresence sends the member list of room.
func (s *session) sendPresence(room string, users []string, ref string) {
	if users == nil {
		users = []string{}
	}
	p := &api.Presence{TS: s.srv.clock.Now(), Room: room, Users: users, Ref: ref}
	s.srv.encode(func(b []byte) []byte { return api.AppendPresence(b, p) },
		func(b []byte) { s.sendJSON("presence", b) })
}

// sendReplay sends one history entry (Replay is set by the history).
func (s *session) sendReplay(e *api.ChatEvent) {
	s.srv.encode(func(b []byte) []byte { return api.AppendChat(b, e) },
		func(b []byte) { s.sendJSON("chat", b) })
}
