package natsbroker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatd/chatd/server"
)

// heartbeat announces this node in the nodes bucket; the bucket's TTL
// removes the key of a node that stops.
func (b *Broker) heartbeat(ctx context.Context) error {
	val, _ := json.Marshal(struct {
		Started time.Time `json:"started"`
	}{b.started})
	_, err := b.nodes.Put(ctx, b.nodeID(), val)
	return err
}

// heartbeatLoop announces the node, notices when NATS is gone (lost), and
// cleans up after dead nodes, every Heartbeat.
func (b *Broker) heartbeatLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.Heartbeat)
	defer t.Stop()
	lastBeat := time.Now()
	down := false // NATS was unreachable or refused a heartbeat
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if b.nc.IsConnected() {
			ctx, cancel := context.WithTimeout(b.ctx, b.opts.LostAfter)
			err := b.heartbeat(ctx)
			cancel()
			if err == nil {
				if down {
					// After an outage (a NATS restart loses the watchers'
					// consumers) follow the buckets afresh.
					b.rewatch()
				}
				lastBeat, down = now, false
				b.mu.Lock()
				b.lostSince, b.lostSent = time.Time{}, false
				b.mu.Unlock()
				b.cleanup()
				continue
			}
			if b.ctx.Err() != nil {
				return // closing
			}
			b.log.Warn("natsbroker: heartbeat failed", "err", err)
		}
		down = true
		closed := b.nc.Status() == nats.CLOSED
		if closed || now.Sub(lastBeat) >= b.opts.LostAfter {
			b.loseNATS(closed)
		}
	}
}

// rewatch restarts the bucket watchers, starting from the buckets' current
// contents.
func (b *Broker) rewatch() {
	b.mu.Lock()
	old := b.watches
	b.watches = nil
	b.mu.Unlock()
	for _, w := range old {
		_ = w.Stop()
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.NodeTTL)
	defer cancel()
	b.mu.Lock()
	clear(b.holders) // the watch brings back every current claim
	b.mu.Unlock()
	if err := b.watch(ctx, b.names, b.applyName); err != nil {
		b.log.Warn("natsbroker: following the names bucket again", "err", err)
	}
	if err := b.watch(ctx, b.nodes, b.applyNode); err != nil {
		b.log.Warn("natsbroker: following the nodes bucket again", "err", err)
	}
	b.log.Info("natsbroker: following the buckets again after an outage")
}

// loseNATS tells the subscribers, once per outage, that this node can no
// longer guarantee delivery, and takes a new node id: the survivors treat
// the old one as dead (leave events, names freed), and whatever this node
// serves after NATS returns is announced under the new one.
func (b *Broker) loseNATS(closed bool) {
	b.mu.Lock()
	if b.lostSent || b.closed {
		b.mu.Unlock()
		return
	}
	b.lostSent = true
	old := b.nodeID()
	next := b.ids.Next()
	b.node.Store(&next)
	b.mu.Unlock()
	err := ErrNotConnected
	if closed {
		err = fmt.Errorf("%w: connection closed", ErrNotConnected)
	}
	b.log.Error("natsbroker: NATS lost; closing this node's clients", "old_node", old, "new_node", next, "err", err)
	if !closed {
		// Typing indicators for our users now come to the new id.
		if serr := b.subscribeTyping(b.subjTyping + ".node." + next); serr != nil {
			b.log.Warn("natsbroker: typing under the new node id", "err", serr)
		}
	}
	for _, s := range *b.subs.Load() {
		s.lost(err)
	}
}

// deadMember is one member of a room served by a dead node.
type deadMember struct {
	room string
	m    member
}

// cleanup publishes leave (disconnected) for the members of dead nodes and
// frees their names. Every surviving node runs it; the compare-and-set in
// Leave and in the name's delete makes each happen once.
func (b *Broker) cleanup() {
	if !b.cleanMu.TryLock() {
		return
	}
	defer b.cleanMu.Unlock()
	now := time.Now()
	var members []deadMember
	var names []holder
	var keys []string
	b.mu.Lock()
	for room, st := range b.rooms {
		for _, m := range st.members {
			if !b.aliveLocked(m.Node, now) {
				members = append(members, deadMember{room, m})
			}
		}
	}
	for key, h := range b.holders {
		if !b.aliveLocked(h.Node, now) {
			names = append(names, h)
			keys = append(keys, key)
		}
	}
	b.mu.Unlock()
	if len(members) == 0 && len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.NodeTTL)
	defer cancel()
	verdict := map[string]bool{} // node → alive, confirmed by the bucket
	alive := func(node string) bool {
		v, ok := verdict[node]
		if !ok {
			v = b.nodeAlive(ctx, node)
			verdict[node] = v
		}
		return v
	}
	for _, d := range members {
		if alive(d.m.Node) {
			continue
		}
		err := b.Leave(ctx, d.room, d.m.Name, d.m.Session, "disconnected", "")
		if err != nil && !errors.Is(err, server.ErrNotMember) {
			b.log.Warn("natsbroker: leave for a dead node's member", "room", d.room, "name", d.m.Name, "err", err)
			continue
		}
		if err == nil {
			b.log.Info("natsbroker: dead node's member left", "room", d.room, "name", d.m.Name, "node", d.m.Node)
		}
	}
	for i, h := range names {
		if alive(h.Node) {
			continue
		}
		if err := b.releaseHolder(ctx, keys[i], h); err != nil {
			b.log.Warn("natsbroker: freeing a dead node's name", "name", h.Name, "err", err)
		}
	}
}

// sweepLoop removes rooms that have been empty for HistoryTTL from the
// stream and the projection, and forgets old conversations.
func (b *Broker) sweepLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		b.sweep(time.Now())
	}
}

func (b *Broker) sweep(now time.Time) {
	type gone struct {
		room string
		seq  uint64
	}
	var rooms []gone
	cutoff := now.Add(-b.opts.HistoryTTL)
	b.mu.Lock()
	for name, st := range b.rooms {
		if len(st.members) == 0 && st.lastTS.Before(cutoff) {
			rooms = append(rooms, gone{name, st.seq})
			delete(b.rooms, name)
		}
	}
	for key, c := range b.convs {
		if c.lastTS.Before(now.Add(-b.opts.PMTTL)) {
			delete(b.convs, key)
		}
	}
	b.mu.Unlock()
	for _, g := range rooms {
		// Up to the last record we know of only: a join that raced with
		// the sweep survives it. Several nodes may purge the same room;
		// that is harmless.
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		err := b.stream.Purge(ctx, jetstream.WithPurgeSubject(b.roomSubject(g.room, "*")), jetstream.WithPurgeSequence(g.seq+1))
		cancel()
		if err != nil {
			b.log.Warn("natsbroker: purging an expired room", "room", g.room, "err", err)
		}
	}
}
