package client

import (
	"math/rand/v2"
	"time"
)

// backoff returns the wait before reconnect attempt n (from 1): the step
// doubles from min up to max, and the wait is drawn uniformly between half
// the step and the whole step, so that clients dropped together by a restart
// spread out instead of returning in one wave. r returns a value in [0, 1).
func backoff(n int, min, max time.Duration, r func() float64) time.Duration {
	step := min
	for i := 1; i < n && step < max; i++ {
		step *= 2
	}
	if step > max {
		step = max
	}
	half := step / 2
	return half + time.Duration(r()*float64(step-half))
}

func jitter() float64 { return rand.Float64() }
