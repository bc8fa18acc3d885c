package api

import (
	"reflect"
	"testing"
	"time"
)

func TestDecodeServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want any
		err  bool
	}{
		{"unknown fields ignored", `{"type":"join","id":"X","room":"r","from":"a","ts":"2026-11-24T18:04:05.123Z","new":{"x":1}}`,
			&JoinEvent{ID: "X", Room: "r", From: "a", TS: time.Date(2026, 11, 24, 18, 4, 5, 123e6, time.UTC)}, false},
		{"unknown type", `{"type":"reaction","emoji":"+1"}`, &UnknownEvent{Type: "reaction", Raw: []byte(`{"type":"reaction","emoji":"+1"}`)}, false},
		{"no type", `{"id":"x"}`, nil, true},
		{"not JSON", `{`, nil, true},
		{"wrong field type", `{"type":"chat","text":5}`, nil, true},
		{"bad ts", `{"type":"chat","ts":"yesterday"}`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeServer([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("DecodeServer error = %v, want error %v", err, tc.err)
			}
			if !tc.err && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DecodeServer = %#v, want %#v", got, tc.want)
			}
		})
	}
	if _, err := DecodeServer([]byte(`{"x":1}`)); err != ErrNoType {
		t.Errorf("no type: %v, want ErrNoType", err)
	}
}
