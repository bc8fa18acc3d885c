package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// serverEnvelope has every field of every server envelope; DecodeServer picks
// the ones the type uses. Unknown fields are ignored, as the protocol asks of
// clients.
type serverEnvelope struct {
	Type    *string  `json:"type"`
	ID      string   `json:"id"`
	TS      string   `json:"ts"`
	Room    string   `json:"room"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	Text    string   `json:"text"`
	Ref     string   `json:"ref"`
	Replay  bool     `json:"replay"`
	Reason  string   `json:"reason"`
	Active  bool     `json:"active"`
	Users   []string `json:"users"`
	Name    string   `json:"name"`
	Session string   `json:"session"`
	Server  struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"server"`
	Limits struct {
		MaxMessageBytes int64   `json:"max_message_bytes"`
		MaxTextChars    int     `json:"max_text_chars"`
		RatePerSec      float64 `json:"rate_per_sec"`
		RateBurst       int     `json:"rate_burst"`
	} `json:"limits"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []Detail `json:"details"`
}

// ErrNoType is returned by DecodeServer for a JSON object without a string type.
var ErrNoType = errors.New("api: server envelope has no type")

// DecodeServer decodes one server envelope, for clients. It returns one of
// *ChatEvent, *PMEvent, *JoinEvent, *LeaveEvent, *TypingEvent, *Presence,
// *Welcome or *ErrorEvent; an envelope of a type it does not know comes back
// as *UnknownEvent (clients ignore those). Unknown fields are ignored. An error
// means the bytes are not a JSON object with a string type, or a known field
// has the wrong JSON type or a ts that is not RFC 3339.
func DecodeServer(b []byte) (any, error) {
	var e serverEnvelope
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("api: decoding server envelope: %w", err)
	}
	if e.Type == nil {
		return nil, ErrNoType
	}
	var ts time.Time
	if e.TS != "" {
		var err error
		if ts, err = ParseTS(e.TS); err != nil {
			return nil, fmt.Errorf("api: server envelope %q has a bad ts: %w", *e.Type, err)
		}
	}
	switch *e.Type {
	case "chat":
		return &ChatEvent{ID: e.ID, TS: ts, Room: e.Room, From: e.From, Text: e.Text, Ref: e.Ref, Replay: e.Replay}, nil
	case "pm":
		return &PMEvent{ID: e.ID, TS: ts, From: e.From, To: e.To, Text: e.Text, Ref: e.Ref}, nil
	case "join":
		return &JoinEvent{ID: e.ID, TS: ts, Room: e.Room, From: e.From, Ref: e.Ref}, nil
	case "leave":
		return &LeaveEvent{ID: e.ID, TS: ts, Room: e.Room, From: e.From, Reason: e.Reason, Ref: e.Ref}, nil
	case "typing":
		return &TypingEvent{TS: ts, From: e.From, Active: e.Active, Room: e.Room, To: e.To}, nil
	case "presence":
		return &Presence{TS: ts, Room: e.Room, Users: e.Users, Ref: e.Ref}, nil
	case "welcome":
		return &Welcome{TS: ts, Name: e.Name, Session: e.Session,
			Server: ServerInfo{Name: e.Server.Name, Version: e.Server.Version},
			Limits: Limits{MaxMessageBytes: e.Limits.MaxMessageBytes, MaxTextChars: e.Limits.MaxTextChars,
				RatePerSec: e.Limits.RatePerSec, RateBurst: e.Limits.RateBurst}}, nil
	case "error":
		return &ErrorEvent{TS: ts, Err: &Error{Code: Code(e.Code), Message: e.Message, Ref: e.Ref, Details: e.Details}}, nil
	}
	return &UnknownEvent{Type: *e.Type, Raw: append([]byte(nil), b...)}, nil
}
