package server

import (
	"errors"
	"syscall"
)

// A poller tells when sockets become readable, so that an idle connection
// needs no goroutine blocked in Read: the session parks (its goroutine ends)
// and the poller starts a new one when bytes arrive. On Linux it is one epoll
// instance per process, itself waited on through the Go runtime's netpoller
// (readiness_linux.go); elsewhere there is none and every session keeps a
// goroutine blocked in its read (readiness_other.go).
//
// A session uses it through a watcher: arm asks for one call of ready when
// the socket is readable (or broken), stop forgets the socket.

// watcher is one socket registered with the poller.
type watcher interface {
	// arm asks for one call of the watcher's ready function once the socket
	// has bytes to read or has failed; if it already has, the call comes at
	// once. It fails when the socket is closed.
	arm() error
	// stop forgets the socket; ready is not called after stop returns
	// except by an event already being delivered.
	stop()
}

// errNoPoller says this platform has no poller: read in a goroutine.
var errNoPoller = errors.New("server: no readiness poller on this platform")

// watchSocket registers the socket behind rc with the process's poller.
// ready runs on the poller's goroutine and must not block: it starts the
// goroutine that reads.
func watchSocket(rc syscall.RawConn, ready func()) (watcher, error) {
	return processPoller.watch(rc, ready)
}
