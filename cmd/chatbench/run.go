package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chatd/chatd/cmd/chatbench/internal/bench"
	"golang.org/x/term"
)

// report is what --json writes.
type report struct {
	Started time.Time       `json:"started"`
	Command []string        `json:"command"`
	Machine machine         `json:"machine"`
	Results []*bench.Result `json:"results"`
	Ratios  []string        `json:"ratios,omitempty"`
}

type machine struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel,omitempty"`
	CPUModel  string `json:"cpu_model,omitempty"`
	NoFile    uint64 `json:"rlimit_nofile"`
	// The machine is shared: a load average above the CPU count at the
	// start or end means the numbers were taken with less than the whole
	// machine.
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end"`
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// runBench runs the scenarios against chatd (and the baseline), prints the
// table and, last, the ratio lines.
func runBench(ctx context.Context, c *config, stdout, stderr io.Writer) error {
	scenarios := []string{c.scenario}
	if c.scenario == "all" {
		scenarios = bench.Scenarios
	}
	servers := []string{"chatd"}
	if c.baseline {
		servers = append(servers, "baseline")
	}
	need := 0
	for _, s := range scenarios {
		need = max(need, c.options(s).Conns)
	}
	nofile := raiseNoFile(need+256, stderr)
	if c.profileDir != "" {
		if err := os.MkdirAll(c.profileDir, 0o755); err != nil {
			return err
		}
	}
	if c.selfProfile != "" {
		f, err := os.Create(c.selfProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if c.selfTrace != "" {
		stop, err := startSelfTrace(c.selfTrace)
		if err != nil {
			return err
		}
		defer stop()
	}
	pr := newProgress(stderr)
	rep := &report{Started: time.Now().UTC(), Command: os.Args, Machine: describeMachine(nofile)}
	fmt.Fprintf(stderr, "chatbench: %d CPUs, load average %s at start\n", rep.Machine.CPUs, rep.Machine.LoadAvgStart)
	var failed []string
	for _, j := range plan(scenarios, servers, c.floor) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		res, err := runJob(ctx, c, j, pr)
		pr.done()
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s on %s: %v", j.scenario, j.server, err))
			fmt.Fprintf(stderr, "chatbench: %s on %s: %v\n", j.scenario, j.server, err)
		}
		rep.Results = append(rep.Results, res...)
	}
	rep.Machine.LoadAvgEnd = loadAvg()
	rep.Ratios = bench.RatioLines(rep.Results)
	if c.jsonFile != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(c.jsonFile, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if err := bench.WriteTable(stdout, rep.Results); err != nil {
		return err
	}
	for _, l := range rep.Ratios {
		fmt.Fprintln(stdout, l)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d run(s) failed: %s", len(failed), strings.Join(failed, "; "))
	}
	return nil
}

// runOne starts the server (unless it is a running chatd given by URL),
// runs the scenario and stops the server again: every run begins with a
// fresh process.
func runOne(ctx context.Context, c *config, scenario, name string, pr *progress) (*bench.Result, error) {
	var (
		t   *bench.Target
		err error
	)
	if name == "chatd" && c.server != "self" {
		t = bench.URLTarget(name, c.server, c.serverPID)
	} else {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		args := []string{"--serve-" + name, "127.0.0.1:0"}
		if c.profileDir != "" {
			args = append(args, "--profile-rates")
			if name == "chatd" {
				args = append(args, "--server-log", filepath.Join(c.profileDir, fmt.Sprintf("chatd-%s.log", scenario)))
			}
		}
		t, err = bench.StartChild(ctx, name, exe, args)
		if err != nil {
			return nil, err
		}
	}
	defer t.Close()
	o := c.options(scenario)
	o.Progress = pr.line
	if c.profileDir != "" && t.DebugURL != "" {
		o.Hook = profiler(c, t, scenario, pr)
	}
	dial := bench.WireDialer()
	if c.client == "gorilla" {
		dial = bench.GorillaDialer()
	}
	res, err := bench.Run(ctx, o, t, dial)
	return res, err
}

// profiler saves pprof profiles of t: a CPU profile (then mutex, block and
// goroutine profiles) while the load runs, heap and goroutine profiles once
// the idle connections are in place.
func profiler(c *config, t *bench.Target, scenario string, pr *progress) func(ctx context.Context, phase string) {
	save := func(ctx context.Context, path, kind string) {
		file := filepath.Join(c.profileDir, fmt.Sprintf("%s-%s-%s.pb.gz", t.Name, scenario, kind))
		if err := bench.SaveProfile(ctx, t, path, file); err != nil {
			pr.line(fmt.Sprintf("profile %s: %v", kind, err))
		}
	}
	return func(ctx context.Context, phase string) {
		switch phase {
		case "load":
			// Skip the first second: the lowest step, or the start-up.
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
			if traced(scenario) {
				save(ctx, fmt.Sprintf("/debug/pprof/trace?seconds=%d", c.profileSeconds), "trace")
				return
			}
			save(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", c.profileSeconds), "cpu")
			for _, p := range []string{"mutex", "block", "goroutine", "allocs"} {
				save(ctx, "/debug/pprof/"+p, p)
			}
		case "loaded":
			for _, p := range []string{"heap", "goroutine", "allocs"} {
				save(ctx, "/debug/pprof/"+p, p)
			}
		}
	}
}

// raiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit (children
// inherit it) and warns when even that is below what the run needs.
func raiseNoFile(need int, stderr io.Writer) uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		fmt.Fprintf(stderr, "chatbench: reading RLIMIT_NOFILE: %v\n", err)
		return 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			fmt.Fprintf(stderr, "chatbench: raising RLIMIT_NOFILE to %d: %v\n", rl.Max, err)
		}
	}
	if rl.Cur < uint64(need) {
		fmt.Fprintf(stderr, "chatbench: RLIMIT_NOFILE is %d (hard limit %d) but this run needs about %d descriptors per process; "+
			"raise the hard limit (ulimit -Hn, or LimitNOFILE) or lower --conns\n", rl.Cur, rl.Max, need)
	}
	return rl.Cur
}

func describeMachine(nofile uint64) machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), NoFile: nofile, LoadAvgStart: loadAvg()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// progress prints status lines on stderr: rewritten in place on a
// terminal, one per line otherwise (logs, make).
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	pending bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progress) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", s)
		p.pending = true
		return
	}
	fmt.Fprintln(p.w, s)
}

// done ends an in-place line so the next output starts on its own line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending {
		fmt.Fprintln(p.w)
		p.pending = false
	}
}
