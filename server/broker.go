package server

import (
	"context"
	"errors"
	"time"

	"github.com/chatd/chatd/api"
)

// Broker owns the state that every node of a cluster shares: who holds which
// name, who is in which room, each room's history and the order of its events,
// and the routing of private messages and typing indicators. A single process
// uses the in-memory broker (NewMemoryBroker); a cluster plugs in one backed by
// NATS JetStream. The package brokertest holds the tests every implementation
// must pass.
//
// Writes return once the broker has accepted them; the resulting events come
// back to every subscribed node through the Subscribe callback, in the
// broker's order: for one room, join/leave/chat events arrive in id order with
// no gaps; for one pair of users, pm events arrive in id order. Ids (ULIDs)
// are assigned by the broker in that same order, so a node never reorders.
//
// Names are identified by their api.NameKey (case-insensitive); a member is a
// name holder, identified in events by its display name and session id.
type Broker interface {
	// Subscribe registers a node. deliver is called for every event, one room
	// (or one conversation) at a time, and must not block or call back into the
	// Broker. lost is called once if the broker can no longer guarantee
	// delivery (a cluster node cut off from the others); the node then closes
	// its clients so they reconnect elsewhere. cancel stops both.
	Subscribe(deliver func(*Event), lost func(error)) (cancel func())

	// ClaimName reserves name for session, or fails with ErrNameTaken.
	ClaimName(ctx context.Context, name, session string) error
	// ReleaseName frees a name claimed by session (a no-op for anyone else).
	ReleaseName(ctx context.Context, name, session string) error

	// Join makes the name holder a member of req.Room and publishes the join
	// event, which carries the room's members and the replay for the joiner.
	// It fails with ErrAlreadyMember when the name is already in the room.
	Join(ctx context.Context, req JoinRequest) error
	// Leave removes the name from room and publishes the leave event, or fails
	// with ErrNotMember.
	Leave(ctx context.Context, room, name, session, reason, ref string) error
	// Chat appends a message to room's history and publishes it, or fails with
	// ErrNotMember.
	Chat(ctx context.Context, room, from, session, text, ref string) error
	// PM publishes a private message to the holder of the name to (any case),
	// or fails with ErrUnknownUser.
	PM(ctx context.Context, from, session, to, text, ref string) error
	// Typing relays a typing indicator to the room's members or to one user
	// (ErrUnknownUser, ErrNotMember).
	Typing(ctx context.Context, t TypingRequest) error

	// Members lists the display names in room, sorted by NameKey.
	Members(ctx context.Context, room string) ([]string, error)
	// History returns the chat events of room kept after since ("" for the
	// last limit), oldest first, at most limit when since is "".
	History(ctx context.Context, room, since string, limit int) ([]api.ChatEvent, error)

	// Close stops background work (the retention sweep) and releases resources.
	Close() error
}

// Errors a Broker returns for requests the protocol refuses.
var (
	ErrNameTaken     = errors.New("broker: name taken")
	ErrUnknownUser   = errors.New("broker: unknown user")
	ErrNotMember     = errors.New("broker: not a member of the room")
	ErrAlreadyMember = errors.New("broker: already a member of the room")
	ErrBrokerClosed  = errors.New("broker: closed")
)

// JoinRequest asks a Broker to add a member to a room.
type JoinRequest struct {
	Room, Name, Session, Ref string
	Since                    string // replay every kept chat event after this id ("" = the last Replay)
	Replay                   int    // how many events to replay without Since
}

// TypingRequest asks a Broker to relay a typing indicator. Exactly one of Room
// and To is set.
type TypingRequest struct {
	From, Session string
	Room, To      string
	Active        bool
}

// EventKind says which protocol event an Event carries.
type EventKind uint8

// The kinds of Event.
const (
	EventJoin EventKind = iota + 1
	EventLeave
	EventChat
	EventPM
	EventTyping
)

// String names the kind as the protocol's type field does.
func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventLeave:
		return "leave"
	case EventChat:
		return "chat"
	case EventPM:
		return "pm"
	case EventTyping:
		return "typing"
	}
	return "unknown"
}

// Event is what a Broker delivers to subscribed nodes. Nodes treat it as
// read-only and must not keep it after deliver returns (Users and Replay are
// the exception: they are not reused by the broker).
type Event struct {
	Kind    EventKind
	ID      string // assigned by the broker; empty for typing
	TS      time.Time
	Room    string // join, leave, chat, room typing
	From    string // display name of the sender, joiner or leaver
	To      string // pm, user typing: the recipient's display name
	Session string // session id of From, so its node can give it its own copy (with Ref)
	Ref     string // echoed on From's own copy only
	Text    string // chat, pm
	Reason  string // leave: left, timeout or disconnected
	Active  bool   // typing

	// Join only: the members after the join (sorted by NameKey) and the chat
	// events to replay to the joiner, oldest first.
	Users  []string
	Replay []api.ChatEvent
}
