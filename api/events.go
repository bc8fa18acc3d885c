package api

import "time"

// Server → client envelopes. The same values feed the encoders (Append*) on the
// server and come out of DecodeServer on the client. Ref is set only on the
// copy that goes back to the sender of the message that caused the event.

// ChatEvent is a message to a room ("chat"), live or replayed from history.
type ChatEvent struct {
	ID     string    // ULID, strictly increasing per room
	TS     time.Time // when the server accepted the message
	Room   string
	From   string // the sender's name as given at join
	Text   string
	Ref    string // sender's copy only
	Replay bool   // true only for history replayed on join
}

// PMEvent is a private message ("pm"), sent to the recipient and, as a
// confirmation, to the sender.
type PMEvent struct {
	ID   string
	TS   time.Time
	From string
	To   string // the recipient's name as given at join
	Text string
	Ref  string // sender's copy only
}

// JoinEvent says that From entered Room ("join").
type JoinEvent struct {
	ID   string
	TS   time.Time
	Room string
	From string
	Ref  string // joiner's copy only
}

// Leave reasons.
const (
	ReasonLeft         = "left"         // a leave message, or a clean close started by the client
	ReasonTimeout      = "timeout"      // the idle timeout
	ReasonDisconnected = "disconnected" // everything else
)

// LeaveEvent says that From left Room ("leave"), and why.
type LeaveEvent struct {
	ID     string
	TS     time.Time
	Room   string
	From   string
	Reason string // ReasonLeft, ReasonTimeout or ReasonDisconnected
	Ref    string // leaver's copy only
}

// TypingEvent relays that From started or stopped typing in Room or to To
// (exactly one of them is set). It never carries a ref.
type TypingEvent struct {
	TS     time.Time
	From   string
	Active bool
	Room   string
	To     string
}

// Presence lists the members of Room ("presence"), sorted by NameKey; it
// answers a join (joiner's copy) and a who.
type Presence struct {
	TS    time.Time
	Room  string
	Users []string
	Ref   string
}

// ServerInfo names the server software in a welcome.
type ServerInfo struct {
	Name    string
	Version string
}

// Limits tells a client, in its welcome, the limits the server enforces.
type Limits struct {
	MaxMessageBytes int64   // whole message, after decompression
	MaxTextChars    int     // code points of a chat or pm text
	RatePerSec      float64 // sustained messages per second
	RateBurst       int     // messages allowed in a burst
}

// Welcome is the first envelope after the first successful join.
type Welcome struct {
	TS      time.Time
	Name    string // the name as given at join
	Session string // ULID of the session
	Server  ServerInfo
	Limits  Limits
}

// ErrorEvent is an error envelope: Err says what went wrong, and carries the
// ref of the message that caused it.
type ErrorEvent struct {
	TS  time.Time
	Err *Error
}

// UnknownEvent is what DecodeServer returns for an envelope whose type it does
// not know; clients must ignore it (the server may add types).
type UnknownEvent struct {
	Type string
	Raw  []byte
}
