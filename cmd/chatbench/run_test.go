package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain lets the test binary be its own child server: runBench re-executes
// os.Executable() with --serve-chatd or --serve-baseline, as chatbench does.
func TestMain(m *testing.M) {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "--serve-") {
			if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	goleak.VerifyTestMain(m)
}

// TestRunBenchEndToEnd runs the idle and fanout scenarios on both servers as
// child processes with tiny settings, and checks the table, the ratio lines
// (last, in order) and the JSON report.
func TestRunBenchEndToEnd(t *testing.T) {
	dir := t.TempDir()
	jsonFile := filepath.Join(dir, "out.json")
	for _, scenario := range []string{"idle", "fanout"} {
		args := []string{"--scenario", scenario, "--baseline", "--no-source-spread", "--client", "gorilla",
			"--conns", "30", "--senders", "2", "--rate", "20", "--duration", "300ms", "--max-steps", "1",
			"--p99", "1m", "--drain", "30s", "--json", jsonFile}
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("%s: %v\n%s", scenario, err, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, scenario+" ratio: ") {
			t.Errorf("%s: last line %q", scenario, last)
		}
		if !strings.Contains(out.String(), "baseline") || !strings.Contains(out.String(), "chatd") {
			t.Errorf("%s: table lacks a server:\n%s", scenario, out.String())
		}
		var rep report
		b, err := os.ReadFile(jsonFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Results) != 2 || len(rep.Ratios) != 1 || rep.Ratios[0] != last {
			t.Fatalf("%s: report %+v", scenario, rep)
		}
		for _, r := range rep.Results {
			if r.Missing != 0 || r.Extra != 0 || r.Errors != 0 {
				t.Errorf("%s on %s: missing %d extra %d errors %d (%s)", scenario, r.Server, r.Missing, r.Extra, r.Errors, r.FirstError)
			}
			if scenario == "idle" && (r.Memory == nil || r.Memory.Loaded.Source != "child" || r.Memory.Loaded.RSS == 0 ||
				r.Memory.Loaded.HeapInuse <= r.Memory.Empty.HeapInuse) {
				// (Not goroutines: an idle chatd connection on Linux has none.)
				t.Errorf("idle on %s: memory %+v", r.Server, r.Memory)
			}
		}
	}
}

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b) // not a terminal: one line each
	p.line("one")
	p.line("two")
	p.done()
	if b.String() != "one\ntwo\n" {
		t.Errorf("%q", b.String())
	}
	b.Reset()
	p = &progress{w: &b, tty: true}
	p.line("one")
	p.line("two")
	p.done()
	if b.String() != "\rone\x1b[K\rtwo\x1b[K\n" {
		t.Errorf("%q", b.String())
	}
}

func TestRaiseNoFile(t *testing.T) {
	var b bytes.Buffer
	got := raiseNoFile(1<<40, &b) // more than any machine allows
	if got == 0 || !strings.Contains(b.String(), "RLIMIT_NOFILE") {
		t.Errorf("limit %d, warning %q", got, b.String())
	}
	b.Reset()
	if raiseNoFile(10, &b); b.Len() != 0 {
		t.Errorf("warned for 10 descriptors: %q", b.String())
	}
}
