package server

import (
	"math"
	"sync"
	"time"
)

// coalescer holds back the writes of busy connections so that several
// frames go out in one write. A connection whose last write ended less than
// window ago does not get a writer at once when a message arrives: it waits,
// with every other such connection, for the coalescer's next round (at most
// window later), and its writer then writes everything that arrived
// meanwhile in one system call. On a connection that has been quiet for a
// window the first message goes out at once, so a quiet round trip is not
// delayed; under a fan-out flood each member gets at most one write per
// window instead of one per message, which is what the client and the
// server pay for (a syscall each, several µs on a VM), not the bytes.
type coalescer struct {
	window time.Duration
	start  func(*session) // starts a session's deferred writer

	mu      sync.Mutex
	pending []*session // whose writers start at the next round
	spare   []*session
	armed   bool // the timer is set for the next round
	timer   *time.Timer
}

// newCoalescer returns a coalescer with rounds every window; start runs a
// session's writer.
func newCoalescer(window time.Duration, start func(*session)) *coalescer {
	c := &coalescer{window: window, start: start}
	c.timer = time.AfterFunc(time.Duration(math.MaxInt64), c.round)
	c.timer.Stop()
	return c
}

// busy reports whether a connection whose last write ended at lastWrite
// (a monoNow reading; 0: never) should wait for the next round.
func (c *coalescer) busy(lastWrite, now int64) bool {
	return lastWrite != 0 && now-lastWrite < int64(c.window)
}

// wait adds s to the next round, which starts its writer.
func (c *coalescer) wait(s *session) {
	c.mu.Lock()
	c.pending = append(c.pending, s)
	if !c.armed {
		c.armed = true
		c.timer.Reset(c.window)
	}
	c.mu.Unlock()
}

// round starts the writers of every connection that waited for it.
func (c *coalescer) round() {
	c.mu.Lock()
	due := c.pending
	c.pending = c.spare[:0]
	c.spare = nil
	c.armed = false
	c.mu.Unlock()
	for _, s := range due {
		c.start(s)
	}
	clear(due)
	c.mu.Lock()
	if c.spare == nil {
		c.spare = due[:0]
	}
	c.mu.Unlock()
}

// monoEpoch is the zero of monoNow.
var monoEpoch = time.Now()

// monoNow is nanoseconds on the monotonic clock since the process started,
// never 0: cheap to store in an atomic.Int64.
func monoNow() int64 { return int64(time.Since(monoEpoch)) + 1 }
