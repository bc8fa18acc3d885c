package server

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	type burst struct {
		advance      time.Duration
		n            int
		wantAllowed  int
		wantFlooding bool // on the last message of the burst
	}
	cases := []struct {
		name   string
		bursts []burst
	}{
		{"burst of 40 passes, the 41st is refused", []burst{
			{n: 41, wantAllowed: 40},
		}},
		{"20 per second sustained", []burst{
			{n: 40, wantAllowed: 40},
			{advance: time.Second, n: 25, wantAllowed: 20},
			{advance: 500 * time.Millisecond, n: 10, wantAllowed: 10},
		}},
		{"200 refusals within 10 s are tolerated, the 201st is a flood", []burst{
			{n: 40 + 200, wantAllowed: 40},
			{n: 1, wantAllowed: 0, wantFlooding: true},
		}},
		{"refusals spread over more than 10 s are not a flood", []burst{
			{n: 40 + 150, wantAllowed: 40},
			{advance: 10 * time.Second, n: 40 + 150, wantAllowed: 40},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := NewFakeClock()
			l := newLimiter(20, 40, 200, 10*time.Second, clock)
			for i, b := range c.bursts {
				clock.Advance(b.advance)
				allowed, flooding := 0, false
				for range b.n {
					ok, f := l.allow()
					if ok {
						allowed++
					}
					if f && !b.wantFlooding {
						t.Fatalf("burst %d: flooding reported early", i)
					}
					flooding = f
				}
				if allowed != b.wantAllowed || flooding != b.wantFlooding {
					t.Errorf("burst %d: allowed %d flooding %v, want %d %v", i, allowed, flooding, b.wantAllowed, b.wantFlooding)
				}
			}
		})
	}
}
