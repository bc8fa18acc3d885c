package bench

import (
	"strings"
	"testing"
)

func TestRatioLines(t *testing.T) {
	results := []*Result{
		{Scenario: "idle", Server: "chatd", Memory: &MemoryResult{RSSPerConnKiB: 4.25}},
		{Scenario: "fanout", Server: "chatd", DeliveriesPerSec: 500000},
		{Scenario: "idle", Server: "baseline", Memory: &MemoryResult{RSSPerConnKiB: 17}},
		{Scenario: "fanout", Server: "baseline", DeliveriesPerSec: 200000},
		{Scenario: "latency", Server: "chatd"},
	}
	got := RatioLines(results)
	want := []string{
		"fanout ratio: 2.50 (chatd 500000 deliveries/s, baseline 200000 deliveries/s, p99 <= 50 ms)",
		"idle ratio: 4.00 (chatd 4.2 KiB/conn, baseline 17.0 KiB/conn)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := RatioLines(results[:2]); len(got) != 0 {
		t.Errorf("without a baseline: %v", got)
	}
	// An idle run that lost connections measured nothing comparable.
	results[0].Memory.ClosedBefore = 1
	if got := RatioLines(results); len(got) != 1 || !strings.HasPrefix(got[0], "fanout") {
		t.Errorf("with a failed idle run: %v", got)
	}
}

func TestWriteTable(t *testing.T) {
	results := []*Result{
		{Scenario: "fanout", Server: "chatd", Steps: []Step{{Held: true}},
			Best: &Step{Rate: 400, DeliveriesPerSec: 400000, Latency: Summary{Count: 9, P50: 800, P90: 2500, P99: 12000, Max: 40000}}},
		{Scenario: "fanout", Server: "baseline", Steps: []Step{{Reason: "p99 over limit"}}, CPUPerDelivery: 4.256},
		{Scenario: "pm", Server: "chatd", Missing: 3, Errors: 1},
		{Scenario: "latency", Server: "chatd", Rate: 10, RTT: &Summary{Count: 200, P50: 90, P90: 120, P99: 300, Max: 1500}},
	}
	var b strings.Builder
	if err := WriteTable(&b, results); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"scenario", "400000 deliveries/s (400 msg/s offered", "800µs", "2.50ms", "12.0ms",
		"no step held (first: p99 over limit); server 4.26 µs CPU/delivery", "missing 3, extra 0, 1 errors",
		"round trip, 200 samples at 10 msg/s", "300µs", "1.50ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 5 {
		t.Errorf("%d lines, want header + 4", n)
	}
}

// TestFanoutRatioWhenTheBaselineHeldNothing: a baseline that held no rate
// makes the ratio unbounded, never 0 (which would say chatd lost).
func TestFanoutRatioWhenTheBaselineHeldNothing(t *testing.T) {
	for _, tc := range []struct {
		chatd, baseline float64
		want            string
	}{
		{4333, 0, "fanout ratio: inf (chatd 4333 deliveries/s, baseline 0 deliveries/s, p99 <= 50 ms)"},
		{0, 0, "fanout ratio: 0.00 (chatd 0 deliveries/s, baseline 0 deliveries/s, p99 <= 50 ms)"},
		{0, 2333, "fanout ratio: 0.00 (chatd 0 deliveries/s, baseline 2333 deliveries/s, p99 <= 50 ms)"},
	} {
		if got := FanoutRatio(tc.chatd, tc.baseline); got != tc.want {
			t.Errorf("FanoutRatio(%v, %v) = %q, want %q", tc.chatd, tc.baseline, got, tc.want)
		}
	}
}
