package api

// Client → server messages, as DecodeClient returns them: every field checked,
// defaults applied. Ref is the client's correlation id ("" when not sent).

// ClientMessage is one of *Join, *Chat, *PM, *Typing, *Who or *Leave.
type ClientMessage interface {
	// Kind is the message's type: "join", "chat", "pm", "typing", "who" or "leave".
	Kind() string
	// RefID is the message's ref, "" when it had none.
	RefID() string
}

// Join claims a name (on the first join) and enters a room.
type Join struct {
	Name  string // "" when not sent (allowed only after the first join)
	Room  string // DefaultRoom when not sent
	Since string // ULID in upper case, or ""; replay what came after it
	Token string // authentication token, or ""
	Ref   string
}

// Chat is a message to every member of a room.
type Chat struct {
	Room string // DefaultRoom when not sent
	Text string
	Ref  string
}

// PM is a private message to one user.
type PM struct {
	To   string // a name, compared ignoring case (NameKey)
	Text string
	Ref  string
}

// Typing says the sender started (Active) or stopped typing, in Room or to To:
// exactly one of the two is set (Room DefaultRoom when neither was sent).
type Typing struct {
	Active bool
	Room   string
	To     string
	Ref    string
}

// Who asks for the member list of a room.
type Who struct {
	Room string // DefaultRoom when not sent
	Ref  string
}

// Leave leaves one room, or with Room "" every room, ending the session.
type Leave struct {
	Room string
	Ref  string
}

// Kind implements ClientMessage.
func (*Join) Kind() string { return "join" }

// Kind implements ClientMessage.
func (*Chat) Kind() string { return "chat" }

// Kind implements ClientMessage.
func (*PM) Kind() string { return "pm" }

// Kind implements ClientMessage.
func (*Typing) Kind() string { return "typing" }

// Kind implements ClientMessage.
func (*Who) Kind() string { return "who" }

// Kind implements ClientMessage.
func (*Leave) Kind() string { return "leave" }

// RefID implements ClientMessage.
func (m *Join) RefID() string { return m.Ref }

// RefID implements ClientMessage.
func (m *Chat) RefID() string { return m.Ref }

// RefID implements ClientMessage.
func (m *PM) RefID() string { return m.Ref }

// RefID implements ClientMessage.
func (m *Typing) RefID() string { return m.Ref }

// RefID implements ClientMessage.
func (m *Who) RefID() string { return m.Ref }

// RefID implements ClientMessage.
func (m *Leave) RefID() string { return m.Ref }
