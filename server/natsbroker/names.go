package natsbroker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/server"
)

// ClaimName implements server.Broker: the name's key in the names bucket is
// created, or taken over from a holder whose node is dead, with a
// compare-and-set on its revision.
func (b *Broker) ClaimName(ctx context.Context, name, session string) error {
	if err := b.usable(); err != nil {
		return err
	}
	key := api.NameKey(name)
	val, _ := json.Marshal(holder{Name: name, Session: session, Node: b.nodeID()})
	for {
		_, err := b.names.Create(ctx, nameToken(key), val)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("natsbroker: claiming %s: %w", name, err)
		}
		h, ok, err := b.lookupName(ctx, key)
		if err != nil {
			return err
		}
		if !ok {
			continue // released meanwhile: try again
		}
		if h.Session != session && b.nodeAlive(ctx, h.Node) {
			return server.ErrNameTaken
		}
		// Our own claim again (the spelling may differ), or a dead node's.
		_, err = b.names.Update(ctx, nameToken(key), val, h.rev)
		if err == nil {
			return nil
		}
		if !isRevisionConflict(err) {
			return fmt.Errorf("natsbroker: claiming %s: %w", name, err)
		}
	}
}

// ReleaseName implements server.Broker.
func (b *Broker) ReleaseName(ctx context.Context, name, session string) error {
	if err := b.usable(); err != nil {
		return err
	}
	key := api.NameKey(name)
	h, ok, err := b.lookupName(ctx, key)
	if err != nil || !ok || h.Session != session {
		return err
	}
	return b.releaseHolder(ctx, key, h)
}

// releaseHolder deletes the claim h if it is still the current one.
func (b *Broker) releaseHolder(ctx context.Context, key string, h holder) error {
	err := b.names.Delete(ctx, nameToken(key), jetstream.LastRevision(h.rev))
	if err != nil && !isRevisionConflict(err) {
		return fmt.Errorf("natsbroker: releasing %s: %w", h.Name, err)
	}
	return nil
}

// lookupName reads the current claim on key from the bucket.
func (b *Broker) lookupName(ctx context.Context, key string) (holder, bool, error) {
	e, err := b.names.Get(ctx, nameToken(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return holder{}, false, nil
	}
	if err != nil {
		return holder{}, false, fmt.Errorf("natsbroker: looking up %s: %w", key, err)
	}
	var h holder
	if err := json.Unmarshal(e.Value(), &h); err != nil {
		return holder{}, false, fmt.Errorf("natsbroker: claim on %s unreadable: %w", key, err)
	}
	h.rev = e.Revision()
	return h, true, nil
}

// resolve finds the holder of name for a private message or typing: our
// copy of the bucket first, the bucket itself when the copy has nobody.
func (b *Broker) resolve(ctx context.Context, name string) (holder, error) {
	key := api.NameKey(name)
	b.mu.Lock()
	h, ok := b.holders[key]
	b.mu.Unlock()
	if ok {
		return h, nil
	}
	h, ok, err := b.lookupName(ctx, key)
	if err != nil {
		return holder{}, err
	}
	if !ok {
		return holder{}, server.ErrUnknownUser
	}
	return h, nil
}

func isRevisionConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) ||
		errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// nodeAlive is alive, confirmed by the nodes bucket before calling a node
// dead: our copy of the bucket may lag (after a NATS restart, for one),
// while the bucket's TTL makes the key's presence the truth.
func (b *Broker) nodeAlive(ctx context.Context, node string) bool {
	if b.alive(node) {
		return true
	}
	_, err := b.nodes.Get(ctx, node)
	if err == nil {
		b.mu.Lock()
		b.seen[node] = time.Now()
		b.mu.Unlock()
		return true
	}
	// Only a definite "no such key" is death; an error talking to NATS is not.
	return !errors.Is(err, jetstream.ErrKeyNotFound)
}

// alive says whether node is this node or has announced itself within
// NodeTTL. A node never heard of gets NodeTTL from the first time it is
// asked about, since its announcement may still be on its way to us.
func (b *Broker) alive(node string) bool {
	if node == b.nodeID() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.aliveLocked(node, time.Now())
}

func (b *Broker) aliveLocked(node string, now time.Time) bool {
	if node == b.nodeID() {
		return true
	}
	t, ok := b.seen[node]
	if !ok {
		b.seen[node] = now // first heard of now: give it its TTL
		return true
	}
	return now.Sub(t) < b.opts.NodeTTL
}
