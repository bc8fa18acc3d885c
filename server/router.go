package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/chatd/chatd/api"
)

// handle decodes one text message and dispatches it by type. A non-nil result
// ends the session.
func (s *session) handle(msg []byte) *closeCause {
	m, aerr := api.DecodeClient(msg, s.joined)
	if aerr != nil {
		s.srv.m.received("invalid")
		s.sendError(aerr)
		return nil
	}
	s.srv.m.received(m.Kind())
	if s.srv.log.Enabled(context.Background(), levelDebug) {
		// Message text is private: it is logged at debug level only.
		s.srv.log.Debug("message", "session", s.id, "type", m.Kind(), "body", string(msg))
	}
	switch m := m.(type) {
	case *api.Join:
		s.handleJoin(m)
	case *api.Chat:
		s.handleChat(m)
	case *api.PM:
		s.handlePM(m)
	case *api.Typing:
		s.handleTyping(m)
	case *api.Who:
		s.handleWho(m)
	case *api.Leave:
		return s.handleLeave(m)
	default:
		s.sendError(&api.Error{Code: api.CodeUnknownType, Ref: m.RefID(),
			Message: fmt.Sprintf("type %q is not handled by this server", m.Kind())})
	}
	return nil
}

// brokerError turns a Broker's refusal into the protocol's error.
func (s *session) brokerError(err error, ref, room, to string) {
	e := &api.Error{Ref: ref}
	switch {
	case errors.Is(err, ErrNotMember):
		e.Code, e.Message = api.CodeNotMember, fmt.Sprintf("you are not in room %s: join it first", room)
	case errors.Is(err, ErrUnknownUser):
		e.Code, e.Message = api.CodeUnknownUser, fmt.Sprintf("%s is not connected", to)
	case errors.Is(err, ErrNameTaken):
		e.Code, e.Message = api.CodeNameTaken, "that name is taken: choose another"
	default:
		s.srv.log.Error("broker call failed", "session", s.id, "err", err)
		e.Code, e.Message = api.CodeInternal, "the server could not handle this message; try again"
	}
	s.sendError(e)
}

// notMember answers a message about a room the session is not in.
func (s *session) notMember(ref, room string) {
	s.brokerError(ErrNotMember, ref, room, "")
}

// toSelf answers a pm or typing addressed to the sender.
func (s *session) toSelf(ref string) {
	s.sendError(api.FieldError(ref, "to", api.ProblemSelf))
}

// isSelf reports whether name is the session's own name (ignoring case).
func (s *session) isSelf(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return api.SameName(name, s.name)
}

// myName returns the session's name as given at join.
func (s *session) myName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}
