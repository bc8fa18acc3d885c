package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var ts0 = time.Date(2026, 11, 24, 18, 4, 5, 121_900_000, time.UTC)

// goldenEvents are the server envelopes of docs/PROTOCOL.md's example session
// and their variants; each is encoded, compared with testdata/golden/<name>.json,
// validated against schema/server.json and decoded back.
var goldenEvents = []struct {
	name string
	ev   any
}{
	{"welcome", &Welcome{TS: ts0, Name: "alice", Session: "01JDABCDEFGHJKMNPQRSTVWXYZ",
		Server: ServerInfo{Name: "chatd", Version: "0.1.0"},
		Limits: Limits{MaxMessageBytes: 65536, MaxTextChars: 4000, RatePerSec: 20, RateBurst: 40}}},
	{"welcome_fractional_rate", &Welcome{TS: ts0, Name: "B.o-b_2", Session: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
		Server: ServerInfo{Name: "chatd", Version: "0.1.0-dev+abc"},
		Limits: Limits{MaxMessageBytes: 1 << 20, MaxTextChars: 100, RatePerSec: 0.5, RateBurst: 1}}},
	{"presence", &Presence{TS: ts0, Room: "lobby", Users: []string{"alice", "Bob", "carol"}, Ref: "1"}},
	{"presence_alone", &Presence{TS: ts0, Room: "dev", Users: []string{"alice"}}},
	{"join", &JoinEvent{ID: "01JDABCDEFGHJKMNPQRSTVWXY0", TS: ts0, Room: "lobby", From: "alice", Ref: "1"}},
	{"join_other", &JoinEvent{ID: "01JDABCDEFGHJKMNPQRSTVWXY1", TS: ts0, Room: "lobby", From: "bob"}},
	{"chat", &ChatEvent{ID: "01JDABCDEFGHJKMNPQRSTVWXY2", TS: ts0, Room: "lobby", From: "alice", Text: "hello", Ref: "2"}},
	{"chat_replay", &ChatEvent{ID: "01JDABCDEFGHJKMNPQRSTVWXY3", TS: ts0, Room: "lobby", From: "bob", Text: "earlier", Replay: true}},
	{"chat_escapes", &ChatEvent{ID: "01JDABCDEFGHJKMNPQRSTVWXY4", TS: ts0, Room: "lobby", From: "bob",
		Text: "quote \" backslash \\ tab \t nl \n ctl \x01 del \x7f ls \u2028 ps \u2029 html <&> emoji 😀 é"}},
	{"pm", &PMEvent{ID: "01JDABCDEFGHJKMNPQRSTVWXY5", TS: ts0, From: "alice", To: "bob", Text: "hi", Ref: "2"}},
	{"pm_received", &PMEvent{ID: "01JDABCDEFGHJKMNPQRSTVWXY5", TS: ts0, From: "alice", To: "bob", Text: "hi"}},
	{"typing_room", &TypingEvent{TS: ts0, From: "alice", Active: true, Room: "lobby"}},
	{"typing_to", &TypingEvent{TS: ts0, From: "alice", Active: false, To: "bob"}},
	{"leave_left", &LeaveEvent{ID: "01JDABCDEFGHJKMNPQRSTVWXY6", TS: ts0, Room: "dev", From: "alice", Reason: ReasonLeft, Ref: "9"}},
	{"leave_timeout", &LeaveEvent{ID: "01JDABCDEFGHJKMNPQRSTVWXY7", TS: ts0, Room: "lobby", From: "bob", Reason: ReasonTimeout}},
	{"leave_disconnected", &LeaveEvent{ID: "01JDABCDEFGHJKMNPQRSTVWXY8", TS: ts0, Room: "lobby", From: "carol", Reason: ReasonDisconnected}},
	{"error", &ErrorEvent{TS: ts0, Err: &Error{Code: CodeUnknownUser, Message: "carol is not connected"}}},
	{"error_details", &ErrorEvent{TS: ts0, Err: &Error{Code: CodeInvalidMessage, Ref: "5",
		Message: `invalid chat message: "text" must not be empty`,
		Details: []Detail{{Field: "text", Problem: "must not be empty"}, {Field: "x", Problem: "is not a field of a chat message"}}}}},
	{"error_rate_limited", &ErrorEvent{TS: ts0, Err: &Error{Code: CodeRateLimited, Message: "slow down: 20 messages per second", Ref: "6"}}},
}

func encodeEvent(dst []byte, ev any) []byte {
	switch e := ev.(type) {
	case *ChatEvent:
		return AppendChat(dst, e)
	case *PMEvent:
		return AppendPM(dst, e)
	case *JoinEvent:
		return AppendJoin(dst, e)
	case *LeaveEvent:
		return AppendLeave(dst, e)
	case *TypingEvent:
		return AppendTyping(dst, e)
	case *Presence:
		return AppendPresence(dst, e)
	case *Welcome:
		return AppendWelcome(dst, e)
	case *ErrorEvent:
		return AppendError(dst, e)
	}
	panic("unknown event")
}

func TestGoldenServerEnvelopes(t *testing.T) {
	ss, err := serverSchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldenEvents {
		t.Run(g.name, func(t *testing.T) {
			got := encodeEvent([]byte("prefix"), g.ev)
			if !bytes.HasPrefix(got, []byte("prefix")) {
				t.Fatal("the encoder dropped what dst held")
			}
			got = got[len("prefix"):]
			path := filepath.Join("testdata", "golden", g.name+".json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
				t.Errorf("encoded\n%s\nwant\n%s", got, want)
			}
			if !json.Valid(got) || !utf8.Valid(got) {
				t.Fatalf("not valid JSON/UTF-8: %s", got)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			if err := ss.Validate(doc); err != nil {
				t.Errorf("schema/server.json refuses %s: %v", got, err)
			}
			back, err := DecodeServer(got)
			if err != nil {
				t.Fatalf("DecodeServer: %v", err)
			}
			if !reflect.DeepEqual(back, truncTS(g.ev)) {
				t.Errorf("round trip:\n got %#v\nwant %#v", back, truncTS(g.ev))
			}
		})
	}
}

// truncTS returns a copy of ev with its TS cut to the millisecond, as on the wire.
func truncTS(ev any) any {
	v := reflect.ValueOf(ev).Elem()
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	if f := c.Elem().FieldByName("TS"); f.IsValid() {
		f.Set(reflect.ValueOf(f.Interface().(time.Time).Truncate(time.Millisecond)))
	}
	return c.Interface()
}

// TestGoldenMatchesProtocolExample pins field order to docs/PROTOCOL.md's example.
func TestGoldenMatchesProtocolExample(t *testing.T) {
	id, when := "01JDABCDEFGHJKMNPQRSTVWXYZ", time.Date(2026, 11, 24, 18, 4, 5, 121_000_000, time.UTC)
	for _, tc := range []struct {
		got  []byte
		want string
	}{
		{AppendWelcome(nil, &Welcome{TS: when, Name: "alice", Session: id, Server: ServerInfo{"chatd", "0.1.0"},
			Limits: Limits{65536, 4000, 20, 40}}),
			`{"type":"welcome","name":"alice","session":"` + id + `","server":{"name":"chatd","version":"0.1.0"},"limits":{"max_message_bytes":65536,"max_text_chars":4000,"rate_per_sec":20,"rate_burst":40},"ts":"2026-11-24T18:04:05.121Z"}`},
		{AppendPresence(nil, &Presence{TS: when, Room: "lobby", Users: []string{"alice", "bob"}, Ref: "1"}),
			`{"type":"presence","room":"lobby","users":["alice","bob"],"ts":"2026-11-24T18:04:05.121Z","ref":"1"}`},
		{AppendJoin(nil, &JoinEvent{ID: id, TS: when, Room: "lobby", From: "alice", Ref: "1"}),
			`{"type":"join","id":"` + id + `","room":"lobby","from":"alice","ts":"2026-11-24T18:04:05.121Z","ref":"1"}`},
		{AppendPM(nil, &PMEvent{ID: id, TS: when, From: "alice", To: "bob", Text: "hi", Ref: "2"}),
			`{"type":"pm","id":"` + id + `","from":"alice","to":"bob","text":"hi","ts":"2026-11-24T18:04:05.121Z","ref":"2"}`},
		{AppendError(nil, &ErrorEvent{TS: when, Err: &Error{Code: CodeUnknownUser, Message: "carol is not connected"}}),
			`{"type":"error","code":"unknown_user","message":"carol is not connected","ts":"2026-11-24T18:04:05.121Z"}`},
		{AppendError(nil, &ErrorEvent{TS: when}),
			`{"type":"error","code":"internal","message":"internal error","ts":"2026-11-24T18:04:05.121Z"}`},
		{AppendPresence(nil, &Presence{TS: when, Room: "empty"}),
			`{"type":"presence","room":"empty","users":[],"ts":"2026-11-24T18:04:05.121Z"}`},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("got\n%s\nwant\n%s", tc.got, tc.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`"\`, `"\"\\"`},
		{"\n\r\t", `"\n\r\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"<&>", `"<&>"`},
		{"é😀", `"é😀"`},
		{"a\xffb", `"a\ufffdb"`},
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
		{"\xf0\x9f\x98", `"\ufffd\ufffd\ufffd"`},
	} {
		got := string(appendString(nil, tc.in))
		if got != tc.want {
			t.Errorf("appendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("appendString(%q) = %s: %v", tc.in, got, err)
		}
		if utf8.ValidString(tc.in) && back != tc.in {
			t.Errorf("appendString(%q) reads back as %q", tc.in, back)
		}
	}
}

// FuzzAppendString: every string encodes to valid JSON and UTF-8 with no raw
// control characters or line separators, and reads back as itself (valid
// UTF-8) or with U+FFFD in place of the bad bytes (what strings.ToValidUTF8 does
// per byte).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "x", "\u2028", "\xff", "a\"b\\c", "\x00", "😀", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		if !utf8.Valid(out) || !json.Valid(out) {
			t.Fatalf("appendString(%q) = %q: not valid", s, out)
		}
		if bytes.ContainsAny(out, "\u2028\u2029") || bytes.ContainsFunc(out, func(r rune) bool { return r < 0x20 }) {
			t.Fatalf("appendString(%q) = %q: raw separator or control character", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if want := []rune(s); utf8.ValidString(s) && back != s || len([]rune(back)) != len(want) {
			t.Fatalf("appendString(%q) reads back as %q", s, back)
		}
	})
}

func TestEncodersDoNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 4096)
	for _, g := range goldenEvents {
		if n := testing.AllocsPerRun(50, func() { buf = encodeEvent(buf[:0], g.ev) }); n != 0 {
			t.Errorf("%s: %v allocations per encode into a reused buffer, want 0", g.name, n)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{{20, "20"}, {0.5, "0.5"}, {1e21, "1000000000000000000000"}, {-1, "-1"}} {
		if got := string(appendFloat(nil, tc.in)); got != tc.want {
			t.Errorf("appendFloat(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
	inf := 1.0
	for i := 0; i < 2000; i++ {
		inf *= 10
	}
	if got := string(appendFloat(nil, inf)); got != "0" {
		t.Errorf("appendFloat(+Inf) = %s, want 0", got)
	}
}

// TestServerSchemaIsExact: every field a golden envelope carries is checked by
// schema/server.json — dropping a required one, or giving any one a value of
// the wrong shape, makes the schema refuse the envelope.
func TestServerSchemaIsExact(t *testing.T) {
	ss, err := serverSchema()
	if err != nil {
		t.Fatal(err)
	}
	optional := map[string]bool{"ref": true, "replay": true, "details": true}
	for _, g := range goldenEvents {
		var obj map[string]any
		if err := json.Unmarshal(encodeEvent(nil, g.ev), &obj); err != nil {
			t.Fatal(err)
		}
		if err := ss.Validate(obj); err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		for key := range obj {
			if key == "type" {
				continue
			}
			mutated := map[string]any{}
			for k, v := range obj {
				mutated[k] = v
			}
			if !optional[key] {
				delete(mutated, key)
				if ss.Validate(mutated) == nil {
					t.Errorf("%s without %q passes schema/server.json", g.name, key)
				}
			}
			mutated[key] = map[string]any{"wrong": "shape"}
			if ss.Validate(mutated) == nil {
				t.Errorf("%s with %q an object passes schema/server.json", g.name, key)
			}
		}
	}
}
