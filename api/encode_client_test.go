package api

import (
	"reflect"
	"testing"
)

func TestAppendClient(t *testing.T) {
	for _, tc := range []struct {
		m    ClientMessage
		want string
	}{
		{&Join{Name: "alice", Room: "lobby", Ref: "1"}, `{"type":"join","name":"alice","room":"lobby","ref":"1"}`},
		{&Chat{Text: "hi\u2028"}, `{"type":"chat","text":"hi\u2028"}`},
		{&PM{To: "bob", Text: "x", Ref: "r"}, `{"type":"pm","to":"bob","text":"x","ref":"r"}`},
		{&Typing{Active: true, To: "bob"}, `{"type":"typing","to":"bob","active":true}`},
		{&Typing{Room: "dev"}, `{"type":"typing","room":"dev","active":false}`},
		{&Who{}, `{"type":"who"}`},
		{&Leave{Room: "dev"}, `{"type":"leave","room":"dev"}`},
		{nil, ``},
	} {
		if got := string(AppendClient(nil, tc.m)); got != tc.want {
			t.Errorf("AppendClient(%#v) = %s, want %s", tc.m, got, tc.want)
		}
	}
}

// TestAppendClientRoundTrip: every valid corpus message, decoded, re-encoded
// and decoded again, is the same message.
func TestAppendClientRoundTrip(t *testing.T) {
	for _, e := range loadCorpus(t) {
		m, err := DecodeClient(e.msg, e.joined)
		if err != nil {
			continue
		}
		again, err := DecodeClient(AppendClient(nil, m), e.joined)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Errorf("line %d: %#v re-encoded decodes to %#v, %v", e.line, m, again, err)
		}
	}
}
