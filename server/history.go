package server

import (
	"time"

	"github.com/chatd/chatd/api"
)

// history keeps the newest chat events of one room in a ring that grows up to
// size entries, so that an idle room with three messages costs three entries.
// It is not safe for concurrent use; the room's lock guards it.
type history struct {
	buf   []api.ChatEvent // ring once len(buf) == size
	start int             // index of the oldest entry
	size  int
	// lastID is the id of the newest event of the room of any kind. A since
	// id above it cannot have come from this room (it is unknown), so the
	// whole history is replayed; a since at or below it that names a join or
	// leave event replays what followed it.
	lastID string
}

func newHistory(size int) *history { return &history{size: size} }

// add appends e, dropping the oldest entry when the ring is full.
func (h *history) add(e api.ChatEvent) {
	h.lastID = e.ID
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
// Replay: with since == "" the last limit events; otherwise every kept event
// after since (all of them when since is unknown or older than what is kept).
// Events older than cutoff are skipped even if a sweep has not pruned them yet.
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
	case since > h.lastID:
		// unknown: replay everything still kept
	default:
		for first < len(h.buf) && h.at(first).ID <= since {
			first++
		}
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
