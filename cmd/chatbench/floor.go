package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"runtime/trace"

	"github.com/chatd/chatd/cmd/chatbench/internal/bench"
)

// job is one scenario run against one server.
type job struct{ scenario, server string }

// plan lists the runs of scenarios on servers in order. The floor runs on
// the echo servers, never on chatd or the baseline; with floor set, a
// latency run is preceded by the floor runs, so that the latency table
// carries its own reference: what a round trip costs on this machine, in
// this run, with no chat server in the way.
func plan(scenarios, servers []string, floor bool) []job {
	var jobs []job
	echo := func() {
		for _, s := range bench.EchoServers {
			jobs = append(jobs, job{"floor", s})
		}
	}
	for _, sc := range scenarios {
		switch {
		case sc == "floor":
			echo()
			continue
		case sc == "latency" && floor:
			echo()
		}
		for _, s := range servers {
			jobs = append(jobs, job{sc, s})
		}
	}
	return jobs
}

// runJob runs one job; the floor gives two results (paced, back-to-back).
func runJob(ctx context.Context, c *config, j job, pr *progress) ([]*bench.Result, error) {
	if j.scenario == "floor" {
		return runFloor(ctx, c, j.server, pr)
	}
	res, err := runOne(ctx, c, j.scenario, j.server, pr)
	if res == nil {
		return nil, err
	}
	return []*bench.Result{res}, err
}

// runFloor starts the echo server in a child process, as the chat servers
// are started (so both sides of the round trip are separate processes, as
// with chatd), and runs the floor with the latency scenario's rate,
// duration and message size.
func runFloor(ctx context.Context, c *config, name string, pr *progress) ([]*bench.Result, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	t, err := bench.StartChild(ctx, name, exe, []string{"--serve-" + name, "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	defer t.Close()
	o := c.options("latency")
	o.Progress = pr.line
	if c.profileDir != "" && name == bench.EchoWS { // the raw TCP echo has no debug listener
		o.Hook = profiler(c, t, "floor", pr)
	}
	return bench.Floor(ctx, o, t, c.backToBack)
}

// serveEcho is the child process of an echo server.
func serveEcho(c *config, stdin io.Reader, stdout io.Writer) error {
	if c.serve == bench.EchoTCP {
		return bench.ServeTCPEchoChild(c.listen, stdout, stdin)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", bench.WSEchoHandler())
	return bench.ServeChild(c.listen, bench.DebugMux(mux), stdout, stdin)
}

// traced reports whether --profile takes a runtime/trace of the server
// instead of a CPU profile: in the quiet round-trip scenarios the server is
// idle nearly all the time, a CPU profile holds a few samples and its
// SIGPROF ticks add wake-ups of their own, while a trace records every
// wake-up, syscall and goroutine hand-off on the path.
func traced(scenario string) bool { return scenario == "latency" || scenario == "floor" }

// startSelfTrace writes a runtime/trace of chatbench to file until stop.
func startSelfTrace(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { trace.Stop(); f.Close() }, nil
}
