package wire_test

// Interop with stacks outside Go: Python websockets (Debian python3-websockets) and Node
// ws (Debian node-ws), in both directions, through testdata/interop_peer.py and
// testdata/interop_peer.js. The peers are started on 127.0.0.1 with a bounded context and
// stopped by closing their stdin. Under CI=true a missing interpreter or module fails the
// test; elsewhere it skips, naming the package to install.

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/wire"
)

// scriptPeer describes how to run one foreign peer.
type scriptPeer struct {
	name    string
	argv    []string // interpreter and script
	env     []string
	probe   []string // command that succeeds when the module is importable
	install string   // Debian package that provides it
}

var scriptPeers = []scriptPeer{
	{
		name:    "python-websockets",
		argv:    []string{"/usr/bin/python3", "testdata/interop_peer.py"},
		probe:   []string{"/usr/bin/python3", "-c", "import websockets"},
		install: "python3-websockets",
	},
	{
		name:    "node-ws",
		argv:    []string{"node", "testdata/interop_peer.js"},
		env:     []string{"NODE_PATH=/usr/share/nodejs"},
		probe:   []string{"node", "-e", "require('ws')"},
		install: "node-ws",
	},
}

// scriptTimeout bounds every peer process: the scenario moves about 20 MiB and takes
// about a second; the bound only stops a hang.
const scriptTimeout = 60 * time.Second

func (sp scriptPeer) available(t *testing.T) {
	t.Helper()
	cmd := exec.Command(sp.probe[0], sp.probe[1:]...)
	cmd.Env = append(os.Environ(), sp.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := sp.name + " unavailable (apt-get install " + sp.install + "): " + err.Error() + " " + strings.TrimSpace(string(out))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func (sp scriptPeer) command(ctx context.Context, args ...string) *exec.Cmd {
	argv := append(append([]string{}, sp.argv...), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), sp.env...)
	cmd.WaitDelay = time.Second
	return cmd
}

// runScriptServer starts the peer as a server and returns its URL and its output lines.
func (sp scriptPeer) runScriptServer(t *testing.T, compress bool) (string, <-chan string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	args := []string{"server"}
	if !compress {
		args = append(args, "--no-compression")
	}
	cmd := sp.command(ctx, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close() // the peer exits when its stdin closes
		for range lines {
		}
		<-readDone
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			t.Logf("%s server exited: %v %s", sp.name, err, stderr.String())
		}
		cancel()
	})
	select {
	case l := <-lines:
		port, ok := strings.CutPrefix(l, "PORT ")
		if !ok {
			t.Fatalf("%s server said %q; stderr: %s", sp.name, l, stderr.String())
		}
		if _, err := strconv.Atoi(port); err != nil {
			t.Fatalf("bad port line %q", l)
		}
		return "ws://127.0.0.1:" + port + "/", lines
	case <-ctx.Done():
		t.Fatalf("%s server did not start: %s", sp.name, stderr.String())
		return "", nil
	}
}

// closedLine waits for the peer's "CLOSED <code> <reason>" line.
func closedLine(t *testing.T, lines <-chan string) (int, string) {
	t.Helper()
	timeout := time.After(ioBound)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("peer exited without reporting a close")
			}
			if rest, found := strings.CutPrefix(l, "CLOSED "); found {
				code, reason, _ := strings.Cut(rest, " ")
				n, _ := strconv.Atoi(code)
				return n, reason
			}
		case <-timeout:
			t.Fatalf("peer reported no close within %v", ioBound)
			return 0, ""
		}
	}
}

func TestInteropScriptServers(t *testing.T) {
	t.Parallel() // the peers run in their own processes: overlap them with the Go tests
	for _, sp := range scriptPeers {
		t.Run(sp.name, func(t *testing.T) {
			sp.available(t)
			for _, compress := range []bool{false, true} {
				for _, mode := range []string{"client-close", "server-close"} {
					t.Run(mode+"/deflate="+strconv.FormatBool(compress), func(t *testing.T) {
						url, lines := sp.runScriptServer(t, compress)
						runWireClientScenario(t, url, compress, mode, func(t *testing.T) (int, string) {
							return closedLine(t, lines)
						})
					})
				}
			}
		})
	}
}

func TestInteropScriptClients(t *testing.T) {
	t.Parallel() // the peers run in their own processes: overlap them with the Go tests
	for _, sp := range scriptPeers {
		t.Run(sp.name, func(t *testing.T) {
			sp.available(t)
			for _, compress := range []bool{false, true} {
				for _, mode := range []string{"client-close", "server-close"} {
					t.Run(mode+"/deflate="+strconv.FormatBool(compress), func(t *testing.T) {
						es := startInteropServer(t, compress)
						ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
						defer cancel()
						args := []string{"client", es.URL + "/", mode}
						if !compress {
							args = append(args, "--no-compression")
						}
						if raceEnabled && compress {
							args = append(args, "--no-big")
						}
						cmd := sp.command(ctx, args...)
						var stderr strings.Builder
						cmd.Stderr = &stderr
						out, err := cmd.Output()
						if err != nil {
							t.Fatalf("%s client: %v\nstdout: %s\nstderr: %s", sp.name, err, out, stderr.String())
						}
						lines := strings.Split(strings.TrimSpace(string(out)), "\n")
						if len(lines) < 2 || lines[len(lines)-1] != "OK" {
							t.Fatalf("%s client output %q", sp.name, out)
						}
						closed := lines[len(lines)-2]
						serverErr := es.end(t)
						switch mode {
						case "client-close":
							// The server answers with the client's code (or 1000), reason optional.
							if !strings.HasPrefix(closed, "CLOSED 4000") && !strings.HasPrefix(closed, "CLOSED 1000") {
								t.Errorf("client saw %q after closing with 4000", closed)
							}
							wantCloseErr(t, serverErr, 4000)
							var ce *wire.CloseError
							if errors.As(serverErr, &ce) && ce.Reason != sp.clientBye() {
								t.Errorf("server saw reason %q, want %q", ce.Reason, sp.clientBye())
							}
						case "server-close":
							if closed != "CLOSED 4001 server bye" {
								t.Errorf("client saw %q, want CLOSED 4001 server bye", closed)
							}
							wantCloseErr(t, serverErr, 4001)
						}
					})
				}
			}
		})
	}
}

// clientBye is the close reason each script client sends.
func (sp scriptPeer) clientBye() string {
	if strings.HasPrefix(sp.name, "python") {
		return "py client bye"
	}
	return "node client bye"
}
