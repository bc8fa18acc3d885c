package client

import (
	"context"

	"github.com/chatd/chatd/api"
)

func roomOrLobby(room string) string {
	if room == "" {
		return DefaultRoom
	}
	return room
}

// Chat sends text to room ("" means lobby) and returns the server's
// confirmation: the sender's copy of the chat event, with its id and time.
func (s *Session) Chat(ctx context.Context, room, text string) (*api.ChatEvent, error) {
	room = roomOrLobby(room)
	s.resetTyping(Room(room))
	ev, err := s.request(ctx, &call{kind: kindChat, op: "chat #" + room, room: room}, func(ref string) any {
		return chatMsg{Type: "chat", Room: room, Text: text, Ref: ref}
	})
	if err != nil {
		return nil, err
	}
	return ev.(*api.ChatEvent), nil
}

// PM sends a private message to the user named to and returns the sender's
// copy of the pm event. A name that is not connected is refused with
// api.CodeUnknownUser.
func (s *Session) PM(ctx context.Context, to, text string) (*api.PMEvent, error) {
	s.resetTyping(To(to))
	ev, err := s.request(ctx, &call{kind: kindPM, op: "pm " + to}, func(ref string) any {
		return pmMsg{Type: "pm", To: to, Text: text, Ref: ref}
	})
	if err != nil {
		return nil, err
	}
	return ev.(*api.PMEvent), nil
}

// Join enters room and returns its member list. It returns once the server
// has sent the presence, the replayed history and the join event (which
// arrive on Events before it returns); joining a room the session is already
// in just refreshes the member list.
func (s *Session) Join(ctx context.Context, room string) (*api.Presence, error) {
	room = roomOrLobby(room)
	ev, err := s.request(ctx, &call{kind: kindJoin, op: "join #" + room, room: room}, func(ref string) any {
		return joinMsg{Type: "join", Room: room, Ref: ref}
	})
	if err != nil {
		return nil, err
	}
	return ev.(*api.Presence), nil
}

// Leave leaves room (the session stays connected, even in no room) and
// returns the server's confirming leave event. To end the session, use Close.
func (s *Session) Leave(ctx context.Context, room string) (*api.LeaveEvent, error) {
	room = roomOrLobby(room)
	s.StopTyping(Room(room))
	ev, err := s.request(ctx, &call{kind: kindLeave, op: "leave #" + room, room: room}, func(ref string) any {
		return leaveMsg{Type: "leave", Room: room, Ref: ref}
	})
	if err != nil {
		return nil, err
	}
	return ev.(*api.LeaveEvent), nil
}

// Who asks for the member list of room, which the session must be in.
func (s *Session) Who(ctx context.Context, room string) (*api.Presence, error) {
	room = roomOrLobby(room)
	ev, err := s.request(ctx, &call{kind: kindWho, op: "who #" + room, room: room}, func(ref string) any {
		return whoMsg{Type: "who", Room: room, Ref: ref}
	})
	if err != nil {
		return nil, err
	}
	return ev.(*api.Presence), nil
}
