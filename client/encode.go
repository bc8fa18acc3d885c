package client

import (
	"bytes"
	"encoding/json"
)

// Client → server envelopes, field names exactly as in PROTOCOL.md §2. Empty
// optional fields are left out (the server applies the defaults), because
// the server rejects unknown fields but also reads an empty string as a value.

type joinMsg struct {
	Type  string `json:"type"`
	Name  string `json:"name,omitempty"`
	Room  string `json:"room,omitempty"`
	Since string `json:"since,omitempty"`
	Token string `json:"token,omitempty"`
	Ref   string `json:"ref,omitempty"`
}

type chatMsg struct {
	Type string `json:"type"`
	Room string `json:"room,omitempty"`
	Text string `json:"text"`
	Ref  string `json:"ref,omitempty"`
}

type pmMsg struct {
	Type string `json:"type"`
	To   string `json:"to"`
	Text string `json:"text"`
	Ref  string `json:"ref,omitempty"`
}

type typingMsg struct {
	Type   string `json:"type"`
	Room   string `json:"room,omitempty"`
	To     string `json:"to,omitempty"`
	Active bool   `json:"active"`
}

type whoMsg struct {
	Type string `json:"type"`
	Room string `json:"room,omitempty"`
	Ref  string `json:"ref,omitempty"`
}

type leaveMsg struct {
	Type string `json:"type"`
	Room string `json:"room,omitempty"`
	Ref  string `json:"ref,omitempty"`
}

// encode marshals v without HTML escaping (so "<" stays readable in logs and
// consoles) and without the trailing newline of json.Encoder.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
