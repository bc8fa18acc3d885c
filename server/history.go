package server

import (
	"sort"
	"time"

	"github.com/chatd/chatd/api"
)

// history keeps the newest chat events of one room in a ring that grows up to
// size entries, so that an idle room with three messages costs three entries.
// It also remembers the ids of the room's latest join and leave events
// (marks), because a reconnecting client's since is the last id it saw, which
// may be one of those. It is not safe for concurrent use; the room's lock
// guards it.
type history struct {
	buf   []api.ChatEvent // ring once len(buf) == size
	start int             // index of the oldest entry
	size  int
	marks ring[string] // ids of recent join and leave events
}

// ring is a bounded FIFO that grows up to its size.
type ring[T any] struct {
	buf   []T
	start int
}

func (r *ring[T]) push(v T, size int) {
	if len(r.buf) < size {
		r.buf = append(r.buf, v)
		return
	}
	if size == 0 {
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % size
}

func (r *ring[T]) contains(match func(T) bool) bool {
	for _, v := range r.buf {
		if match(v) {
			return true
		}
	}
	return false
}

func newHistory(size int) *history { return &history{size: size} }

// mark remembers the id of a join or leave event of the room.
func (h *history) mark(id string) { h.marks.push(id, max(h.size, 64)) }

// add appends e, dropping the oldest entry when the ring is full.
func (h *history) add(e api.ChatEvent) {
	if h.size == 0 {
		return
	}
	if len(h.buf) < h.size {
		h.buf = append(h.buf, e)
		return
	}
	h.buf[h.start] = e
	h.start = (h.start + 1) % h.size
}

// len returns the number of kept events.
func (h *history) len() int { return len(h.buf) }

// at returns the i-th oldest kept event.
func (h *history) at(i int) *api.ChatEvent { return &h.buf[(h.start+i)%len(h.buf)] }

// prune drops the events older than cutoff. Events are in id (and so time)
// order, so it stops at the first young one.
func (h *history) prune(cutoff time.Time) {
	n := 0
	for n < len(h.buf) && h.at(n).TS.Before(cutoff) {
		n++
	}
	if n == 0 {
		return
	}
	if n == len(h.buf) {
		h.buf, h.start = h.buf[:0], 0
		return
	}
	// Re-linearize the survivors so the ring can grow again from a plain slice.
	kept := make([]api.ChatEvent, 0, len(h.buf)-n)
	for i := n; i < len(h.buf); i++ {
		kept = append(kept, *h.at(i))
	}
	h.buf, h.start = kept, 0
}

// replay returns copies of the events to replay, oldest first, marked
// Replay: with since == "" the last limit events; with since the id of a kept
// event of the room (chat, join or leave) every kept event after it; with any
// other since (unknown, or older than what is kept) everything kept. Events
// older than cutoff are skipped even if a sweep has not pruned them yet.
func (h *history) replay(since string, limit int, cutoff time.Time) []api.ChatEvent {
	first := 0
	for first < len(h.buf) && h.at(first).TS.Before(cutoff) {
		first++
	}
	switch {
	case since == "":
		if n := len(h.buf) - first; n > limit {
			first += n - limit
		}
	case h.known(since):
		// Ids increase with the ring's order: skip up to since.
		first += sort.Search(len(h.buf)-first, func(i int) bool { return h.at(first+i).ID > since })
	}
	if first >= len(h.buf) {
		return nil
	}
	out := make([]api.ChatEvent, 0, len(h.buf)-first)
	for i := first; i < len(h.buf); i++ {
		e := *h.at(i)
		e.Replay, e.Ref = true, ""
		out = append(out, e)
	}
	return out
}

// known reports whether id is a kept chat event or a remembered join or
// leave event of this room.
func (h *history) known(id string) bool {
	i := sort.Search(len(h.buf), func(i int) bool { return h.at(i).ID >= id })
	if i < len(h.buf) && h.at(i).ID == id {
		return true
	}
	return h.marks.contains(func(m string) bool { return m == id })
}
