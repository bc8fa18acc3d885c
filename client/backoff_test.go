package client

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	min, max := 100*time.Millisecond, 1*time.Second
	tests := []struct {
		n      int
		r      float64
		want   time.Duration
		reason string
	}{
		{1, 0, 50 * time.Millisecond, "first step, lowest draw: half of min"},
		{1, 0.999999, 100 * time.Millisecond, "first step, highest draw: about min"},
		{2, 0, 100 * time.Millisecond, "doubles"},
		{3, 0.5, 300 * time.Millisecond, "400ms step, middle draw"},
		{4, 0, 400 * time.Millisecond, "800ms step"},
		{5, 0, 500 * time.Millisecond, "capped at max"},
		{50, 0.999999, max, "stays capped, no overflow"},
	}
	for _, tc := range tests {
		got := backoff(tc.n, min, max, func() float64 { return tc.r })
		if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("backoff(%d, r=%v) = %v, want %v (%s)", tc.n, tc.r, got, tc.want, tc.reason)
		}
	}
}

func TestBackoffJitterSpreads(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 50 {
		d := backoff(3, 100*time.Millisecond, time.Second, jitter)
		if d < 200*time.Millisecond || d > 400*time.Millisecond {
			t.Fatalf("backoff(3) = %v, outside [200ms, 400ms]", d)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Fatal("50 draws gave one value: no jitter")
	}
}
