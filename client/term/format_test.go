package term

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/client"
)

func TestFormatterLines(t *testing.T) {
	at := time.Date(2026, 11, 24, 18, 4, 5, 0, time.UTC)
	hhmmss := at.Local().Format("15:04:05")
	tests := []struct {
		name   string
		ev     any
		want   string
		stream Stream
	}{
		{"chat", &api.ChatEvent{TS: at, Room: "lobby", From: "alice", Text: "hi"}, hhmmss + " #lobby <alice> hi", Out},
		{"pm", &api.PMEvent{TS: at, From: "alice", To: "bob", Text: "hi"}, hhmmss + " [pm] alice → bob: hi", Out},
		{"join", &api.JoinEvent{Room: "lobby", From: "bob"}, "* bob joined #lobby", Out},
		{"leave", &api.LeaveEvent{Room: "lobby", From: "bob", Reason: "left"}, "* bob left #lobby", Out},
		{"disconnect", &api.LeaveEvent{Room: "lobby", From: "bob", Reason: "disconnected"}, "* bob disconnected from #lobby", Out},
		{"timeout", &api.LeaveEvent{Room: "lobby", From: "bob", Reason: "timeout"}, "* bob timed out of #lobby", Out},
		{"presence", &api.Presence{Room: "dev", Users: []string{"alice", "Bob"}}, "* #dev: alice, Bob", Out},
		{"error", &api.ErrorEvent{Err: &api.Error{Code: api.CodeUnknownUser, Message: "carol is not connected"}},
			"error: unknown_user: carol is not connected", Err},
		{"welcome", &api.Welcome{Name: "alice", Server: api.ServerInfo{Name: "chatd", Version: "0.1.0"}},
			"* connected to chatd 0.1.0 as alice", Status},
		{"typing is not a line", &api.TypingEvent{From: "bob", Active: true, Room: "lobby"}, "", Skip},
		{"gap", &client.Gap{Room: "lobby"}, "* #lobby: some messages from while you were away may be missing (the server no longer had them)", Out},
		{"reconnecting", &client.StateChange{State: client.StateReconnecting, Attempt: 1, Delay: 1500 * time.Millisecond, Err: errors.New("EOF")},
			"! connection lost (EOF); reconnecting in 1.5s", Status},
		{"reconnecting again", &client.StateChange{State: client.StateReconnecting, Attempt: 2, Delay: 3 * time.Second, Err: errors.New("refused")},
			"! still disconnected (refused); trying again in 3s (attempt 2)", Status},
		{"closed cleanly says nothing", &client.StateChange{State: client.StateClosed}, "", Skip},
	}
	f := NewFormatter(&bytes.Buffer{}, false)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line, stream := f.Line(client.Event{Value: tc.ev})
			if line != tc.want || stream != tc.stream {
				t.Fatalf("got %q (%d), want %q (%d)", line, stream, tc.want, tc.stream)
			}
		})
	}
}

func TestFormatterColor(t *testing.T) {
	ev := client.Event{Value: &api.ChatEvent{TS: time.Now(), Room: "lobby", From: "alice", Text: "hi"}}
	plain, _ := NewFormatter(&bytes.Buffer{}, false).Line(ev)
	colored, _ := NewFormatter(&bytes.Buffer{}, true).Line(ev)
	if strings.Contains(plain, "\x1b[") {
		t.Fatalf("no-colour line has escapes: %q", plain)
	}
	if !strings.Contains(colored, "\x1b[") || !strings.Contains(colored, "alice") {
		t.Fatalf("colour line has no escapes: %q", colored)
	}
	f := NewFormatter(&bytes.Buffer{}, true)
	if strings.Replace(f.name("alice"), "alice", "ALICE", 1) != f.name("ALICE") {
		t.Fatal("the same name in another case got another colour")
	}
}
