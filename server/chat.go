package server

import "github.com/chatd/chatd/api"

// handleChat publishes a message to a room the sender is in. The sender's
// typing indicator there ends first, so members never see "typing" after
// the message it announced.
func (s *session) handleChat(m *api.Chat) {
	if !s.inRoom(m.Room) {
		s.notMember(m.Ref, m.Room)
		return
	}
	s.typing.end(m.Room, "")
	ctx, cancel := s.srv.ctx()
	err := s.srv.broker.Chat(ctx, m.Room, s.myName(), s.id, m.Text, m.Ref)
	cancel()
	if err != nil {
		s.brokerError(err, m.Ref, m.Room, "")
	}
}
