package server

import (
	"sync"
	"time"

	"github.com/chatd/chatd/api"
)

// typingTarget is where an indicator points: a room, or one user (by NameKey).
type typingTarget struct{ room, user string }

// typingIndicator is one sender's indicator towards one target.
type typingIndicator struct {
	to        string    // the recipient as the client spelled it (user targets)
	active    bool      // receivers currently show it
	lastRelay time.Time // when active: true was last relayed (the throttle)
	expiry    Timer
	gen       uint64 // invalidates an expiry that fired while being replaced
}

// typingTracker keeps one session's typing indicators: it throttles relays of
// active: true, expires indicators that are not refreshed, and ends them when
// the sender chats, sends a pm, leaves or disconnects (PROTOCOL.md §3, §3a).
// Relays go out through relay; expiry runs on the Clock's timers.
type typingTracker struct {
	mu       sync.Mutex
	clock    Clock
	expiry   time.Duration
	throttle time.Duration
	relay    func(room, to string, active bool) error
	ind      map[typingTarget]*typingIndicator
	closed   bool
}

func newTypingTracker(clock Clock, expiry, throttle time.Duration, relay func(room, to string, active bool) error) *typingTracker {
	return &typingTracker{clock: clock, expiry: expiry, throttle: throttle, relay: relay}
}

func targetOf(room, to string) typingTarget {
	if to != "" {
		return typingTarget{user: api.NameKey(to)}
	}
	return typingTarget{room: room}
}

// update applies a typing message from the sender. It returns the relay's
// error (unknown_user, not_member), in which case nothing is remembered.
func (t *typingTracker) update(room, to string, active bool) error {
	key := targetOf(room, to)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	in := t.ind[key]
	if !active {
		if in == nil || !in.active {
			// Nothing is shown, so there is nothing to take back.
			t.mu.Unlock()
			return nil
		}
		t.deactivate(in)
		t.mu.Unlock()
		return t.relay(room, to, false)
	}
	now := t.clock.Now()
	if in != nil && now.Sub(in.lastRelay) < t.throttle {
		if in.active {
			t.arm(key, in) // a refresh inside the throttle window only extends the expiry
		}
		t.mu.Unlock()
		return nil
	}
	if in == nil {
		if t.ind == nil {
			t.ind = make(map[typingTarget]*typingIndicator)
		}
		in = &typingIndicator{to: to}
		t.ind[key] = in
	}
	wasActive := in.active
	in.active, in.lastRelay = true, now
	t.arm(key, in)
	t.mu.Unlock()
	if err := t.relay(room, to, true); err != nil {
		t.mu.Lock()
		if !wasActive {
			t.deactivate(in)
			delete(t.ind, key)
		}
		t.mu.Unlock()
		return err
	}
	return nil
}

// arm (re)starts in's expiry. t.mu is held.
func (t *typingTracker) arm(key typingTarget, in *typingIndicator) {
	if in.expiry != nil {
		in.expiry.Stop()
	}
	in.gen++
	gen := in.gen
	in.expiry = t.clock.AfterFunc(t.expiry, func() { t.expire(key, gen) })
}

// deactivate marks in as no longer shown. t.mu is held.
func (t *typingTracker) deactivate(in *typingIndicator) {
	in.active = false
	in.gen++
	if in.expiry != nil {
		in.expiry.Stop()
		in.expiry = nil
	}
}

// expire is the expiry timer: the sender neither refreshed nor stopped, so
// the server stops the indicator on its behalf.
func (t *typingTracker) expire(key typingTarget, gen uint64) {
	t.mu.Lock()
	in := t.ind[key]
	if t.closed || in == nil || !in.active || in.gen != gen {
		t.mu.Unlock()
		return
	}
	t.deactivate(in)
	to := in.to
	t.mu.Unlock()
	_ = t.relay(key.room, to, false) // the target may be gone; nothing to tell the sender
}

// end stops the indicator towards one target (the sender chatted, sent a pm
// or left the room) and relays active: false if it was shown.
func (t *typingTracker) end(room, to string) {
	key := targetOf(room, to)
	t.mu.Lock()
	in := t.ind[key]
	if in == nil || !in.active {
		t.mu.Unlock()
		return
	}
	t.deactivate(in)
	to = in.to
	t.mu.Unlock()
	_ = t.relay(room, to, false)
}

// endAll stops every shown indicator (the sender disconnects) and refuses
// further updates.
func (t *typingTracker) endAll() {
	t.mu.Lock()
	t.closed = true
	var shown []typingTarget
	var tos []string
	for key, in := range t.ind {
		if in.active {
			shown = append(shown, key)
			tos = append(tos, in.to)
		}
		t.deactivate(in)
	}
	t.mu.Unlock()
	for i, key := range shown {
		_ = t.relay(key.room, tos[i], false)
	}
}

// handleTyping updates the sender's indicator towards a room or a user; the
// tracker decides what is relayed.
func (s *session) handleTyping(m *api.Typing) {
	if m.To != "" {
		if s.isSelf(m.To) {
			s.toSelf(m.Ref)
			return
		}
	} else if !s.inRoom(m.Room) {
		s.notMember(m.Ref, m.Room)
		return
	}
	if err := s.typing.update(m.Room, m.To, m.Active); err != nil {
		s.brokerError(err, m.Ref, m.Room, m.To)
	}
}
