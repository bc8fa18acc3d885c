package term

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/client"
)

// TypingExpiry is how long a "… is typing" stays shown without a refresh; the
// server sends active:false itself after 6 s, this is the safety net.
const TypingExpiry = 7 * time.Second

// Messages into the bubbletea program.
type (
	eventMsg struct {
		ev   client.Event
		line string // formatted; "" if nothing to print
	}
	closedMsg  struct{}
	flushedMsg struct{}
	outcomeMsg struct {
		o    outcome
		kind Kind
		room string
	}
	tickMsg   time.Time
	quitMsg   struct{}
	closedNow struct{}
)

type typist struct {
	name    string
	expires time.Time
}

// model is the terminal screen: a status line ("bob is typing…") over an
// input line whose prompt names the current room. Everything else is printed
// above it, so incoming messages never tear up what the user is typing.
type model struct {
	s       *client.Session
	f       *Formatter
	input   textinput.Model
	current string
	me      string
	typing  map[string]typist // key: "#room/NAMEKEY" or "@/NAMEKEY" (pm to me)
	state   string            // "" when connected; "reconnecting…" otherwise
	cmds    chan<- Command
	stop    <-chan struct{} // closed when the program has ended
	now     func() time.Time
	closing bool
	done    bool // the session's events have all arrived: quit once printed

	// Lines wait here and are handed to bubbletea one batch at a time, each
	// batch after the previous one was printed: tea.Println commands run
	// concurrently, so two of them in flight could swap.
	pending  []string
	flushing bool
}

func newModel(s *client.Session, f *Formatter, cfg Config, cmds chan<- Command, stop <-chan struct{}) model {
	ti := textinput.New()
	ti.Cursor.SetMode(cursor.CursorStatic)
	ti.CharLimit = 4000
	ti.Focus()
	m := model{s: s, f: f, input: ti, me: s.Name(), typing: map[string]typist{}, cmds: cmds, stop: stop, now: time.Now}
	if len(cfg.Rooms) > 0 {
		m.current = cfg.Rooms[0]
	}
	m.setPrompt()
	return m
}

func (m *model) setPrompt() {
	p := "(no room)> "
	if m.current != "" {
		p = "#" + m.current + "> "
	}
	m.input.Prompt = p
}

// tick wakes the model every second to expire typing indicators. Unlike
// tea.Tick it ends as soon as the program does (stop is closed), so no timer
// goroutine outlives RunTerminal.
func (m model) tick() tea.Cmd {
	stop := m.stop
	return func() tea.Msg {
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case now := <-t.C:
			return tickMsg(now)
		case <-stop:
			return nil
		}
	}
}

// Init starts the typing-expiry tick.
func (m model) Init() tea.Cmd { return tea.Batch(textinput.Blink, m.tick()) }

// Update handles keys, events from the session, command outcomes and ticks.
func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		return m.key(msg)
	case eventMsg:
		m.event(msg.ev)
		if msg.line != "" {
			return m.print(msg.line)
		}
		return m, nil
	case flushedMsg:
		m.flushing = false
		return m.flush()
	case outcomeMsg:
		if msg.o.err == nil {
			switch msg.kind {
			case Join:
				m.current = msg.room
			case Leave:
				if msg.room == m.current {
					m.current = ""
					if rooms := m.s.Rooms(); len(rooms) > 0 {
						m.current = rooms[0]
					}
				}
			}
			m.setPrompt()
		}
		var se *client.ServerError
		var ue *UsageError
		switch {
		case msg.o.err == nil:
		case errors.As(msg.o.err, &se):
			// the error event was printed as it arrived
		case errors.As(msg.o.err, &ue):
			return m.print(ue.Hint)
		default:
			return m.print(m.f.styled("error: ", "9", true) + Explain(msg.o.err, ""))
		}
		if msg.o.info != "" {
			return m.print(msg.o.info)
		}
		return m, nil
	case tickMsg:
		now := m.now()
		for k, t := range m.typing {
			if now.After(t.expires) {
				delete(m.typing, k)
			}
		}
		return m, m.tick()
	case quitMsg:
		return m.quit()
	case closedMsg:
		m.done = true
		return m.flush()
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

// print queues a line to print above the input line, in order.
func (m model) print(line string) (tea.Model, tea.Cmd) {
	m.pending = append(m.pending, line)
	return m.flush()
}

func (m model) flush() (tea.Model, tea.Cmd) {
	if m.flushing {
		return m, nil
	}
	if len(m.pending) == 0 {
		if m.done {
			return m, tea.Quit
		}
		return m, nil
	}
	body := strings.Join(m.pending, "\n")
	m.pending, m.flushing = nil, true
	return m, tea.Sequence(tea.Println(body), func() tea.Msg { return flushedMsg{} })
}

// quit starts the goodbye: Close leaves every room; the event loop sees the
// channel close and sends closedMsg, and only then does the program stop, so
// that every line still queued is printed first.
func (m model) quit() (tea.Model, tea.Cmd) {
	if m.closing {
		return m, nil
	}
	m.closing = true
	m.input.Blur()
	s := m.s
	return m, func() tea.Msg { _ = s.Close(); return closedNow{} }
}

func (m model) key(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch k.Type {
	case tea.KeyCtrlC:
		return m.quit()
	case tea.KeyCtrlD:
		if m.input.Value() == "" {
			return m.quit()
		}
	case tea.KeyEnter:
		line := m.input.Value()
		m.input.SetValue("")
		c, err := Parse(line)
		if err != nil {
			return m.print(err.Error())
		}
		switch c.Kind {
		case None:
			return m, nil
		case Exit:
			return m.quit()
		case Help:
			return m.print(HelpText)
		case Switch:
			if !contains(m.s.Rooms(), c.Room) {
				return m.print("you are not in #" + c.Room + ": /join " + c.Room + " first")
			}
			m.s.StopTyping(client.Room(m.current))
			m.current = c.Room
			m.setPrompt()
			return m, nil
		case Chat:
			if m.current == "" {
				return m.print("you are in no room: /join ROOM first")
			}
			c.Room = m.current
		case Leave, Who:
			if c.Room == "" {
				c.Room = m.current
			}
		}
		select {
		case m.cmds <- c:
		default:
			return m.print("too many commands waiting for the server; this one was not sent")
		}
		return m, nil
	}
	before := m.input.Value()
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	if after := m.input.Value(); after != before {
		m.typed(before, after)
	}
	return m, cmd
}

// typed sends typing indicators for what the input line now holds: plain
// text types in the current room, "/pm NAME text" types to NAME.
func (m model) typed(before, after string) {
	target := func(v string) (client.Target, bool) {
		if v == "" || strings.HasPrefix(v, "//") {
			return client.Room(m.current), v != "" && m.current != ""
		}
		if strings.HasPrefix(v, "/pm ") {
			to, text, ok := strings.Cut(strings.TrimPrefix(v, "/pm "), " ")
			return client.To(to), ok && to != "" && text != ""
		}
		if strings.HasPrefix(v, "/") {
			return client.Target{}, false
		}
		return client.Room(m.current), m.current != ""
	}
	if t, ok := target(after); ok {
		m.s.Typing(t)
		return
	}
	if t, ok := target(before); ok {
		m.s.StopTyping(t)
	}
}

func (m *model) event(ev client.Event) {
	switch e := ev.Value.(type) {
	case *api.TypingEvent:
		k := "@/" + api.NameKey(e.From)
		if e.Room != "" {
			k = "#" + e.Room + "/" + api.NameKey(e.From)
		}
		if e.Active {
			m.typing[k] = typist{name: e.From, expires: m.now().Add(TypingExpiry)}
		} else {
			delete(m.typing, k)
		}
	case *api.ChatEvent:
		delete(m.typing, "#"+e.Room+"/"+api.NameKey(e.From))
	case *api.PMEvent:
		delete(m.typing, "@/"+api.NameKey(e.From))
	case *api.LeaveEvent:
		delete(m.typing, "#"+e.Room+"/"+api.NameKey(e.From))
	case *api.Welcome:
		m.me = e.Name
	case *client.StateChange:
		switch e.State {
		case client.StateReconnecting:
			m.state = fmt.Sprintf("reconnecting (attempt %d)…", e.Attempt)
		case client.StateConnected:
			m.state = ""
		case client.StateClosed:
			m.state = "disconnected"
		}
	}
}

func (m model) statusLine() string {
	var names []string
	seen := map[string]bool{}
	for k, t := range m.typing {
		if strings.HasPrefix(k, "#"+m.current+"/") || strings.HasPrefix(k, "@/") {
			if !seen[t.name] {
				seen[t.name] = true
				names = append(names, t.name)
			}
		}
	}
	sort.Slice(names, func(i, j int) bool { return api.NameKey(names[i]) < api.NameKey(names[j]) })
	var s string
	switch len(names) {
	case 0:
	case 1:
		s = names[0] + " is typing…"
	case 2:
		s = names[0] + " and " + names[1] + " are typing…"
	case 3:
		s = names[0] + ", " + names[1] + " and " + names[2] + " are typing…"
	default:
		s = fmt.Sprintf("%s, %s and %d others are typing…", names[0], names[1], len(names)-2)
	}
	if m.state != "" {
		if s != "" {
			s = m.state + "  " + s
		} else {
			s = m.state
		}
	}
	return m.f.dim(s)
}

// View is the status line over the input line; everything else is printed above.
func (m model) View() string {
	return m.statusLine() + "\n" + m.input.View()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// RunTerminal runs the interactive chat on a terminal: in must be the
// terminal (it is put in raw mode while the program runs) and out writes to
// it. It returns ExitOK after /exit, Ctrl-D or Ctrl-C, and ExitRuntime if the
// session was lost. It closes s.
func RunTerminal(ctx context.Context, s *client.Session, cfg Config, in io.Reader, out io.Writer) int {
	f := NewFormatter(out, cfg.Color)
	cmds := make(chan Command, 64)
	stopTicks := make(chan struct{})
	p := tea.NewProgram(newModel(s, f, cfg, cmds, stopTicks), tea.WithInput(in), tea.WithOutput(out), tea.WithoutSignalHandler())

	var wg sync.WaitGroup
	wg.Add(2)
	// Events go into the program in arrival order; p.Send returns at once
	// once the program has ended, so this goroutine never blocks for good.
	go func() {
		defer wg.Done()
		for ev := range s.Events() {
			line, stream := f.Line(ev)
			if stream == Skip {
				line = ""
			}
			p.Send(eventMsg{ev: ev, line: line})
		}
		p.Send(closedMsg{})
	}()
	// Commands run one at a time, in the order they were typed.
	go func() {
		defer wg.Done()
		r := &runner{s: s, cfg: cfg}
		for c := range cmds {
			r.current = c.Room
			o := r.do(ctx, c)
			p.Send(outcomeMsg{o: o, kind: c.Kind, room: c.Room})
		}
	}()
	stop := context.AfterFunc(ctx, func() { p.Send(quitMsg{}) })
	defer stop()

	_, err := p.Run()
	close(stopTicks)
	close(cmds)
	lost := s.Err()
	_ = s.Close()
	wg.Wait()
	if err != nil {
		fmt.Fprintln(out, "error: terminal:", err)
		return ExitRuntime
	}
	if lost != nil {
		return ExitRuntime
	}
	return ExitOK
}
