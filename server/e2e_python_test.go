package server_test

// A full session driven by Python websockets, a client nobody here wrote, with
// permessage-deflate negotiated as that library does by default.

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const systemPython = "/usr/bin/python3" // carries websockets 10.4 (the pyenv python3 does not)

func TestE2EPythonWebsockets(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(systemPython); err != nil {
		t.Skipf("%s not installed", systemPython)
	}
	if err := exec.Command(systemPython, "-c", "import websockets").Run(); err != nil {
		t.Skipf("python websockets not installed: %v", err)
	}
	h := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*guard)
	defer cancel()
	out, err := exec.CommandContext(ctx, systemPython, "testdata/e2e_session.py", h.wsURL()).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python session: %v\n%s", err, out)
	}
}
