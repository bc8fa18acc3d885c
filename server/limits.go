package server

import (
	"time"

	"golang.org/x/time/rate"
)

// limiter applies PROTOCOL.md's rate limit to one connection: every text
// message spends a token (RatePerSec, burst RateBurst); a message without a
// token is refused. More than floodLimit refusals within floodWindow mean the
// client ignores the rate_limited errors, and the connection is closed.
// It is used by the connection's read loop only.
type limiter struct {
	tokens *rate.Limiter
	clock  Clock
	limit  int
	window time.Duration
	// refused holds the times of the last limit refusals (a ring, allocated on
	// the first refusal, since most clients are never refused).
	refused []time.Time
	next    int
}

func newLimiter(perSec float64, burst, floodLimit int, floodWindow time.Duration, clock Clock) *limiter {
	return &limiter{
		tokens: rate.NewLimiter(rate.Limit(perSec), burst),
		clock:  clock,
		limit:  floodLimit,
		window: floodWindow,
	}
}

// allow reports whether one more message may be processed, and whether the
// client is flooding (it has been refused more than limit times within the
// window, counting this refusal).
func (l *limiter) allow() (ok, flooding bool) {
	now := l.clock.Now()
	if l.tokens.AllowN(now, 1) {
		return true, false
	}
	if l.refused == nil {
		l.refused = make([]time.Time, l.limit)
	}
	// The slot about to be overwritten holds the refusal limit refusals ago:
	// if it is inside the window, this one is refusal limit+1 within it.
	oldest := l.refused[l.next]
	l.refused[l.next] = now
	l.next = (l.next + 1) % l.limit
	return false, !oldest.IsZero() && now.Sub(oldest) < l.window
}
