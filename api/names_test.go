package api

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"

	"github.com/chatd/chatd/schema"
)

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"a", true}, {"Alice", true}, {"0day", true}, {"a.b-c_d", true},
		{strings.Repeat("x", 32), true}, {strings.Repeat("x", 33), false},
		{"", false}, {"_a", false}, {".a", false}, {"-a", false}, {"a b", false},
		{"é", false}, {"a@b", false}, {"a\n", false},
	} {
		if got := ValidName(tc.in); got != tc.ok {
			t.Errorf("ValidName(%q) = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

func TestValidRoom(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"lobby", true}, {"0", true}, {"a_b-c", true},
		{strings.Repeat("r", 64), true}, {strings.Repeat("r", 65), false},
		{"", false}, {"Lobby", false}, {"a.b", false}, {"_a", false}, {"-a", false}, {"a b", false},
	} {
		if got := ValidRoom(tc.in); got != tc.ok {
			t.Errorf("ValidRoom(%q) = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

func TestValidText(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string // problem, "" when valid
	}{
		{"one char", "x", ""},
		{"empty", "", "must not be empty"},
		{"4000 multi-byte", strings.Repeat("é", 4000), ""},
		{"4001 multi-byte", strings.Repeat("é", 4001), "is too long: at most 4000 characters"},
		{"4000 four-byte", strings.Repeat("😀", 4000), ""},
		{"spaces", " \t\n\r\v\f", "must contain something besides white space"},
		{"NEL and NBSP are space", "\u0085\u00a0", "must contain something besides white space"},
		{"ideographic space", "\u3000", "must contain something besides white space"},
		{"BOM is not space", "\ufeff", ""},
		{"ZWSP is not space", "\u200b", ""},
		{"long blank", strings.Repeat(" ", 4001), "is too long: at most 4000 characters"},
	} {
		if got := textProblem(tc.in); got != tc.want {
			t.Errorf("%s: textProblem = %q, want %q", tc.name, got, tc.want)
		}
		if ValidText(tc.in) != (tc.want == "") {
			t.Errorf("%s: ValidText disagrees with textProblem", tc.name)
		}
	}
}

func TestNameKey(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"alice", "alice"}, {"Alice", "alice"}, {"ALICE.9_x", "alice.9_x"}, {"", ""},
	} {
		if got := NameKey(tc.a); got != tc.b {
			t.Errorf("NameKey(%q) = %q, want %q", tc.a, got, tc.b)
		}
		if !SameName(tc.a, tc.b) || !SameName(tc.b, tc.a) {
			t.Errorf("SameName(%q, %q) = false", tc.a, tc.b)
		}
	}
	for _, tc := range []struct{ a, b string }{{"alice", "alicf"}, {"alice", "alic"}, {"a", "@"}} {
		if SameName(tc.a, tc.b) {
			t.Errorf("SameName(%q, %q) = true", tc.a, tc.b)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = NameKey("alice") }); n != 0 {
		t.Errorf("NameKey of a lower-case name allocates %v times", n)
	}
}

// TestSchemaWhiteSpaceClass proves that the "not only white space" pattern of
// schema/client.json is exactly unicode.IsSpace, over every code point.
func TestSchemaWhiteSpaceClass(t *testing.T) {
	b, err := fs.ReadFile(schema.FS, "client.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs struct {
			Text struct {
				Pattern string `json:"pattern"`
			} `json:"text"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// The class as the regexp engine itself parses it (Go's regexp is what
	// jsonschema/v6 uses); walking its ranges keeps the test fast under -race.
	re, err := syntax.Parse(doc.Defs.Text.Pattern, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	if re.Op != syntax.OpCharClass {
		t.Fatalf("text pattern %q is not a single character class", doc.Defs.Text.Pattern)
	}
	inClass := func(r rune) bool {
		for i := 0; i < len(re.Rune); i += 2 {
			if re.Rune[i] <= r && r <= re.Rune[i+1] {
				return true
			}
		}
		return false
	}
	bad := 0
	for r := rune(0); r <= unicode.MaxRune && bad < 10; r++ {
		if utf16.IsSurrogate(r) {
			continue
		}
		if inClass(r) == unicode.IsSpace(r) {
			t.Errorf("U+%04X: pattern says non-space=%v, unicode.IsSpace=%v", r, inClass(r), unicode.IsSpace(r))
			bad++
		}
	}
	// And the compiled pattern, on the code points where it matters.
	full := regexp.MustCompile(doc.Defs.Text.Pattern)
	for _, tc := range []struct {
		s     string
		match bool
	}{{" \t\u0085\u00a0\u3000", false}, {"\u200b", true}, {"\ufeff", true}, {"  x", true}, {"", false}} {
		if full.MatchString(tc.s) != tc.match {
			t.Errorf("pattern on %q = %v, want %v", tc.s, !tc.match, tc.match)
		}
	}
}
