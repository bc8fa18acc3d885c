package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/chatd/chatd/cmd/chatbench/internal/bench"
	"github.com/spf13/pflag"
)

// config is the parsed command line.
type config struct {
	scenario        string
	conns, senders  int
	rooms, size     int
	rate            float64
	duration        time.Duration
	baseline        bool
	jsonFile        string
	server          string
	factor          float64
	maxSteps        int
	refine          int
	retries         int
	p99             time.Duration
	drain           time.Duration
	profileDir      string
	profileSeconds  int
	sameSourceIP    bool
	dialConcurrency int
	client          string
	quick           bool
	selfProfile     string
	selfTrace       string
	floor           bool
	backToBack      time.Duration

	// Child modes (hidden): serve one server on listen until stdin closes.
	serve        string
	listen       string
	profileRates bool
	serverLog    string
	serverPID    int

	changed func(name string) bool
}

const usageHead = `chatbench — measures chatd (and with --baseline a gorilla/websocket chat hub) under load

Usage: chatbench [flags]

Scenarios (--scenario):
  idle     N joined connections; server memory per connection (RSS and Go heap, after GC, minus the empty server)
  fanout   M members in one room, S senders; rate stepped up until p99 > 50 ms or deliveries fall behind
  latency  quiet room, one sender at 10 msg/s; round-trip p50/p90/p99/max
  rooms    many rooms of 5 members, everyone sending; stepped like fanout
  pm       private messages between random pairs; stepped like fanout
  churn    workers repeating connect, join, chat, leave; cycles per second
  floor    latency's round trip against echo servers (raw TCP, and WebSocket through wire): the machine's floor
  all      each of the above in turn

Flags not given take the scenario's default (shown in brackets).

`

func parseFlags(args []string, out io.Writer) (*config, error) {
	c := &config{}
	fs := pflag.NewFlagSet("chatbench", pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.SortFlags = false
	fs.StringVar(&c.scenario, "scenario", "fanout", "idle, fanout, latency, rooms, pm, churn, floor or all")
	fs.IntVar(&c.conns, "conns", 0, "connections [idle 5000, fanout/rooms/pm 1000, latency 1]; churn: concurrent workers [16]")
	fs.IntVar(&c.senders, "senders", 0, "sending connections [fanout 10, latency 1, rooms/pm all]")
	fs.Float64Var(&c.rate, "rate", 0, "msgs/s offered: first step of fanout/rooms/pm [100, 2000, 2000]; latency's fixed rate [10]")
	fs.DurationVar(&c.duration, "duration", 0, "length of each step (fanout/rooms/pm) [3s] or of the run (latency [20s], churn [10s])")
	fs.IntVar(&c.size, "size", 0, "bytes of each chat envelope sent, JSON included [130]")
	fs.IntVar(&c.rooms, "rooms", 0, "rooms [idle conns/50, rooms conns/5, churn 4]")
	fs.BoolVar(&c.baseline, "baseline", false, "also run every scenario against the gorilla/websocket hub baseline and print the ratios")
	fs.StringVar(&c.jsonFile, "json", "", "write every raw number to this file as JSON")
	fs.StringVar(&c.server, "server", "self", `chatd to measure: "self" (start one in a child process) or its URL (ws://host:port/ws)`)
	fs.IntVar(&c.serverPID, "server-pid", 0, "with --server URL: the server's process id, for RSS and CPU from /proc")
	fs.Float64Var(&c.factor, "step", 1.25, "rate multiplier between steps")
	fs.IntVar(&c.maxSteps, "max-steps", 20, "steps at most per stepped scenario (retries included)")
	fs.IntVar(&c.refine, "refine", 2, "bisection steps after the first step that fails")
	fs.IntVar(&c.retries, "retries", 1, "times a step that failed is run again at the same rate before the rate counts as failed (one noisy step on a shared machine should not end the climb)")
	fs.DurationVar(&c.p99, "p99", 50*time.Millisecond, "delivery p99 a step must stay within to hold")
	fs.DurationVar(&c.drain, "drain", 2*time.Second, "how long after a step's last send deliveries may still arrive")
	fs.StringVar(&c.profileDir, "profile", "", "save pprof profiles of the servers into this directory (CPU under load — for latency and floor a runtime/trace instead — heap and goroutines when idle), and chatd's log")
	fs.IntVar(&c.profileSeconds, "profile-seconds", 10, "length of the CPU profile; keep it shorter than the load")
	fs.BoolVar(&c.sameSourceIP, "no-source-spread", false, "dial from the default source address instead of 127.0.0.2–254")
	fs.IntVar(&c.dialConcurrency, "dial-concurrency", 64, "connections being opened at once")
	fs.BoolVar(&c.quick, "quick", false, "short pass for make bench: 1 s steps, 5 s latency, 3 s churn, 2000 idle conns")
	fs.StringVar(&c.selfProfile, "self-profile", "", "write a CPU profile of chatbench itself (the load generator) to this file")
	fs.StringVar(&c.selfTrace, "self-trace", "", "write a runtime/trace of chatbench itself to this file (go tool trace)")
	fs.BoolVar(&c.floor, "floor", true, "run the floor (echo servers) before latency, so its table carries the machine's own round trip")
	fs.DurationVar(&c.backToBack, "back-to-back", 2*time.Second, "floor: also send back-to-back (next message when the last came back) for this long; 0 skips")
	fs.StringVar(&c.client, "client", "wire", `client WebSocket implementation: "wire" (the project's) or "gorilla" (a cross-check)`)
	fs.StringVar(&c.listen, "serve-chatd", "", "child mode: serve chatd on this address")
	fs.StringVar(&c.listen, "serve-baseline", "", "child mode: serve the baseline on this address")
	fs.StringVar(&c.listen, "serve-"+bench.EchoTCP, "", "child mode: serve the raw TCP echo on this address")
	fs.StringVar(&c.listen, "serve-"+bench.EchoWS, "", "child mode: serve the WebSocket echo on this address")
	fs.BoolVar(&c.profileRates, "profile-rates", false, "child mode: record mutex and block profiles")
	fs.StringVar(&c.serverLog, "server-log", "", "child mode: chatd's log (info level, JSON) into this file")
	for _, h := range []string{"serve-chatd", "serve-baseline", "serve-" + bench.EchoTCP, "serve-" + bench.EchoWS, "profile-rates", "server-log"} {
		_ = fs.MarkHidden(h)
	}
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() {
		fmt.Fprint(out, usageHead)
		fmt.Fprint(out, fs.FlagUsagesWrapped(110))
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *help {
		fs.Usage()
		return nil, pflag.ErrHelp
	}
	c.changed = func(name string) bool { return fs.Changed(name) }
	switch {
	case fs.Changed("serve-chatd") && fs.Changed("serve-baseline"):
		return nil, errors.New("--serve-chatd and --serve-baseline exclude each other")
	case fs.Changed("serve-chatd"):
		c.serve = "chatd"
		return c, nil
	case fs.Changed("serve-baseline"):
		c.serve = "baseline"
		return c, nil
	}
	for _, e := range bench.EchoServers {
		if fs.Changed("serve-" + e) {
			c.serve = e
			return c, nil
		}
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.scenario != "all" && c.scenario != "floor" && !slices.Contains(bench.Scenarios, c.scenario) {
		return nil, fmt.Errorf("--scenario %q: want one of %s, floor or all", c.scenario, strings.Join(bench.Scenarios, ", "))
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"conns", c.conns}, {"senders", c.senders}, {"rooms", c.rooms}, {"size", c.size}, {"max-steps", c.maxSteps}, {"refine", c.refine}, {"retries", c.retries}, {"dial-concurrency", c.dialConcurrency}} {
		if n.v < 0 {
			return nil, fmt.Errorf("--%s must not be negative", n.name)
		}
	}
	if c.rate < 0 || c.duration < 0 || c.backToBack < 0 || c.factor <= 1 || c.p99 <= 0 || c.drain <= 0 || c.profileSeconds < 1 {
		return nil, errors.New("--rate and --duration must not be negative, --step must be above 1, --p99, --drain and --profile-seconds above 0")
	}
	if c.client != "wire" && c.client != "gorilla" {
		return nil, fmt.Errorf("--client %q: want wire or gorilla", c.client)
	}
	if c.server != "self" {
		u, err := normalizeServerURL(c.server)
		if err != nil {
			return nil, err
		}
		c.server = u
	}
	return c, nil
}

// normalizeServerURL accepts ws(s):// or http(s):// with or without /ws.
func normalizeServerURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--server %q: want self or a URL such as ws://127.0.0.1:8000/ws", s)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("--server %q: scheme must be ws, wss, http or https", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/ws"
	}
	return u.String(), nil
}

// options are the scenario's defaults with the flags that were given.
func (c *config) options(scenario string) bench.Options {
	o := bench.Defaults(scenario)
	if c.quick {
		o = bench.Quick(o)
	}
	set := func(name string, f func()) {
		if c.changed(name) {
			f()
		}
	}
	set("conns", func() { o.Conns = c.conns })
	set("senders", func() { o.Senders = c.senders })
	set("rooms", func() { o.Rooms = c.rooms })
	set("size", func() { o.Size = c.size })
	set("rate", func() { o.Rate = c.rate })
	set("duration", func() { o.Duration = c.duration })
	set("step", func() { o.Factor = c.factor })
	set("max-steps", func() { o.MaxSteps = c.maxSteps })
	set("refine", func() { o.Refine = c.refine })
	set("retries", func() { o.Retries = c.retries })
	set("drain", func() { o.Drain = c.drain })
	o.Limits.P99 = c.p99
	o.SourceIPs = !c.sameSourceIP
	o.DialConcurrency = c.dialConcurrency
	return o
}
