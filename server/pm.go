package server

import "github.com/chatd/chatd/api"

// handlePM sends a private message; the broker delivers it to the recipient
// and, as confirmation with the same id, to the sender.
func (s *session) handlePM(m *api.PM) {
	if s.isSelf(m.To) {
		s.toSelf(m.Ref)
		return
	}
	s.typing.end("", m.To)
	ctx, cancel := s.srv.ctx()
	err := s.srv.broker.PM(ctx, s.myName(), s.id, m.To, m.Text, m.Ref)
	cancel()
	if err != nil {
		s.brokerError(err, m.Ref, "", m.To)
	}
}
