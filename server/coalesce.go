package server

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// coalescer holds back the writes of flooded connections so that several
// frames go out in one write. A connection that has been sent at least
// floodFrames frames within the last floodSpan windows (about one frame per
// window, 100 frames/s at 10 ms, sustained) does not get a writer at once
// when a message arrives: it waits, with every other such connection, for
// the coalescer's next round (at most window later), and its writer then
// writes everything that arrived meanwhile in one system call. Any other
// connection is written at once, so neither a quiet round trip nor a
// request and its answers (join, welcome, presence, the first chat) is
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

// What makes a flood: floodFrames frames written within floodSpan
// coalescing windows; a connection stays flooded for floodSpan windows after
// the last span that reached it.
const (
	floodSpan   = 10
	floodFrames = 10
)

// floodMeter is a connection's recent write rate as the coalescer judges it.
type floodMeter struct {
	spanStart int64        // monoNow when the current span began (writers only)
	frames    int          // frames written in the current span (writers only)
	until     atomic.Int64 // monoNow until which the connection counts as flooded
}

// record counts frames written at now (writers run one at a time).
func (c *coalescer) record(m *floodMeter, frames int, now int64) {
	span := int64(c.window) * floodSpan
	if now-m.spanStart >= span {
		m.spanStart, m.frames = now, 0
	}
	m.frames += frames
	if m.frames >= floodFrames {
		m.until.Store(now + span)
	}
}

// flooded reports whether writes to the connection should wait for rounds.
func (c *coalescer) flooded(m *floodMeter, now int64) bool { return now < m.until.Load() }

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
