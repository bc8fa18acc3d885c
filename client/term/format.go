package term

import (
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/client"
)

// Stream says where a formatted line belongs.
type Stream int

// Streams: the conversation goes to stdout; errors and connection news to stderr.
const (
	Skip   Stream = iota // nothing to print (typing, unknown events)
	Out                  // the conversation
	Status               // connection news (welcome, reconnecting): stderr in pipe mode
	Err                  // errors: stderr in pipe mode
)

// Formatter turns events into one line each for people: local time, room,
// name (in a colour of its own when colour is on), PMs and errors marked.
type Formatter struct {
	r     *lipgloss.Renderer
	color bool
	// Clock for times of client-side events (StateChange); nil: time.Now.
	Now func() time.Time
}

// NewFormatter returns a Formatter writing for w; color false (NO_COLOR,
// --no-color, or not a terminal) gives plain text with the same markers.
func NewFormatter(w io.Writer, color bool) *Formatter {
	r := lipgloss.NewRenderer(w)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	return &Formatter{r: r, color: color}
}

// palette: readable on dark and light backgrounds.
var palette = []string{"1", "2", "3", "4", "5", "6", "9", "10", "12", "13", "14", "172", "33", "129", "35", "166"}

func (f *Formatter) name(n string) string {
	if !f.color {
		return n
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(api.NameKey(n)))
	c := palette[h.Sum32()%uint32(len(palette))]
	return f.r.NewStyle().Foreground(lipgloss.Color(c)).Bold(true).Render(n)
}

func (f *Formatter) dim(s string) string {
	if !f.color {
		return s
	}
	return f.r.NewStyle().Faint(true).Render(s)
}

func (f *Formatter) styled(s, color string, bold bool) string {
	if !f.color {
		return s
	}
	return f.r.NewStyle().Foreground(lipgloss.Color(color)).Bold(bold).Render(s)
}

func clock(t time.Time) string { return t.Local().Format("15:04:05") }

// Line formats ev: `12:04:05 #lobby <alice> hi`, `12:04:07 [pm] alice → bob: hi`,
// `* bob joined #lobby`, `error: unknown_user: carol is not connected`, …
func (f *Formatter) Line(ev client.Event) (string, Stream) {
	switch e := ev.Value.(type) {
	case *api.ChatEvent:
		return fmt.Sprintf("%s %s <%s> %s", f.dim(clock(e.TS)), f.dim("#"+e.Room), f.name(e.From), e.Text), Out
	case *api.PMEvent:
		return fmt.Sprintf("%s %s %s → %s: %s", f.dim(clock(e.TS)), f.styled("[pm]", "13", true), f.name(e.From), f.name(e.To), e.Text), Out
	case *api.JoinEvent:
		return fmt.Sprintf("* %s joined #%s", f.name(e.From), e.Room), Out
	case *api.LeaveEvent:
		switch e.Reason {
		case api.ReasonDisconnected:
			return fmt.Sprintf("* %s disconnected from #%s", f.name(e.From), e.Room), Out
		case api.ReasonTimeout:
			return fmt.Sprintf("* %s timed out of #%s", f.name(e.From), e.Room), Out
		}
		return fmt.Sprintf("* %s left #%s", f.name(e.From), e.Room), Out
	case *api.Presence:
		names := make([]string, len(e.Users))
		for i, u := range e.Users {
			names[i] = f.name(u)
		}
		return fmt.Sprintf("* #%s: %s", e.Room, strings.Join(names, ", ")), Out
	case *api.Welcome:
		return fmt.Sprintf("* connected to %s %s as %s", e.Server.Name, e.Server.Version, e.Name), Status
	case *api.ErrorEvent:
		if e.Err == nil {
			return "", Skip
		}
		return f.styled("error: ", "9", true) + e.Err.Error(), Err
	case *client.Gap:
		return fmt.Sprintf("* #%s: some messages from while you were away may be missing (the server no longer had them)", e.Room), Out
	case *client.StateChange:
		switch e.State {
		case client.StateReconnecting:
			if e.Attempt > 1 {
				return f.styled(fmt.Sprintf("! still disconnected (%v); trying again in %s (attempt %d)",
					e.Err, e.Delay.Round(10*time.Millisecond), e.Attempt), "11", false), Status
			}
			return f.styled(fmt.Sprintf("! connection lost (%v); reconnecting in %s",
				e.Err, e.Delay.Round(10*time.Millisecond)), "11", false), Status
		case client.StateConnected:
			return "", Skip // the welcome says it
		case client.StateClosed:
			if e.Err != nil {
				return f.styled("error: ", "9", true) + Explain(e.Err, ""), Err
			}
		}
	}
	return "", Skip
}
