package api

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeClient: DecodeClient never panics and returns exactly one of a
// message or an error; errors carry a known code, details only for
// invalid_message (with a problem each), and a ref only when PeekRef reads the
// same one; an error envelope built from any error is valid JSON; a valid
// result was standard JSON, and re-encodes (AppendClient) to a message that
// decodes to the same value. Seeds: testdata/fuzz/FuzzDecodeClient and the
// client corpus.
func FuzzDecodeClient(f *testing.F) {
	for _, e := range loadCorpus(f) {
		// The corpus's 10 000-deep and 4000-character entries are checked by
		// TestCorpus; as seeds they would make every mutation (and every
		// minimization) slow.
		if len(e.msg) <= 2048 {
			f.Add(e.msg, e.joined)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, joined bool) {
		m, e := DecodeClient(b, joined)
		if (m == nil) == (e == nil) {
			t.Fatalf("DecodeClient(%q) = %#v, %v: want exactly one", b, m, e)
		}
		if e != nil {
			if !e.Code.Known() {
				t.Fatalf("unknown code %q", e.Code)
			}
			if (e.Code == CodeInvalidMessage) != (len(e.Details) > 0) {
				t.Fatalf("%s with %d details", e.Code, len(e.Details))
			}
			for _, d := range e.Details {
				if d.Problem == "" {
					t.Fatalf("detail %q without a problem", d.Field)
				}
			}
			if e.Message == "" {
				t.Fatal("error without a message")
			}
			if e.Ref != "" && (e.Ref != PeekRef(b) || !ValidRef(e.Ref)) {
				t.Fatalf("error ref %q, PeekRef %q", e.Ref, PeekRef(b))
			}
			env := AppendError(nil, &ErrorEvent{TS: time.Unix(0, 0), Err: e})
			if !json.Valid(env) || !utf8.Valid(env) {
				t.Fatalf("error envelope is not valid JSON: %q", env)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted %q, which encoding/json says is not JSON", b)
		}
		if !joined && m.Kind() != "join" {
			t.Fatalf("accepted a %s before joining", m.Kind())
		}
		again, e2 := DecodeClient(AppendClient(nil, m), joined)
		if e2 != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("%q decoded to %#v; re-encoded it decodes to %#v, %v", b, m, again, e2)
		}
	})
}
