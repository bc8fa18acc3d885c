package bench

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/cmd/chatbench/internal/baseline"
	"github.com/chatd/chatd/server"
)

// startBaseline serves the baseline in-process on 127.0.0.1.
func startBaseline(t *testing.T) *Target {
	t.Helper()
	b := baseline.New()
	mux := http.NewServeMux()
	mux.Handle("/ws", b)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		b.Close()
		ts.Close()
	})
	return inProcessTarget("baseline", ts.URL)
}

// startChatd serves chatd in-process on 127.0.0.1 with chatbench's
// configuration (rate limit lifted).
func startChatd(t *testing.T) *Target {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.RatePerSec, cfg.RateBurst, cfg.FloodLimit = 1e6, 1<<20, 1<<20
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("chatd shutdown: %v", err)
		}
		ts.CloseClientConnections()
		ts.Close()
	})
	return inProcessTarget("chatd", ts.URL)
}

// inProcessTarget measures the test process itself: the numbers mean
// nothing, but the idle scenario's plumbing runs.
func inProcessTarget(name, httpURL string) *Target {
	return &Target{
		Name: name,
		URL:  "ws" + strings.TrimPrefix(httpURL, "http") + "/ws",
		Memory: func(context.Context) (MemSample, error) {
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			return MemSample{RSS: ms.Sys, HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse,
				Goroutines: runtime.NumGoroutine(), Source: "test"}, nil
		},
		Close: func() error { return nil },
	}
}

// testOptions are small and quick; tests check counts, never speed.
func testOptions(scenario string) Options {
	o := Defaults(scenario)
	o.SourceIPs = false // tests talk to 127.0.0.1 only
	o.Duration = 300 * time.Millisecond
	o.Drain = 30 * time.Second // returns as soon as all arrived: a bound for a loaded -race machine, not a speed check
	o.MaxSteps = 2
	o.Refine = 0
	o.JoinTimeout = time.Minute
	o.Settle = 0
	o.Limits.P99 = time.Minute // a loaded -race test machine must not fail on speed
	o.Limits.MinSentFraction = 0
	switch scenario {
	case "idle":
		o.Conns = 40
	case "fanout":
		o.Conns, o.Senders, o.Rate = 20, 3, 60
	case "latency":
		o.Conns, o.Rate = 3, 20
	case "rooms":
		o.Conns, o.Rate = 23, 100
	case "pm":
		o.Conns, o.Rate = 12, 100
	case "churn":
		o.Conns, o.Rooms = 3, 2
	}
	return o
}

type scenarioCheck func(t *testing.T, r *Result)

func checkSteps(t *testing.T, r *Result) {
	if len(r.Steps) == 0 {
		t.Fatal("no steps")
	}
	for i, s := range r.Steps {
		if s.Sent == 0 || s.Sent != s.Planned {
			t.Errorf("step %d: sent %d of %d planned", i, s.Sent, s.Planned)
		}
		if s.Delivered != s.Expected {
			t.Errorf("step %d: delivered %d, expected %d", i, s.Delivered, s.Expected)
		}
		if s.Latency.Count != s.Delivered {
			t.Errorf("step %d: %d latencies for %d deliveries", i, s.Latency.Count, s.Delivered)
		}
		if !s.Held {
			t.Errorf("step %d did not hold: %s", i, s.Reason)
		}
	}
	if r.Best == nil || r.DeliveriesPerSec <= 0 {
		t.Errorf("best %+v, deliveries/s %v", r.Best, r.DeliveriesPerSec)
	}
}

// TestScenarios runs every scenario against both servers, each time
// checking that the counts add up: every message sent reached every member
// it was owed to, exactly once. The baseline is also driven through
// gorilla's client, so a fault in the project's own client cannot hide.
func TestScenarios(t *testing.T) {
	tests := []struct {
		scenario string
		check    scenarioCheck
	}{
		{"fanout", func(t *testing.T, r *Result) {
			checkSteps(t, r)
			// every message to every one of the 20 members
			for _, s := range r.Steps {
				if s.Expected != s.Sent*20 {
					t.Errorf("expected %d deliveries for %d messages to 20 members", s.Expected, s.Sent)
				}
			}
		}},
		{"rooms", func(t *testing.T, r *Result) {
			checkSteps(t, r)
			if r.Rooms != 4 {
				t.Errorf("rooms %d, want 23/5 = 4", r.Rooms)
			}
		}},
		{"pm", func(t *testing.T, r *Result) {
			checkSteps(t, r)
			for _, s := range r.Steps {
				if s.Expected != 2*s.Sent {
					t.Errorf("expected %d deliveries for %d pms", s.Expected, s.Sent)
				}
			}
		}},
		{"latency", func(t *testing.T, r *Result) {
			want := int64(20 * 0.3)
			if r.RTT == nil || r.RTT.Count != want {
				t.Fatalf("rtt %+v, want %d samples", r.RTT, want)
			}
			if r.Delivery.Count != 3*want {
				t.Errorf("%d deliveries, want %d", r.Delivery.Count, 3*want)
			}
		}},
		{"idle", func(t *testing.T, r *Result) {
			m := r.Memory
			if m == nil || m.Conns != 40 || m.Loaded.Goroutines <= m.Empty.Goroutines {
				t.Fatalf("memory %+v", m)
			}
			if r.Rooms != 1 {
				t.Errorf("rooms %d, want 1", r.Rooms)
			}
		}},
		{"churn", func(t *testing.T, r *Result) {
			c := r.Churn
			if c == nil || c.Cycles == 0 || c.Failures != 0 || c.Cycle.Count != c.Cycles {
				t.Fatalf("churn %+v (first error %q)", c, r.FirstError)
			}
		}},
	}
	servers := []struct {
		name   string
		start  func(*testing.T) *Target
		dialer Dialer
	}{
		{"chatd/wire", startChatd, WireDialer()},
		{"baseline/wire", startBaseline, WireDialer()},
		{"baseline/gorilla", startBaseline, GorillaDialer()},
	}
	for _, srv := range servers {
		for _, tt := range tests {
			t.Run(srv.name+"/"+tt.scenario, func(t *testing.T) {
				target := srv.start(t)
				r, err := Run(context.Background(), testOptions(tt.scenario), target, srv.dialer)
				if err != nil {
					t.Fatal(err)
				}
				if r.Missing != 0 || r.Extra != 0 || r.Errors != 0 || r.Foreign != 0 {
					t.Errorf("missing %d, extra %d, errors %d (%s), foreign %d", r.Missing, r.Extra, r.Errors, r.FirstError, r.Foreign)
				}
				tt.check(t, r)
			})
		}
	}
}

// TestLostDeliveriesAreCounted proves the accounting can fail: a server that
// drops a member's copies leaves the step unheld and the run with missing
// deliveries.
func TestLostDeliveriesAreCounted(t *testing.T) {
	target := startBaseline(t)
	o := testOptions("fanout")
	o.Drain = 200 * time.Millisecond
	o.MaxSteps = 1
	dial := GorillaDialer()
	lossy := func(ctx context.Context, url string, local net.IP) (WSConn, error) {
		c, err := dial(ctx, url, local)
		if err != nil {
			return nil, err
		}
		return &droppingConn{WSConn: c}, nil
	}
	r, err := Run(context.Background(), o, target, lossy)
	if err != nil {
		t.Fatal(err)
	}
	if r.Missing == 0 || r.Best != nil || r.Steps[0].Reason != "deliveries fell behind" {
		t.Errorf("missing %d, best %+v, steps %+v", r.Missing, r.Best, r.Steps)
	}
}

// droppingConn hides every third chat it reads.
type droppingConn struct {
	WSConn
	n int
}

func (d *droppingConn) ReadText(dst []byte) ([]byte, error) {
	for {
		b, err := d.WSConn.ReadText(dst)
		if err != nil || !strings.Contains(string(b[len(dst):]), `"type":"chat"`) {
			return b, err
		}
		d.n++
		if d.n%3 != 0 {
			return b, nil
		}
	}
}

func TestRunUnknownScenario(t *testing.T) {
	target := startBaseline(t)
	o := testOptions("fanout")
	o.Scenario = "nope"
	if _, err := Run(context.Background(), o, target, GorillaDialer()); err == nil {
		t.Fatal("unknown scenario accepted")
	}
}

func TestConnectFailsCleanly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	target := &Target{Name: "gone", URL: "ws://" + addr + "/ws"}
	_, err = Run(context.Background(), testOptions("fanout"), target, GorillaDialer())
	var ce *ClosedError
	if err == nil || errors.As(err, &ce) {
		t.Fatalf("err = %v, want a dial error", err)
	}
}

// TestQuietWaitsForSetupTraffic checks that the quiet wait before the first
// step does not end while frames are still arriving (the tail of the join
// storm would otherwise be measured as the first step's load), and that the
// join timeout bounds it when the traffic never stops. Frames come every
// 5 ms, far inside quietGap, so the order of events is what is checked.
func TestQuietWaitsForSetupTraffic(t *testing.T) {
	tests := []struct {
		name    string
		frames  int // frames fed before the feeder stops; -1: until quiet returns
		timeout time.Duration
	}{
		{"no traffic", 0, time.Minute},
		{"traffic past the minimum wait", 200, time.Minute},
		{"traffic that never stops", -1, quietMin + 2*quietGap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Defaults("fanout")
			o.JoinTimeout = tt.timeout
			var lines []string
			o.Progress = func(l string) { lines = append(lines, l) }
			p := newPool(&o, &Target{Name: "t"}, nil)
			c := newClient(0, "u", "r", &scriptConn{}, p.st)
			p.clients = []*client{c}
			stop, fed := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(fed)
				for i := 0; tt.frames < 0 || i < tt.frames; i++ {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
						c.frames.Add(1)
					}
				}
			}()
			p.quiet(context.Background())
			if tt.frames >= 0 {
				select {
				case <-fed:
				default:
					t.Errorf("quiet returned after %d of %d frames", c.frames.Load(), tt.frames)
				}
			}
			close(stop)
			<-fed
			if len(lines) != 1 || !strings.Contains(lines[0], "setup traffic over") {
				t.Errorf("progress %q", lines)
			}
		})
	}
}
