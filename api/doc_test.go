package api

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestProtocolDocExamples keeps docs/PROTOCOL.md honest: every envelope the
// server sends in its examples validates against schema/server.json, every
// client message is valid for schema/client.json and DecodeClient, except
// those the doc answers with a decoding error, and for those DecodeClient
// gives exactly the documented code, message and details.
func TestProtocolDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := clientSchema()
	if err != nil {
		t.Fatal(err)
	}
	ss, err := serverSchema()
	if err != nil {
		t.Fatal(err)
	}
	shortID := regexp.MustCompile(`"01JD[0-9A-Z]*…"`)
	validate := func(s *jsonschema.Schema, line string) error {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(line))
		if err != nil {
			return err
		}
		return s.Validate(v)
	}
	lines := strings.Split(string(doc), "\n")
	sent, received := 0, 0
	for i, line := range lines {
		if msg, ok := strings.CutPrefix(line, "→ "); ok {
			sent++
			var answer map[string]any
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "← {") {
				_ = json.Unmarshal([]byte(shortID.ReplaceAllString(strings.TrimPrefix(lines[i+1], "← "), `"01JDABCDEFGHJKMNPQRSTVWXYZ"`)), &answer)
			}
			code, _ := answer["code"].(string)
			m, derr := DecodeClient([]byte(msg), !strings.Contains(msg, `"name"`))
			switch Code(code) {
			case CodeInvalidJSON, CodeInvalidMessage, CodeUnknownType:
				if derr == nil {
					t.Errorf("line %d: %s decodes as %#v, the doc answers %s", i+1, msg, m, code)
					continue
				}
				var details []Detail
				if raw, err := json.Marshal(answer["details"]); err == nil {
					_ = json.Unmarshal(raw, &details)
				}
				if string(derr.Code) != code || derr.Message != answer["message"] || !reflect.DeepEqual(derr.Details, details) {
					t.Errorf("line %d: DecodeClient says %s %q %q;\nthe doc says %s %q %q", i+1, derr.Code, derr.Message, derr.Details, code, answer["message"], details)
				}
			default:
				if derr != nil {
					t.Errorf("line %d: %s: %v", i+1, msg, derr)
				}
				if err := validate(cs, msg); err != nil {
					t.Errorf("line %d: schema/client.json refuses %s: %v", i+1, msg, err)
				}
			}
		}
		if env, ok := strings.CutPrefix(line, "← {"); ok {
			received++
			env = shortID.ReplaceAllString("{"+env, `"01JDABCDEFGHJKMNPQRSTVWXYZ"`)
			if err := validate(ss, env); err != nil {
				t.Errorf("line %d: schema/server.json refuses %s: %v", i+1, env, err)
			}
		}
	}
	if sent < 10 || received < 10 {
		t.Errorf("found %d client and %d server examples; has the doc's format changed?", sent, received)
	}
}
