package bench

import (
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds between 1 µs and one minute with
// three significant digits: enough to tell 480 µs from 520 µs and 49 ms from
// 51 ms, the two thresholds the goals are stated in.
const (
	histMin     = 1
	histMax     = int64(time.Minute / time.Microsecond)
	histSigFigs = 3
	shardCount  = 32
)

// Recorder is a latency histogram that many reader goroutines write at once.
// HDR histograms are not safe for concurrent use, so writes go to one of
// shardCount independently locked histograms chosen by the caller's key
// (its connection index); Snapshot merges them.
type Recorder struct {
	shards [shardCount]shard
}

type shard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	_  [40]byte // keep neighbouring locks off one cache line
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	r := &Recorder{}
	for i := range r.shards {
		r.shards[i].h = newHistogram()
	}
	return r
}

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMin, histMax, histSigFigs)
}

// Record adds one latency. Values outside the histogram's range are clamped
// rather than lost, so counts always add up.
func (r *Recorder) Record(key int, d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	s := &r.shards[uint(key)%shardCount]
	s.mu.Lock()
	_ = s.h.RecordValue(us)
	s.mu.Unlock()
}

// Snapshot returns the merged histogram; with reset, the Recorder starts
// empty again (one step of a stepped run ends, the next begins).
func (r *Recorder) Snapshot(reset bool) *hdrhistogram.Histogram {
	out := newHistogram()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		out.Merge(s.h)
		if reset {
			s.h.Reset()
		}
		s.mu.Unlock()
	}
	return out
}

// Summary is a latency distribution in microseconds.
type Summary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   int64   `json:"p50_us"`
	P90   int64   `json:"p90_us"`
	P99   int64   `json:"p99_us"`
	P999  int64   `json:"p999_us"`
	Max   int64   `json:"max_us"`
}

// Summarize reads the percentiles of h. HDR reports the highest value
// equivalent to each bucket, so a percentile is never understated.
func Summarize(h *hdrhistogram.Histogram) Summary {
	if h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Count: h.TotalCount(),
		Mean:  math.Round(h.Mean()*10) / 10,
		P50:   h.ValueAtQuantile(50),
		P90:   h.ValueAtQuantile(90),
		P99:   h.ValueAtQuantile(99),
		P999:  h.ValueAtQuantile(99.9),
		Max:   h.Max(),
	}
}

// Step is one rate of a stepped run (fanout, rooms, pm): the offered rate,
// what was sent and delivered, and how long deliveries took.
type Step struct {
	Rate             float64 `json:"offered_msgs_per_s"`
	Planned          int64   `json:"planned"`
	Sent             int64   `json:"sent"`
	Expected         int64   `json:"expected_deliveries"`
	Delivered        int64   `json:"delivered"`
	Errors           int64   `json:"errors"`
	Closed           int64   `json:"closed_conns"`
	Seconds          float64 `json:"seconds"`
	DeliveriesPerSec float64 `json:"deliveries_per_s"`
	Latency          Summary `json:"latency"`
	SendLag          Summary `json:"send_lag"` // write finished minus intended send time
	// ServerCPU and ClientCPU are the CPU seconds the server process and
	// chatbench used during the step; CPUPerDelivery is the server's share
	// per delivery in µs. Unlike deliveries/s it hardly depends on what else
	// runs on the machine, so it compares servers even on a busy one.
	ServerCPU      float64 `json:"server_cpu_s,omitempty"`
	ClientCPU      float64 `json:"client_cpu_s,omitempty"`
	CPUPerDelivery float64 `json:"server_cpu_us_per_delivery,omitempty"`
	Held           bool    `json:"held"`
	Reason         string  `json:"reason,omitempty"`
}

// StepLimits are the conditions a step must meet to count as held.
type StepLimits struct {
	P99 time.Duration // delivery latency p99 at most this (50 ms)
	// MinSentFraction of the planned messages must have gone out: below it
	// the server pushed back on the senders (TCP flow control) and the offered
	// rate was not really offered.
	MinSentFraction float64
}

// Judge decides whether s held: every expected delivery arrived (none were
// lost or still in flight when the drain time ran out), no errors or closed
// connections, the senders kept up, and p99 stayed within the limit. The
// first failing condition is the reason.
func Judge(s Step, lim StepLimits) (held bool, reason string) {
	switch {
	case s.Sent == 0:
		return false, "nothing sent"
	case s.Closed > 0:
		return false, "connections closed"
	case s.Errors > 0:
		return false, "error replies"
	case float64(s.Sent) < lim.MinSentFraction*float64(s.Planned):
		return false, "senders fell behind"
	case s.Delivered < s.Expected:
		return false, "deliveries fell behind"
	case s.Latency.P99 > int64(lim.P99/time.Microsecond):
		return false, "p99 over limit"
	}
	return true, ""
}

// RateSearch chooses the offered rates of a stepped run: multiply by Factor
// while steps hold, then bisect (geometrically) between the best rate that
// held and the lowest that failed, Refine times. While nothing has held yet
// it steps down by Factor² instead, to at most 1/1000 of Start, so a busy
// machine still yields the rate it can take.
type RateSearch struct {
	Start    float64
	Factor   float64
	MaxSteps int
	Refine   int
	// Retries is how many times a rate that failed is tried again before
	// it counts as failed: on a shared machine one step can miss p99 for
	// reasons that are not the server's, and without a retry that one
	// step ends the climb.
	Retries int

	held, failed float64
	steps        int
	refined      int
	retry        float64 // a failed rate to try again; 0: none
	tries        int     // failures of retry so far
}

// Next returns the next rate to try, or false when the search is over.
func (s *RateSearch) Next() (float64, bool) {
	if s.steps >= s.MaxSteps {
		return 0, false
	}
	switch {
	case s.retry != 0:
		return s.retry, true
	case s.steps == 0:
		return s.Start, true
	case s.failed == 0:
		return s.held * s.Factor, true
	case s.held == 0:
		next := s.failed / (s.Factor * s.Factor)
		return next, next >= s.Start/1000
	case s.refined >= s.Refine:
		return 0, false
	}
	return math.Sqrt(s.held * s.failed), true
}

// Report records the outcome of the rate Next returned.
func (s *RateSearch) Report(rate float64, held bool) {
	s.steps++
	if !held && s.tries < s.Retries {
		s.retry = rate
		s.tries++
		return
	}
	s.retry, s.tries = 0, 0
	if s.held != 0 && s.failed != 0 {
		s.refined++
	}
	if held {
		if rate > s.held {
			s.held = rate
		}
		return
	}
	if s.failed == 0 || rate < s.failed {
		s.failed = rate
	}
}

// Best returns the highest rate that held (0 if none did).
func (s *RateSearch) Best() float64 { return s.held }

// PerConn divides a memory growth over n connections, in KiB.
func PerConn(after, before uint64, n int) float64 {
	if n <= 0 || after <= before {
		return 0
	}
	return float64(after-before) / float64(n) / 1024
}

// Ratio is a higher-is-better ratio a/b (0 when b is 0).
func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
