package term

import (
	"bytes"
	"testing"
	"time"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/client"
)

func TestPrintEventStreams(t *testing.T) {
	at := time.Date(2026, 11, 24, 18, 4, 5, 0, time.UTC)
	chat := client.Event{Value: &api.ChatEvent{TS: at, Room: "lobby", From: "a", Text: "hi"}, Raw: []byte(`{"type":"chat"}`)}
	errEv := client.Event{Value: &api.ErrorEvent{Err: &api.Error{Code: api.CodeUnknownUser, Message: "x"}}, Raw: []byte(`{"type":"error"}`)}
	gap := client.Event{Value: &client.Gap{Room: "lobby"}}
	tests := []struct {
		name      string
		ev        client.Event
		json      bool
		out, errw string
	}{
		{"chat to stdout", chat, false, at.Local().Format("15:04:05") + " #lobby <a> hi\n", ""},
		{"chat as JSON, verbatim", chat, true, `{"type":"chat"}` + "\n", ""},
		{"error to stderr", errEv, false, "", "error: unknown_user: x\n"},
		{"error as JSON on stdout", errEv, true, `{"type":"error"}` + "\n", ""},
		{"a gap is not an envelope: stderr in JSON mode", gap, true, "", "* #lobby: some messages from while you were away may be missing (the server no longer had them)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			printEvent(NewFormatter(&out, false), tc.ev, tc.json, &out, &errw)
			if out.String() != tc.out || errw.String() != tc.errw {
				t.Fatalf("stdout %q stderr %q; want %q and %q", out.String(), errw.String(), tc.out, tc.errw)
			}
		})
	}
}
