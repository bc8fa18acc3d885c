package api

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeClientMessages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		joined bool
		in     string
		want   ClientMessage
	}{
		{"first join, defaults", false, `{"type":"join","name":"Alice","ref":"1"}`,
			&Join{Name: "Alice", Room: "lobby", Ref: "1"}},
		{"join with everything", false, `{"type":"join","name":"a","room":"dev","since":"01jdabcdefghjkmnpqrstvwxyz","token":"t","ref":"r"}`,
			&Join{Name: "a", Room: "dev", Since: "01JDABCDEFGHJKMNPQRSTVWXYZ", Token: "t", Ref: "r"}},
		{"later join without name", true, `{"type":"join","room":"dev"}`, &Join{Room: "dev"}},
		{"chat default room", true, `{"type":"chat","text":"hi"}`, &Chat{Room: "lobby", Text: "hi"}},
		{"chat escapes", true, `{"type":"chat","room":"r","text":"a\"b\\c\u00e9\ud83d\ude00\n","ref":"x"}`,
			&Chat{Room: "r", Text: "a\"b\\cé😀\n", Ref: "x"}},
		{"pm", true, `{"type":"pm","to":"Bob","text":"hi","ref":"2"}`, &PM{To: "Bob", Text: "hi", Ref: "2"}},
		{"typing default room", true, `{"type":"typing","active":true}`, &Typing{Active: true, Room: "lobby"}},
		{"typing to", true, `{"type":"typing","active":false,"to":"bob"}`, &Typing{To: "bob"}},
		{"typing room", true, `{"type":"typing","active":true,"room":"dev","ref":"t"}`, &Typing{Active: true, Room: "dev", Ref: "t"}},
		{"who default room", true, `{"type":"who"}`, &Who{Room: "lobby"}},
		{"who room", true, `{"type":"who","room":"dev","ref":"w"}`, &Who{Room: "dev", Ref: "w"}},
		{"leave everything", true, `{"type":"leave"}`, &Leave{}},
		{"leave room", true, `{"type":"leave","room":"dev","ref":"l"}`, &Leave{Room: "dev", Ref: "l"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeClient([]byte(tc.in), tc.joined)
			if err != nil {
				t.Fatalf("DecodeClient: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("DecodeClient = %#v, want %#v", got, tc.want)
			}
			if got.Kind() != tc.want.Kind() || got.RefID() != tc.want.RefID() {
				t.Errorf("Kind/RefID = %s/%s", got.Kind(), got.RefID())
			}
			// Re-encoding gives an equivalent message.
			again, err := DecodeClient(AppendClient(nil, got), tc.joined)
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("round trip through AppendClient: %#v, %v", again, err)
			}
		})
	}
}

func TestDecodeClientErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		joined  bool
		in      string
		code    Code
		ref     string
		details []Detail // compared in order; nil: none expected
		inMsg   string   // the message must mention this
	}{
		{"malformed has no ref", true, `{"type":"chat","ref":"1",`, CodeInvalidJSON, "", nil, "not valid JSON"},
		{"not an object", true, `["chat"]`, CodeInvalidJSON, "", nil, "JSON object"},
		{"duplicate keeps a readable ref", true, `{"type":"chat","text":"a","x":{"k":1,"k":2},"ref":"7"}`, CodeInvalidJSON, "7", nil, `"k" appears twice`},
		{"duplicate ref is not readable", true, `{"type":"chat","ref":"1","ref":"2"}`, CodeInvalidJSON, "", nil, `"ref" appears twice`},
		{"missing type", true, `{"ref":"r"}`, CodeInvalidMessage, "r", []Detail{{"type", "is required"}}, "type"},
		{"type not a string", true, `{"type":1,"ref":"r"}`, CodeInvalidMessage, "r", []Detail{{"type", "must be a string"}}, "type"},
		{"unknown type", true, `{"type":"shout","ref":"r"}`, CodeUnknownType, "r", nil, `"shout"`},
		{"unknown type is cut short", true, `{"type":"` + strings.Repeat("y", 500) + `"}`, CodeUnknownType, "", nil, "…"},
		{"not joined", false, `{"type":"who","ref":"r"}`, CodeNotJoined, "r", nil, "join"},
		{"leave before join", false, `{"type":"leave"}`, CodeNotJoined, "", nil, "join"},
		{"field error keeps ref", true, `{"type":"chat","text":"","ref":"r"}`, CodeInvalidMessage, "r",
			[]Detail{{"text", "must not be empty"}}, `"text" must not be empty`},
		{"bad ref is not echoed", true, `{"type":"chat","text":"hi","ref":""}`, CodeInvalidMessage, "",
			[]Detail{{"ref", "must be 1–64 characters"}}, "ref"},
		{"details follow the message's order, missing last", true, `{"type":"pm","x":1,"ref":5,"from":"a","text":" "}`, CodeInvalidMessage, "",
			[]Detail{{"x", "is not a field of a pm message"}, {"ref", "must be a string, not a number"},
				{"from", "is set by the server; a client cannot send it"}, {"text", "must contain something besides white space"},
				{"to", "is required"}}, ""},
		{"one detail per field", true, `{"type":"typing","active":"yes"}`, CodeInvalidMessage, "",
			[]Detail{{"active", "must be true or false, not a string"}}, ""},
		{"text too long", true, `{"type":"chat","text":"` + strings.Repeat("é", 4001) + `"}`, CodeInvalidMessage, "",
			[]Detail{{"text", "is too long: at most 4000 characters"}}, ""},
		{"first join needs a name", false, `{"type":"join","ref":"j"}`, CodeInvalidMessage, "j",
			[]Detail{{"name", "is required on the first join"}}, ""},
		{"typing to and room", true, `{"type":"typing","active":true,"to":"bob","room":"dev"}`, CodeInvalidMessage, "",
			[]Detail{{"to", "cannot be given together with room: a typing goes to a room or to one user"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeClient([]byte(tc.in), tc.joined)
			if err == nil {
				t.Fatalf("DecodeClient accepted it: %#v", m)
			}
			if m != nil {
				t.Errorf("DecodeClient returned both %#v and %v", m, err)
			}
			if err.Code != tc.code || err.Ref != tc.ref {
				t.Errorf("code %s ref %q, want %s ref %q (%v)", err.Code, err.Ref, tc.code, tc.ref, err)
			}
			if !reflect.DeepEqual(err.Details, tc.details) {
				t.Errorf("details %q, want %q", err.Details, tc.details)
			}
			if !strings.Contains(err.Message, tc.inMsg) {
				t.Errorf("message %q does not mention %q", err.Message, tc.inMsg)
			}
			if got := err.Error(); !strings.HasPrefix(got, string(tc.code)+": ") {
				t.Errorf("Error() = %q", got)
			}
		})
	}
}

// TestDecodeClientCapsDetails: thousands of junk fields get a bounded answer.
func TestDecodeClientCapsDetails(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"who","ref":"r"`)
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, `,"f%d":0`, i)
	}
	b.WriteString("}")
	_, err := DecodeClient([]byte(b.String()), true)
	if err == nil || err.Code != CodeInvalidMessage || err.Ref != "r" {
		t.Fatalf("DecodeClient = %v", err)
	}
	if len(err.Details) != maxDetails || err.Details[0].Field != "f0" || err.Details[maxDetails-1].Field != fmt.Sprintf("f%d", maxDetails-1) {
		t.Errorf("%d details, first %q", len(err.Details), err.Details[0].Field)
	}
	if want := fmt.Sprintf("and %d more bad fields", 5000-maxDetails); !strings.HasSuffix(err.Message, want) {
		t.Errorf("message ends %q, want %q", err.Message[len(err.Message)-40:], want)
	}
}

func TestPeekRef(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"type":"chat","text":"hi","ref":"42"}`, "42"},
		{`{"ref":"\u0041"}`, "A"},
		{`{"type":"nope","ref":"r","x":{"a":1,"a":1}}`, "r"},
		{`{"ref":""}`, ""},
		{`{"ref":` + `"` + strings.Repeat("r", 65) + `"}`, ""},
		{`{"ref":5}`, ""},
		{`{"x":{"ref":"nested"}}`, ""},
		{`{"ref":"1"`, ""},
		{`["ref"]`, ""},
		{``, ""},
	} {
		if got := PeekRef([]byte(tc.in)); got != tc.want {
			t.Errorf("PeekRef(%.40q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDecodeClientConcurrent runs the validator from many goroutines at once;
// with -race it proves the shared validator is safe.
func TestDecodeClientConcurrent(t *testing.T) {
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < 50; j++ {
				if _, err := DecodeClient([]byte(`{"type":"chat","text":"hi","ref":"1"}`), true); err != nil {
					t.Error(err)
					return
				}
				if _, err := DecodeClient([]byte(`{"type":"pm","to":"","text":""}`), true); err == nil {
					t.Error("accepted an invalid pm")
					return
				}
			}
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}
