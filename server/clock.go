package server

import "time"

// Clock is the server's source of time. Tests inject a fake one so that typing
// expiry, history retention and pings can be driven without sleeping. Socket
// deadlines (join, idle and write timeouts) use the operating system's clock,
// because the kernel enforces them.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call. Stop reports whether it prevented the call.
type Timer interface{ Stop() bool }

// realClock is the Clock used when Config.Clock is nil.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
