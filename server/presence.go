package server

import "github.com/chatd/chatd/api"

// handleWho answers with the room's member list.
func (s *session) handleWho(m *api.Who) {
	if !s.inRoom(m.Room) {
		s.notMember(m.Ref, m.Room)
		return
	}
	ctx, cancel := s.srv.ctx()
	users, err := s.srv.broker.Members(ctx, m.Room)
	cancel()
	if err != nil {
		s.brokerError(err, m.Ref, m.Room, "")
		return
	}
	s.sendPresence(m.Room, users, m.Ref)
}
