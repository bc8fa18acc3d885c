package web_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/chatd/chatd/server/web"
)

// TestFSHoldsTheClient checks that every file the page loads is embedded,
// that index.html only references files that are there, and that no test
// file ships in the binary.
func TestFSHoldsTheClient(t *testing.T) {
	for _, name := range []string{"index.html", "style.css", "favicon.svg", "app.js", "protocol.js", "store.js", "typing.js", "ui.js"} {
		b, err := fs.ReadFile(web.FS, name)
		if err != nil {
			t.Errorf("%s is not embedded: %v", name, err)
			continue
		}
		if len(b) == 0 {
			t.Errorf("%s is empty", name)
		}
	}
	entries, err := fs.ReadDir(web.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".test.") || strings.HasSuffix(e.Name(), ".go") {
			t.Errorf("%s should not be embedded", e.Name())
		}
	}

	index, err := fs.ReadFile(web.FS, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"#][^"]*)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) == 0 {
		t.Fatal("index.html references no files")
	}
	for _, m := range refs {
		if _, err := fs.Stat(web.FS, m[1]); err != nil {
			t.Errorf("index.html references %q, which is not embedded", m[1])
		}
	}

	// Modules import each other by relative path; each import must resolve.
	imports := regexp.MustCompile(`from '\./([^']+)'`)
	for _, name := range []string{"app.js", "protocol.js", "store.js", "typing.js", "ui.js"} {
		b, _ := fs.ReadFile(web.FS, name)
		for _, m := range imports.FindAllStringSubmatch(string(b), -1) {
			if _, err := fs.Stat(web.FS, m[1]); err != nil {
				t.Errorf("%s imports %q, which is not embedded", name, m[1])
			}
		}
	}
}

// TestNoUnsafeDOMSinks keeps the client's promise that network text only
// reaches the page through textContent: none of the sinks that parse HTML
// or run strings as code appear in any module.
func TestNoUnsafeDOMSinks(t *testing.T) {
	sinks := []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setTimeout('", "setTimeout(\""}
	for _, name := range []string{"app.js", "protocol.js", "store.js", "typing.js", "ui.js"} {
		b, err := fs.ReadFile(web.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sinks {
			if strings.Contains(string(b), s) {
				t.Errorf("%s uses %s", name, s)
			}
		}
	}
}
