package client

import (
	"time"

	"github.com/chatd/chatd/api"
)

// Target is where a typing indicator points: a room or one user.
type Target struct {
	Room string
	To   string
}

// Room is the Target of typing in a room.
func Room(name string) Target { return Target{Room: name} }

// To is the Target of typing a private message to a user.
func To(name string) Target { return Target{To: name} }

// key folds the case of a user name, as the server compares them.
func (t Target) key() Target {
	if t.To != "" {
		return Target{To: api.NameKey(t.To)}
	}
	return Target{Room: roomOrLobby(t.Room)}
}

type typingState struct {
	target   Target // as the caller spelled it
	active   bool   // the server was told active:true and not yet false
	lastSent time.Time
	idle     Timer
	gen      int // invalidates an idle timer that fired after a newer keystroke
}

// Typing records a keystroke toward t. It sends active:true on the first
// keystroke and then at most every TypingRefresh while keystrokes continue
// (the server expires an indicator not refreshed within 6 s), and
// active:false once TypingIdle passes without a keystroke. Indicators are a
// courtesy: one that cannot be sent (not connected, rate budget spent) is
// skipped, never queued.
func (s *Session) Typing(t Target) {
	k := t.key()
	s.tmu.Lock()
	defer s.tmu.Unlock()
	st := s.typing[k]
	if st == nil {
		st = &typingState{target: t}
		s.typing[k] = st
	}
	now := s.opts.Clock.Now()
	if !st.active || now.Sub(st.lastSent) >= TypingRefresh {
		if s.sendTyping(t, true) {
			st.active, st.lastSent = true, now
		}
	}
	if st.idle != nil {
		st.idle.Stop()
	}
	st.gen++
	gen := st.gen
	st.idle = s.opts.Clock.AfterFunc(TypingIdle, func() { s.typingIdle(k, gen) })
}

// StopTyping ends the indicator toward t now (the input was cleared, or the
// user switched to another room): active:false if active:true was sent.
func (s *Session) StopTyping(t Target) {
	k := t.key()
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if st := s.typing[k]; st != nil {
		s.dropTypingLocked(k, st, true)
	}
}

func (s *Session) typingIdle(k Target, gen int) {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if st := s.typing[k]; st != nil && st.gen == gen {
		s.dropTypingLocked(k, st, true)
	}
}

// resetTyping forgets the indicator toward t without a message: a chat or pm
// to t ends it on the server already (PROTOCOL.md §3).
func (s *Session) resetTyping(t Target) {
	k := t.key()
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if st := s.typing[k]; st != nil {
		s.dropTypingLocked(k, st, false)
	}
}

func (s *Session) stopAllTyping() {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	for k, st := range s.typing {
		if st.idle != nil {
			st.idle.Stop()
		}
		delete(s.typing, k)
	}
}

func (s *Session) dropTypingLocked(k Target, st *typingState, tell bool) {
	if st.idle != nil {
		st.idle.Stop()
	}
	if tell && st.active {
		s.sendTyping(st.target, false)
	}
	delete(s.typing, k)
}

// sendTyping writes a typing message without waiting for anything; it reports
// whether it went out.
func (s *Session) sendTyping(t Target, active bool) bool {
	s.mu.Lock()
	conn, lim := s.conn, s.limiter
	s.mu.Unlock()
	if conn == nil {
		return false
	}
	if lim != nil && !s.opts.NoPacing && !lim.Allow() {
		return false
	}
	m := typingMsg{Type: "typing", Room: t.Room, To: t.To, Active: active}
	if m.To == "" {
		m.Room = roomOrLobby(m.Room)
	}
	b, err := encode(m)
	if err != nil {
		return false
	}
	return s.write(conn, b) == nil
}
