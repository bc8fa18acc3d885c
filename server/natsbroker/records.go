package natsbroker

import (
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// record is what the stream carries, JSON-encoded. One type for every kind
// keeps the projection a single switch.
type record struct {
	Kind    string    `json:"k"` // join, leave, chat, pm
	ID      string    `json:"id"`
	TS      time.Time `json:"ts"`
	Room    string    `json:"room,omitempty"`
	From    string    `json:"from,omitempty"`
	To      string    `json:"to,omitempty"`
	Session string    `json:"session,omitempty"`
	Ref     string    `json:"ref,omitempty"`
	Text    string    `json:"text,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	// Members is the room's member list after a join or leave, sorted by
	// key: the projection takes it as the truth, so a node that only sees
	// the last membership record (the others were purged) still knows them.
	Members []member `json:"members,omitempty"`
}

// member is one name holder in a room, with the node that serves it.
type member struct {
	Key     string `json:"key"` // api.NameKey(Name)
	Name    string `json:"name"`
	Session string `json:"session"`
	Node    string `json:"node"`
}

// typingMsg is a typing indicator on core NATS.
type typingMsg struct {
	TS      time.Time `json:"ts"`
	From    string    `json:"from"`
	Session string    `json:"session"`
	Room    string    `json:"room,omitempty"`
	To      string    `json:"to,omitempty"`
	Active  bool      `json:"active"`
}

const (
	kindJoin  = "join"
	kindLeave = "leave"
	kindChat  = "chat"
	kindPM    = "pm"
)

// Subject suffixes inside a room: membership records and chat messages are
// separate subjects so that MaxMsgsPerSubject counts chat messages only.
const (
	suffixMembers = "m"
	suffixChat    = "c"
)

// nameToken turns a name key into a subject token and KV key: names may hold
// '.', which separates tokens; '=' is never part of a name.
func nameToken(key string) string { return strings.ReplaceAll(key, ".", "=") }

// tokenName is the reverse of nameToken.
func tokenName(tok string) string { return strings.ReplaceAll(tok, "=", ".") }

// convKey names a private conversation by its two name keys in order, so
// both directions share one subject and one order.
func convKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return nameToken(a) + "." + nameToken(b)
}

// successor returns the smallest ULID above id (the 128-bit value plus one).
// Crockford base32 keeps the order of the bytes, so it also sorts above id as
// a string.
func successor(id string) string {
	u, err := ulid.ParseStrict(id)
	if err != nil {
		return id
	}
	for i := len(u) - 1; i >= 0; i-- {
		u[i]++
		if u[i] != 0 {
			break
		}
	}
	return u.String()
}
