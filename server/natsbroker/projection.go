package natsbroker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatd/chatd/server"
)

// roomState is what a node knows of one room from the stream: enough to
// check a write and to pick its compare-and-set sequence without asking.
type roomState struct {
	seq     uint64    // stream sequence of the room's last record
	lastID  string    // id of the room's last record
	lastTS  time.Time // time of the room's last record
	members []member  // sorted by Key
	chats   chatRing  // the kept chat messages: sequence, id, time (the text stays in the stream)
	// marks are the ids of the room's latest join and leave events: a
	// reconnecting client's since is the last id it saw, which may be one.
	marks []string
}

// mark remembers the id of a join or leave event, as many as the history
// keeps messages (at least 64).
func (st *roomState) mark(id string, size int) {
	size = max(size, 64)
	if len(st.marks) >= size {
		st.marks = append(st.marks[:0], st.marks[len(st.marks)-size+1:]...)
	}
	st.marks = append(st.marks, id)
}

// known reports whether id is a kept chat message or a remembered join or
// leave of the room.
func (st *roomState) known(id string) bool {
	r := &st.chats
	lo, hi := 0, r.len()
	for lo < hi {
		m := (lo + hi) / 2
		if r.at(m).id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < r.len() && r.at(lo).id == id {
		return true
	}
	return slices.Contains(st.marks, id)
}

// convState is the same for one private conversation.
type convState struct {
	seq    uint64
	lastID string
	lastTS time.Time
}

// chatRef locates one kept chat message in the stream.
type chatRef struct {
	seq uint64
	id  string
	ts  time.Time
}

// chatRing keeps the newest size chatRefs, as the stream's
// MaxMsgsPerSubject keeps the newest messages.
type chatRing struct {
	buf   []chatRef
	start int
}

func (r *chatRing) add(c chatRef, size int) {
	if size == 0 {
		return
	}
	if len(r.buf) < size {
		r.buf = append(r.buf, c)
		return
	}
	r.buf[r.start] = c
	r.start = (r.start + 1) % len(r.buf)
}

func (r *chatRing) len() int          { return len(r.buf) }
func (r *chatRing) at(i int) *chatRef { return &r.buf[(r.start+i)%len(r.buf)] }

// pick returns the chat messages to replay, oldest first, with the rules of
// the in-memory history: with since == "" the last limit; otherwise every
// kept message after since, or all of them when since names no kept
// message and no remembered join or leave of the room. Messages older
// than cutoff are skipped even before the stream drops them.
func (st *roomState) pick(since string, limit int, cutoff time.Time) []chatRef {
	r := &st.chats
	first := 0
	for first < r.len() && r.at(first).ts.Before(cutoff) {
		first++
	}
	switch {
	case since == "":
		if n := r.len() - first; n > limit {
			first += n - limit
		}
	case st.known(since):
		for first < r.len() && r.at(first).id <= since {
			first++
		}
	}
	out := make([]chatRef, 0, max(r.len()-first, 0))
	for i := first; i < r.len(); i++ {
		out = append(out, *r.at(i))
	}
	return out
}

// findMember returns the index of key in members, or -1.
func findMember(members []member, key string) int {
	i, ok := slices.BinarySearchFunc(members, key, func(m member, k string) int { return strings.Compare(m.Key, k) })
	if !ok {
		return -1
	}
	return i
}

// onRecord applies one stream record to the projection and hands its event
// to the subscribers. Records arrive in stream order from one goroutine.
func (b *Broker) onRecord(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		b.log.Warn("natsbroker: record without metadata", "subject", msg.Subject(), "err", err)
		return
	}
	seq := meta.Sequence.Stream
	ev := b.apply(msg.Subject(), msg.Data(), seq)
	if ev != nil && seq > b.startSeq {
		b.publishEvent(ev)
	}
	b.mu.Lock()
	if seq > b.applied {
		b.applied = seq
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

// apply updates the projection with the record at seq and returns the event
// it carries (nil for a record that cannot be read).
func (b *Broker) apply(subject string, data []byte, seq uint64) *server.Event {
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		b.log.Warn("natsbroker: unreadable record", "subject", subject, "seq", seq, "err", err)
		return nil
	}
	ev := &server.Event{
		ID: rec.ID, TS: rec.TS, Room: rec.Room, From: rec.From, To: rec.To,
		Session: rec.Session, Ref: rec.Ref, Text: rec.Text, Reason: rec.Reason,
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch rec.Kind {
	case kindJoin, kindLeave, kindChat:
		st := b.rooms[rec.Room]
		if st == nil {
			st = &roomState{}
			b.rooms[rec.Room] = st
		}
		if seq > st.seq { // a chat's writer may have moved it ahead already
			st.seq, st.lastID = seq, rec.ID
		}
		st.lastTS = rec.TS
		switch rec.Kind {
		case kindChat:
			ev.Kind = server.EventChat
			st.chats.add(chatRef{seq: seq, id: rec.ID, ts: rec.TS}, b.opts.HistorySize)
		case kindJoin:
			ev.Kind = server.EventJoin
			st.members = rec.Members
			st.mark(rec.ID, b.opts.HistorySize)
			ev.Users = make([]string, len(rec.Members))
			for i, m := range rec.Members {
				ev.Users[i] = m.Name
			}
			if replay, ok := b.pending[rec.ID]; ok {
				ev.Replay = replay
				delete(b.pending, rec.ID)
			}
		case kindLeave:
			ev.Kind = server.EventLeave
			st.members = rec.Members
			st.mark(rec.ID, b.opts.HistorySize)
		}
	case kindPM:
		key := strings.TrimPrefix(subject, b.subjPM+".")
		c := b.convs[key]
		if c == nil {
			c = &convState{}
			b.convs[key] = c
		}
		c.seq, c.lastID, c.lastTS = seq, rec.ID, rec.TS
		ev.Kind = server.EventPM
	default:
		b.log.Warn("natsbroker: record of unknown kind", "subject", subject, "kind", rec.Kind)
		return nil
	}
	return ev
}

// watch follows a KV bucket into the projection and returns once its
// current values have been applied.
func (b *Broker) watch(ctx context.Context, kv jetstream.KeyValue, apply func(jetstream.KeyValueEntry)) error {
	w, err := kv.WatchAll(b.ctx)
	if err != nil {
		return fmt.Errorf("natsbroker: watching bucket %s: %w", kv.Bucket(), err)
	}
	b.mu.Lock()
	b.watches = append(b.watches, w)
	b.mu.Unlock()
	ready := make(chan struct{})
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for e := range w.Updates() {
			if e == nil {
				close(ready)
				continue
			}
			apply(e)
		}
	}()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("natsbroker: reading bucket %s: %w", kv.Bucket(), ctx.Err())
	}
}

// applyName follows the names bucket.
func (b *Broker) applyName(e jetstream.KeyValueEntry) {
	key := tokenName(e.Key())
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(b.holders, key)
		return
	}
	var h holder
	if err := json.Unmarshal(e.Value(), &h); err != nil {
		b.log.Warn("natsbroker: unreadable name claim", "key", e.Key(), "err", err)
		return
	}
	h.rev = e.Revision()
	b.holders[key] = h
}

// applyNode follows the nodes bucket: a put is a node saying it is alive; a
// delete or purge is a node that left in good order.
func (b *Broker) applyNode(e jetstream.KeyValueEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		b.seen[e.Key()] = time.Time{} // known, and gone
		return
	}
	b.seen[e.Key()] = time.Now()
}
