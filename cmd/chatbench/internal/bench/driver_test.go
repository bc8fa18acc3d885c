package bench

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"ws://127.0.0.1:8000/ws", true},
		{"ws://127.0.0.5:1/ws", true},
		{"ws://localhost:8000/ws", false}, // not an address: the resolver may pick ::1
		{"ws://[::1]:8000/ws", false},
		{"wss://chat.example/ws", false},
		{"::", false},
	}
	for _, tt := range tests {
		if got := isLoopback(tt.url); got != tt.want {
			t.Errorf("isLoopback(%q) = %v", tt.url, got)
		}
	}
}

// TestPace checks the pacer's bookkeeping: the planned count is rate ×
// duration split over the pacers, every planned message is sent exactly
// once, every send leaves a sender-lag sample, and the offered load is one
// message every 1/rate across all pacers. The stamps are the intended send
// times, so the schedule is checked exactly, whatever the timers did: pacers
// that each started their own schedule at the same instant sent their
// messages together, one burst of up to 32 every 32/rate, which no server
// writing one frame per delivery could deliver within 50 ms to 1,000 members.
func TestPace(t *testing.T) {
	tests := []struct {
		senders int
		rate    float64
		d       time.Duration
		want    int64
	}{
		{1, 100, 100 * time.Millisecond, 10},
		{10, 1000, 50 * time.Millisecond, 50},
		{40, 2000, 100 * time.Millisecond, 200}, // 32 pacers, uneven shares
		{3, 7, 100 * time.Millisecond, 0},       // under one message: nothing
	}
	for _, tt := range tests {
		o := Defaults("fanout")
		o.Drain = time.Minute // never give up in a test
		p := newPool(&o, &Target{Name: "t"}, nil)
		var clients []*client
		for i := 0; i < tt.senders; i++ {
			clients = append(clients, newClient(i, "u", "r", &scriptConn{}, p.st))
		}
		var (
			sent   atomic.Int64
			mu     sync.Mutex
			stamps []time.Duration
		)
		send := func(_ *client, _ *scratch, stamp time.Duration) error {
			sent.Add(1)
			mu.Lock()
			stamps = append(stamps, stamp)
			mu.Unlock()
			return nil
		}
		planned := p.pace(context.Background(), clients, tt.rate, tt.d, send, false)
		if planned != tt.want || sent.Load() != tt.want {
			t.Errorf("%+v: planned %d, sent %d, want %d", tt, planned, sent.Load(), tt.want)
		}
		if got := p.st.lag.Snapshot(false).TotalCount(); got != tt.want {
			t.Errorf("%+v: %d lag samples", tt, got)
		}
		slices.Sort(stamps)
		for m := range stamps {
			want := time.Duration(float64(m) * float64(time.Second) / tt.rate)
			if got := stamps[m] - stamps[0]; got != want {
				t.Errorf("%+v: message %d due %v after the first, want %v (evenly spaced at 1/rate)", tt, m, got, want)
				break
			}
		}
	}
}
