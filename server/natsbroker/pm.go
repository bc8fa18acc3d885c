package natsbroker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/server"
)

// PM implements server.Broker: the message is appended to the
// conversation's subject with a compare-and-set, so each conversation has
// one order and increasing ids, whichever nodes its two sides are on. It
// stays in the stream for PMTTL only: long enough for every node to read it.
func (b *Broker) PM(ctx context.Context, from, session, to, text, ref string) error {
	if err := b.usable(); err != nil {
		return err
	}
	h, err := b.resolve(ctx, to)
	if err != nil {
		return err
	}
	key := convKey(api.NameKey(from), api.NameKey(to))
	subject := b.subjPM + "." + key
	ttl := fmt.Sprintf("%ds", int(b.opts.PMTTL/time.Second))
	for {
		b.mu.Lock()
		c := b.convs[key]
		if c == nil {
			c = &convState{}
		}
		expect, last := c.seq, c.lastID
		b.mu.Unlock()
		rec := &record{Kind: kindPM, ID: b.newID(last), TS: time.Now(), From: from, Session: session, To: h.Name, Text: text, Ref: ref}
		seq, err := b.casPublish(ctx, subject, subject, expect, rec, ttl)
		switch {
		case err == nil:
			if werr := b.waitApplied(ctx, seq); werr != nil {
				b.log.Debug("natsbroker: accepted pm not yet seen", "seq", seq, "err", werr)
			}
			return nil
		case errors.Is(err, errConflict):
			if err := b.waitApplied(ctx, seq); err != nil {
				return err
			}
			b.mu.Lock()
			c := b.convs[key]
			if c == nil {
				c = &convState{}
				b.convs[key] = c
			}
			c.seq = seq // also when the stream dropped newer (expired) ones
			b.mu.Unlock()
		default:
			return err
		}
	}
}

// Typing implements server.Broker. Indicators go over core NATS, not the
// stream: to every node for a room (each gives it to its local members), to
// the recipient's node for a user. Nothing keeps them; a node that misses
// one shows a stale indicator until its expiry.
func (b *Broker) Typing(ctx context.Context, t server.TypingRequest) error {
	if err := b.usable(); err != nil {
		return err
	}
	m := typingMsg{TS: time.Now(), From: t.From, Session: t.Session, Active: t.Active}
	var subject string
	if t.To != "" {
		h, err := b.resolve(ctx, t.To)
		if err != nil {
			return err
		}
		m.To = h.Name
		subject = b.subjTyping + ".node." + h.Node
	} else {
		key := api.NameKey(t.From)
		b.mu.Lock()
		st := b.rooms[t.Room]
		member := st != nil && func() bool {
			i := findMember(st.members, key)
			return i >= 0 && st.members[i].Session == t.Session
		}()
		b.mu.Unlock()
		if !member {
			return server.ErrNotMember
		}
		m.Room = t.Room
		subject = b.subjTyping + ".room." + t.Room
	}
	data, _ := json.Marshal(m)
	if err := b.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("natsbroker: relaying typing: %w", err)
	}
	return nil
}

// subscribeTyping adds subject to the typing channel.
func (b *Broker) subscribeTyping(subject string) error {
	ns, err := b.nc.ChanSubscribe(subject, b.typing)
	if err != nil {
		return fmt.Errorf("natsbroker: subscribing to %s: %w", subject, err)
	}
	b.mu.Lock()
	b.natsubs = append(b.natsubs, ns)
	b.mu.Unlock()
	return nil
}

// typingLoop delivers typing indicators until the broker closes.
func (b *Broker) typingLoop() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case m := <-b.typing:
			b.onTyping(m)
		}
	}
}

// onTyping hands a relayed typing indicator to the subscribers.
func (b *Broker) onTyping(msg *nats.Msg) {
	var m typingMsg
	if err := json.Unmarshal(msg.Data, &m); err != nil {
		b.log.Warn("natsbroker: unreadable typing indicator", "subject", msg.Subject, "err", err)
		return
	}
	b.publishEvent(&server.Event{
		Kind: server.EventTyping, TS: m.TS, Room: m.Room, To: m.To,
		From: m.From, Session: m.Session, Active: m.Active,
	})
}
