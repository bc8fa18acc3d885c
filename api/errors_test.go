package api

import (
	"strings"
	"testing"
)

func TestFieldError(t *testing.T) {
	e := FieldError("r", "to", ProblemSelf)
	if e.Code != CodeInvalidMessage || e.Ref != "r" || len(e.Details) != 1 || e.Details[0] != (Detail{"to", ProblemSelf}) {
		t.Errorf("FieldError = %#v", e)
	}
	if !strings.Contains(e.Error(), "to") {
		t.Errorf("Error() = %q", e.Error())
	}
}

func TestCodes(t *testing.T) {
	want := []string{"invalid_json", "invalid_message", "unknown_type", "not_joined", "name_taken",
		"unknown_user", "not_member", "rate_limited", "unauthorized", "internal"}
	got := Codes()
	if len(got) != len(want) {
		t.Fatalf("Codes() = %v", got)
	}
	for i, c := range got {
		if string(c) != want[i] || !c.Known() {
			t.Errorf("Codes()[%d] = %q, want %q", i, c, want[i])
		}
	}
	if Code("nope").Known() {
		t.Error(`Code("nope").Known() = true`)
	}
}
