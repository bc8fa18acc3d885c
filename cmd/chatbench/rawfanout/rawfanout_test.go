package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain lets the test binary be its own child, as rawfanout re-executes
// itself with --serve-child.
func TestMain(m *testing.M) {
	for _, a := range os.Args[1:] {
		if a == "--serve-child" {
			if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout); err != nil {
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	goleak.VerifyTestMain(m)
}

// TestMeasureCountsAddUp checks that every message reaches every receiver
// exactly once and is timed once, for message sizes that do and do not
// divide the reader's buffer (messages straddling two reads).
func TestMeasureCountsAddUp(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		conns, size int
		rates       []float64
	}{
		{1, 8, []float64{100}},
		{5, 150, []float64{100, 200}},
		{3, 1000, []float64{50}}, // 4096 is not a multiple of 1000
	}
	for _, tt := range tests {
		cfg := config{conns: tt.conns, size: tt.size, duration: 100 * time.Millisecond, drain: 30 * time.Second, rates: tt.rates}
		steps, err := measure(context.Background(), cfg, exe)
		if err != nil {
			t.Fatalf("%+v: %v", tt, err)
		}
		if len(steps) != len(tt.rates) {
			t.Fatalf("%+v: %d steps", tt, len(steps))
		}
		for _, s := range steps {
			want := int64(s.Rate*0.1) * int64(tt.conns)
			if s.Sent != int64(s.Rate*0.1) || s.Delivered != want || s.Latency.Count != want {
				t.Errorf("%+v at %v msg/s: sent %d, delivered %d, timed %d, want %d deliveries",
					tt, s.Rate, s.Sent, s.Delivered, s.Latency.Count, want)
			}
		}
	}
}

func TestRunFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		lines   int
	}{
		{[]string{"--conns", "2", "--duration", "50ms", "40", "80"}, "", 2},
		{[]string{"--conns", "2", "fast"}, "rate \"fast\"", 0},
		{[]string{"--conns", "0", "10"}, "must be above 0", 0},
		{[]string{"--size", "4", "--conns", "1", "10"}, "at least 8 bytes", 0},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := run(context.Background(), tt.args, strings.NewReader(""), &out)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
		}
		if n := strings.Count(out.String(), "\n"); n != tt.lines || !strings.Contains(out.String(), "raw fan-out") {
			t.Errorf("%v: output %q", tt.args, out.String())
		}
	}
}
