package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		name      string
		scenarios []string
		servers   []string
		floor     bool
		want      []job
	}{
		{"floor alone runs on the echo servers only", []string{"floor"}, []string{"chatd", "baseline"}, true,
			[]job{{"floor", "tcp-echo"}, {"floor", "ws-echo"}}},
		{"latency is preceded by the floor", []string{"latency"}, []string{"chatd", "baseline"}, true,
			[]job{{"floor", "tcp-echo"}, {"floor", "ws-echo"}, {"latency", "chatd"}, {"latency", "baseline"}}},
		{"latency without the floor", []string{"latency"}, []string{"chatd"}, false,
			[]job{{"latency", "chatd"}}},
		{"floor asked for even without --floor", []string{"floor"}, []string{"chatd"}, false,
			[]job{{"floor", "tcp-echo"}, {"floor", "ws-echo"}}},
		{"other scenarios untouched", []string{"idle", "fanout"}, []string{"chatd", "baseline"}, true,
			[]job{{"idle", "chatd"}, {"idle", "baseline"}, {"fanout", "chatd"}, {"fanout", "baseline"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := plan(tt.scenarios, tt.servers, tt.floor); !slices.Equal(got, tt.want) {
				t.Errorf("plan = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseFloorFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, c *config)
	}{
		{"floor scenario", []string{"--scenario", "floor"}, "", func(t *testing.T, c *config) {
			if c.scenario != "floor" || !c.floor || c.backToBack <= 0 {
				t.Errorf("config %+v", c)
			}
		}},
		{"no floor, no back-to-back", []string{"--scenario", "latency", "--floor=false", "--back-to-back", "0"}, "", func(t *testing.T, c *config) {
			if c.floor || c.backToBack != 0 {
				t.Errorf("floor %v back-to-back %v", c.floor, c.backToBack)
			}
		}},
		{"tcp echo child", []string{"--serve-tcp-echo", "127.0.0.1:0"}, "", func(t *testing.T, c *config) {
			if c.serve != "tcp-echo" || c.listen != "127.0.0.1:0" {
				t.Errorf("serve %q listen %q", c.serve, c.listen)
			}
		}},
		{"ws echo child", []string{"--serve-ws-echo", "127.0.0.1:0"}, "", func(t *testing.T, c *config) {
			if c.serve != "ws-echo" {
				t.Errorf("serve %q", c.serve)
			}
		}},
		{"negative back-to-back", []string{"--back-to-back", "-1s"}, "must not be negative", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// TestFloorEndToEnd runs the floor with both echo servers as child
// processes and checks the table and the JSON report: four results (paced
// and back-to-back on each), every message back exactly once.
func TestFloorEndToEnd(t *testing.T) {
	jsonFile := filepath.Join(t.TempDir(), "floor.json")
	args := []string{"--scenario", "floor", "--rate", "20", "--duration", "300ms", "--back-to-back", "100ms",
		"--drain", "30s", "--json", jsonFile}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, want := range []string{"tcp-echo", "ws-echo", "6 samples at 20 msg/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	var rep report
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 4 {
		t.Fatalf("%d results, want 4", len(rep.Results))
	}
	for i, r := range rep.Results {
		if r.Scenario != "floor" || r.Server != []string{"tcp-echo", "tcp-echo", "ws-echo", "ws-echo"}[i] {
			t.Errorf("result %d: %s on %s", i, r.Scenario, r.Server)
		}
		if r.RTT == nil || r.RTT.Count == 0 || r.Missing != 0 || r.Extra != 0 || r.Errors != 0 {
			t.Errorf("result %d on %s: rtt %+v missing %d extra %d errors %d (%s)", i, r.Server, r.RTT, r.Missing, r.Extra, r.Errors, r.FirstError)
		}
	}
}

func TestTraced(t *testing.T) {
	for _, tt := range []struct {
		scenario string
		want     bool
	}{{"latency", true}, {"floor", true}, {"fanout", false}, {"idle", false}} {
		if got := traced(tt.scenario); got != tt.want {
			t.Errorf("traced(%q) = %v, want %v", tt.scenario, got, tt.want)
		}
	}
}

// TestSelfTrace checks that --self-trace leaves a runtime/trace file (its
// header names the format), and fails cleanly where it cannot write.
func TestSelfTrace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "self.trace")
	stop, err := startSelfTrace(file)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("go 1.")) {
		t.Errorf("trace file starts %q", b[:min(len(b), 16)])
	}
	if _, err := startSelfTrace(filepath.Join(t.TempDir(), "no", "such", "dir")); err == nil {
		t.Error("trace into a missing directory succeeded")
	}
}
