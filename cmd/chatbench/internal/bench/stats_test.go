package bench

import (
	"sync"
	"testing"
	"time"
)

func TestRecorderCountsAndPercentiles(t *testing.T) {
	r := NewRecorder()
	var wg sync.WaitGroup
	// 1..1000 µs recorded from 8 goroutines over many shard keys.
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := 1 + g; v <= 1000; v += 8 {
				r.Record(v, time.Duration(v)*time.Microsecond)
			}
		}()
	}
	wg.Wait()
	s := Summarize(r.Snapshot(false))
	if s.Count != 1000 {
		t.Fatalf("count %d, want 1000", s.Count)
	}
	within := func(name string, got, want int64) {
		if got < want || float64(got) > float64(want)*1.001+1 {
			t.Errorf("%s = %d, want %d (+0.1%%)", name, got, want)
		}
	}
	within("p50", s.P50, 500)
	within("p90", s.P90, 900)
	within("p99", s.P99, 990)
	within("max", s.Max, 1000)
	if s.Mean < 499 || s.Mean > 502 {
		t.Errorf("mean %v", s.Mean)
	}
	if got := Summarize(r.Snapshot(true)).Count; got != 1000 {
		t.Errorf("second snapshot count %d", got)
	}
	if got := r.Snapshot(false).TotalCount(); got != 0 {
		t.Errorf("after reset count %d", got)
	}
}

func TestRecorderClamps(t *testing.T) {
	r := NewRecorder()
	r.Record(0, -time.Second)
	r.Record(1, 0)
	r.Record(2, time.Hour)
	s := Summarize(r.Snapshot(false))
	if s.Count != 3 {
		t.Fatalf("count %d, want 3 (nothing dropped)", s.Count)
	}
	if s.P50 != histMin {
		t.Errorf("p50 %d, want %d", s.P50, histMin)
	}
	if s.Max < histMax || float64(s.Max) > float64(histMax)*1.001 {
		t.Errorf("max %d, want about %d", s.Max, histMax)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	if s := Summarize(NewRecorder().Snapshot(false)); s != (Summary{}) {
		t.Errorf("empty summary %+v", s)
	}
}

func TestJudge(t *testing.T) {
	lim := StepLimits{P99: 50 * time.Millisecond, MinSentFraction: 0.97}
	good := Step{Planned: 100, Sent: 100, Expected: 1000, Delivered: 1000, Latency: Summary{P99: 50000}}
	tests := []struct {
		name   string
		mod    func(*Step)
		held   bool
		reason string
	}{
		{"all good", func(*Step) {}, true, ""},
		{"p99 at limit holds", func(s *Step) { s.Latency.P99 = 50000 }, true, ""},
		{"p99 over", func(s *Step) { s.Latency.P99 = 50001 }, false, "p99 over limit"},
		{"one delivery short", func(s *Step) { s.Delivered = 999 }, false, "deliveries fell behind"},
		{"senders slow", func(s *Step) { s.Sent = 96 }, false, "senders fell behind"},
		{"senders just enough", func(s *Step) { s.Sent = 97; s.Expected = 970; s.Delivered = 970 }, true, ""},
		{"errors", func(s *Step) { s.Errors = 1 }, false, "error replies"},
		{"closed beats errors", func(s *Step) { s.Errors = 1; s.Closed = 1 }, false, "connections closed"},
		{"nothing sent", func(s *Step) { s.Sent = 0 }, false, "nothing sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.mod(&s)
			held, reason := Judge(s, lim)
			if held != tt.held || reason != tt.reason {
				t.Errorf("Judge = %v %q, want %v %q", held, reason, tt.held, tt.reason)
			}
		})
	}
}

func TestRateSearch(t *testing.T) {
	tests := []struct {
		name     string
		capacity float64 // rates at or below hold
		retries  int
		max      int
		want     []float64
		best     float64
	}{
		{"a failure is tried again before it counts", 170, 1, 20, []float64{100, 125, 156.25, 195.3125, 195.3125, 174.693, 174.693, 165.221}, 165.221},
		{"climbs then bisects", 170, 0, 20, []float64{100, 125, 156.25, 195.3125, 174.693, 165.221}, 165.221},
		{"max steps", 1e9, 0, 3, []float64{100, 125, 156.25}, 156.25},
		{"first fails: steps down, then bisects", 50, 0, 20, []float64{100, 64, 40.96, 51.2, 45.80}, 45.80},
		{"first fails then holds", 70, 0, 20, []float64{100, 64, 80, 71.55}, 64},
		{"nothing holds: stops at 1/1000", 0.01, 0, 40,
			[]float64{100, 64, 40.96, 26.21, 16.78, 10.74, 6.87, 4.40, 2.81, 1.80, 1.15, 0.74, 0.47, 0.30, 0.19, 0.12}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := RateSearch{Start: 100, Factor: 1.25, MaxSteps: tt.max, Refine: 2, Retries: tt.retries}
			var got []float64
			for {
				r, ok := s.Next()
				if !ok {
					break
				}
				got = append(got, r)
				s.Report(r, r <= tt.capacity)
				if len(got) > 50 {
					t.Fatal("search does not end")
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("rates %v, want %v", got, tt.want)
			}
			for i := range got {
				if d := got[i] - tt.want[i]; d > 0.01 || d < -0.01 {
					t.Fatalf("rates %v, want %v", got, tt.want)
				}
			}
			if d := s.Best() - tt.best; d > 0.01 || d < -0.01 {
				t.Errorf("best %v, want %v", s.Best(), tt.best)
			}
		})
	}
}

func TestPerConnAndRatio(t *testing.T) {
	tests := []struct {
		after, before uint64
		n             int
		want          float64
	}{
		{1024*100 + 5000, 5000, 100, 1},
		{10 << 20, 0, 1024, 10},
		{100, 200, 10, 0}, // memory went down: report 0, not an underflow
		{100, 0, 0, 0},
	}
	for _, tt := range tests {
		if got := PerConn(tt.after, tt.before, tt.n); got != tt.want {
			t.Errorf("PerConn(%d,%d,%d) = %v, want %v", tt.after, tt.before, tt.n, got, tt.want)
		}
	}
	if Ratio(10, 4) != 2.5 || Ratio(1, 0) != 0 {
		t.Error("Ratio")
	}
}

// TestRateSearchRetryRecoversFromANoisyStep: with one retry, a rate the
// server can hold that fails once (another process took the CPU) is tried
// again and the climb goes on; without, that step ends it.
func TestRateSearchRetryRecoversFromANoisyStep(t *testing.T) {
	for _, tt := range []struct {
		retries int
		best    float64
	}{{0, 100}, {1, 195.3125}} {
		s := RateSearch{Start: 100, Factor: 1.25, MaxSteps: 20, Refine: 0, Retries: tt.retries}
		noisy := true
		for {
			r, ok := s.Next()
			if !ok {
				break
			}
			held := r <= 200
			if r == 125 && noisy {
				held, noisy = false, false // the one noisy step
			}
			s.Report(r, held)
		}
		if s.Best() != tt.best {
			t.Errorf("retries %d: best %v, want %v", tt.retries, s.Best(), tt.best)
		}
	}
}
