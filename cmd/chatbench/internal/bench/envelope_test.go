package bench

import (
	"testing"
	"time"
)

func TestScanEnvelope(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		ok     bool
		typ    string
		from   string
		text   string
		code   string
		replay bool
	}{
		{"chatd chat", `{"type":"chat","id":"01JD","ts":"2026-11-24T18:04:05.123Z","room":"lobby","from":"alice","text":"hi","ref":"1"}`,
			true, "chat", "alice", "hi", "", false},
		{"replay", `{"type":"chat","room":"r","from":"a","text":"t","replay":true}`, true, "chat", "a", "t", "", true},
		{"replay false", `{"type":"chat","replay":false,"text":"t"}`, true, "chat", "", "t", "", false},
		{"nested objects skipped", `{"type":"welcome","server":{"name":"chatd","version":"0.1.0"},"limits":{"max_message_bytes":65536,"rate_per_sec":20},"name":"bob"}`,
			true, "welcome", "", "", "", false},
		{"arrays skipped", `{"type":"presence","users":["a","b\"c"],"room":"lobby","from":"x"}`, true, "presence", "x", "", "", false},
		{"error", `{"type":"error","code":"rate_limited","message":"slow down","details":[{"field":"text","problem":"x"}]}`,
			true, "error", "", "", "rate_limited", false},
		{"escaped quote in string", `{"text":"a\"b","type":"pm"}`, true, "pm", "", `a\"b`, "", false},
		{"whitespace", " { \"type\" : \"join\" , \"from\" : \"z\" } ", true, "join", "z", "", "", false},
		{"numbers and literals", `{"n":12.5e3,"b":true,"z":null,"type":"x"}`, true, "x", "", "", "", false},
		{"not an object", `["type","chat"]`, false, "", "", "", "", false},
		{"truncated", `{"type":"chat","text":"abc`, false, "", "", "", "", false},
		{"empty", ``, false, "", "", "", "", false},
		{"missing colon", `{"type" "chat"}`, false, "", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e envelope
			ok := scanEnvelope([]byte(tt.in), &e)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if string(e.typ) != tt.typ || string(e.from) != tt.from || string(e.text) != tt.text ||
				string(e.code) != tt.code || e.replay != tt.replay {
				t.Errorf("got type=%q from=%q text=%q code=%q replay=%v", e.typ, e.from, e.text, e.code, e.replay)
			}
		})
	}
}

func TestTextRoundTrip(t *testing.T) {
	tests := []struct {
		sent    time.Duration
		sender  int
		seq     int64
		textLen int
	}{
		{0, 0, 0, 1},
		{123456789, 42, 7, 95},
		{time.Hour, 18999, 1 << 40, 10},
	}
	for _, tt := range tests {
		b := appendText(nil, tt.sent, tt.sender, tt.seq, tt.textLen)
		if len(b) < tt.textLen {
			t.Errorf("len %d < %d", len(b), tt.textLen)
		}
		sent, sender, seq, ok := parseText(b)
		if !ok || sent != tt.sent || sender != tt.sender || seq != tt.seq {
			t.Errorf("parseText(%q) = %v %v %v %v", b, sent, sender, seq, ok)
		}
	}
}

func TestParseTextRejects(t *testing.T) {
	for _, in := range []string{"", "hello", "cb", "cb1.2", "cb1.2.3", "cbx.2.3.", "cb1..3.", "cb1234567890123456789.1.1."} {
		if _, _, _, ok := parseText([]byte(in)); ok {
			t.Errorf("parseText(%q) accepted", in)
		}
	}
}

func TestChatSize(t *testing.T) {
	for _, size := range []int{60, 130, 1000} {
		for _, room := range []string{"fanout", "room-17"} {
			text := appendText(nil, 123456789, 3, 99, textLenFor(size, room))
			if got := len(appendChat(nil, room, text)); got != size {
				t.Errorf("size %d room %s: envelope is %d bytes", size, room, got)
			}
		}
	}
}
