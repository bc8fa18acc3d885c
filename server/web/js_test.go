package web_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestJSModules runs the JavaScript unit tests (protocol.test.js, store.test.js,
// typing.test.js) with Node's built-in test runner: the connection state
// machine, the store and the typing timer are plain modules with injected
// clocks and sockets, so their rules are checked here without a browser.
func TestJSModules(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node not found (make test installs it with node-ws): %v", err)
		}
		t.Skipf("node not found: %v", err)
	}
	files, err := filepath.Glob("*.test.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.test.js files found: %v", err)
	}
	// The modules are ES modules without a package.json, so Node is told to
	// read .js as ESM (the browser does so because of type="module").
	args := append([]string{"--experimental-default-type=module", "--test"}, files...)
	cmd := exec.Command(node, args...)
	cmd.Env = append(os.Environ(), "NODE_NO_WARNINGS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test failed: %v\n%s", err, out)
	}
}
