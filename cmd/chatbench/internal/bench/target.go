package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Target is a server under test.
type Target struct {
	Name string // "chatd" or "baseline"
	URL  string // ws://host:port/ws
	// Memory samples the server's memory (nil when it cannot be measured).
	Memory func(ctx context.Context) (MemSample, error)
	// DebugURL is the server's debug listener base (http://host:port) when it
	// has one: /debug/heap and /debug/pprof/.
	DebugURL string
	// CPU returns the server process's CPU time so far (user + system), when
	// chatbench knows its process (nil otherwise).
	CPU func() (time.Duration, error)
	// Close stops the server if chatbench started it.
	Close func() error
}

// MemSample is one reading of a server's memory.
type MemSample struct {
	RSS        uint64 `json:"rss_bytes"`
	HeapInuse  uint64 `json:"heap_inuse_bytes"`
	StackInuse uint64 `json:"stack_inuse_bytes"`
	Goroutines int    `json:"goroutines"`
	// Source says how it was taken: "child" (forced GC, /proc RSS) or
	// "metrics" (Prometheus gauges of a server chatbench did not start, no GC).
	Source string `json:"source"`
}

// HeapStats is what a child server's /debug/heap reports after a full
// collection that also returns freed memory to the OS, so that RSS read right
// after reflects live memory for both servers alike.
type HeapStats struct {
	HeapInuse  uint64 `json:"heap_inuse_bytes"`
	StackInuse uint64 `json:"stack_inuse_bytes"`
	Sys        uint64 `json:"sys_bytes"`
	Goroutines int    `json:"goroutines"`
}

// HeapHandler serves HeapStats after debug.FreeOSMemory (which collects
// garbage first).
func HeapHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(HeapStats{
			HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Sys: ms.Sys,
			Goroutines: runtime.NumGoroutine(),
		})
	})
}

// DebugMux routes /debug/heap and /debug/pprof/ to the measurement
// handlers and everything else to the server under test.
func DebugMux(server http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/debug/heap", HeapHandler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", server)
	return mux
}

// ServeChild is the body of a child server process: it listens on addr,
// announces "listening ADDR" on out, serves h until stdin reaches EOF (the
// parent closed it, or died), then returns.
func ServeChild(addr string, h http.Handler, out io.Writer, stdin io.Reader) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	// The parent is done with us: no graceful drain, the numbers are taken.
	return serveUntilEOF(addr, out, stdin, srv.Serve, func(net.Listener) { _ = srv.Close() })
}

// serveUntilEOF listens on addr, announces "listening ADDR" on out, runs
// serve until it fails or stdin reaches EOF, then stops it with stop and
// waits for serve to return.
func serveUntilEOF(addr string, out io.Writer, stdin io.Reader, serve func(net.Listener) error, stop func(net.Listener)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- serve(ln) }()
	fmt.Fprintf(out, "listening %s\n", ln.Addr())
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stdin); close(eof) }()
	select {
	case err := <-errc:
		return err
	case <-eof:
	}
	stop(ln)
	<-errc
	return nil
}

// StartChild runs exe with args as a child process that behaves like
// ServeChild, and returns it as a Target whose memory is the child's own.
func StartChild(ctx context.Context, name, exe string, args []string) (*Target, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s server: %w", name, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() error {
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		return nil
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var addr string
	select {
	case line, ok := <-lines:
		addr, _ = strings.CutPrefix(line, "listening ")
		if !ok || addr == line || addr == "" {
			_ = stop()
			return nil, fmt.Errorf("%s server did not announce its address (exit: %v)", name, waitErr)
		}
	case <-time.After(30 * time.Second):
		_ = stop()
		return nil, fmt.Errorf("%s server did not start within 30 s", name)
	case <-ctx.Done():
		_ = stop()
		return nil, ctx.Err()
	}
	base := "http://" + addr
	pid := cmd.Process.Pid
	return &Target{
		Name:     name,
		URL:      "ws://" + addr + "/ws",
		DebugURL: base,
		Memory: func(ctx context.Context) (MemSample, error) {
			var hs HeapStats
			if err := getJSON(ctx, base+"/debug/heap", &hs); err != nil {
				return MemSample{}, err
			}
			rss, err := ProcRSS(pid)
			if err != nil {
				return MemSample{}, err
			}
			return MemSample{RSS: rss, HeapInuse: hs.HeapInuse, StackInuse: hs.StackInuse,
				Goroutines: hs.Goroutines, Source: "child"}, nil
		},
		CPU:   func() (time.Duration, error) { return ProcCPU(pid) },
		Close: stop,
	}, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// ProcCPU reads the user and system CPU time of process pid.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU sums utime and stime (fields 14 and 15) of a /proc/PID/stat
// line. The command name (field 2) may hold spaces, so fields are counted
// from its closing parenthesis.
func parseStatCPU(stat []byte) (time.Duration, error) {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat line")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, errors.New("short stat line")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat times %q %q", f[11], f[12])
	}
	return time.Duration(u+st) * time.Second / clockTicks, nil
}

// URLTarget is a chatd that chatbench did not start. Its memory comes from
// the Prometheus gauges at /metrics (no forced collection, so heap numbers
// include garbage); with pid > 0 (a server on this machine) RSS and CPU
// time come from /proc/PID instead, which works whatever /metrics exports.
func URLTarget(name, wsURL string, pid int) *Target {
	base := strings.Replace(strings.Replace(wsURL, "ws://", "http://", 1), "wss://", "https://", 1)
	base = strings.TrimSuffix(base, "/ws")
	t := &Target{
		Name: name,
		URL:  wsURL,
		Memory: func(ctx context.Context) (MemSample, error) {
			var g map[string]float64
			if body, err := get(ctx, base+"/metrics"); err == nil {
				g = ParseGauges(body)
			} else if pid <= 0 {
				return MemSample{}, err
			}
			m := MemSample{HeapInuse: uint64(g["go_memstats_heap_inuse_bytes"]),
				StackInuse: uint64(g["go_memstats_stack_inuse_bytes"]), Goroutines: int(g["go_goroutines"]),
				Source: "metrics"}
			if pid > 0 {
				rss, err := ProcRSS(pid)
				if err != nil {
					return MemSample{}, err
				}
				m.RSS, m.Source = rss, "metrics+proc"
				return m, nil
			}
			rss, ok := g["process_resident_memory_bytes"]
			if !ok {
				return MemSample{}, errors.New("no process_resident_memory_bytes in /metrics; give --server-pid")
			}
			m.RSS = uint64(rss)
			return m, nil
		},
		Close: func() error { return nil },
	}
	if pid > 0 {
		t.CPU = func() (time.Duration, error) { return ProcCPU(pid) }
	}
	return t
}

// ParseGauges reads unlabelled samples from the Prometheus text format.
func ParseGauges(body []byte) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.ContainsRune(name, '{') {
			continue
		}
		if f, err := strconv.ParseFloat(strings.Fields(val)[0], 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// ProcRSS reads VmRSS of process pid, in bytes.
func ProcRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

func parseVmRSS(status []byte) (uint64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("unexpected VmRSS line %q", line)
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

func get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func getJSON(ctx context.Context, u string, v any) error {
	b, err := get(ctx, u)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// SaveProfile fetches path (e.g. "/debug/pprof/profile?seconds=5") from the
// target's debug listener into file.
func SaveProfile(ctx context.Context, t *Target, path, file string) error {
	if t.DebugURL == "" {
		return errors.New("target has no debug listener")
	}
	b, err := get(ctx, t.DebugURL+path)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}
