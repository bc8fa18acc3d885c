package server

import (
	"context"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/api"
)

// MemoryBrokerOptions configures NewMemoryBroker.
type MemoryBrokerOptions struct {
	HistorySize   int           // chat events kept per room (500)
	HistoryTTL    time.Duration // how long they are kept, and how long an empty room survives (24 h)
	SweepInterval time.Duration // how often expired history and empty rooms are removed (0: TTL/10, within 1 s … 1 min)
	Clock         Clock         // nil: the real clock
}

// MemoryBroker is the Broker of a single process. Each room has its own lock,
// held while an event's id is assigned and the event is delivered, which is
// what makes every subscriber see one order per room.
type MemoryBroker struct {
	opts  MemoryBrokerOptions
	clock Clock
	ids   *api.IDSource

	mu     sync.Mutex
	names  map[string]memMember // NameKey → holder
	rooms  map[string]*memRoom
	closed bool
	sweep  Timer

	// pmMu orders private messages and user-to-user typing: one lock for all
	// conversations is plenty for a single process.
	pmMu sync.Mutex

	subs atomic.Pointer[[]*memSub] // copy on write; read on every event
}

type memMember struct{ key, name, session string }

type memSub struct {
	deliver func(*Event)
	lost    func(error)
}

type memRoom struct {
	mu         sync.Mutex
	name       string
	members    []memMember // sorted by NameKey, so presence needs no sort
	hist       *history
	emptySince time.Time
	removed    bool // set by the sweep; a caller holding a stale pointer looks again
}

// NewMemoryBroker returns a Broker that keeps everything in this process.
func NewMemoryBroker(opts MemoryBrokerOptions) *MemoryBroker {
	if opts.HistorySize == 0 {
		opts.HistorySize = 500
	}
	if opts.HistoryTTL <= 0 {
		opts.HistoryTTL = 24 * time.Hour
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = min(max(opts.HistoryTTL/10, time.Second), time.Minute)
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	b := &MemoryBroker{
		opts:  opts,
		clock: opts.Clock,
		ids:   api.NewIDSource(opts.Clock),
		names: make(map[string]memMember),
		rooms: make(map[string]*memRoom),
	}
	b.subs.Store(new([]*memSub))
	b.sweep = b.clock.AfterFunc(opts.SweepInterval, b.runSweep)
	return b
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(deliver func(*Event), lost func(error)) (cancel func()) {
	s := &memSub{deliver: deliver, lost: lost}
	b.mu.Lock()
	old := *b.subs.Load()
	b.subs.Store(ptr(append(slices.Clip(old), s)))
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		cur := *b.subs.Load()
		i := slices.Index(cur, s)
		if i < 0 {
			return
		}
		b.subs.Store(ptr(slices.Delete(slices.Clone(cur), i, i+1)))
	}
}

func ptr[T any](v T) *T { return &v }

// publish hands ev to every subscriber. Callers hold the lock that orders ev.
func (b *MemoryBroker) publish(ev *Event) {
	for _, s := range *b.subs.Load() {
		s.deliver(ev)
	}
}

// ClaimName implements Broker.
func (b *MemoryBroker) ClaimName(_ context.Context, name, session string) error {
	key := api.NameKey(name)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrBrokerClosed
	}
	if h, ok := b.names[key]; ok && h.session != session {
		return ErrNameTaken
	}
	b.names[key] = memMember{key: key, name: name, session: session}
	return nil
}

// ReleaseName implements Broker.
func (b *MemoryBroker) ReleaseName(_ context.Context, name, session string) error {
	key := api.NameKey(name)
	b.mu.Lock()
	defer b.mu.Unlock()
	if h, ok := b.names[key]; ok && h.session == session {
		delete(b.names, key)
	}
	return nil
}

// holder returns the claim on name, if any.
func (b *MemoryBroker) holder(name string) (memMember, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return memMember{}, false, ErrBrokerClosed
	}
	h, ok := b.names[api.NameKey(name)]
	return h, ok, nil
}

// lockRoom returns room locked, creating it if create is set; nil if it does
// not exist.
func (b *MemoryBroker) lockRoom(name string, create bool) (*memRoom, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, ErrBrokerClosed
		}
		r := b.rooms[name]
		if r == nil && create {
			r = &memRoom{name: name, hist: newHistory(b.opts.HistorySize)}
			b.rooms[name] = r
		}
		b.mu.Unlock()
		if r == nil {
			return nil, nil
		}
		r.mu.Lock()
		if !r.removed {
			return r, nil
		}
		r.mu.Unlock()
	}
}

// find returns the index of the member with key, or -1.
func (r *memRoom) find(key string) int {
	i := sort.Search(len(r.members), func(i int) bool { return r.members[i].key >= key })
	if i < len(r.members) && r.members[i].key == key {
		return i
	}
	return -1
}

func (r *memRoom) isMember(name, session string) bool {
	i := r.find(api.NameKey(name))
	return i >= 0 && r.members[i].session == session
}

func (b *MemoryBroker) cutoff() time.Time { return b.clock.Now().Add(-b.opts.HistoryTTL) }

// Join implements Broker.
func (b *MemoryBroker) Join(_ context.Context, req JoinRequest) error {
	h, ok, err := b.holder(req.Name)
	if err != nil {
		return err
	}
	if !ok || h.session != req.Session {
		return ErrUnknownUser
	}
	r, err := b.lockRoom(req.Room, true)
	if err != nil {
		return err
	}
	defer r.mu.Unlock()
	key := api.NameKey(req.Name)
	if r.find(key) >= 0 {
		return ErrAlreadyMember
	}
	i := sort.Search(len(r.members), func(i int) bool { return r.members[i].key >= key })
	r.members = slices.Insert(r.members, i, memMember{key: key, name: req.Name, session: req.Session})
	users := make([]string, len(r.members))
	for i, m := range r.members {
		users[i] = m.name
	}
	ev := &Event{
		Kind: EventJoin, ID: b.ids.Next(), TS: b.clock.Now(), Room: req.Room,
		From: req.Name, Session: req.Session, Ref: req.Ref,
		Users: users, Replay: r.hist.replay(req.Since, req.Replay, b.cutoff()),
	}
	r.hist.mark(ev.ID)
	b.publish(ev)
	return nil
}

// Leave implements Broker.
func (b *MemoryBroker) Leave(_ context.Context, room, name, session, reason, ref string) error {
	r, err := b.lockRoom(room, false)
	if err != nil {
		return err
	}
	if r == nil {
		return ErrNotMember
	}
	defer r.mu.Unlock()
	i := r.find(api.NameKey(name))
	if i < 0 || r.members[i].session != session {
		return ErrNotMember
	}
	name = r.members[i].name // as spelled at join
	r.members = slices.Delete(r.members, i, i+1)
	ev := &Event{
		Kind: EventLeave, ID: b.ids.Next(), TS: b.clock.Now(), Room: room,
		From: name, Session: session, Reason: reason, Ref: ref,
	}
	r.hist.mark(ev.ID)
	if len(r.members) == 0 {
		r.emptySince = ev.TS
	}
	b.publish(ev)
	return nil
}

// Chat implements Broker.
func (b *MemoryBroker) Chat(_ context.Context, room, from, session, text, ref string) error {
	r, err := b.lockRoom(room, false)
	if err != nil {
		return err
	}
	if r == nil {
		return ErrNotMember
	}
	defer r.mu.Unlock()
	if !r.isMember(from, session) {
		return ErrNotMember
	}
	ev := &Event{
		Kind: EventChat, ID: b.ids.Next(), TS: b.clock.Now(), Room: room,
		From: from, Session: session, Text: text, Ref: ref,
	}
	r.hist.add(api.ChatEvent{ID: ev.ID, TS: ev.TS, Room: room, From: from, Text: text})
	b.publish(ev)
	return nil
}

// PM implements Broker.
func (b *MemoryBroker) PM(_ context.Context, from, session, to, text, ref string) error {
	b.pmMu.Lock()
	defer b.pmMu.Unlock()
	h, ok, err := b.holder(to)
	if err != nil {
		return err
	}
	if !ok {
		return ErrUnknownUser
	}
	b.publish(&Event{
		Kind: EventPM, ID: b.ids.Next(), TS: b.clock.Now(),
		From: from, Session: session, To: h.name, Text: text, Ref: ref,
	})
	return nil
}

// Typing implements Broker.
func (b *MemoryBroker) Typing(_ context.Context, t TypingRequest) error {
	ev := &Event{Kind: EventTyping, TS: b.clock.Now(), From: t.From, Session: t.Session, Active: t.Active}
	if t.To != "" {
		b.pmMu.Lock()
		defer b.pmMu.Unlock()
		h, ok, err := b.holder(t.To)
		if err != nil {
			return err
		}
		if !ok {
			return ErrUnknownUser
		}
		ev.To = h.name
		b.publish(ev)
		return nil
	}
	r, err := b.lockRoom(t.Room, false)
	if err != nil {
		return err
	}
	if r == nil {
		return ErrNotMember
	}
	defer r.mu.Unlock()
	if !r.isMember(t.From, t.Session) {
		return ErrNotMember
	}
	ev.Room = t.Room
	b.publish(ev)
	return nil
}

// Members implements Broker.
func (b *MemoryBroker) Members(_ context.Context, room string) ([]string, error) {
	r, err := b.lockRoom(room, false)
	if err != nil || r == nil {
		return nil, err
	}
	defer r.mu.Unlock()
	users := make([]string, len(r.members))
	for i, m := range r.members {
		users[i] = m.name
	}
	return users, nil
}

// History implements Broker.
func (b *MemoryBroker) History(_ context.Context, room, since string, limit int) ([]api.ChatEvent, error) {
	r, err := b.lockRoom(room, false)
	if err != nil || r == nil {
		return nil, err
	}
	defer r.mu.Unlock()
	return r.hist.replay(since, limit, b.cutoff()), nil
}

// Rooms returns how many rooms exist (with members, or empty but still kept).
func (b *MemoryBroker) Rooms() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.rooms)
}

// runSweep drops expired history and removes rooms that have been empty for
// the retention time, then schedules itself again.
func (b *MemoryBroker) runSweep() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	now := b.clock.Now()
	cutoff := now.Add(-b.opts.HistoryTTL)
	for name, r := range b.rooms {
		r.mu.Lock()
		r.hist.prune(cutoff)
		if len(r.members) == 0 && !r.emptySince.After(cutoff) {
			r.removed = true
			delete(b.rooms, name)
		}
		r.mu.Unlock()
	}
	b.sweep = b.clock.AfterFunc(b.opts.SweepInterval, b.runSweep)
}

// Close implements Broker.
func (b *MemoryBroker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.sweep.Stop()
	return nil
}
