package api

import (
	"testing"
	"time"
)

var typicalChat = []byte(`{"type":"chat","room":"lobby","text":"hey, is the deploy done yet?","ref":"42"}`)

func BenchmarkDecodeClientChat(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalChat)))
	for b.Loop() {
		if _, err := DecodeClient(typicalChat, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeClientInvalid(b *testing.B) {
	msg := []byte(`{"type":"chat","room":"Lobby","text":"   ","ref":"42","from":"mallory"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeClient(msg, true); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkPeekRef(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if PeekRef(typicalChat) != "42" {
			b.Fatal("no ref")
		}
	}
}

func BenchmarkAppendChat(b *testing.B) {
	ev := &ChatEvent{ID: "01JDABCDEFGHJKMNPQRSTVWXYZ", TS: time.Now(), Room: "lobby", From: "alice",
		Text: "hey, is the deploy done yet?", Ref: "42"}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendChat(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAppendPresence(b *testing.B) {
	users := make([]string, 100)
	for i := range users {
		users[i] = "user" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	ev := &Presence{TS: time.Now(), Room: "lobby", Users: users}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPresence(buf[:0], ev)
	}
}

func BenchmarkIDSourceNext(b *testing.B) {
	src := NewIDSource(nil)
	b.ReportAllocs()
	for b.Loop() {
		_ = src.Next()
	}
}

func BenchmarkIDSourceNextParallel(b *testing.B) {
	src := NewIDSource(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = src.NextULID()
		}
	})
}

func BenchmarkAppendTS(b *testing.B) {
	now := time.Now()
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendTS(buf[:0], now)
	}
}
