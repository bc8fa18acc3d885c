package bench

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPutStamp(t *testing.T) {
	tests := []struct {
		name string
		sent time.Duration
		want string
	}{
		{"zero", 0, "000000000000000"},
		{"short", 1234 * time.Nanosecond, "000000000001234"},
		{"full", 987654321012345, "987654321012345"},
		{"negative clamps to zero", -5, "000000000000000"},
		{"too large clamps to nines", 1e16, "999999999999999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slot := []byte("ab" + strings.Repeat("-", stampWidth) + "cd")
			putStamp(slot[2:2+stampWidth], tt.sent)
			if got := string(slot); got != "ab"+tt.want+"cd" {
				t.Errorf("got %q, want %q", got, "ab"+tt.want+"cd")
			}
		})
	}
}

// TestStampSlotParses checks that a stamped slot reads back through
// parseText, and that the text has the length asked for.
func TestStampSlotParses(t *testing.T) {
	tests := []struct {
		sent    time.Duration
		sender  int
		seq     int64
		textLen int
	}{
		{0, 0, 0, 1},
		{123456789, 7, 42, 90},
		{time.Duration(stampWidthMax()), 1000, 1 << 40, 200},
	}
	for _, tt := range tests {
		text := appendStampSlot([]byte("keep"), tt.sender, tt.seq, tt.textLen)
		if !strings.HasPrefix(string(text), "keep") {
			t.Fatalf("dst prefix lost: %q", text)
		}
		text = text[len("keep"):]
		putStamp(text[len(textPrefix):len(textPrefix)+stampWidth], tt.sent)
		sent, sender, seq, ok := parseText(text)
		if !ok || sent != tt.sent || sender != tt.sender || seq != tt.seq {
			t.Errorf("parseText(%q) = %v %d %d %v", text, sent, sender, seq, ok)
		}
		if len(text) < tt.textLen {
			t.Errorf("text %d bytes, want at least %d", len(text), tt.textLen)
		}
	}
}

func stampWidthMax() int64 {
	v := int64(1)
	for range stampWidth {
		v *= 10
	}
	return v - 1
}

// TestQuietChatSizeAndAccounting checks that quietChat sends an envelope of
// exactly --size bytes, stamped no earlier than it was called, and owes one
// delivery per member.
func TestQuietChatSizeAndAccounting(t *testing.T) {
	target := startTCPEcho(t)
	o := testOptions("latency")
	p := newPool(&o, target, LineDialer())
	ws, err := LineDialer()(t.Context(), target.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(0, "q", "quiet", ws, p.st)
	go c.readLoop()
	defer c.shutdown()
	p.clients = []*client{c}
	p.members["quiet"] = 3
	p.roomSent["quiet"] = new(atomic.Int64)
	before := p.st.now()
	sc := &scratch{}
	for i := range 2 {
		if err := p.quietChat(c, sc, 0); err != nil {
			t.Fatal(err)
		}
		if len(sc.msg) != o.Size {
			t.Errorf("message %d: %d bytes, want %d", i, len(sc.msg), o.Size)
		}
		var e envelope
		if !scanEnvelope(sc.msg, &e) {
			t.Fatalf("unreadable %q", sc.msg)
		}
		sent, sender, seq, ok := parseText(e.text)
		if !ok || sent < before || sender != 0 || seq != int64(i) {
			t.Errorf("message %d: sent %v (called at %v), sender %d, seq %d, ok %v", i, sent, before, sender, seq, ok)
		}
	}
	if p.expected.Load() != 6 || p.sent.Load() != 2 || p.roomSent["quiet"].Load() != 2 {
		t.Errorf("expected %d, sent %d, room sent %d", p.expected.Load(), p.sent.Load(), p.roomSent["quiet"].Load())
	}
	if err := c.waitFor(t.Context(), c.echo, time.Minute, "echo"); err != nil {
		t.Fatal(err)
	}
}
