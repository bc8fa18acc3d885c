package term

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		line string
		want Command
		hint string // non-empty: a UsageError with this hint
	}{
		{"hello there", Command{Kind: Chat, Text: "hello there"}, ""},
		{"  indented stays", Command{Kind: Chat, Text: "  indented stays"}, ""},
		{"//not a command", Command{Kind: Chat, Text: "/not a command"}, ""},
		{"", Command{Kind: None}, ""},
		{"   \r\n", Command{Kind: None}, ""},
		{"/pm bob hi", Command{Kind: PM, To: "bob", Text: "hi"}, ""},
		{"/pm bob  hi there ", Command{Kind: PM, To: "bob", Text: "hi there"}, ""},
		{"/msg bob hi", Command{Kind: PM, To: "bob", Text: "hi"}, ""},
		{"/pm bob\thi", Command{Kind: PM, To: "bob", Text: "hi"}, ""},
		{"/pm bob", Command{}, "usage: /pm NAME TEXT"},
		{"/pm", Command{}, "usage: /pm NAME TEXT"},
		{"/join dev", Command{Kind: Join, Room: "dev"}, ""},
		{"/join", Command{}, "usage: /join ROOM"},
		{"/join a b", Command{}, "usage: /join ROOM"},
		{"/leave", Command{Kind: Leave}, ""},
		{"/leave dev", Command{Kind: Leave, Room: "dev"}, ""},
		{"/leave a b", Command{}, "usage: /leave [ROOM]"},
		{"/room dev", Command{Kind: Switch, Room: "dev"}, ""},
		{"/room", Command{}, "usage: /room ROOM"},
		{"/who", Command{Kind: Who}, ""},
		{"/who dev", Command{Kind: Who, Room: "dev"}, ""},
		{"/help", Command{Kind: Help}, ""},
		{"/exit", Command{Kind: Exit}, ""},
		{"/quit", Command{Kind: Exit}, ""},
		{"/frobnicate now", Command{}, "unknown command /frobnicate (try /help)"},
		{"/", Command{}, "unknown command / (try /help)"},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			got, err := Parse(tc.line)
			if tc.hint != "" {
				var ue *UsageError
				if !errors.As(err, &ue) || ue.Hint != tc.hint {
					t.Fatalf("Parse(%q) error %v, want hint %q", tc.line, err, tc.hint)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
			}
		})
	}
}

// FuzzParse: any line parses to a command or a one-line usage hint; nothing panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"hi", "/pm bob hi", "/join", "//x", "/leave a b", "/who", "\x00/pm \xff x", "/pm  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := Parse(line)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) || ue.Hint == "" || strings.Contains(ue.Hint, "\n") {
				t.Fatalf("Parse(%q): error %v is not a one-line usage hint", line, err)
			}
			return
		}
		if c.Kind == PM && (c.To == "" || c.Text == "") {
			t.Fatalf("Parse(%q) = %+v: a pm without name or text", line, c)
		}
	})
}
