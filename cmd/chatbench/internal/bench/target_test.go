package bench

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseGauges(t *testing.T) {
	body := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
go_memstats_heap_inuse_bytes 1.2345e+06
process_resident_memory_bytes 9.8304e+06
chatd_messages_total{type="chat"} 7
`
	g := ParseGauges([]byte(body))
	if g["go_goroutines"] != 42 || g["go_memstats_heap_inuse_bytes"] != 1234500 || g["process_resident_memory_bytes"] != 9830400 {
		t.Errorf("gauges %v", g)
	}
	if _, ok := g[`chatd_messages_total{type="chat"}`]; ok {
		t.Error("labelled sample parsed as a gauge")
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"Name:\tchatd\nVmRSS:\t   12345 kB\nThreads: 5\n", 12345 * 1024, true},
		{"Name:\tchatd\n", 0, false},
		{"VmRSS:\t12 MB\n", 0, false},
	}
	for _, tt := range tests {
		got, err := parseVmRSS([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseVmRSS(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func TestProcRSS(t *testing.T) {
	// Any Go test process is resident for at least a megabyte.
	if rss, err := ProcRSS(os.Getpid()); err != nil || rss < 1<<20 {
		t.Errorf("ProcRSS(self) = %d, %v", rss, err)
	}
	if _, err := ProcRSS(-1); err == nil {
		t.Error("ProcRSS(-1) succeeded")
	}
}

func TestServeChild(t *testing.T) {
	stdinR, stdinW := io.Pipe()
	outR, outW := io.Pipe()
	errc := make(chan error, 1)
	h := DebugMux(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "server") }))
	go func() { errc <- ServeChild("127.0.0.1:0", h, outW, stdinR) }()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, outR)
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if !ok {
		t.Fatalf("announcement %q", line)
	}
	ctx := context.Background()
	var hs HeapStats
	if err := getJSON(ctx, "http://"+addr+"/debug/heap", &hs); err != nil {
		t.Fatal(err)
	}
	if hs.HeapInuse == 0 || hs.Goroutines == 0 {
		t.Errorf("heap stats %+v", hs)
	}
	body, err := get(ctx, "http://"+addr+"/ws")
	if err != nil || string(body) != "server" {
		t.Errorf("server route: %q %v", body, err)
	}
	if _, err := get(ctx, "http://"+addr+"/debug/pprof/goroutine?debug=1"); err != nil {
		t.Errorf("pprof: %v", err)
	}
	stdinW.Close() // the parent goes away
	if err := <-errc; err != nil {
		t.Errorf("ServeChild: %v", err)
	}
	outW.Close()
	http.DefaultClient.CloseIdleConnections()
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
		{"1234 (chatd) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 130 0 0 20 0 7 0", 3800 * time.Millisecond, true},
		{"99 (a b) c) R 1 1 1 0 -1 0 0 0 0 0 1 2 0 0", 30 * time.Millisecond, true},
		{"no parenthesis", 0, false},
		{"1 (x) S 1 2", 0, false},
	}
	for _, tt := range tests {
		got, err := parseStatCPU([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseStatCPU(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if d, err := ProcCPU(os.Getpid()); err != nil || d < 0 {
		t.Errorf("ProcCPU(self) = %v, %v", d, err)
	}
}

func TestURLTarget(t *testing.T) {
	metrics := "process_resident_memory_bytes 5e+06\ngo_memstats_heap_inuse_bytes 2e+06\ngo_goroutines 9\n"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, metrics)
	}))
	defer ts.Close()
	wsURL := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"
	ctx := context.Background()

	m, err := URLTarget("chatd", wsURL, 0).Memory(ctx)
	if err != nil || m.RSS != 5e6 || m.HeapInuse != 2e6 || m.Goroutines != 9 || m.Source != "metrics" {
		t.Errorf("from /metrics: %+v %v", m, err)
	}
	self := URLTarget("chatd", wsURL, os.Getpid())
	m, err = self.Memory(ctx)
	if err != nil || m.RSS < 1<<20 || m.RSS == 5e6 || m.Source != "metrics+proc" {
		t.Errorf("with a pid: %+v %v", m, err)
	}
	if self.CPU == nil {
		t.Error("no CPU with a pid")
	}
	metrics = "go_goroutines 9\n"
	if _, err := URLTarget("chatd", wsURL, 0).Memory(ctx); err == nil || !strings.Contains(err.Error(), "--server-pid") {
		t.Errorf("without RSS anywhere: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}
