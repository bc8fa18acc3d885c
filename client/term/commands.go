package term

import (
	"strings"
	"unicode"
)

// Kind is what a line of input asks for.
type Kind int

// The kinds of input lines.
const (
	None   Kind = iota // an empty line: nothing to do
	Chat               // plain text: chat to the current room
	PM                 // /pm NAME TEXT
	Join               // /join ROOM (and make it current)
	Leave              // /leave [ROOM]
	Switch             // /room ROOM
	Who                // /who [ROOM]
	Help               // /help
	Exit               // /exit, /quit
)

// Command is one parsed line. Room is empty where the command defaults to the
// current room.
type Command struct {
	Kind Kind
	Room string
	To   string
	Text string
}

// UsageError is a line that cannot be run: an unknown command or missing
// arguments. Nothing is sent for it; Error is a one-line hint.
type UsageError struct{ Hint string }

// Error returns the hint.
func (e *UsageError) Error() string { return e.Hint }

// HelpText lists the commands, one per line.
const HelpText = `commands:
  TEXT              say TEXT in the current room (start with // to say something that begins with /)
  /pm NAME TEXT     private message to NAME
  /join ROOM        join ROOM and make it the current room
  /leave [ROOM]     leave ROOM (default: the current room)
  /room ROOM        switch the current room to ROOM (one you have joined)
  /who [ROOM]       who is in ROOM (default: the current room)
  /help             this list
  /exit             leave every room and quit (Ctrl-D too)`

var usage = map[string]string{
	"/pm":    "usage: /pm NAME TEXT",
	"/join":  "usage: /join ROOM",
	"/leave": "usage: /leave [ROOM]",
	"/room":  "usage: /room ROOM",
	"/who":   "usage: /who [ROOM]",
	"/help":  "usage: /help",
	"/exit":  "usage: /exit",
}

// Parse reads one line of input. Plain text is a chat; "//text" is the chat
// "/text"; a line of only white space is None.
func Parse(line string) (Command, error) {
	line = strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(line) == "" {
		return Command{Kind: None}, nil
	}
	if strings.HasPrefix(line, "//") {
		return Command{Kind: Chat, Text: line[1:]}, nil
	}
	if !strings.HasPrefix(line, "/") {
		return Command{Kind: Chat, Text: line}, nil
	}
	name, rest := splitWord(strings.TrimSpace(line))
	args := strings.Fields(rest)
	bad := func() (Command, error) { return Command{}, &UsageError{Hint: usage[name]} }
	switch name {
	case "/pm", "/msg":
		name = "/pm"
		to, text := splitWord(rest)
		if to == "" || text == "" {
			return bad()
		}
		return Command{Kind: PM, To: to, Text: text}, nil
	case "/join":
		if len(args) != 1 {
			return bad()
		}
		return Command{Kind: Join, Room: args[0]}, nil
	case "/leave", "/part":
		name = "/leave"
		if len(args) > 1 {
			return bad()
		}
		c := Command{Kind: Leave}
		if len(args) == 1 {
			c.Room = args[0]
		}
		return c, nil
	case "/room":
		if len(args) != 1 {
			return bad()
		}
		return Command{Kind: Switch, Room: args[0]}, nil
	case "/who":
		if len(args) > 1 {
			return bad()
		}
		c := Command{Kind: Who}
		if len(args) == 1 {
			c.Room = args[0]
		}
		return c, nil
	case "/help", "/?":
		return Command{Kind: Help}, nil
	case "/exit", "/quit":
		return Command{Kind: Exit}, nil
	}
	return Command{}, &UsageError{Hint: "unknown command " + name + " (try /help)"}
}

// splitWord splits s at its first white space: the first word, and the rest
// without surrounding white space.
func splitWord(s string) (word, rest string) {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}
