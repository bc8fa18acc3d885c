package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/client"
)

// terminal runs the chat on a pseudo-terminal and shows what its screen
// would look like.
type terminal struct {
	master, slave *os.File
	scr           *screen
	code          chan int
	copied        chan struct{}
}

func startTerminal(t *testing.T, args ...string) *terminal {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	if err := pty.Setsize(master, &pty.Winsize{Rows: 20, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	tm := &terminal{master: master, slave: slave, scr: newScreen(20, 100), code: make(chan int, 1), copied: make(chan struct{})}
	go func() { defer close(tm.copied); _, _ = io.Copy(tm.scr, master) }()
	go func() {
		tm.code <- runWith(context.Background(), args, slave, slave, slave, fast)
	}()
	t.Cleanup(func() {
		select {
		case <-tm.code:
		case <-time.After(waitLimit):
			_, _ = master.Write([]byte{3}) // Ctrl-C
			<-tm.code
		}
		_ = slave.Close()
		_ = master.Close()
		<-tm.copied
	})
	return tm
}

func (tm *terminal) typeKeys(t *testing.T, s string) {
	t.Helper()
	for _, r := range s {
		if _, err := tm.master.Write([]byte(string(r))); err != nil {
			t.Fatal(err)
		}
	}
}

// waitScreen waits until the screen satisfies ok.
func (tm *terminal) waitScreen(t *testing.T, what string, ok func(lines []string) bool) []string {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		tm.scr.mu.Lock()
		ch := tm.scr.changed
		tm.scr.mu.Unlock()
		if lines := tm.scr.lines(); ok(lines) {
			return lines
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("screen never showed %s:\n%s", what, tm.scr)
		}
	}
}

// inputLine is the last non-empty row: where the prompt is.
func inputLine(lines []string) (int, string) {
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i] != "" {
			return i, lines[i]
		}
	}
	return -1, ""
}

func contains(lines []string, re string) bool {
	rx := regexp.MustCompile(re)
	for _, l := range lines {
		if rx.MatchString(l) {
			return true
		}
	}
	return false
}

func TestTerminalInputSurvivesIncomingMessagesAndShowsTyping(t *testing.T) {
	url := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	bob, err := client.Dial(ctx, url, client.Options{Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	bobEvents := make(chan client.Event, 1000)
	go func() {
		defer close(bobEvents)
		for ev := range bob.Events() {
			bobEvents <- ev
		}
	}()
	defer func() {
		_ = bob.Close()
		for range bobEvents {
		}
	}()
	waitBob := func(what string, ok func(client.Event) bool) {
		t.Helper()
		for {
			select {
			case ev, open := <-bobEvents:
				if !open {
					t.Fatalf("bob's session ended before %s", what)
				}
				if ok(ev) {
					return
				}
			case <-time.After(waitLimit):
				t.Fatalf("bob never saw %s", what)
			}
		}
	}

	tm := startTerminal(t, "--url", url, "--name", "alice", "--no-color")
	tm.waitScreen(t, "the prompt", func(l []string) bool { _, in := inputLine(l); return strings.HasPrefix(in, "#lobby>") })
	waitBob("alice joining", func(ev client.Event) bool { j, ok := ev.Value.(*api.JoinEvent); return ok && j.From == "alice" })

	// Alice types half a line; bob sees her typing, then talks over it.
	tm.typeKeys(t, "hello wor")
	tm.waitScreen(t, "the half-typed line", func(l []string) bool { _, in := inputLine(l); return in == "#lobby> hello wor" })
	waitBob("alice typing", func(ev client.Event) bool {
		e, ok := ev.Value.(*api.TypingEvent)
		return ok && e.From == "alice" && e.Active && e.Room == "lobby"
	})
	for i := 1; i <= 5; i++ {
		if _, err := bob.Chat(ctx, "lobby", fmt.Sprint("interrupt ", i)); err != nil {
			t.Fatal(err)
		}
	}
	lines := tm.waitScreen(t, "bob's fifth message", func(l []string) bool { return contains(l, `<bob> interrupt 5$`) })
	row, in := inputLine(lines)
	if in != "#lobby> hello wor" {
		t.Fatalf("input line is %q after incoming messages, want %q:\n%s", in, "#lobby> hello wor", tm.scr)
	}
	for i := 1; i <= 5; i++ {
		found := -1
		for r, l := range lines {
			if regexp.MustCompile(`^\d\d:\d\d:\d\d #lobby <bob> interrupt ` + fmt.Sprint(i) + `$`).MatchString(l) {
				found = r
			}
		}
		if found < 0 || found >= row {
			t.Fatalf("message %d not printed intact above the input line:\n%s", i, tm.scr)
		}
	}

	// Bob types: alice's status line says so, and clears when he stops.
	bob.Typing(client.Room("lobby"))
	tm.waitScreen(t, "bob is typing…", func(l []string) bool { return contains(l, `^bob is typing…$`) })
	bob.StopTyping(client.Room("lobby"))
	tm.waitScreen(t, "the typing line cleared", func(l []string) bool { return !contains(l, `is typing`) })

	// Finishing the line sends it.
	tm.typeKeys(t, "ld\r")
	waitBob("alice's line", func(ev client.Event) bool {
		e, ok := ev.Value.(*api.ChatEvent)
		return ok && e.From == "alice" && e.Text == "hello world"
	})
	tm.waitScreen(t, "alice's own line", func(l []string) bool { return contains(l, `<alice> hello world$`) })

	// A PM to bob is marked as one; an unknown user is an error line.
	tm.typeKeys(t, "/pm nobody x\r")
	tm.waitScreen(t, "the unknown_user error", func(l []string) bool { return contains(l, `^error: unknown_user`) })

	// Ctrl-D on an empty line leaves and exits 0.
	tm.typeKeys(t, "\x04")
	waitBob("alice leaving", func(ev client.Event) bool { e, ok := ev.Value.(*api.LeaveEvent); return ok && e.From == "alice" })
	select {
	case code := <-tm.code:
		tm.code <- code
		if code != 0 {
			t.Fatalf("exit %d after Ctrl-D", code)
		}
	case <-time.After(waitLimit):
		t.Fatalf("chat did not exit after Ctrl-D:\n%s", tm.scr)
	}
}
