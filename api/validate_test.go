package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-playground/validator/v10"
)

// TestFieldRules runs each custom validator tag on a value at and just past
// its boundary, through the shared validator.
func TestFieldRules(t *testing.T) {
	for _, tc := range []struct {
		tag, good, bad string
	}{
		{"name", strings.Repeat("n", 32), strings.Repeat("n", 33)},
		{"room", strings.Repeat("r", 64), strings.Repeat("r", 65)},
		{"text", strings.Repeat("é", 4000), strings.Repeat("é", 4001)},
		{"text", "x\u3000", "\u3000"},
		{"ref", strings.Repeat("é", 64), strings.Repeat("é", 65)},
		{"ulid", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"},
		{"token", strings.Repeat("t", 4096), strings.Repeat("t", 4097)},
	} {
		v := fieldRules()
		check := func(s string) error {
			return v.Var(&s, "omitempty,"+tc.tag)
		}
		if err := check(tc.good); err != nil {
			t.Errorf("%s: %.20q… refused: %v", tc.tag, tc.good, err)
		}
		err := check(tc.bad)
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) || verrs[0].Tag() != tc.tag {
			t.Errorf("%s: %.20q… accepted or refused by another rule: %v", tc.tag, tc.bad, err)
		}
	}
}

func TestProblemWording(t *testing.T) {
	for _, tag := range []string{"required", "required_if", "excluded_with", "name", "room", "text", "ref", "ulid", "token"} {
		p := problem(tag, "")
		if p == "" || strings.Contains(p, "("+tag+")") {
			t.Errorf("tag %s has no wording of its own: %q", tag, p)
		}
	}
	if p := problem("text", strings.Repeat("x", 4001)); p != "is too long: at most 4000 characters" {
		t.Errorf("text problem for a long text: %q", p)
	}
	if p := problem("mystery", nil); !strings.Contains(p, "mystery") {
		t.Errorf("unknown tag wording %q does not name the tag", p)
	}
}
