package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestScanner(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		ok   bool   // a JSON object
		dup  string // the duplicate key found, if any
		keys string // top-level keys, comma-separated
	}{
		{"empty object", `{}`, true, "", ""},
		{"members", ` {"a":1 , "b" :[true,false,null,{"c":"d"}],"e":{"f":-1.5e-3}} `, true, "", "a,b,e"},
		{"escaped key", `{"\u0061\n":0}`, true, "", "a\n"},
		{"surrogate pair key", `{"\ud83d\ude00":0}`, true, "", "😀"},
		{"top-level dup", `{"a":1,"a":2}`, true, "a", "a,a"},
		{"dup after unescaping", `{"a":1,"\u0061":2}`, true, "a", "a,a"},
		{"nested dup", `{"a":{"b":1,"c":[{"x":0,"x":0}]}}`, true, "x", "a"},
		{"same key in sibling objects is fine", `{"a":{"k":1},"b":{"k":1},"c":[{"k":0},{"k":0}]}`, true, "", "a,b,c"},
		{"dup in a big object", `{` + bigObjectMembers(40) + `,"k3":0}`, true, "k3", ""},
		{"no dup in a big object", `{` + bigObjectMembers(40) + `}`, true, "", ""},
		{"array", `[]`, false, "", ""},
		{"string", `"x"`, false, "", ""},
		{"trailing garbage", `{}x`, false, "", ""},
		{"two objects", `{}{}`, false, "", ""},
		{"unterminated", `{"a":`, false, "", ""},
		{"bad literal", `{"a":nul}`, false, "", ""},
		{"leading zero", `{"a":00}`, false, "", ""},
		{"bad escape", `{"a":"\q"}`, false, "", ""},
		{"short unicode escape", `{"a":"\u00"}`, false, "", ""},
		{"raw control", "{\"a\":\"\x1f\"}", false, "", ""},
		{"invalid UTF-8", "{\"a\":\"\xc3\"}", false, "", ""},
		{"too deep", `{"a":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`, false, "", ""},
		{"deep enough", `{"a":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`, true, "", "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s scanner
			ok := s.scan([]byte(tc.in))
			if ok != tc.ok {
				t.Fatalf("scan = %v (%s at %d), want %v", ok, s.err, s.errAt, tc.ok)
			}
			if !ok {
				if s.err == "" {
					t.Error("refused without saying why")
				}
				return
			}
			if string(s.dup) != tc.dup {
				t.Errorf("dup = %q, want %q", s.dup, tc.dup)
			}
			if tc.keys != "" {
				var keys []string
				for _, m := range s.top {
					keys = append(keys, string(m.key))
				}
				if got := strings.Join(keys, ","); got != tc.keys {
					t.Errorf("keys = %q, want %q", got, tc.keys)
				}
			}
		})
	}
}

func bigObjectMembers(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + string(rune('0'+i/10)) + string(rune('0'+i%10)) + `":0`)
	}
	return strings.ReplaceAll(b.String(), `"k0`, `"k`)
}

// FuzzScanner checks the scanner against encoding/json: it accepts exactly the
// valid UTF-8 JSON objects, and for those without duplicate keys it sees the
// same top-level keys, kinds and string values.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"\u00e9\ud800","b":[1,{"c":null}]}`, `[]`, `{"a":1,"a":2}`, "{\"a\":\"\xff\"}", `{"a":-0.0e+1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s scanner
		ok := s.scan(b)
		trimmed := bytes.TrimLeft(b, " \t\r\n")
		want := utf8.Valid(b) && json.Valid(b) && len(trimmed) > 0 && trimmed[0] == '{'
		if ok != want {
			t.Fatalf("scan(%q) = %v (%s), encoding/json says %v", b, ok, s.err, want)
		}
		if !ok || s.dup != nil {
			return
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Fatal(err)
		}
		if len(obj) != len(s.top) {
			t.Fatalf("%d members, encoding/json sees %d", len(s.top), len(obj))
		}
		for _, m := range s.top {
			v, found := obj[string(m.key)]
			if !found {
				t.Fatalf("key %q not seen by encoding/json", m.key)
			}
			if str, isStr := v.(string); isStr != (m.kind == kindString) || isStr && str != unquote(m.raw) {
				t.Fatalf("member %q: %q (kind %d), encoding/json: %#v", m.key, m.raw, m.kind, v)
			}
		}
	})
}
