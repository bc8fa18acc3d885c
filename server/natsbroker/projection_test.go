package natsbroker

import (
	"fmt"
	"testing"
	"time"
)

func TestPick(t *testing.T) {
	now := time.Now()
	st := &roomState{}
	st.mark("01A0000000000000000000JOIN", 10)
	for i := range 8 {
		// ids 01B…0 to 01B…7; the first two are older than the cutoff
		id := fmt.Sprintf("01B00000000000000000000%03d", i)
		st.chats.add(chatRef{seq: uint64(i + 2), id: id, ts: now.Add(time.Duration(i-2) * time.Minute)}, 6)
		st.lastID = id
	}
	cutoff := now.Add(-90 * time.Second) // keeps i >= 1 (but the ring of 6 keeps i >= 2)
	cases := []struct {
		name  string
		since string
		limit int
		want  []uint64 // sequences
	}{
		{"last 3", "", 3, []uint64{7, 8, 9}},
		{"last 50", "", 50, []uint64{4, 5, 6, 7, 8, 9}},
		{"since a kept message", "01B00000000000000000000004", 50, []uint64{7, 8, 9}},
		{"since the newest", "01B00000000000000000000007", 50, nil},
		{"since a remembered join", "01A0000000000000000000JOIN", 50, []uint64{4, 5, 6, 7, 8, 9}},
		{"since unknown: everything kept", "01B0000000000000000000000X", 50, []uint64{4, 5, 6, 7, 8, 9}},
		{"since a message the ring dropped", "01B00000000000000000000001", 50, []uint64{4, 5, 6, 7, 8, 9}},
	}
	for _, c := range cases {
		got := st.pick(c.since, c.limit, cutoff)
		var seqs []uint64
		for _, r := range got {
			seqs = append(seqs, r.seq)
		}
		if fmt.Sprint(seqs) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.name, seqs, c.want)
		}
	}
}

func TestMarksAreBounded(t *testing.T) {
	st := &roomState{}
	for i := range 100 {
		st.mark(fmt.Sprint(i), 10)
	}
	if len(st.marks) != 64 || st.marks[0] != "36" || !st.known("99") || st.known("35") {
		t.Errorf("marks = %d, first %s; want the last 64", len(st.marks), st.marks[0])
	}
}
