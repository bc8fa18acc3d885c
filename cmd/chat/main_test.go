package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitLimit = 15 * time.Second

func startServer(t *testing.T) string {
	t.Helper()
	srv, err := server.New(server.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
}

// buffer is an io.Writer safe for the concurrent writes of run's goroutines,
// that tests can wait on.
type buffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newBuffer() *buffer { return &buffer{changed: make(chan struct{})} }

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits until the output matches re.
func (b *buffer) waitFor(t *testing.T, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(waitLimit)
	for {
		b.mu.Lock()
		ok := rx.MatchString(b.b.String())
		ch := b.changed
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("output never matched %q:\n%s", re, b.String())
		}
	}
}

var fast = client.Options{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxAttempts: 3}

// cli runs the command to completion with the given input.
func cli(t *testing.T, input string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	out, errb := newBuffer(), newBuffer()
	code = runWith(context.Background(), args, strings.NewReader(input), out, errb, fast)
	return out.String(), errb.String(), code
}

// running is a CLI whose input the test writes line by line.
type running struct {
	in       *io.PipeWriter
	out, err *buffer
	code     chan int
}

func start(t *testing.T, args ...string) *running {
	pr, pw := io.Pipe()
	r := &running{in: pw, out: newBuffer(), err: newBuffer(), code: make(chan int, 1)}
	go func() { r.code <- runWith(context.Background(), args, pr, r.out, r.err, fast) }()
	t.Cleanup(func() { _ = pw.Close(); <-r.code })
	return r
}

func (r *running) send(line string) { _, _ = io.WriteString(r.in, line+"\n") }

func (r *running) finish(t *testing.T) int {
	t.Helper()
	_ = r.in.Close()
	select {
	case c := <-r.code:
		r.code <- c
		return c
	case <-time.After(waitLimit):
		t.Fatalf("chat did not exit at end of input; stdout:\n%s\nstderr:\n%s", r.out, r.err)
		return -1
	}
}

const hhmmss = `\d\d:\d\d:\d\d`

func TestPipePMReachesBob(t *testing.T) {
	url := startServer(t)
	bob := start(t, "--url", url, "--name", "bob")
	bob.out.waitFor(t, `(?m)^\* bob joined #lobby$`)

	out, errOut, code := cli(t, "/pm bob hi\n", "--url", url, "--name", "alice")
	if code != 0 {
		t.Fatalf("alice exit %d; stderr:\n%s", code, errOut)
	}
	if !regexp.MustCompile(`(?m)^` + hhmmss + ` \[pm\] alice → bob: hi$`).MatchString(out) {
		t.Fatalf("alice's output lacks her pm's confirmation:\n%s", out)
	}
	bob.out.waitFor(t, `(?m)^`+hhmmss+` \[pm\] alice → bob: hi$`)
	bob.out.waitFor(t, `(?m)^\* alice left #lobby$`)
	if c := bob.finish(t); c != 0 {
		t.Fatalf("bob exit %d; stderr:\n%s", c, bob.err)
	}
}

func TestPipeCommands(t *testing.T) {
	url := startServer(t)
	bob := start(t, "--url", url, "--name", "bob", "--room", "lobby", "--room", "dev")
	bob.out.waitFor(t, `(?m)^\* bob joined #dev$`)

	input := strings.Join([]string{
		"hello lobby",
		"/join dev",
		"hello dev",
		"/who",
		"/room lobby",
		"//slash",
		"/leave dev",
		"/pm",         // usage: nothing sent
		"/frobnicate", // unknown: nothing sent
		"/room nowhere",
		"",
	}, "\n")
	out, errOut, code := cli(t, input, "--url", url, "--name", "alice")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	for _, want := range []string{
		`(?m)^` + hhmmss + ` #lobby <alice> hello lobby$`,
		`(?m)^\* alice joined #dev$`,
		`(?m)^` + hhmmss + ` #dev <alice> hello dev$`,
		`(?m)^\* #dev: alice, bob$`,
		`(?m)^` + hhmmss + ` #lobby <alice> /slash$`,
		`(?m)^\* alice left #dev$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("stdout lacks %s:\n%s", want, out)
		}
	}
	for _, want := range []string{"usage: /pm NAME TEXT", "unknown command /frobnicate (try /help)", "you are not in #nowhere"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	bob.out.waitFor(t, `(?m)^\* alice left #lobby$`)
	if strings.Contains(bob.out.String(), "[pm]") {
		t.Fatalf("a usage error sent something:\n%s", bob.out)
	}
}

func TestPipeUnknownUserOnStderr(t *testing.T) {
	url := startServer(t)
	out, errOut, code := cli(t, "/pm nobody x\n", "--url", url, "--name", "alice")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a command was refused)", code)
	}
	if !strings.Contains(errOut, "error: unknown_user") {
		t.Fatalf("stderr lacks unknown_user:\n%s", errOut)
	}
	if strings.Contains(out, "unknown_user") {
		t.Fatalf("the error went to stdout:\n%s", out)
	}
}

func TestPipeJSON(t *testing.T) {
	url := startServer(t)
	out, errOut, code := cli(t, "hi\n/pm nobody x\n", "--url", url, "--name", "alice", "--json")
	if code != 1 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	types := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		typ, _ := m["type"].(string)
		types[typ]++
	}
	for _, typ := range []string{"welcome", "presence", "join", "chat", "error"} {
		if types[typ] == 0 {
			t.Errorf("no %s envelope in --json output:\n%s", typ, out)
		}
	}
}

func TestExitCodes(t *testing.T) {
	url := startServer(t)
	taken := start(t, "--url", url, "--name", "alice")
	taken.out.waitFor(t, `joined`)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"help", []string{"--help"}, 0, ""},
		{"unknown flag", []string{"--bogus"}, 2, "unknown flag"},
		{"bad name", []string{"--url", url, "--name", "no spaces"}, 2, "not a valid name"},
		{"bad room", []string{"--url", url, "--name", "x", "--room", "UPPER"}, 2, "not a valid room"},
		{"bad url", []string{"--url", "http://x", "--name", "x"}, 2, "ws://"},
		{"refused", []string{"--url", "ws://127.0.0.1:1/ws", "--name", "x"}, 3, "connection refused"},
		{"name taken", []string{"--url", url, "--name", "ALICE"}, 3, "already taken"},
		{"ok", []string{"--url", url, "--name", "carol"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := cli(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errOut)
			}
			if tc.stderr != "" && !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("stderr lacks %q:\n%s", tc.stderr, errOut)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 0 && tc.code == 3 {
				t.Fatalf("more than one line for people:\n%s", errOut)
			}
		})
	}
	out, _, _ := cli(t, "", "--help")
	for _, want := range []string{"--url", "--name", "--room", "--ca", "--insecure", "--json", "--no-color", "/pm NAME TEXT"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %s", want)
		}
	}
}

func TestTLSWithCustomCA(t *testing.T) {
	srv, err := server.New(server.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "wss" + strings.TrimPrefix(hs.URL, "https") + "/ws"
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"untrusted", []string{"--url", url, "--name", "a"}, 3, "--ca"},
		{"custom CA", []string{"--url", url, "--name", "b", "--ca", ca}, 0, ""},
		{"insecure", []string{"--url", url, "--name", "c", "--insecure"}, 0, ""},
		{"TLS to a plain server", []string{"--url", "wss" + strings.TrimPrefix(startServer(t), "ws"), "--name", "d"}, 3, "ws://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := cli(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errOut)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("stderr lacks %q:\n%s", tc.stderr, errOut)
			}
		})
	}
}

func TestPipeServerGone(t *testing.T) {
	srv, err := server.New(server.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	bob := start(t, "--url", url, "--name", "bob")
	bob.out.waitFor(t, `(?m)^\* bob joined #lobby$`)

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	hs.Close() // nothing listens any more: every reconnect is refused
	select {
	case code := <-bob.code:
		bob.code <- code
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
	case <-time.After(waitLimit):
		t.Fatalf("chat did not give up; stderr:\n%s", bob.err)
	}
	bob.err.waitFor(t, `reconnecting in`)
	bob.err.waitFor(t, `(?m)^error: the server is gone: .*3 reconnect attempts failed .*connection refused`)
}
