package natsbroker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/server"
)

// errConflict means another node wrote to the room (or conversation) first.
var errConflict = errors.New("natsbroker: conflicting write")

// roomSubject is the subject of a room's membership records or chat messages.
func (b *Broker) roomSubject(room, suffix string) string {
	return b.subjRoom + "." + room + "." + suffix
}

// casPublish appends rec to subject if the last record matching filter is
// still expect. It returns the record's stream sequence, or errConflict with
// the sequence that is last instead.
func (b *Broker) casPublish(ctx context.Context, subject, filter string, expect uint64, rec *record, ttl string) (uint64, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, err
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	if ttl != "" {
		msg.Header.Set(jetstream.MsgTTLHeader, ttl)
	}
	// The record's id doubles as the deduplication id, so a publish retried
	// after a lost acknowledgement is not stored twice.
	ack, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(rec.ID), jetstream.WithExpectLastSequenceForSubject(expect, filter))
	if err == nil {
		return ack.Sequence, nil
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		// "wrong last sequence: N" on a single server; replicated streams
		// leave N out, and then we ask.
		if i := strings.LastIndexByte(apiErr.Description, ':'); i >= 0 {
			if n, perr := strconv.ParseUint(strings.TrimSpace(apiErr.Description[i+1:]), 10, 64); perr == nil {
				return n, errConflict
			}
		}
		last, gerr := b.stream.GetLastMsgForSubject(ctx, filter)
		switch {
		case errors.Is(gerr, jetstream.ErrMsgNotFound):
			return 0, errConflict
		case gerr != nil:
			return 0, fmt.Errorf("natsbroker: after a conflict: %w", gerr)
		}
		return last.Sequence, errConflict
	}
	return 0, fmt.Errorf("natsbroker: publishing to %s: %w", subject, err)
}

// catchUp waits until the projection holds the record at last, after a
// conflict, and makes it the room's compare-and-set sequence even when the
// stream has dropped newer records (expired chat messages).
func (b *Broker) catchUpRoom(ctx context.Context, room string, last uint64) error {
	if err := b.waitApplied(ctx, last); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.rooms[room]
	if st == nil {
		st = &roomState{}
		b.rooms[room] = st
	}
	st.seq = last
	return nil
}

// roomWrite is the compare-and-set loop of every room write: build looks at
// the room's projected state (under the lock) and returns the record to
// append, or an error that ends the write.
func (b *Broker) roomWrite(ctx context.Context, room, suffix string, build func(st *roomState) (*record, []chatRef, error)) error {
	if err := b.usable(); err != nil {
		return err
	}
	filter := b.roomSubject(room, "*")
	for {
		b.mu.Lock()
		st := b.rooms[room]
		if st == nil {
			st = &roomState{}
		}
		expect := st.seq
		rec, replayRefs, err := build(st)
		b.mu.Unlock()
		if err != nil {
			return err
		}
		ttl := ""
		if rec.Kind != kindChat {
			// Membership records hold the member list: they must outlive
			// MaxAge while the room has members. The sweep removes them
			// once the room has been empty for the retention time.
			ttl = "never"
		}
		if rec.Kind == kindJoin {
			replay, err := b.fetchChats(ctx, room, replayRefs)
			if err != nil {
				return err
			}
			b.mu.Lock()
			b.pending[rec.ID] = replay
			b.mu.Unlock()
		}
		seq, err := b.casPublish(ctx, b.roomSubject(room, suffix), filter, expect, rec, ttl)
		if err != nil && rec.Kind == kindJoin {
			b.mu.Lock()
			delete(b.pending, rec.ID)
			b.mu.Unlock()
		}
		switch {
		case err == nil && rec.Kind == kindChat:
			// A chat changes no membership, and the compare-and-set says
			// nothing came between expect and seq: the projection may move
			// to seq now, so the sender's next message does not wait for
			// the stream to come back to us (the record itself still does).
			b.mu.Lock()
			if st := b.rooms[room]; st != nil && st.seq == expect {
				st.seq, st.lastID = seq, rec.ID
			}
			b.mu.Unlock()
			return nil
		case err == nil:
			// Read your writes: the caller's next request sees this one.
			if werr := b.waitApplied(ctx, seq); werr != nil {
				b.log.Debug("natsbroker: accepted write not yet seen", "room", room, "seq", seq, "err", werr)
			}
			return nil
		case errors.Is(err, errConflict):
			if err := b.catchUpRoom(ctx, room, seq); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// Join implements server.Broker.
func (b *Broker) Join(ctx context.Context, req server.JoinRequest) error {
	key := api.NameKey(req.Name)
	if err := b.checkHolder(ctx, key, req.Session); err != nil {
		return err
	}
	for {
		var stale member
		err := b.join(ctx, req, key, &stale)
		if !errors.Is(err, errStaleMember) {
			return err
		}
		// The joiner holds the name, so a member of that name with another
		// session is left over from a node that died (or lost NATS) before
		// the survivors cleaned up after it: it leaves first.
		if err := b.Leave(ctx, req.Room, stale.Name, stale.Session, "disconnected", ""); err != nil && !errors.Is(err, server.ErrNotMember) {
			return err
		}
	}
}

// errStaleMember means the room lists the joiner's name with another session.
var errStaleMember = errors.New("natsbroker: stale member")

func (b *Broker) join(ctx context.Context, req server.JoinRequest, key string, stale *member) error {
	node := b.nodeID()
	cutoff := time.Now().Add(-b.opts.HistoryTTL)
	return b.roomWrite(ctx, req.Room, suffixMembers, func(st *roomState) (*record, []chatRef, error) {
		i, found := slices.BinarySearchFunc(st.members, key, func(m member, k string) int { return strings.Compare(m.Key, k) })
		if found {
			if st.members[i].Session != req.Session {
				*stale = st.members[i]
				return nil, nil, errStaleMember
			}
			return nil, nil, server.ErrAlreadyMember
		}
		members := slices.Insert(slices.Clone(st.members), i, member{Key: key, Name: req.Name, Session: req.Session, Node: node})
		rec := &record{
			Kind: kindJoin, ID: b.newID(st.lastID), TS: time.Now(), Room: req.Room,
			From: req.Name, Session: req.Session, Ref: req.Ref, Members: members,
		}
		return rec, st.pick(req.Since, req.Replay, cutoff), nil
	})
}

// checkHolder makes sure session holds the name (ErrUnknownUser otherwise).
func (b *Broker) checkHolder(ctx context.Context, key, session string) error {
	b.mu.Lock()
	h, ok := b.holders[key]
	b.mu.Unlock()
	if ok && h.Session == session {
		return nil
	}
	// Our copy of the bucket may lag behind the claim: ask.
	h, ok, err := b.lookupName(ctx, key)
	if err != nil {
		return err
	}
	if !ok || h.Session != session {
		return server.ErrUnknownUser
	}
	return nil
}

// Leave implements server.Broker.
func (b *Broker) Leave(ctx context.Context, room, name, session, reason, ref string) error {
	key := api.NameKey(name)
	return b.roomWrite(ctx, room, suffixMembers, func(st *roomState) (*record, []chatRef, error) {
		i := findMember(st.members, key)
		if i < 0 || st.members[i].Session != session {
			return nil, nil, server.ErrNotMember
		}
		return &record{
			Kind: kindLeave, ID: b.newID(st.lastID), TS: time.Now(), Room: room,
			From: st.members[i].Name, Session: session, Reason: reason, Ref: ref,
			Members: slices.Delete(slices.Clone(st.members), i, i+1),
		}, nil, nil
	})
}

// Chat implements server.Broker.
func (b *Broker) Chat(ctx context.Context, room, from, session, text, ref string) error {
	key := api.NameKey(from)
	return b.roomWrite(ctx, room, suffixChat, func(st *roomState) (*record, []chatRef, error) {
		i := findMember(st.members, key)
		if i < 0 || st.members[i].Session != session {
			return nil, nil, server.ErrNotMember
		}
		return &record{
			Kind: kindChat, ID: b.newID(st.lastID), TS: time.Now(), Room: room,
			From: from, Session: session, Text: text, Ref: ref,
		}, nil, nil
	})
}

// Members implements server.Broker.
func (b *Broker) Members(_ context.Context, room string) ([]string, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.rooms[room]
	if st == nil {
		return nil, nil
	}
	users := make([]string, len(st.members))
	for i, m := range st.members {
		users[i] = m.Name
	}
	return users, nil
}

// History implements server.Broker: the projection says which messages
// are kept; their content comes from the stream in one direct batch get.
func (b *Broker) History(ctx context.Context, room, since string, limit int) ([]api.ChatEvent, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	st := b.rooms[room]
	var refs []chatRef
	if st != nil {
		refs = st.pick(since, limit, time.Now().Add(-b.opts.HistoryTTL))
	}
	b.mu.Unlock()
	return b.fetchChats(ctx, room, refs)
}

// directGetRequest is JetStream's direct get, in its batch form.
type directGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	Batch   int    `json:"batch,omitempty"`
	UpToSeq uint64 `json:"up_to_seq,omitempty"`
}

// fetchChats reads the chat messages refs points at from the stream, in one
// request: a direct batch get from the first sequence up to the last, on the
// room's chat subject. Messages the stream has dropped meanwhile are missing.
func (b *Broker) fetchChats(ctx context.Context, room string, refs []chatRef) ([]api.ChatEvent, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	req, _ := json.Marshal(directGetRequest{
		Seq: refs[0].seq, NextFor: b.roomSubject(room, suffixChat), Batch: len(refs), UpToSeq: refs[len(refs)-1].seq,
	})
	inbox := b.nc.NewInbox()
	sub, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: reading history: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := b.nc.PublishRequest("$JS.API.DIRECT.GET."+b.streamName, inbox, req); err != nil {
		return nil, fmt.Errorf("natsbroker: reading history: %w", err)
	}
	out := make([]api.ChatEvent, 0, len(refs))
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("natsbroker: reading history of %s: %w", room, err)
		}
		switch status := m.Header.Get("Status"); status {
		case "":
		case "204", "404": // end of batch; nothing (left) to send
			return out, nil
		default:
			return nil, fmt.Errorf("natsbroker: reading history of %s: status %s %s", room, status, m.Header.Get("Description"))
		}
		var rec record
		if err := json.Unmarshal(m.Data, &rec); err != nil || rec.Kind != kindChat {
			continue
		}
		out = append(out, api.ChatEvent{ID: rec.ID, TS: rec.TS, Room: rec.Room, From: rec.From, Text: rec.Text, Replay: true})
	}
}
