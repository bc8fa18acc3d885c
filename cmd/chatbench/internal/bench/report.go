package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints one row per result: the scenario's headline number and
// the latency percentiles behind it.
func WriteTable(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tserver\tresult\tp50\tp90\tp99\tmax\tcheck")
	for _, r := range results {
		head, lat := headline(r)
		p := []string{"-", "-", "-", "-"}
		if lat != nil && lat.Count > 0 {
			p = []string{us(lat.P50), us(lat.P90), us(lat.P99), us(lat.Max)}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Scenario, r.Server, head, strings.Join(p, "\t"), check(r))
	}
	return tw.Flush()
}

// headline is a result's main number and the latency distribution that
// goes with it.
func headline(r *Result) (string, *Summary) {
	switch {
	case r.Memory != nil:
		m := r.Memory
		return fmt.Sprintf("%.1f KiB/conn RSS, %.1f KiB/conn heap, %.2f goroutines/conn (%d conns)",
			m.RSSPerConnKiB, m.HeapPerConnKiB, m.GoroutinesPerConn, m.Conns), nil
	case r.Churn != nil:
		return fmt.Sprintf("%.0f cycles/s (%d workers, %d failures)", r.Churn.CyclesPerSec, r.Churn.Workers, r.Churn.Failures), &r.Churn.Cycle
	case r.RTT != nil:
		return fmt.Sprintf("round trip, %d samples at %.0f msg/s", r.RTT.Count, r.Rate), r.RTT
	case r.Best != nil:
		return fmt.Sprintf("%.0f deliveries/s (%.0f msg/s offered, %d steps)%s", r.Best.DeliveriesPerSec, r.Best.Rate, len(r.Steps), cpuNote(r)), &r.Best.Latency
	case r.Steps != nil:
		return fmt.Sprintf("no step held (first: %s)%s", r.Steps[0].Reason, cpuNote(r)), nil
	}
	return "no result", nil
}

func cpuNote(r *Result) string {
	if r.CPUPerDelivery == 0 {
		return ""
	}
	return fmt.Sprintf("; server %.2f µs CPU/delivery", r.CPUPerDelivery)
}

func check(r *Result) string {
	switch {
	case r.Missing == 0 && r.Extra == 0 && r.Errors == 0:
		return "ok"
	case r.Missing == 0 && r.Extra == 0:
		return fmt.Sprintf("%d errors: %s", r.Errors, r.FirstError)
	}
	return fmt.Sprintf("missing %d, extra %d, %d errors", r.Missing, r.Extra, r.Errors)
}

func us(v int64) string {
	switch {
	case v >= 10_000:
		return fmt.Sprintf("%.1fms", float64(v)/1000)
	case v >= 1000:
		return fmt.Sprintf("%.2fms", float64(v)/1000)
	}
	return fmt.Sprintf("%dµs", v)
}

// RatioLines returns the headline comparisons for the scenarios that ran on
// both servers, in the fixed order fanout, idle.
func RatioLines(results []*Result) []string {
	find := func(scenario, server string) *Result {
		for _, r := range results {
			if r.Scenario == scenario && r.Server == server {
				return r
			}
		}
		return nil
	}
	var out []string
	if c, b := find("fanout", "chatd"), find("fanout", "baseline"); c != nil && b != nil {
		out = append(out, FanoutRatio(c.DeliveriesPerSec, b.DeliveriesPerSec))
	}
	valid := func(r *Result) bool { return r != nil && r.Memory != nil && r.Memory.ClosedBefore == 0 }
	if c, b := find("idle", "chatd"), find("idle", "baseline"); valid(c) && valid(b) {
		out = append(out, IdleRatio(c.Memory.RSSPerConnKiB, b.Memory.RSSPerConnKiB))
	}
	return out
}

// FanoutRatio is the fan-out headline: chatd/baseline, higher is better.
// When the baseline held no rate at all but chatd did, the ratio is "inf"
// (Go's and Python's float parsers read it), not 0, which would claim the
// opposite of what was measured.
func FanoutRatio(chatd, baseline float64) string {
	r := fmt.Sprintf("%.2f", Ratio(chatd, baseline))
	if baseline == 0 && chatd > 0 {
		r = "inf"
	}
	return fmt.Sprintf("fanout ratio: %s (chatd %.0f deliveries/s, baseline %.0f deliveries/s, p99 <= 50 ms)",
		r, chatd, baseline)
}

// IdleRatio is the memory headline: baseline/chatd, higher is better.
func IdleRatio(chatdKiB, baselineKiB float64) string {
	return fmt.Sprintf("idle ratio: %.2f (chatd %.1f KiB/conn, baseline %.1f KiB/conn)",
		Ratio(baselineKiB, chatdKiB), chatdKiB, baselineKiB)
}
