package client

import (
	"fmt"
	"time"
)

// Event is one thing that happened, in the order it happened. Value is one of
//
//	*api.Welcome, *api.Presence, *api.ChatEvent, *api.PMEvent, *api.TypingEvent,
//	*api.JoinEvent, *api.LeaveEvent, *api.ErrorEvent, *api.UnknownEvent  (from the server)
//	*StateChange, *Gap                                                   (from the client)
//
// and Raw is the server's envelope exactly as it arrived (nil for the client's
// own StateChange and Gap), for callers that log or forward the JSON.
type Event struct {
	Value any
	Raw   []byte
}

// State is the state of the session's connection.
type State int

// The states, in the order a session usually goes through them.
const (
	StateConnecting   State = iota + 1 // dialing and joining for the first time
	StateConnected                     // joined; requests are accepted
	StateReconnecting                  // the connection was lost; waiting before the next attempt
	StateClosed                        // the session has ended; no more events follow
)

// String names the state ("connected", …).
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// StateChange reports a change of the connection's state.
type StateChange struct {
	State State
	// Attempt counts reconnect attempts since the loss (StateReconnecting), from 1.
	Attempt int
	// Delay is the wait before that attempt (StateReconnecting).
	Delay time.Duration
	// Err is why: the loss (StateReconnecting), or why the session ended
	// (StateClosed; nil after Close).
	Err error
}

// Gap says that after a reconnect the server may not have replayed everything
// said in Room while this client was away: messages after the id After and
// before the id Before (the first one delivered again; "" if none) may be
// missing. See the package doc for when it is reported.
type Gap struct {
	Room   string
	After  string
	Before string
}
