package term

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/chatd/chatd/client"
)

// Exit codes of the chat command.
const (
	ExitOK      = 0 // done, every command confirmed
	ExitRuntime = 1 // a command was refused or unconfirmed, or the session was lost
	ExitUsage   = 2 // bad flags
	ExitConnect = 3 // could not connect or join
)

// Config is what both modes need besides the session.
type Config struct {
	// Rooms are the rooms joined at start; the first is the current room.
	Rooms []string
	// JSON prints the server's envelopes verbatim, one per line (pipe mode).
	JSON bool
	// Color turns on colours in terminal mode.
	Color bool
	// RequestTimeout bounds the wait for the server's answer to one command
	// (and so the wait at end of input). Default 10 s.
	RequestTimeout time.Duration
}

func (c Config) timeout() time.Duration {
	if c.RequestTimeout > 0 {
		return c.RequestTimeout
	}
	return 10 * time.Second
}

// runner executes commands against the session and keeps the current room;
// both modes use it.
type runner struct {
	s       *client.Session
	cfg     Config
	current string
}

// result of one command, for people; err non-nil if it failed.
type outcome struct {
	info string // a line to print (help, "now in #x")
	err  error
	exit bool
}

func (r *runner) do(ctx context.Context, c Command) outcome {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.timeout())
	defer cancel()
	switch c.Kind {
	case None:
		return outcome{}
	case Help:
		return outcome{info: HelpText}
	case Exit:
		return outcome{exit: true}
	case Chat:
		if r.current == "" {
			return outcome{err: &UsageError{Hint: "you are in no room: /join ROOM first"}}
		}
		_, err := r.s.Chat(ctx, r.current, c.Text)
		return outcome{err: err}
	case PM:
		_, err := r.s.PM(ctx, c.To, c.Text)
		return outcome{err: err}
	case Join:
		_, err := r.s.Join(ctx, c.Room)
		if err == nil {
			r.current = c.Room
		}
		return outcome{err: err}
	case Leave:
		room := c.Room
		if room == "" {
			room = r.current
		}
		if room == "" {
			return outcome{err: &UsageError{Hint: "you are in no room"}}
		}
		_, err := r.s.Leave(ctx, room)
		if err == nil && room == r.current {
			r.current = ""
			if rooms := r.s.Rooms(); len(rooms) > 0 {
				r.current = rooms[0]
				return outcome{info: "* current room: #" + r.current}
			}
		}
		return outcome{err: err}
	case Switch:
		if !slices.Contains(r.s.Rooms(), c.Room) {
			return outcome{err: &UsageError{Hint: "you are not in #" + c.Room + ": /join " + c.Room + " first"}}
		}
		r.current = c.Room
		return outcome{info: "* current room: #" + c.Room}
	case Who:
		room := c.Room
		if room == "" {
			room = r.current
		}
		_, err := r.s.Who(ctx, room)
		return outcome{err: err}
	}
	return outcome{err: fmt.Errorf("unhandled command %d", c.Kind)}
}

// RunPipe runs the chat with commands read line by line from in (not a
// terminal): one line per event on out (or the server's envelopes verbatim
// with cfg.JSON), errors on errw. At end of input, once every command has been
// answered (each bounded by cfg.RequestTimeout), it leaves and returns
// ExitOK, or ExitRuntime if a command failed or the session was lost. It
// closes s.
func RunPipe(ctx context.Context, s *client.Session, cfg Config, in io.Reader, out, errw io.Writer) int {
	f := NewFormatter(out, false)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for ev := range s.Events() {
			printEvent(f, ev, cfg.JSON, out, errw)
		}
	}()

	lines := make(chan string)
	go func() {
		// Owned by the process: it ends at end of input; a caller that returns
		// before that (session lost) leaves it blocked on in, which the process exit ends.
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-printed:
				return
			}
		}
	}()

	r := &runner{s: s, cfg: cfg}
	if len(cfg.Rooms) > 0 {
		r.current = cfg.Rooms[0]
	}
	failed := false
loop:
	for {
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
		case <-printed:
			break loop // the session ended under us
		case <-ctx.Done():
			break loop
		}
		if !ok {
			break
		}
		c, err := Parse(line)
		if err != nil {
			fmt.Fprintln(errw, err)
			continue
		}
		o := r.do(ctx, c)
		if o.info != "" {
			fmt.Fprintln(errw, o.info)
		}
		if o.exit {
			break
		}
		if o.err != nil {
			var ue *UsageError
			var se *client.ServerError
			switch {
			case errors.As(o.err, &ue):
				fmt.Fprintln(errw, ue.Hint)
			case errors.As(o.err, &se):
				failed = true // the error event itself is printed by the event loop
			default:
				failed = true
				fmt.Fprintln(errw, "error: "+Explain(o.err, ""))
			}
		}
	}
	lost := s.Err()
	_ = s.Close()
	<-printed
	if lost != nil || failed {
		return ExitRuntime
	}
	return ExitOK
}

func printEvent(f *Formatter, ev client.Event, asJSON bool, out, errw io.Writer) {
	if asJSON && ev.Raw != nil {
		fmt.Fprintf(out, "%s\n", ev.Raw)
		return
	}
	line, stream := f.Line(ev)
	switch stream {
	case Out:
		if !asJSON {
			fmt.Fprintln(out, line)
		} else {
			fmt.Fprintln(errw, line) // a Gap: not an envelope, so not on the JSON stream
		}
	case Status, Err:
		fmt.Fprintln(errw, strings.TrimRight(line, "\n"))
	}
}
